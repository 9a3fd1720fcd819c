package dev.rill.netty.internal.protocol;

import java.util.Objects;

/**
 * The outcome of one message of a SEND, in the order the messages were sent.
 *
 * @param status what happened
 * @param error why, when {@code status} is {@link SendStatus#ERROR}; {@link ErrorCode#NONE} otherwise
 * @param messageId the message id for ENQUEUED (new) and DUPLICATE (original), 0 otherwise
 * @param reason why the server refused the message, in its words (the message of the exception that refused it), or
 *     null when there is none: only an ERROR receipt has one, only SEND_RECEIPTS (version 3) carries it, and an empty
 *     reason is none
 */
public record SendReceipt(SendStatus status, ErrorCode error, long messageId, String reason) {

    /**
     * Checks for nulls and that only an ERROR receipt has a reason.
     *
     * @throws IllegalArgumentException when a receipt of another status has a reason
     */
    public SendReceipt {
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(error, "error");
        if (reason != null && reason.isEmpty()) {
            reason = null; // the wire cannot tell an empty reason from none
        }
        if (reason != null && status != SendStatus.ERROR) {
            throw new IllegalArgumentException("a " + status + " receipt has no reason, only an ERROR one: " + reason);
        }
    }

    /**
     * A receipt without a reason.
     *
     * @param status what happened
     * @param error why, when {@code status} is {@link SendStatus#ERROR}; {@link ErrorCode#NONE} otherwise
     * @param messageId the message id for ENQUEUED (new) and DUPLICATE (original), 0 otherwise
     */
    public SendReceipt(SendStatus status, ErrorCode error, long messageId) {
        this(status, error, messageId, null);
    }

    /**
     * The receipt of a message the server refused, with a reason the encoder always accepts: cut to
     * {@link Limits#MAX_REASON_BYTES} of UTF-8 after the last whole character that fits, and any unpaired surrogate
     * (which has no UTF-8 form) replaced by U+FFFD. An exception's message is text the server did not choose, so it is
     * made to fit rather than refused.
     *
     * @param error why (e.g. INVALID_ARGUMENT)
     * @param reason the explanation, of any length
     * @return an ERROR receipt
     */
    public static SendReceipt refused(ErrorCode error, String reason) {
        return new SendReceipt(SendStatus.ERROR, error, 0, FrameEncoder.fitUtf8(reason, Limits.MAX_REASON_BYTES));
    }

    /** @return this receipt without its reason (what a SEND_RESULT, versions 1 and 2, carries) */
    public SendReceipt withoutReason() {
        return reason == null ? this : new SendReceipt(status, error, messageId);
    }
}
