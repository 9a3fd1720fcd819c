package dev.rill.core;

/**
 * One delivery of a message: the message, the receipt handle bound to this delivery (the lease itself), how
 * many times the message has been delivered (1 for the first) and when the lease ends.
 *
 * <p>Leases: the lease is over when the caller's clock reaches {@link #deadline()}; from then on the handle is
 * stale even if no timer has run yet.
 *
 * <p>Immutable as seen by callers; the {@link Message} view is created on first use.
 *
 * @param <T> the payload type
 */
public final class Lease<T> extends ReceiptHandle {

    private final long deadline;
    private Message<T> message; // created lazily; a benign race may create two equal instances

    Lease(MessageQueue<T> queue, Entry<T> entry, int leaseSeq, int deliveryCount, long deadline) {
        super(queue, entry, leaseSeq, deliveryCount);
        this.deadline = deadline;
    }

    /** @return the leased message */
    @SuppressWarnings("unchecked")
    public Message<T> message() {
        Message<T> m = message;
        if (m == null) {
            m = ((Entry<T>) entry).toMessage(); // reads only final fields of the entry: safe outside the lock
            message = m;
        }
        return m;
    }

    /** @return the receipt handle for ack, nack, extend, reject and release: this lease */
    public ReceiptHandle handle() {
        return this;
    }

    /** @return when the lease ends, millis on the queue's clock */
    public long deadline() {
        return deadline;
    }

    /** @return the payload */
    @SuppressWarnings("unchecked")
    public T payload() {
        return ((Entry<T>) entry).payload;
    }

    @Override
    public String toString() {
        return "Lease{" + queueName() + "#" + messageId() + ", delivery " + deliveryCount() + ", deadline " + deadline
                + "}";
    }
}
