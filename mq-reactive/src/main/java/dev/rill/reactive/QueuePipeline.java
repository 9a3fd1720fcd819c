package dev.rill.reactive;

import java.time.Duration;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A running consumer of one queue: it leases messages as its handlers have room, runs the handler on each, acks on
 * success and nacks with backoff (or rejects) on failure. Built with {@link ReactiveQueue#pipeline} and
 * {@link PipelineBuilder#start()}.
 *
 * <p>Demand: the pipeline holds at most {@code concurrency} deliveries at a time (running, waiting for their key,
 * or being settled) and asks the queue for no more than that, so a slow handler holds few leases.
 *
 * <p>Leases: while the pipeline holds a delivery it extends the lease periodically, so a slow handler is never
 * redelivered to another consumer behind its back.
 *
 * <p>Errors: handler failures, timeouts and failed acks never stop the pipeline; each is published on
 * {@link #errors()} (and logged when nobody listens) and counted by its meters, if bound ({@link PipelineMetrics}).
 * Only a failure of the receive stream itself (the queue was deleted or the broker closed) ends it, with
 * {@link #onTerminate()} erroring.
 */
public interface QueuePipeline extends Disposable {

    /** @return the name of the queue the pipeline consumes */
    String queue();

    /**
     * The pipeline's name, which tells it apart from other pipelines of its queue in meters
     * ({@link PipelineMetrics}) and log lines: the one given to {@link PipelineBuilder#name(String)}, else the
     * queue's name.
     *
     * @return the pipeline's name
     */
    String name();

    /**
     * Stops leasing new messages; handlers already running go on and are settled as usual. Idempotent.
     * Leases taken but not yet handed to the pipeline are released at once.
     */
    void pause();

    /** Starts leasing again after {@link #pause()}. Idempotent; does nothing once draining or disposed. */
    void resume();

    /** @return whether the pipeline is paused (and not yet stopped) */
    boolean isPaused();

    /**
     * Stops gracefully: stops leasing, lets the held deliveries finish and be settled (acks flushed) for up to
     * {@code grace}, then cancels the handlers still running and gives their messages back to the queue at once
     * (a nack without delay), and completes when every held delivery is settled. Deliveries whose handler never
     * started (waiting behind their key) are given back uncounted ({@link Delivery#release()}).
     *
     * <p>Lazy: the drain begins on subscription. Subscribing again (or calling after {@link #dispose()}) returns the
     * same completion; the first grace period wins.
     *
     * @param grace how long running handlers may take, zero or more; measured on the pipeline's scheduler
     * @return a Mono that completes once the pipeline has stopped and holds nothing
     */
    Mono<Void> drain(Duration grace);

    /**
     * Stops at once: stops leasing, cancels running handlers and gives their messages back (nack without delay);
     * deliveries whose handler never started are given back uncounted ({@link Delivery#release()}). Returns without waiting; {@link #onTerminate()} completes once everything held is settled. Idempotent.
     */
    @Override
    void dispose();

    /** @return whether {@link #dispose()} or {@link #drain(Duration)} was called, or the pipeline ended */
    @Override
    boolean isDisposed();

    /**
     * Completes once the pipeline has stopped (drained or disposed) and holds no delivery; errors when it ended
     * because the receive stream failed (after settling what it held).
     *
     * @return a Mono of the pipeline's end
     */
    Mono<Void> onTerminate();

    /**
     * Publishes what went wrong while the pipeline keeps running: handler errors and timeouts, failed acks, nacks,
     * rejects and lease extensions. Hot: subscribers see errors from their subscription on; a subscriber that cannot
     * keep up misses some (they are logged instead). With no subscriber, every error is logged.
     *
     * @return the errors
     */
    Flux<PipelineError> errors();

    /** @return the number of deliveries the pipeline holds now (running, waiting for their key, or settling) */
    int inFlight();

    /**
     * Completes once the pipeline is paused or stopped and holds no delivery: after {@link #pause()}, when the
     * handlers already running are settled. Completes at once when that holds already; while the pipeline runs, it
     * waits for the next such moment. Cancel it (or add a timeout) to stop waiting.
     *
     * @return a Mono that completes when the pipeline is idle
     */
    Mono<Void> idle();
}
