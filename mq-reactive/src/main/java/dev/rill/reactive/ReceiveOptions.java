package dev.rill.reactive;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;

/**
 * Options for {@link ReactiveQueue#receive(ReceiveOptions)}. Immutable: every option method returns a new instance
 * and leaves this one unchanged.
 *
 * <p>Defaults: {@code prefetch} 0 (a subscriber that requested n holds at most n leases not yet emitted); no
 * {@code maxUnacked} bound; an endless stream (no {@code maxMessages}); the queue spec's visibility timeout.
 */
public final class ReceiveOptions {

    private static final ReceiveOptions DEFAULTS = new ReceiveOptions(0, 0, -1, null);

    private final int prefetch;
    private final int maxUnacked; // 0: unbounded
    private final long maxMessages; // -1: endless
    private final Duration visibilityTimeout; // null: the spec's

    private ReceiveOptions(int prefetch, int maxUnacked, long maxMessages, Duration visibilityTimeout) {
        this.prefetch = prefetch;
        this.maxUnacked = maxUnacked;
        this.maxMessages = maxMessages;
        this.visibilityTimeout = visibilityTimeout;
    }

    /** @return the defaults: prefetch 0, no maxUnacked, endless, the spec's visibility timeout */
    public static ReceiveOptions defaults() {
        return DEFAULTS;
    }

    /**
     * Lets the stream lease up to {@code n} messages beyond the outstanding demand, ahead of need.
     *
     * <p>Leases: leases taken but not yet emitted never exceed outstanding demand + prefetch. Prefetched leases
     * run their visibility timeout while they wait. Default: 0.
     *
     * @param n at least 0
     * @return a new options object with the prefetch
     * @throws IllegalArgumentException if {@code n < 0}
     */
    public ReceiveOptions prefetch(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("prefetch must be >= 0, was " + n);
        }
        return new ReceiveOptions(n, maxUnacked, maxMessages, visibilityTimeout);
    }

    /**
     * Bounds the deliveries emitted but not yet settled (acked, nacked, rejected, released or expired), like AMQP's
     * qos: while {@code n} are outstanding, no more are leased even if there is demand.
     *
     * <p>Default: no bound.
     *
     * @param n at least 1
     * @return a new options object with the bound
     * @throws IllegalArgumentException if {@code n < 1}
     */
    public ReceiveOptions maxUnacked(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("maxUnacked must be >= 1, was " + n);
        }
        return new ReceiveOptions(prefetch, n, maxMessages, visibilityTimeout);
    }

    /**
     * Makes the stream finite: it completes after emitting {@code n} deliveries ({@code 0}: completes at once,
     * like {@code take(0)}, without leasing anything).
     *
     * <p>Default: endless.
     *
     * @param n at least 0
     * @return a new options object with the limit
     * @throws IllegalArgumentException if {@code n < 0}
     */
    public ReceiveOptions maxMessages(long n) {
        if (n < 0) {
            throw new IllegalArgumentException("maxMessages must be >= 0, was " + n);
        }
        return new ReceiveOptions(prefetch, maxUnacked, n, visibilityTimeout);
    }

    /**
     * Sets the lease length for deliveries of this stream.
     *
     * <p>Default: the queue spec's {@link dev.rill.core.QueueSpec#visibilityTimeout() visibility timeout}.
     *
     * @param timeout positive, whole milliseconds count
     * @return a new options object with the timeout
     * @throws IllegalArgumentException if {@code timeout} is zero, negative or shorter than 1 ms
     */
    public ReceiveOptions visibilityTimeout(Duration timeout) {
        Objects.requireNonNull(timeout, "visibilityTimeout");
        if (timeout.toMillis() < 1) {
            throw new IllegalArgumentException("visibilityTimeout must be >= 1ms, was " + timeout);
        }
        return new ReceiveOptions(prefetch, maxUnacked, maxMessages, timeout);
    }

    /** @return leases taken ahead of demand; default 0 */
    public int prefetch() {
        return prefetch;
    }

    /** @return the bound on emitted, unsettled deliveries, or empty for none (the default) */
    public OptionalInt maxUnacked() {
        return maxUnacked == 0 ? OptionalInt.empty() : OptionalInt.of(maxUnacked);
    }

    /** @return after how many deliveries the stream completes, or empty for an endless stream (the default) */
    public OptionalLong maxMessages() {
        return maxMessages < 0 ? OptionalLong.empty() : OptionalLong.of(maxMessages);
    }

    /** @return the lease length override, or empty for the queue spec's (the default) */
    public Optional<Duration> visibilityTimeout() {
        return Optional.ofNullable(visibilityTimeout);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ReceiveOptions other && prefetch == other.prefetch && maxUnacked == other.maxUnacked
                && maxMessages == other.maxMessages && Objects.equals(visibilityTimeout, other.visibilityTimeout);
    }

    @Override
    public int hashCode() {
        return Objects.hash(prefetch, maxUnacked, maxMessages, visibilityTimeout);
    }

    @Override
    public String toString() {
        return "ReceiveOptions{prefetch=" + prefetch + ", maxUnacked=" + (maxUnacked == 0 ? "none" : maxUnacked)
                + ", maxMessages=" + (maxMessages < 0 ? "endless" : maxMessages) + ", visibilityTimeout="
                + (visibilityTimeout == null ? "spec" : visibilityTimeout) + "}";
    }
}
