package dev.rill.core;

import java.util.Map;

/**
 * The fast lane of a plain FIFO queue: first deliveries of priority-0 messages without key order, delay or TTL,
 * stored as parallel arrays in send order instead of one {@link Entry} per message. Guarded by the owning queue's
 * lock.
 *
 * <p>Why: a hand-off from a producer thread to a consumer thread moves whatever the message occupies between the two
 * cores. An {@code Entry} is two cache lines, written by the producer, then read and written by the consumer (lease,
 * ack), then reused by the producer; a ring slot is 32 bytes spread over arrays that the producer writes and
 * the consumer reads sequentially, as in {@code ArrayBlockingQueue}.
 *
 * <p>Layout, by ever-increasing position ({@code slot = position & mask}):
 * <pre>
 *   base            readyHead          tail
 *    |  leased/holes    |     ready       |    free ...
 * </pre>
 * Slots in {@code [readyHead, tail)} are ready, in send order (ids increase with the position). Slots in
 * {@code [base, readyHead)} were leased once, in position order; each is still leased (its payload is set: payloads
 * are never null) or a hole (payload cleared: acked, or moved out to an {@code Entry}). There is no state array: the
 * cursors and the payload say it all, so a slot costs two fewer writes. {@code base} is always a leased slot or equal to
 * {@code readyHead}: holes at the front are reclaimed at once. Ring leases are taken in position order with
 * non-decreasing deadlines (the owning queue only takes a ring lease that ends no earlier than the previous one), so
 * the lease at {@code base} is always the first to expire, and ties are broken by id as in the queue's lease heap.
 *
 * <p>A message leaves the ring for an {@code Entry} (see {@code MessageQueue#promote}) for anything but a plain ack
 * of its first lease: expiry, nack, extend, reject, release, or compaction when old leases pin the front while
 * acked holes pile up behind them.
 *
 * @param <T> the payload type
 */
final class FifoRing<T> {
    private static final int INITIAL = 16;

    long[] ids = new long[INITIAL];
    long[] times = new long[INITIAL];    // send timestamp
    long[] deadlines = new long[INITIAL]; // lease deadline while leased
    Object[] payloads = new Object[INITIAL];
    Object[] metas = new Object[INITIAL]; // null, or a Meta when the message has a key or headers; written only when
    // it changes, so with neither (the common case) its lines stay shared between the producer's and consumer's cores
    int mask = INITIAL - 1;
    long base;
    long readyHead;
    long tail;
    long holes; // holes in [base, readyHead)
    long lastDeadline = Long.MIN_VALUE; // deadline of the latest ring lease

    /** A message's key and headers, kept only when it has either. */
    record Meta(String key, Map<String, String> headers) {
    }

    boolean hasReady() {
        return readyHead != tail;
    }

    long readyCount() {
        return tail - readyHead;
    }

    boolean hasLeased() {
        return base != readyHead;
    }

    int length() {
        return mask + 1;
    }

    boolean isFull() {
        return tail - base == mask + 1;
    }

    /** Stores a new ready message at the tail; the caller made room ({@link #isFull()} is false). */
    void append(long id, long timestamp, T payload, String key, Map<String, String> headers) {
        int i = (int) tail & mask;
        ids[i] = id;
        times[i] = timestamp;
        payloads[i] = payload;
        Object meta = key == null && headers.isEmpty() ? null : new Meta(key, headers);
        if (meta != null || metas[i] != null) {
            metas[i] = meta;
        }
        tail++;
    }

    /** Leases the oldest ready message until {@code deadline}; @return its position. */
    long leaseHead(long deadline) {
        long p = readyHead++;
        int i = (int) p & mask;
        deadlines[i] = deadline;
        lastDeadline = deadline;
        return p;
    }

    /** @return whether {@code position} is a leased slot of this ring holding message {@code id} */
    boolean isLeased(long position, long id) {
        if (position < base || position >= readyHead) {
            return false;
        }
        int i = (int) position & mask;
        return payloads[i] != null && ids[i] == id;
    }

    int slot(long position) {
        return (int) position & mask;
    }

    @SuppressWarnings("unchecked")
    T payload(int i) {
        return (T) payloads[i];
    }

    String key(int i) {
        Object m = metas[i];
        return m == null ? null : ((Meta) m).key;
    }

    Map<String, String> headers(int i) {
        Object m = metas[i];
        return m == null ? Map.of() : ((Meta) m).headers;
    }

    /** Makes a leased slot a hole (acked, or moved out) and reclaims holes at the front. */
    void remove(long position) {
        int i = (int) position & mask;
        payloads[i] = null;
        if (metas[i] != null) {
            metas[i] = null;
        }
        holes++;
        if (position == base) {
            advanceBase();
        }
    }

    private void advanceBase() {
        long b = base;
        long r = readyHead;
        Object[] p = payloads;
        int m = mask;
        while (b < r && p[(int) b & m] == null) {
            b++;
            holes--;
        }
        base = b;
    }

    /** Takes the oldest ready message out (to move it elsewhere); the caller read its slot first. */
    void pollReady() {
        long p = readyHead;
        if (p == base) { // nothing leased before it: the slot is simply freed
            int i = (int) p & mask;
            payloads[i] = null;
            metas[i] = null;
            readyHead++;
            base++;
        } else {
            readyHead++;
            remove(p);
        }
    }

    /** Doubles the arrays, keeping positions. */
    void grow() {
        int n = mask + 1;
        int len = n << 1;
        if (len <= 0) {
            throw new IllegalStateException("ring cannot grow beyond " + n + " slots");
        }
        long[] nIds = new long[len];
        long[] nTimes = new long[len];
        long[] nDeadlines = new long[len];
        Object[] nPayloads = new Object[len];
        Object[] nMetas = new Object[len];
        int nMask = len - 1;
        for (long p = base; p < tail; p++) {
            int o = (int) p & mask;
            int d = (int) p & nMask;
            nIds[d] = ids[o];
            nTimes[d] = times[o];
            nDeadlines[d] = deadlines[o];
            nPayloads[d] = payloads[o];
            nMetas[d] = metas[o];
        }
        ids = nIds;
        times = nTimes;
        deadlines = nDeadlines;
        payloads = nPayloads;
        metas = nMetas;
        mask = nMask;
    }

    /** Forgets every message (purge); positions keep counting so old handles stay stale. */
    void clear() {
        for (long p = base; p < tail; p++) {
            int i = (int) p & mask;
            payloads[i] = null;
            metas[i] = null;
        }
        base = tail;
        readyHead = tail;
        holes = 0;
    }
}
