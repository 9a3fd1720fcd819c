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

    final long id;
    final long timestamp;
    long deadline;   // lease deadline, or due time while DELAYED
    long expiresAt;  // TTL deadline, 0 when none
    final T payload;
    final String key; // ordering key: null when not key-ordered
    final String messageKey; // the message's key as sent, kept whatever the ordering
    final Map<String, String> headers;
    Entry<T> prev;
    Entry<T> next;
    int deliveryCount;
    int leaseSeq;
    int heapIndex = -1;
    int ttlIndex = -1;
    final byte priority;
    byte state;

    Entry(long id, long timestamp, T payload, String key, String messageKey, int priority,
            Map<String, String> headers) {
        this.id = id;
        this.timestamp = timestamp;
        this.payload = payload;
        this.key = key;
        this.messageKey = messageKey;
        this.priority = (byte) priority;
        this.headers = headers;
    }

    boolean leased() {
        return state == LEASED_LIST || state == LEASED_HEAP;
    }

    Message<T> toMessage() {
        return new Message<>(id, payload, messageKey, priority, headers, timestamp);
    }
}
