package dev.rill.reactive;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;

/**
 * How a {@link QueuePipeline} retries a message whose handler failed: the backoff before the next delivery and
 * how many deliveries a message gets before the pipeline gives up on it.
 *
 * <p>Immutable: every option method returns a new instance and leaves this one unchanged.
 *
 * <p>Backoff: after the handler fails on delivery {@code n} (1 for the first), the message is nacked with the delay
 * {@code min(maxDelay, initialDelay * multiplier^(n-1))}, then spread by the jitter factor {@code j} to a value
 * drawn uniformly from {@code [d * (1 - j), d * (1 + j)]} and capped at {@code maxDelay} again. Jitter keeps many
 * consumers that failed together from retrying together.
 *
 * <p>Attempts: with {@link #maxAttempts(int)} set, a failure on delivery {@code maxAttempts} rejects the message to
 * the dead-letter queue with the exception as reason. The pipeline also does this on the queue's own
 * {@link dev.rill.core.QueueSpec#maxDeliveries() maxDeliveries}, whichever is lower.
 */
public final class RetryPolicy {

    private static final RetryPolicy NONE = new RetryPolicy(Duration.ZERO, 1.0, Duration.ZERO, 0.0, 1);
    private static final RetryPolicy IMMEDIATE = new RetryPolicy(Duration.ZERO, 1.0, Duration.ZERO, 0.0, 0);

    private final Duration initialDelay;
    private final double multiplier;
    private final Duration maxDelay;
    private final double jitter;
    private final int maxAttempts; // 0: no limit of its own

    private RetryPolicy(Duration initialDelay, double multiplier, Duration maxDelay, double jitter, int maxAttempts) {
        this.initialDelay = initialDelay;
        this.multiplier = multiplier;
        this.maxDelay = maxDelay;
        this.jitter = jitter;
        this.maxAttempts = maxAttempts;
    }

    /**
     * Exponential backoff: {@code initialDelay} after the first failure, multiplied by {@code multiplier} after each
     * further one, never more than {@code maxDelay}. No jitter (see {@link #jitter(double)}) and no attempt limit of
     * its own (see {@link #maxAttempts(int)}).
     *
     * @param initialDelay the delay after the first failure, zero or more
     * @param multiplier the growth factor per failure, at least 1
     * @param maxDelay the cap, at least {@code initialDelay}
     * @return a new policy
     * @throws IllegalArgumentException if a value is out of range
     */
    public static RetryPolicy exponential(Duration initialDelay, double multiplier, Duration maxDelay) {
        Objects.requireNonNull(initialDelay, "initialDelay");
        Objects.requireNonNull(maxDelay, "maxDelay");
        if (initialDelay.isNegative()) {
            throw new IllegalArgumentException("initialDelay must be >= 0, was " + initialDelay);
        }
        if (!(multiplier >= 1.0) || Double.isInfinite(multiplier)) {
            throw new IllegalArgumentException("multiplier must be a finite number >= 1, was " + multiplier);
        }
        if (maxDelay.compareTo(initialDelay) < 0) {
            throw new IllegalArgumentException("maxDelay must be >= initialDelay (" + initialDelay + "), was "
                    + maxDelay);
        }
        return new RetryPolicy(initialDelay, multiplier, maxDelay, 0.0, 0);
    }

    /**
     * The same delay after every failure. No jitter and no attempt limit of its own.
     *
     * @param delay zero or more
     * @return a new policy
     * @throws IllegalArgumentException if {@code delay} is negative
     */
    public static RetryPolicy fixed(Duration delay) {
        Objects.requireNonNull(delay, "delay");
        if (delay.isNegative()) {
            throw new IllegalArgumentException("delay must be >= 0, was " + delay);
        }
        return new RetryPolicy(delay, 1.0, delay, 0.0, 0);
    }

    /**
     * Retries at once: a failed message is nacked without delay (until the queue's {@code maxDeliveries}). It is
     * ready again at once, ahead of newer messages ({@link Delivery#nack()}), so the pipeline's next lease takes it:
     * a message that always fails holds a handler in a loop until {@code maxDeliveries} (or {@link #maxAttempts})
     * gives up on it, and without end when neither is set.
     *
     * @return the policy
     */
    public static RetryPolicy immediate() {
        return IMMEDIATE;
    }

    /**
     * Never retries: the first failure rejects the message to the dead-letter queue (or drops it when the queue has
     * none) with the exception as reason.
     *
     * @return the policy
     */
    public static RetryPolicy none() {
        return NONE;
    }

    /**
     * The pipeline's default: exponential from 1 s, doubling, at most 5 minutes, jitter 0.2, no attempt limit of
     * its own (the queue's {@code maxDeliveries} decides).
     *
     * @return the policy
     */
    public static RetryPolicy defaults() {
        return exponential(Duration.ofSeconds(1), 2.0, Duration.ofMinutes(5)).jitter(0.2);
    }

