package dev.rill.reactive;

/**
 * An ack, nack, extend or reject came too late: the delivery's lease is over (its visibility timeout ran out, the
 * message was redelivered under a newer lease, or it was already settled differently), so the operation changed
 * nothing. The message may be (or have been) delivered again: consumers should be idempotent.
 */
public final class LeaseExpiredException extends RillException {

    private static final long serialVersionUID = 1L;

    private final String queue;
    private final long messageId;
    private final int deliveryCount;

    /**
     * Creates the exception.
     *
     * @param queue the queue's name
     * @param messageId the message's id
     * @param deliveryCount the delivery whose lease is over (1 for the first)
     * @param operation what was attempted ("ack", "nack", ...)
     */
    public LeaseExpiredException(String queue, long messageId, int deliveryCount, String operation) {
        super(operation + " of message " + messageId + " (delivery " + deliveryCount + ") in queue '" + queue
                + "' failed: the lease is over (visibility timeout reached, redelivered, or already settled)");
        this.queue = queue;
        this.messageId = messageId;
        this.deliveryCount = deliveryCount;
    }

    /** @return the queue's name */
    public String queue() {
        return queue;
    }

    /** @return the message's id */
    public long messageId() {
        return messageId;
    }

    /** @return the delivery whose lease is over (1 for the first) */
    public int deliveryCount() {
        return deliveryCount;
    }
}
