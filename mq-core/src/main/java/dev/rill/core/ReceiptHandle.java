package dev.rill.core;

/**
 * Proof of one delivery of one message: only the handle of the latest, still-running lease can ack,
 * nack, extend, reject or release the message. Handles of earlier deliveries are stale.
 *
 * <p>Opaque and immutable; bound to the queue that issued it. Every {@link Lease} is its own handle, so a
 * delivery costs one object.
 */
public sealed class ReceiptHandle permits Lease {

    final MessageQueue<?> queue;
    final Entry<?> entry; // may hold another message later (entries are reused): checked with id and leaseSeq
    final long id;
    final long ringPosition; // a lease of the queue's FifoRing (entry is null), else -1
    final int leaseSeq;
    private final int deliveryCount;

    ReceiptHandle(MessageQueue<?> queue, Entry<?> entry, long id, int leaseSeq, int deliveryCount) {
        this.queue = queue;
        this.entry = entry;
        this.id = id;
        this.ringPosition = -1;
        this.leaseSeq = leaseSeq;
        this.deliveryCount = deliveryCount;
    }

    /** A first delivery from the queue's ring, at {@code ringPosition}. */
    ReceiptHandle(MessageQueue<?> queue, long ringPosition, long id) {
        this.queue = queue;
        this.entry = null;
        this.id = id;
        this.ringPosition = ringPosition;
        this.leaseSeq = 0;
        this.deliveryCount = 1;
    }

    /** @return the leased message's id */
    public final long messageId() {
        return id;
    }

    /** @return the delivery this handle belongs to (1 for the first) */
    public final int deliveryCount() {
        return deliveryCount;
    }

    /** @return the name of the queue that issued the handle */
    public final String queueName() {
        return queue.name();
    }

    @Override
    public String toString() {
        return "ReceiptHandle{" + queue.name() + "#" + id + "/" + leaseSeq + "}";
    }
}
