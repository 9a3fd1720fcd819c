package dev.rill.core;

import java.util.OptionalLong;

/**
 * Broker-wide options of a {@link Broker} (in memory, or behind a {@link DurableBroker}). Immutable: every option
 * method returns a new instance.
 *
 * <p>Defaults: no memory budget (each queue is bounded only by its own {@link QueueSpec#capacity(int) capacity} and
 * {@link QueueSpec#maxBytes(long) maxBytes}).
 */
public final class BrokerOptions {

    /**
     * What each stored message counts against the {@link #memoryBudget(long) memory budget} on top of its payload's
     * size: an estimate of the heap a message takes besides its payload (the queue's entry or ring slot, the message
     * and its header map, the payload object's own header), so that a flood of empty messages is bounded too.
     */
    public static final int MESSAGE_OVERHEAD_BYTES = 128;

    private static final BrokerOptions DEFAULTS = new BrokerOptions(0);

    private final long memoryBudget; // 0: none

    private BrokerOptions(long memoryBudget) {
        this.memoryBudget = memoryBudget;
    }

    /** @return the defaults: no memory budget */
    public static BrokerOptions defaults() {
        return DEFAULTS;
    }

    /**
     * Bounds the bytes held by all the broker's queues together. Each stored message counts its payload's size (as
     * {@link QueueSpec#maxBytes(long)} counts it: array length for {@code byte[]}, remaining bytes for a
     * {@code ByteBuffer}, two bytes per char for text, 0 for other types) plus {@link #MESSAGE_OVERHEAD_BYTES}.
     *
     * <p>A send that would take the broker's total above the budget is refused {@link SendOutcome.Status#FULL},
     * exactly as a full queue refuses it: a producer waiting for room is woken (the queue's writable edge) when any
     * queue of the broker frees bytes (ack, expiry, purge, delete, dead-lettering out of it). Messages the broker
     * already holds are never refused: dead letters, redriven messages and messages recovered from a log (from the
     * open, also in queues not declared again yet) are counted but may take the total above the budget (new sends
     * then wait until it is below again). A payload that alone
     * exceeds the budget is refused with an {@link IllegalArgumentException}, as one bigger than a queue's
     * {@code maxBytes} is. Default: none.
     *
     * @param bytes the budget, at least {@link #MESSAGE_OVERHEAD_BYTES} + 1
     * @return a new options object
     * @throws IllegalArgumentException if {@code bytes} is not above {@link #MESSAGE_OVERHEAD_BYTES}
     */
    public BrokerOptions memoryBudget(long bytes) {
        if (bytes <= MESSAGE_OVERHEAD_BYTES) {
            throw new IllegalArgumentException("memoryBudget must be > " + MESSAGE_OVERHEAD_BYTES
                    + " bytes (the overhead of one message), was " + bytes);
        }
        return new BrokerOptions(bytes);
    }

    /** @return a new options object without a memory budget (the default) */
    public BrokerOptions noMemoryBudget() {
        return DEFAULTS;
    }

    /** @return the memory budget in bytes, or empty (the default: none) */
    public OptionalLong memoryBudget() {
        return memoryBudget == 0 ? OptionalLong.empty() : OptionalLong.of(memoryBudget);
    }

    /** @return a new budget shared by one broker's queues, or null without one */
    MemoryBudget newBudget() {
        return memoryBudget == 0 ? null : new MemoryBudget(memoryBudget);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BrokerOptions b && b.memoryBudget == memoryBudget;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(memoryBudget);
    }

    @Override
    public String toString() {
        return "BrokerOptions{memoryBudget=" + (memoryBudget == 0 ? "none" : memoryBudget) + "}";
    }
}
