package dev.rill.core;

import java.util.Objects;
import java.util.OptionalLong;

/**
 * A broker's memory, as its {@link BrokerOptions#memoryBudget(long) memory budget} counts it: the bytes its queues
 * hold (each message's payload size plus {@link BrokerOptions#MESSAGE_OVERHEAD_BYTES}) and the budget.
 *
 * @param used the bytes held; may be above the budget after dead letters, redrives or a recovery
 * @param budget the budget in bytes, or empty when the broker has none
 */
public record MemoryStats(long used, OptionalLong budget) {

    /**
     * @throws IllegalArgumentException if {@code used} is negative or the budget is not positive
     */
    public MemoryStats {
        Objects.requireNonNull(budget, "budget");
        if (used < 0) {
            throw new IllegalArgumentException("used must be >= 0, was " + used);
        }
        if (budget.isPresent() && budget.getAsLong() <= 0) {
            throw new IllegalArgumentException("budget must be positive, was " + budget.getAsLong());
        }
    }
}
