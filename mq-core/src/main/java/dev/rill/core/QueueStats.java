package dev.rill.core;

/**
 * A snapshot of one queue's depth and counters.
 *
 * @param name queue name
 * @param ready messages deliverable now (for key-ordered queues: including those waiting behind their key)
 * @param inFlight messages leased and not yet acked, nacked, rejected or expired
 * @param delayed messages waiting for their delay or retry backoff
 * @param bytes summed payload size held, per the queue's sizer
 * @param capacity the message limit
 * @param sent messages enqueued since creation
 * @param duplicates sends dropped as duplicates
 * @param delivered leases granted (deliveries)
 * @param acked messages acknowledged (deleted)
 * @param nacked negative acknowledgments
 * @param expiredLeases leases that ran out without an ack
 * @param deadLettered messages moved out to the dead-letter queue or discarded as dead letters
 * @param expired messages whose time to live ran out
 * @param purged messages removed by purge
 */
public record QueueStats(String name, long ready, long inFlight, long delayed, long bytes, long capacity, long sent,
        long duplicates, long delivered, long acked, long nacked, long expiredLeases, long deadLettered, long expired,
        long purged) {

    /** @return every message held: ready, in flight and delayed */
    public long size() {
        return ready + inFlight + delayed;
    }
}
