package dev.rill.reactive;

import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueEvent;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import java.time.Duration;
import java.util.Collection;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A queue seen through Reactor: producers send with backpressure, consumers receive demand-driven streams of
 * {@link Delivery deliveries} and settle each one with an acknowledgment {@code Mono}.
 *
 * <p>Every method is lazy (nothing happens until subscription) and non-blocking; timers (visibility timeouts,
 * delays, TTL, dedup windows) run on the broker's {@link ReactiveBroker#scheduler() scheduler}.
 *
 * @param <T> the payload type
 */
public interface ReactiveQueue<T> {

    /** @return the queue's name */
    String name();

    /** @return the queue's spec */
    QueueSpec spec();

    /**
     * Sends one message, with the queue spec's overflow policy.
     *
     * @param message the message
     * @return a Mono of the result; see {@link #send(OutboundMessage, SendOptions)}
     */
    default Mono<SendResult<T>> send(OutboundMessage<T> message) {
        return send(message, SendOptions.defaults());
    }

    /**
     * Sends one message.
     *
     * <p>Backpressure: when the queue is full and the overflow policy is {@link dev.rill.core.Overflow#WAIT WAIT},
     * the Mono waits, without parking any thread, until the queue has room; cancelling it abandons the send.
     *
     * <p>Errors: {@link QueueFullException} when the queue is full and the policy is
     * {@link dev.rill.core.Overflow#FAIL FAIL}; {@link QueueClosedException} when the queue was closed or deleted;
     * {@link IllegalArgumentException} when the payload alone exceeds the queue's byte limit.
     *
     * @param message the message
     * @param options overflow override
     * @return a Mono of the result: the new id, or the original's id with {@code duplicate} set
     */
    Mono<SendResult<T>> send(OutboundMessage<T> message, SendOptions options);

    /**
     * Sends a stream of messages with default {@link SendOptions}.
     *
     * @param messages the messages
     * @return the results, in order; see {@link #sendMany(Publisher, SendOptions)}
     */
    default Flux<SendResult<T>> sendMany(Publisher<OutboundMessage<T>> messages) {
        return sendMany(messages, SendOptions.defaults());
    }

    /**
     * Sends a stream of messages, in order, emitting one result per message in the same order.
     *
     * <p>Demand: requests from {@code messages} only as the queue's free capacity, {@code options.maxInFlight()} and
     * the downstream demand allow, so a long stream into a small queue with a slow consumer never holds more than
     * about capacity + maxInFlight messages. (A durable broker takes up to maxInFlight messages ahead of the
     * downstream demand: their results wait for the disk.)
     *
     * <p>Errors: as {@link #send(OutboundMessage, SendOptions)}; the first refused message terminates the stream
     * after the results before it and cancels upstream; nothing after it is stored. Results already emitted stay
     * valid (those messages were stored). An error of {@code messages} itself comes after the results of every
     * message already taken from it.
     *
     * @param messages the messages
     * @param options overflow override and in-flight bound
     * @return the results, in order, each carrying its message
     */
    Flux<SendResult<T>> sendMany(Publisher<OutboundMessage<T>> messages, SendOptions options);

    /**
     * Receives with default {@link ReceiveOptions}: an endless, demand-driven stream.
     *
     * @return the deliveries; see {@link #receive(ReceiveOptions)}
     */
    default Flux<Delivery<T>> receive() {
        return receive(ReceiveOptions.defaults());
    }

    /**
     * Receives deliveries as the subscriber asks for them. Many subscribers (of one Flux or several) compete for
     * the queue's messages; each message goes to one of them at a time.
     *
     * <p>Demand: each {@code request(n)} leases at most {@code n} messages (plus {@code prefetch}); leases taken but
     * not yet emitted never exceed the outstanding demand plus prefetch. With {@code maxUnacked}, emitted but
     * unsettled deliveries are bounded too. With {@code maxMessages(n)} the stream completes after n deliveries.
     *
     * <p>Leases: an emitted delivery belongs to its subscriber until it is settled or its lease expires.
     * Cancelling releases every lease taken but not yet emitted, at once, without counting a delivery. A delivery
     * that an operator downstream drops (a {@code filter}, or the queue of {@code publishOn} on cancel) is not
     * released: it stays leased until its lease runs out, and under {@code maxUnacked} keeps its slot meanwhile;
     * see {@link Deliveries#releasingDiscarded()}.
     *
     * <p>Errors: {@link QueueClosedException} when the queue is deleted or the broker closed.
     *
     * @param options prefetch, maxUnacked, maxMessages, visibility timeout
     * @return the deliveries
     */
    Flux<Delivery<T>> receive(ReceiveOptions options);

