package dev.rill.netty.internal.protocol;

import java.util.Objects;

/**
 * The outcome of one message of a SEND, in the order the messages were sent.
 *
 * @param status what happened
 * @param error why, when {@code status} is {@link SendStatus#ERROR}; {@link ErrorCode#NONE} otherwise
 * @param messageId the message id for ENQUEUED (new) and DUPLICATE (original), 0 otherwise
 */
public record SendReceipt(SendStatus status, ErrorCode error, long messageId) {

    /** Checks for nulls. */
    public SendReceipt {
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(error, "error");
    }
}
