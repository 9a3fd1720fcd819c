package dev.rill.core;

/**
 * Proof of one delivery of one message: only the handle of the latest, still-running lease can ack,
 * nack, extend, reject or release the message. Handles of earlier deliveries are stale.
 *
 * <p>Opaque and immutable; bound to the queue that issued it.
 */
public final class ReceiptHandle {

    final MessageQueue<?> queue;
    final Entry<?> entry;
    final int leaseSeq;
    private final long messageId;
    private final int deliveryCount;

    ReceiptHandle(MessageQueue<?> queue, Entry<?> entry, int leaseSeq, long messageId, int deliveryCount) {
        this.queue = queue;
        this.entry = entry;
        this.leaseSeq = leaseSeq;
        this.messageId = messageId;
        this.deliveryCount = deliveryCount;
    }

    /** @return the leased message's id */
    public long messageId() {
        return messageId;
    }

    /** @return the delivery this handle belongs to (1 for the first) */
    public int deliveryCount() {
        return deliveryCount;
    }

    /** @return the name of the queue that issued the handle */
    public String queueName() {
        return queue.name();
    }

    @Override
    public String toString() {
        return "ReceiptHandle{" + queue.name() + "#" + messageId + "/" + leaseSeq + "}";
    }
}
