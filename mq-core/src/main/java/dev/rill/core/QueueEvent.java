package dev.rill.core;

/**
 * Something that happened to a message in a queue.
 *
 * @param type what happened
 * @param queue the queue's name
 * @param messageId the message id (0 for queue-wide events such as purge)
 * @param deliveryCount the message's delivery count at the time
 * @param detail reason or count where the type has one, else null
 * @param timestamp when it happened, on the queue's clock
 */
public record QueueEvent(Type type, String queue, long messageId, int deliveryCount, String detail, long timestamp) {

    /** Event types. */
    public enum Type {
        /** A message was stored. */
        ENQUEUED,
        /** A send was dropped as a duplicate; {@code messageId} is the original. */
        DEDUPLICATED,
        /** A message was leased. */
        LEASED,
        /** A message was acknowledged and deleted. */
        ACKED,
        /** A message was negatively acknowledged; detail is the delay in ms. */
        NACKED,
        /** A lease was extended; detail is the new deadline. */
        EXTENDED,
        /** A lease ran out without an ack. */
        EXPIRED,
        /** A message left for the dead-letter queue (or was discarded as a dead letter); detail is the reason. */
        DEAD_LETTERED,
        /** A message's time to live ran out. */
        TTL_EXPIRED,
        /** A leased but undelivered message was given back without counting a delivery. */
        RELEASED,
        /** A message was moved back from a dead-letter queue to its source. */
        REDRIVEN,
        /** The queue was purged; detail is the count. */
        PURGED
    }
}