    /**
     * Spreads each delay uniformly over {@code [d * (1 - factor), d * (1 + factor)]} (then capped at the maximum
     * delay).
     *
     * <p>Default: 0 (no jitter), except for {@link #defaults()}.
     *
     * @param factor between 0 and 1
     * @return a new policy with the jitter
     * @throws IllegalArgumentException if {@code factor} is outside [0, 1]
     */
    public RetryPolicy jitter(double factor) {
        if (!(factor >= 0.0 && factor <= 1.0)) {
            throw new IllegalArgumentException("jitter must be between 0 and 1, was " + factor);
        }
        return new RetryPolicy(initialDelay, multiplier, maxDelay, factor, maxAttempts);
    }

    /**
     * Gives up after {@code attempts} deliveries: the failure of delivery number {@code attempts} rejects the message
     * (to the dead-letter queue, with the exception as reason) instead of nacking it.
     *
     * <p>Default: no limit of its own; the queue's {@code maxDeliveries}, when set, still applies.
     *
     * @param attempts at least 1
     * @return a new policy with the limit
     * @throws IllegalArgumentException if {@code attempts < 1}
     */
    public RetryPolicy maxAttempts(int attempts) {
        if (attempts < 1) {
            throw new IllegalArgumentException("maxAttempts must be >= 1, was " + attempts);
        }
        return new RetryPolicy(initialDelay, multiplier, maxDelay, jitter, attempts);
    }

    /** @return the delay after the first failure */
    public Duration initialDelay() {
        return initialDelay;
    }

    /** @return the growth factor per failure */
    public double multiplier() {
        return multiplier;
    }

    /** @return the largest delay */
    public Duration maxDelay() {
        return maxDelay;
    }

    /** @return the jitter factor, 0 for none */
    public double jitterFactor() {
        return jitter;
    }

    /** @return the policy's own attempt limit, or 0 when it has none */
    public int maxAttempts() {
        return maxAttempts;
    }

    /**
     * Tells whether a failure of delivery {@code deliveryCount} should give up (reject) rather than retry, given the
     * queue's own limit.
     *
     * @param deliveryCount the failed delivery (1 for the first)
     * @param queueMaxDeliveries the queue's {@code maxDeliveries}, or 0 when it has none
     * @return whether to reject
     */
    public boolean exhausted(int deliveryCount, int queueMaxDeliveries) {
        return (maxAttempts > 0 && deliveryCount >= maxAttempts)
                || (queueMaxDeliveries > 0 && deliveryCount >= queueMaxDeliveries);
    }

    /**
     * The backoff after the failure of delivery {@code deliveryCount}, jitter included (drawn from
     * {@link ThreadLocalRandom}).
     *
     * @param deliveryCount the failed delivery, at least 1
     * @return the delay before the next delivery, between zero and the maximum delay
     * @throws IllegalArgumentException if {@code deliveryCount < 1}
     */
    public Duration delay(int deliveryCount) {
        return delay(deliveryCount, jitter == 0.0 ? 0.5 : ThreadLocalRandom.current().nextDouble());
    }

    /**
     * The backoff after the failure of delivery {@code deliveryCount}, with the jitter drawn by the caller.
     *
     * @param deliveryCount the failed delivery, at least 1
     * @param random uniform in [0, 1); 0.5 gives the delay without jitter
     * @return the delay, between zero and the maximum delay
     */
    Duration delay(int deliveryCount, double random) {
        if (deliveryCount < 1) {
            throw new IllegalArgumentException("deliveryCount must be >= 1, was " + deliveryCount);
        }
        double maxMs = millis(maxDelay);
        double base = millis(initialDelay) * Math.pow(multiplier, deliveryCount - 1);
        if (!(base <= maxMs)) { // also catches overflow to infinity
            base = maxMs;
        }
        double spread = base * (1.0 + jitter * (2.0 * random - 1.0));
        long ms = (long) Math.min(maxMs, Math.max(0.0, spread)); // a double past Long.MAX_VALUE casts to it
        return Duration.ofMillis(ms);
    }

    /** Whole millis, saturated: {@link Duration#toMillis()} throws for a duration longer than Long.MAX_VALUE ms. */
    private static long millis(Duration d) {
        return d.getSeconds() >= Long.MAX_VALUE / 1000 ? Long.MAX_VALUE : d.toMillis();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RetryPolicy p && initialDelay.equals(p.initialDelay) && multiplier == p.multiplier
                && maxDelay.equals(p.maxDelay) && jitter == p.jitter && maxAttempts == p.maxAttempts;
    }

    @Override
    public int hashCode() {
        return Objects.hash(initialDelay, multiplier, maxDelay, jitter, maxAttempts);
    }

    @Override
    public String toString() {
        return "RetryPolicy{initialDelay=" + initialDelay + ", multiplier=" + multiplier + ", maxDelay=" + maxDelay
                + ", jitter=" + jitter + ", maxAttempts=" + (maxAttempts == 0 ? "queue's" : maxAttempts) + "}";
    }
}
