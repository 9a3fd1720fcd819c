package dev.rill.core;

import java.util.Map;

/**
 * One stored message and its bookkeeping. Mutable fields are touched only under the owning queue's lock.
 * Kept small on purpose (about 88 bytes with compressed oops): it is the per-message memory cost.
 */
final class Entry<T> {
    static final byte READY_MAIN = 1;   // in its level's main FIFO
    static final byte READY_RETRY = 2;  // in its level's retry heap (returned, keeps its place by id)
    static final byte READY_KEY = 3;    // in its key's FIFO
    static final byte DELAYED = 4;      // in the delay heap (new delayed send, or retry backoff)
    static final byte LEASED_LIST = 5;  // leased, in the deadline-ordered lease list
    static final byte LEASED_HEAP = 6;  // leased, in the lease heap (out-of-order deadline)
    static final byte GONE = 7;         // acked, dead-lettered, expired or purged

    // The message: set at creation or reuse (see MessageQueue's entry pool), under the lock; read outside the lock
    // only through the copies a Lease takes under the lock.
    long id;
    long timestamp;
    long deadline;   // lease deadline, or due time while DELAYED
    long expiresAt;  // TTL deadline, 0 when none
    T payload;
    // the message's key as sent, kept whatever the ordering (a key-ordered queue orders by it: see MessageQueue.keyOf;
    // no field of its own for the ordering key, so that the size below costs no more bytes per entry)
    String messageKey;
    Map<String, String> headers;
    Entry<T> prev;
    Entry<T> next;
    int deliveryCount;
    int leaseSeq; // never reset, also across reuse: a handle matches only its own lease (with the id)
    int heapIndex = -1;
    int ttlIndex = -1;
    /**
     * The payload's size as counted when the message was stored (the queue's bytes, the broker's memory budget), given
     * back exactly when it leaves, whatever its payload became since (a {@code StringBuilder} appended to, a
     * {@code ByteBuffer} whose position moved). Unsigned: a size is at most 2 × {@code Integer.MAX_VALUE} (two bytes
     * per char of a {@code CharSequence}); read it with {@link #size()}.
     */
    int size;
    byte priority;
    byte state;
    boolean moved; // a ring lease moved out while still running: MessageQueue#moved maps its id to this entry

    Entry(long id, long timestamp, T payload, String messageKey, int priority, Map<String, String> headers,
            long size) {
        init(id, timestamp, payload, messageKey, priority, headers, size);
    }

    /** Makes a new or reused (GONE, unlinked, payload cleared) entry hold a new message of payload size {@code size}. */
    void init(long id, long timestamp, T payload, String messageKey, int priority, Map<String, String> headers,
            long size) {
        this.id = id;
        this.timestamp = timestamp;
        this.payload = payload;
        this.messageKey = messageKey;
        this.size = (int) size;
        this.priority = (byte) priority;
        this.headers = headers;
        this.deadline = 0;
        this.expiresAt = 0;
        this.deliveryCount = 0;
        this.state = 0;
    }

    /** Forgets the message of a GONE entry kept for reuse, so the pool pins no payload. */
    void clear() {
        payload = null;
        messageKey = null;
        headers = null;
    }

    /** @return the payload's size as counted when stored (see {@link #size}) */
    long size() {
        return Integer.toUnsignedLong(size);
    }

    boolean leased() {
        return state == LEASED_LIST || state == LEASED_HEAP;
    }

    Message<T> toMessage() {
        return new Message<>(id, payload, messageKey, priority, headers, timestamp);
    }
}
