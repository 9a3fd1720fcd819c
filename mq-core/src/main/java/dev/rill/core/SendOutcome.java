package dev.rill.core;

/**
 * What a {@link MessageQueue#send(OutboundMessage, long) send} did. Expected outcomes are values, not exceptions.
 *
 * @param status what happened
 * @param messageId the new message's id for {@link Status#ENQUEUED}, the original's for
 *     {@link Status#DUPLICATE}, 0 otherwise
 */
public record SendOutcome(Status status, long messageId) {

    static final SendOutcome FULL = new SendOutcome(Status.FULL, 0);
    static final SendOutcome CLOSED = new SendOutcome(Status.CLOSED, 0);

    /** Send outcomes. */
    public enum Status {
        /** Stored; {@code messageId} is the new id. */
        ENQUEUED,
        /** Not stored: a message with the same dedup id was sent within the dedup window. */
        DUPLICATE,
        /** Not stored: the queue is at its message or byte capacity. */
        FULL,
        /** Not stored: the queue was closed or deleted. */
        CLOSED
    }

    /** @return whether the message is (now or already) in the queue */
    public boolean accepted() {
        return status == Status.ENQUEUED || status == Status.DUPLICATE;
    }
}
