package dev.rill.reactive;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Function;
import org.reactivestreams.Publisher;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * Configures a {@link QueuePipeline}; {@link #start()} runs it. Obtain one from
 * {@link ReactiveQueue#pipeline(Function)} or {@link ReactiveQueue#pipelineOnPayload(Function)}.
 *
 * <p>Immutable: every option method returns a new builder and leaves this one unchanged, so a builder can be shared
 * and started several times (each {@code start()} runs an independent pipeline, competing for the queue's messages).
 *
 * <pre>{@code
 * QueuePipeline p = queue.pipelineOnPayload(order -> service.handle(order))
 *         .concurrency(16)
 *         .keyOrdered()
 *         .handlingTimeout(Duration.ofMinutes(2))
 *         .retry(RetryPolicy.exponential(Duration.ofSeconds(1), 2.0, Duration.ofMinutes(1)).jitter(0.2))
 *         .scheduler(broker.scheduler())
 *         .start();
 * ...
 * p.drain(Duration.ofSeconds(30)).block();
 * }</pre>
 *
 * @param <T> the payload type
 */
public final class PipelineBuilder<T> {

    /** Default for {@link #concurrency(int)}. */
    public static final int DEFAULT_CONCURRENCY = 1;

    private final ReactiveQueue<T> queue;
    private final String name; // null: the queue's
    private final Function<? super Delivery<T>, ? extends Publisher<?>> handler;
    private final int concurrency;
    private final boolean keyOrdered;
    private final Duration handlingTimeout; // null: none
    private final RetryPolicy retry;
    private final Duration visibilityTimeout; // null: the spec's
    private final Duration renewEvery; // null: half the lease length
    private final boolean renew;
    private final Scheduler scheduler;

    PipelineBuilder(ReactiveQueue<T> queue, Function<? super Delivery<T>, ? extends Publisher<?>> handler) {
        this(Objects.requireNonNull(queue, "queue"), null, Objects.requireNonNull(handler, "handler"),
                DEFAULT_CONCURRENCY,
                false, null, RetryPolicy.defaults(), null, null, true, Schedulers.parallel());
    }

    private PipelineBuilder(ReactiveQueue<T> queue, String name,
            Function<? super Delivery<T>, ? extends Publisher<?>> handler, int concurrency, boolean keyOrdered,
            Duration handlingTimeout, RetryPolicy retry, Duration visibilityTimeout, Duration renewEvery, boolean renew,
            Scheduler scheduler) {
        this.queue = queue;
        this.name = name;
        this.handler = handler;
        this.concurrency = concurrency;
        this.keyOrdered = keyOrdered;
        this.handlingTimeout = handlingTimeout;
        this.retry = retry;
        this.visibilityTimeout = visibilityTimeout;
        this.renewEvery = renewEvery;
        this.renew = renew;
        this.scheduler = scheduler;
    }

    /**
     * Names the pipeline: its {@link QueuePipeline#name()}, the {@code pipeline} tag of its meters
     * ({@link PipelineMetrics}) and how its log lines call it. Give each pipeline of a queue its own name when
     * several run in one application and their meters go to one registry.
     *
     * <p>Default: the queue's name.
     *
     * @param name not blank
     * @return a new builder with the name
     * @throws IllegalArgumentException if {@code name} is blank
     */
    public PipelineBuilder<T> name(String name) {
        Objects.requireNonNull(name, "name");
        if (name.isBlank()) {
            throw new IllegalArgumentException("name must not be blank");
        }
        return new PipelineBuilder<>(queue, name, handler, concurrency, keyOrdered, handlingTimeout, retry,
                visibilityTimeout, renewEvery, renew, scheduler);
    }

    /**
     * Runs up to {@code n} handlers at once.
     *
     * <p>Demand: the pipeline holds at most {@code n} deliveries (leases) at a time and requests no more from the
     * queue. Default: {@value #DEFAULT_CONCURRENCY}.
     *
     * @param n at least 1
     * @return a new builder with the concurrency
     * @throws IllegalArgumentException if {@code n < 1}
     */
    public PipelineBuilder<T> concurrency(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("concurrency must be >= 1, was " + n);
        }
        return new PipelineBuilder<>(queue, name, handler, n, keyOrdered, handlingTimeout, retry, visibilityTimeout,
                renewEvery, renew, scheduler);
    }

    /**
     * Handles messages of the same {@linkplain dev.rill.core.Message#key() key} one at a time, in the order they
     * were delivered, while different keys (and messages without a key) run in parallel up to the concurrency.
     *
     * <p>A delivery waiting behind its key counts towards the concurrency and its lease is extended while it waits;
     * one whose extension finds its lease over (the queue was purged, or the renewal came too late and the message
     * is the queue's again) is let go without being handled.
     * On a {@link dev.rill.core.Ordering#KEY_ORDERED KEY_ORDERED} queue the queue itself leases one message per key
     * at a time, which also keeps the order across retries and across competing pipelines; on a FIFO queue a retried
     * message may be handled after later messages of its key. Default: off.
     *
     * @return a new builder with key ordering
     */
    public PipelineBuilder<T> keyOrdered() {
        return new PipelineBuilder<>(queue, name, handler, concurrency, true, handlingTimeout, retry, visibilityTimeout,
                renewEvery, renew, scheduler);
    }

    /**
     * Cancels a handler that runs longer than {@code timeout} and treats it as failed with
     * {@link HandlingTimeoutException} (nack with backoff, or reject once out of attempts).
     *
     * <p>Default: no timeout (leases are extended for as long as the handler runs).
     *
     * @param timeout positive
     * @return a new builder with the timeout
     * @throws IllegalArgumentException if {@code timeout} is not positive
     */
    public PipelineBuilder<T> handlingTimeout(Duration timeout) {
        Objects.requireNonNull(timeout, "handlingTimeout");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("handlingTimeout must be positive, was " + timeout);
        }
        return new PipelineBuilder<>(queue, name, handler, concurrency, keyOrdered, timeout, retry, visibilityTimeout,
                renewEvery, renew, scheduler);
    }

    /**
     * Sets how failed messages are retried: backoff per delivery and the pipeline's own attempt limit.
     *
     * <p>Default: {@link RetryPolicy#defaults()}.
     *
     * @param policy the policy
     * @return a new builder with the policy
     */
    public PipelineBuilder<T> retry(RetryPolicy policy) {
        return new PipelineBuilder<>(queue, name, handler, concurrency, keyOrdered, handlingTimeout,
                Objects.requireNonNull(policy, "retry"), visibilityTimeout, renewEvery, renew, scheduler);
    }

    /**
     * Sets the lease length of the pipeline's deliveries, and the length each automatic extension renews it to.
     *
     * <p>Default: the queue spec's {@link dev.rill.core.QueueSpec#visibilityTimeout() visibility timeout}.
     *
     * @param timeout at least 1 ms
     * @return a new builder with the lease length
     * @throws IllegalArgumentException if {@code timeout} is shorter than 1 ms
     */
    public PipelineBuilder<T> visibilityTimeout(Duration timeout) {
        Objects.requireNonNull(timeout, "visibilityTimeout");
        if (timeout.toMillis() < 1) {
            throw new IllegalArgumentException("visibilityTimeout must be >= 1ms, was " + timeout);
        }
        return new PipelineBuilder<>(queue, name, handler, concurrency, keyOrdered, handlingTimeout, retry, timeout,
                renewEvery, renew, scheduler);
    }

    /**
     * Extends the lease of every held delivery every {@code interval}, each time to a full lease length from then.
     * The interval must be shorter than the lease length, or leases run out between extensions.
     *
     * <p>Default: half the lease length.
     *
     * @param interval positive, at least 1 ms
     * @return a new builder with the renewal interval
     * @throws IllegalArgumentException if {@code interval} is shorter than 1 ms
     */
    public PipelineBuilder<T> leaseRenewal(Duration interval) {
        Objects.requireNonNull(interval, "leaseRenewal");
        if (interval.toMillis() < 1) {
            throw new IllegalArgumentException("leaseRenewal must be >= 1ms, was " + interval);
        }
        return new PipelineBuilder<>(queue, name, handler, concurrency, keyOrdered, handlingTimeout, retry,
                visibilityTimeout, interval, true, scheduler);
    }

    /**
     * Turns automatic lease extension off: a handler that runs longer than the lease length loses its lease and the
     * message is redelivered (its late ack then fails and is reported on {@link QueuePipeline#errors()}).
     *
     * <p>Default: extension on.
     *
     * @return a new builder without lease extension
     */
    public PipelineBuilder<T> noLeaseRenewal() {
        return new PipelineBuilder<>(queue, name, handler, concurrency, keyOrdered, handlingTimeout, retry,
                visibilityTimeout, null, false, scheduler);
    }

    /**
     * Sets the scheduler that runs the pipeline's timers (lease extension, handling timeout, drain grace). Use the
     * broker's {@link ReactiveBroker#scheduler()}, so the pipeline's clock is the queue's (a
     * {@code VirtualTimeScheduler} in tests).
     *
     * <p>Default: {@link Schedulers#parallel()} (the scheduler of {@link Rill#inMemory()}).
     *
     * @param timers the scheduler
     * @return a new builder with the scheduler
     */
    public PipelineBuilder<T> scheduler(Scheduler timers) {
        return new PipelineBuilder<>(queue, name, handler, concurrency, keyOrdered, handlingTimeout, retry,
                visibilityTimeout, renewEvery, renew, Objects.requireNonNull(timers, "scheduler"));
    }

    /**
     * Starts the pipeline: it subscribes to the queue and begins leasing at once.
     *
     * @return the running pipeline
     * @throws IllegalArgumentException if the lease renewal interval is not shorter than the lease length (with the
     *     default renewal: if the lease is shorter than 2 ms)
     */
    public QueuePipeline start() {
        Duration lease = visibilityTimeout != null ? visibilityTimeout : queue.spec().visibilityTimeout();
        Duration every = null;
        if (renew) {
            if (renewEvery == null && lease.toMillis() < 2) {
                throw new IllegalArgumentException("a lease of " + lease.toMillis() + "ms is too short to renew (every "
                        + "half lease, at least 1ms): give the pipeline a visibilityTimeout of at least 2ms, or "
                        + "noLeaseRenewal()");
            }
            every = renewEvery != null ? renewEvery : Duration.ofMillis(Math.max(1, lease.toMillis() / 2));
            if (every.compareTo(lease) >= 0) {
                throw new IllegalArgumentException("leaseRenewal (" + every
                        + ") must be shorter than the lease length (" + lease + ")");
            }
        }
        ReceiveOptions options = ReceiveOptions.defaults();
        if (visibilityTimeout != null) {
            options = options.visibilityTimeout(visibilityTimeout);
        }
        DefaultQueuePipeline<T> pipeline = new DefaultQueuePipeline<>(queue, name, handler, options, concurrency,
                keyOrdered, handlingTimeout, retry, lease, every, scheduler);
        pipeline.start();
        return pipeline;
    }

    @Override
    public String toString() {
        return "PipelineBuilder{queue=" + queue.name() + (name == null ? "" : ", name=" + name)
                + ", concurrency=" + concurrency + ", keyOrdered=" + keyOrdered
                + ", handlingTimeout=" + (handlingTimeout == null ? "none" : handlingTimeout) + ", retry=" + retry
                + ", visibilityTimeout=" + (visibilityTimeout == null ? "spec" : visibilityTimeout)
                + ", leaseRenewal=" + (!renew ? "off" : renewEvery == null ? "half the lease" : renewEvery)
                + ", scheduler=" + scheduler + "}";
    }
}
