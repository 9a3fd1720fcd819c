package dev.rill.reactive;

import java.util.Objects;

/**
 * Something that went wrong inside a {@link QueuePipeline} without stopping it.
 *
 * @param stage where it happened
 * @param queue the queue's name
 * @param messageId the message concerned, 0 when none (a receive failure)
 * @param deliveryCount the delivery concerned (1 for the first), 0 when none
 * @param error what was thrown or signalled
 */
public record PipelineError(Stage stage, String queue, long messageId, int deliveryCount, Throwable error) {

    /**
     * Creates an error report.
     *
     * @param stage where it happened, not null
     * @param queue the queue's name, not null
     * @param messageId the message, 0 for none
     * @param deliveryCount the delivery, 0 for none
     * @param error the error, not null
     */
    public PipelineError {
        Objects.requireNonNull(stage, "stage");
        Objects.requireNonNull(queue, "queue");
        Objects.requireNonNull(error, "error");
    }

    /** Where in the pipeline an error happened. */
    public enum Stage {
        /** The handler threw, returned null, or its publisher signalled an error. */
        HANDLER,
        /** The handler did not finish within the handling timeout. */
        TIMEOUT,
        /** The ack after a successful handler failed (for instance the lease was already over). */
        ACK,
        /** The nack after a failed handler failed, or giving a delivery back (drain, dispose, pause) failed. */
        NACK,
        /** The reject of a message that ran out of attempts failed. */
        REJECT,
        /** A lease extension failed. */
        EXTEND,
        /** The receive stream failed; the pipeline stops. */
        RECEIVE
    }
}
