package dev.rill.core;

import java.util.List;
import java.util.Map;

/**
 * Receives every state change of one {@link MessageQueue} that a durable broker must log. Called under the
 * queue's lock, in the order the changes happen: implementations only hand a record to the log's in-memory
 * queue (no I/O, no user code, no blocking). Lease deadlines and extensions are not journaled. The one exception is
 * {@link #prepare}, which a sender calls before it takes the lock.
 *
 * <p>A journal is attached before its queue is visible to any sender and only ever detached after (see
 * {@code MessageQueue.setJournal}).
 *
 * @param <T> the payload type
 */
interface Journal<T> {

    /**
     * Encodes a message's payload for its SEND record, on the sender's thread and outside the queue's lock (the codec
     * is user code). Called once per message per send call, before anything is stored, so a message that cannot be
     * logged is refused and never stored.
     *
     * @return the bytes to hand to {@link #sent}
     * @throws IllegalArgumentException if the codec throws or returns null, or the message would take more than a
     *     log record may hold
     */
    byte[] prepare(OutboundMessage<T> message);

    /**
     * A message was stored; {@code e.deadline} is its due time when {@code e.state == DELAYED}.
     *
     * @param payload its payload as {@link #prepare} encoded it
     */
    void sent(Entry<T> e, byte[] payload, String dedupId, long dedupExpiresAt);

    /** A dead letter from {@code sourceQueue}/{@code sourceId} was stored as {@code e}. */
    void accepted(Entry<T> e, String sourceQueue, long sourceId);

    /** A lease was taken (or given back uncounted): the delivery count is now {@code deliveryCount}. */
    void delivered(long id, int deliveryCount);

    /** The message was acked. */
    void acked(long id);

    /** The message was nacked: ready again at {@code readyAt} (0: at once). */
    void nacked(long id, long readyAt);

    /** The message was dead-lettered: moved to the dead-letter queue when {@code routed}, else dropped. */
    void deadLettered(long id, int deliveryCount, String reason, boolean routed);

    /** The message expired (TTL) and was dropped. */
    void dropped(long id);

    /** Every message was deleted. */
    void purged();

    /**
     * A message rebuilt from the log, for {@link MessageQueue#restore}.
     *
     * @param <T> the payload type
     */
    record Recovered<T>(long id, long timestamp, T payload, String key, int priority, Map<String, String> headers,
            int deliveryCount, long readyAt, long expiresAt) {
    }

    /** A dedup id whose window is still open, rebuilt from the log. */
    record RecoveredDedup(String dedupId, long messageId, long expiresAt) {
    }

    /** Everything of one queue rebuilt from the log. */
    record RecoveredQueue<T>(List<Recovered<T>> messages, List<RecoveredDedup> dedup, long nextId) {
    }
}
