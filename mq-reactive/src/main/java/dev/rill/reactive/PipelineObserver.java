package dev.rill.reactive;

import dev.rill.reactive.PipelineError.Stage;

/**
 * What a {@link DefaultQueuePipeline} tells the one observer attached to it ({@link PipelineMetrics}'s): handler
 * outcomes and their durations, how each delivery ended, and every {@link PipelineError}. Free of Micrometer types,
 * so that the pipeline never loads Micrometer: it is an optional dependency of this module.
 *
 * <p>Called on whatever thread the event happens on (the pipeline's command loop, a handler's thread, an ack's), so
 * implementations are thread-safe and never block. With no observer attached the pipeline calls nothing.
 */
interface PipelineObserver {

    /** How a handler ended. */
    enum Handled {
        /** Its publisher completed. */
        SUCCESS,
        /** It threw, returned null, or its publisher signalled an error. */
        FAILURE,
        /** It ran past the handling timeout and was cancelled. */
        TIMEOUT
    }

    /** How the pipeline let go of a delivery. */
    enum Settled {
        /** Its handler succeeded and the ack completed. */
        ACKED,
        /** Its handler failed or timed out and the nack (with the retry policy's delay) completed. */
        RETRIED,
        /** Its handler failed or timed out on the last attempt and the reject (to the dead letters) completed. */
        REJECTED,
        /** A drain, dispose or pause gave it back to the queue (nack without delay, or release). */
        RETURNED,
        /** The ack, nack, reject or give-back failed (reported on {@link QueuePipeline#errors()} too). */
        FAILED,
        /** Its lease was over while it waited behind its key: let go without being handled. */
        EXPIRED
    }

    /** @return the time, in nanoseconds, that handler durations are measured on (any origin) */
    long now();

    /**
     * A handler ended.
     *
     * @param result how
     * @param nanos how long it ran
     */
    void handled(Handled result, long nanos);

    /**
     * The pipeline let go of a delivery.
     *
     * @param outcome how
     */
    void settled(Settled outcome);

    /**
     * Something went wrong: what {@link QueuePipeline#errors()} publishes, whether anyone listens or not.
     *
     * @param stage where
     */
    void error(Stage stage);
}
