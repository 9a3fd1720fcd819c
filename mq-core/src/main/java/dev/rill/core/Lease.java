package dev.rill.core;

/**
 * One delivery of a message: the message, the receipt handle bound to this delivery, how many times the
 * message has been delivered (1 for the first) and when the lease ends.
 *
 * <p>Leases: the lease is over when the caller's clock reaches {@code deadline}; from then on the handle is
 * stale even if no timer has run yet.
 *
 * @param message the message
 * @param handle the receipt handle for ack, nack, extend, reject and release
 * @param deliveryCount deliveries so far, this one included
 * @param deadline when the lease ends, millis on the queue's clock
 * @param <T> the payload type
 */
public record Lease<T>(Message<T> message, ReceiptHandle handle, int deliveryCount, long deadline) {

    /** @return the payload */
    public T payload() {
        return message.payload();
    }
}
