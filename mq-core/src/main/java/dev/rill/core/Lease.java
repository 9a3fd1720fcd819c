package dev.rill.core;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Map;

/**
 * One delivery of a message: the message, the receipt handle bound to this delivery (the lease itself), how
 * many times the message has been delivered (1 for the first) and when the lease ends.
 *
 * <p>Leases: the lease is over when the caller's clock reaches {@link #deadline()}; from then on the handle is
 * stale even if no timer has run yet.
 *
 * <p>Immutable as seen by callers, except for {@link #deadline()}, which follows every extension made through this
 * handle (the queue moves it under its lock, so it is always the deadline the queue set last); the {@link Message}
 * view is created on first use.
 *
 * @param <T> the payload type
 */
public final class Lease<T> extends ReceiptHandle {

    private static final VarHandle DEADLINE;

    static {
        try {
            DEADLINE = MethodHandles.lookup().findVarHandle(Lease.class, "deadline", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * Written under the queue's lock: set plainly here (the lease is handed out after the unlock), moved by
     * {@link #extendedTo(long)}. Volatile so that a thread reading it while another extends sees the queue's latest.
     */
    private volatile long deadline;
    // the message, copied from the entry under the queue's lock: the entry is reused once the message is gone
    private final T payload;
    private final String key;
    private final Map<String, String> headers;
    private final long timestamp;
    private final byte priority;
    private Message<T> message; // created lazily; a benign race may create two equal instances

    /** Called under the queue's lock, with the entry just leased. */
    Lease(MessageQueue<T> queue, Entry<T> entry, long deadline) {
        super(queue, entry, entry.id, entry.leaseSeq, entry.deliveryCount);
        DEADLINE.set(this, deadline); // plain: no fence per lease on the receive path
        this.payload = Message.view(entry.payload); // a ByteBuffer's position is the consumer's own
        this.key = entry.messageKey;
        this.headers = entry.headers;
        this.timestamp = entry.timestamp;
        this.priority = entry.priority;
    }

    /** Called under the queue's lock, with the ring slot just leased (a first delivery, priority 0). */
    Lease(MessageQueue<T> queue, FifoRing<T> ring, long position, long deadline) {
        super(queue, position, ring.ids[ring.slot(position)]);
        int i = ring.slot(position);
        DEADLINE.set(this, deadline);
        this.payload = Message.view(ring.payload(i));
        this.key = ring.key(i);
        this.headers = ring.headers(i);
        this.timestamp = ring.times[i];
        this.priority = 0;
    }

    /** @return the leased message */
    public Message<T> message() {
        Message<T> m = message;
        if (m == null) {
            m = new Message<>(id, payload, key, priority, headers, timestamp, true);
            message = m;
        }
        return m;
    }

    /** @return the receipt handle for ack, nack, extend, reject and release: this lease */
    public ReceiptHandle handle() {
        return this;
    }

    /**
     * @return when the lease ends, millis on the queue's clock: the deadline it was leased with, or the one the last
     *     successful {@link MessageQueue#extend extension} through this handle set
     */
    public long deadline() {
        return deadline;
    }

    /** Called under the queue's lock by an extension through this handle. */
    void extendedTo(long newDeadline) {
        deadline = newDeadline;
    }

    /**
     * @return the payload; a {@code ByteBuffer} is this delivery's own duplicate of the held one (the same bytes, its own
     *     position and limit), so reading it in place leaves the message whole for a redelivery
     */
    public T payload() {
        return payload;
    }

    @Override
    public String toString() {
        return "Lease{" + queueName() + "#" + messageId() + ", delivery " + deliveryCount() + ", deadline " + deadline
                + "}";
    }
}
