package dev.rill.reactive;

import dev.rill.core.Overflow;
import java.util.Objects;
import java.util.Optional;

/**
 * Options for {@link ReactiveQueue#send(dev.rill.core.OutboundMessage, SendOptions)} and
 * {@link ReactiveQueue#sendMany(org.reactivestreams.Publisher, SendOptions)}. Immutable: every option method returns
 * a new instance and leaves this one unchanged.
 *
 * <p>Defaults: the queue spec's overflow policy; {@code maxInFlight} {@value #DEFAULT_MAX_IN_FLIGHT}.
 */
public final class SendOptions {

    /** Default for {@link #maxInFlight(int)}. */
    public static final int DEFAULT_MAX_IN_FLIGHT = 256;

    private static final SendOptions DEFAULTS = new SendOptions(null, DEFAULT_MAX_IN_FLIGHT);

    private final Overflow overflow; // null: the queue spec's
    private final int maxInFlight;

    private SendOptions(Overflow overflow, int maxInFlight) {
        this.overflow = overflow;
        this.maxInFlight = maxInFlight;
    }

    /** @return the default options: the spec's overflow policy, {@code maxInFlight} 256 */
    public static SendOptions defaults() {
        return DEFAULTS;
    }

    /**
     * Overrides the queue spec's overflow policy for these sends: {@link Overflow#WAIT} waits (without parking a
     * thread) until the queue has room, {@link Overflow#FAIL} errors with {@link QueueFullException} at once.
     *
     * <p>Default: the queue spec's {@link dev.rill.core.QueueSpec#overflow() overflow}.
     *
     * @param policy the policy, not null
     * @return a new options object with the override
     */
    public SendOptions overflow(Overflow policy) {
        return new SendOptions(Objects.requireNonNull(policy, "overflow"), maxInFlight);
    }

    /**
     * Bounds how many messages {@code sendMany} holds that were requested from upstream but are not yet stored
     * (waiting for room, or being stored). Upstream is requested from only as this bound allows.
     *
     * <p>Default: {@value #DEFAULT_MAX_IN_FLIGHT}.
     *
     * @param max at least 1
     * @return a new options object with the bound
     * @throws IllegalArgumentException if {@code max < 1}
     */
    public SendOptions maxInFlight(int max) {
        if (max < 1) {
            throw new IllegalArgumentException("maxInFlight must be >= 1, was " + max);
        }
        return new SendOptions(overflow, max);
    }

    /** @return the overflow override, or empty to use the queue spec's policy */
    public Optional<Overflow> overflow() {
        return Optional.ofNullable(overflow);
    }

    /** @return the {@code sendMany} in-flight bound; default {@value #DEFAULT_MAX_IN_FLIGHT} */
    public int maxInFlight() {
        return maxInFlight;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SendOptions other && overflow == other.overflow && maxInFlight == other.maxInFlight;
    }

    @Override
    public int hashCode() {
        return Objects.hash(overflow, maxInFlight);
    }

    @Override
    public String toString() {
        return "SendOptions{overflow=" + (overflow == null ? "spec" : overflow) + ", maxInFlight=" + maxInFlight + "}";
    }
}