    /**
     * Receives one delivery, waiting up to {@code wait} (on the broker's scheduler) for one to arrive.
     *
     * <p>Errors: {@link IllegalArgumentException} for a negative wait; {@link QueueClosedException} when the queue
     * is deleted or the broker closed.
     *
     * @param wait how long to wait; zero for a single look
     * @return a Mono of the delivery, empty when none arrived in time
     */
    Mono<Delivery<T>> receiveOne(Duration wait);

    /**
     * Acknowledges many deliveries of this queue in one operation.
     *
     * <p>Errors: {@link LeaseExpiredException} (naming the first one) when any of the leases is over; the others are
     * acked nonetheless. Deliveries already acked are skipped. The brokers of {@link Rill} error with
     * {@link IllegalArgumentException}, acking nothing, when one of them was not received from this queue (through
     * this broker, or a view of the queue with another codec); the network client acks each one where it came from.
     *
     * @param deliveries deliveries received from this queue
     * @return a Mono that completes once all are acked
     */
    Mono<Void> ackAll(Collection<? extends Delivery<T>> deliveries);

    /**
     * Streams what happens in the queue (enqueued, leased, acked, nacked, extended, expired, dead-lettered,
     * deduplicated, redriven...). Hot and multicast: subscribers see the events from their subscription on; the
     * queue records events only while someone is subscribed.
     *
     * <p>Demand: a subscriber that falls behind gets an overflow error rather than unbounded buffering.
     *
     * <p>Completes when the queue is deleted; when the broker closes, see {@link ReactiveBroker#close()}.
     *
     * @return the events
     */
    Flux<QueueEvent> events();

    /** @return a Mono of the queue's depth and counters */
    Mono<QueueStats> stats();

    /**
     * Looks at up to {@code max} ready messages without leasing them.
     *
     * <p>Errors: {@link IllegalArgumentException} when {@code max < 1}.
     *
     * @param max at least 1
     * @return the messages, roughly in delivery order (by priority, then messages given back, then the rest in
     *     sending order; the messages of a key-ordered queue by key)
     */
    Flux<Message<T>> peek(int max);

    /**
     * Deletes every message of the queue; outstanding leases become stale.
     *
     * @return a Mono of how many messages were removed
     */
    Mono<Long> purge();

    /**
     * Starts configuring a {@link QueuePipeline} that runs {@code handler} on every delivery: the handler's publisher
     * completing acks the message, an error (or a thrown exception, or the handling timeout) nacks it with the
     * retry policy's backoff, and a message out of attempts is rejected to the dead-letter queue with the error as
     * reason. The handler must not settle the delivery itself. Built on {@link #receive(ReceiveOptions)} and the
     * {@link Delivery} operations only, so it works over any broker.
     *
     * @param handler the work per delivery; the value its publisher emits is ignored, only completion counts
     * @return a builder; nothing runs until {@link PipelineBuilder#start()}
     */
    default PipelineBuilder<T> pipeline(
            java.util.function.Function<? super Delivery<T>, ? extends Publisher<?>> handler) {
        return new PipelineBuilder<>(this, handler);
    }

    /**
     * Like {@link #pipeline(java.util.function.Function)} with a handler that needs only the payload.
     *
     * @param handler the work per payload; the value its publisher emits is ignored, only completion counts
     * @return a builder; nothing runs until {@link PipelineBuilder#start()}
     */
    default PipelineBuilder<T> pipelineOnPayload(
            java.util.function.Function<? super T, ? extends Publisher<?>> handler) {
        java.util.Objects.requireNonNull(handler, "handler");
        return new PipelineBuilder<>(this, d -> handler.apply(d.payload()));
    }
}
