package dev.rill.reactive;

import dev.rill.core.Message;
import java.time.Duration;
import reactor.core.publisher.Mono;

/**
 * One delivery of a message to a consumer, holding its lease. The consumer settles it exactly once with
 * {@link #ack()}, {@link #nack()}, {@link #nack(Duration)} or {@link #reject(String)}; until then (or until the lease
 * runs out) no other consumer receives the message. {@link #extend(Duration)} keeps the lease while work goes on.
 *
 * <p>Every operation is lazy: nothing happens until the returned {@code Mono} is subscribed, and each subscription
 * tries the operation again.
 *
 * <p>Errors: an operation on a lease that is over (visibility timeout reached, or the message redelivered under a
 * newer lease) errors with {@link LeaseExpiredException} and changes nothing; the exception is that acking a delivery
 * that was already acked successfully completes empty (a second ack is a no-op).
 *
 * @param <T> the payload type
 */
public interface Delivery<T> {

    /** @return the delivered message (id, payload, key, priority, headers, timestamp) */
    Message<T> message();

    /** @return the message's payload */
    default T payload() {
        return message().payload();
    }

    /** @return how many times the message has been delivered, this delivery included (1 for the first) */
    int deliveryCount();

    /** @return when this delivery's lease ends, in millis on the broker scheduler's clock */
    long deadline();

    /**
     * Acknowledges the message: it is deleted from the queue (the Delete step).
     *
     * <p>Errors: {@link LeaseExpiredException} when the lease is over. Completes empty at once when this delivery
     * was already acked successfully.
     *
     * <p>Durability: on a durable broker ({@link Rill#embedded}), completes only once the record is durable under
     * its fsync policy (with {@code ALWAYS}: on disk).
     *
     * @return a Mono that completes once the message is deleted
     */
    Mono<Void> ack();

    /**
     * Gives the message back for redelivery at once; its delivery count is kept, so a message that reached the
     * queue's {@code maxDeliveries} goes to the dead-letter queue instead.
     *
     * <p>At once means ready again straight away, ahead of the messages sent after it (as SQS with a visibility
     * timeout of 0): the next lease takes it, this stream's too. A stream that nacks what it receives (e.g.
     * {@code receive().concatMap(d -> wanted(d) ? handle(d) : d.nack())}, {@code concatMap} leasing one at a time)
     * gets the same message straight back, over and over, until {@code maxDeliveries} dead-letters it, or without
     * end when the queue has no limit; a stream that leased ahead gets it back at its next lease. To let the other
     * messages go first, or another consumer try later, use {@link #nack(Duration)} with a delay; to be done with
     * it, {@link #reject(String)} or {@link #ack()}.
     *
     * <p>Errors: {@link LeaseExpiredException} when the lease is over.
     *
     * <p>Durability: on a durable broker ({@link Rill#embedded}), completes only once the record is durable under
     * its fsync policy (with {@code ALWAYS}: on disk).
     *
     * @return a Mono that completes once the message is back in the queue
     */
    Mono<Void> nack();

    /**
     * Gives the message back for redelivery after {@code delay} (retry with backoff).
     *
     * <p>Errors: {@link LeaseExpiredException} when the lease is over; {@link IllegalArgumentException} for a
     * negative delay.
     *
     * <p>Durability: on a durable broker ({@link Rill#embedded}), completes only once the record is durable under
     * its fsync policy (with {@code ALWAYS}: on disk). After a restart the message is due at the same time.
     *
     * @param delay zero or more (zero: as {@link #nack()}, ready again at once)
     * @return a Mono that completes once the message is scheduled for redelivery
     */
    Mono<Void> nack(Duration delay);

    /**
     * Moves this lease's deadline to now + {@code duration} (still working on it), rounded up to whole milliseconds;
     * a duration too long for a millisecond deadline holds the lease until it is settled. {@link #deadline()} tells
     * the new deadline once this completes.
     *
     * <p>Errors: {@link LeaseExpiredException} when the lease is already over (or was settled meanwhile);
     * {@link IllegalArgumentException} for a duration that is not positive.
     *
     * <p>Durability: leases are not logged (after a restart every un-acked message is ready again); on a durable
     * broker the Mono still completes only once every change made before it is durable, like the other settlements.
     *
     * @param duration positive
     * @return a Mono that completes once the lease is extended
     */
    Mono<Void> extend(Duration duration);

    /**
     * Never retries the message: it moves to the queue's dead-letter queue with {@code reason} in its
     * {@link Message#HEADER_DEAD_LETTER_REASON} header, or is dropped when the queue has none.
     *
     * <p>Errors: {@link LeaseExpiredException} when the lease is over.
     *
     * <p>Durability: on a durable broker ({@link Rill#embedded}), completes only once the record is durable under
     * its fsync policy (with {@code ALWAYS}: on disk). After a restart the message is in the dead-letter queue (or
     * gone, when the queue has none), never back in this queue.
     *
     * @param reason why; kept (cut to 1024 characters) for whoever reads the dead-letter queue; {@code null} gives
     *     {@code "rejected"}
     * @return a Mono that completes once the message has left the queue
     */
    Mono<Void> reject(String reason);

    /**
     * Gives the message back as if this delivery had not happened: ready again at once, its delivery count not
     * increased (a {@link #nack()} keeps the count, so it moves a poison message toward {@code maxDeliveries}).
     * Meant for deliveries that never reached the application, e.g. a transport or a buffer dropping deliveries it
     * had received for a stream that was cancelled meanwhile; code that looked at the message should nack it. Like
     * {@link #nack()}, the next lease takes the message again, this stream's too, and as the count does not rise,
     * a stream that releases what it receives gets it back without end.
     *
     * <p>Errors: {@link LeaseExpiredException} when the lease is over.
     *
     * <p>The default implementation errors with {@link UnsupportedOperationException}; the brokers of
     * {@link Rill} and the network client implement it.
     *
     * @return a Mono that completes once the message is back in the queue
     */
    default Mono<Void> release() {
        return Mono.error(new UnsupportedOperationException("release() is not supported by " + getClass().getName()));
    }

    /**
     * Tells whether this delivery was settled through this object (acked, nacked, rejected or released
     * successfully). A delivery whose lease simply ran out is not settled.
     *
     * @return whether an ack, nack, reject or release of this delivery succeeded
     */
    boolean isSettled();
}
