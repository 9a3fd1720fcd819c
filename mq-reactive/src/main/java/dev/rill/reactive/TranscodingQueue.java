package dev.rill.reactive;

import dev.rill.core.Codec;
import dev.rill.core.LeaseOutcome;
import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueEvent;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.reactive.internal.AckEach;
import dev.rill.reactive.internal.StoreFirst;
import dev.rill.reactive.internal.Withdrawable;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.BiFunction;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.SynchronousSink;

/**
 * A view of an {@link InMemoryQueue} through another codec than the one its payload objects have (its stored
 * codec): a payload sent through this view is encoded with the view's codec and decoded with the stored one; a
 * payload received or peeked is encoded with the stored codec and decoded with the view's. This is how a queue
 * that the application uses with a typed codec is also served to remote clients, whose server-side view uses
 * {@code Codec.bytes()}, and the other way round.
 *
 * <p>Errors: a payload one of the codecs cannot convert fails its send with the codec's exception (an
 * {@link IllegalArgumentException} for an invalid encoding), as a remote client's send does. A received payload is
 * decoded on the first call of its {@link Message#payload()} ({@link Message#decodedOnUse}), as a remote client's
 * is, so a message that cannot be decoded fails there, in the consumer's code that handles it, and is settled like
 * any other failure (a nack counts toward {@code maxDeliveries}); the stream goes on.
 */
final class TranscodingQueue<T> implements ReactiveQueue<T>, StoreFirst<T>, AckEach<T> {

    final InMemoryQueue<Object> queue;
    private final Codec<Object> stored;
    private final Codec<T> codec;

    TranscodingQueue(InMemoryQueue<Object> queue, Codec<Object> stored, Codec<T> codec) {
        this.queue = queue;
        this.stored = stored;
        this.codec = codec;
    }

    /**
     * The message as the queue stores it.
     *
     * @throws IllegalArgumentException when the view's codec cannot encode the payload (its own exception, as for a
     *     remote client), or the queue's codec cannot decode the bytes
     */
    private OutboundMessage<Object> toStored(OutboundMessage<T> message) {
        Objects.requireNonNull(message, "message");
        byte[] bytes = Objects.requireNonNull(codec.encode(message.payload()), "codec returned null");
        Object payload;
        try {
            payload = stored.decode(bytes);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("queue '" + name() + "': a payload of " + bytes.length
                    + (bytes.length == 1 ? " byte" : " bytes") + " that the codec the queue was first declared with "
                    + "cannot decode: " + e.getMessage(), e);
        }
        if (payload == null) {
            throw new IllegalArgumentException("queue '" + name() + "': the codec the queue was first declared with "
                    + "decoded a payload of " + bytes.length + (bytes.length == 1 ? " byte" : " bytes") + " to null");
        }
        return message.withPayload(payload);
    }

    /**
     * A stored message as this view's: its payload encoded now with the stored codec, decoded with the view's on
     * first use.
     *
     * @throws IllegalStateException when the stored codec cannot encode the stored payload (a payload object of
     *     another type, e.g. in a dead-letter queue shared by queues of different codecs)
     */
    private Message<T> fromStored(Message<Object> m) {
        byte[] bytes;
        try {
            bytes = Objects.requireNonNull(stored.encode(m.payload()), "codec returned null");
        } catch (RuntimeException e) {
            throw new IllegalStateException("queue '" + name() + "', message " + m.id() + ": its stored payload (a "
                    + m.payload().getClass().getName() + ") cannot be encoded with the codec the queue was first "
                    + "declared with: " + e, e);
        }
        return Message.decodedOnUse(m.id(), bytes, codec, m.key(), m.priority(), m.headers(), m.timestamp());
    }

    /** The delivery as this view's; when that fails, it is given back (uncounted) and the stream ends. */
    private void wrap(Delivery<Object> d, SynchronousSink<Delivery<T>> sink) {
        Message<T> m;
        try {
            m = fromStored(d.message());
        } catch (RuntimeException e) {
            d.release().subscribe(null, released -> { }); // if the lease is over already, the queue has it back
            sink.error(e);
            return;
        }
        sink.next(new TranscodedDelivery<>(d, m));
    }

    @Override
    public String name() {
        return queue.name();
    }

    @Override
    public QueueSpec spec() {
        return queue.spec();
    }

    @Override
    public Mono<SendResult<T>> send(OutboundMessage<T> message, SendOptions options) {
        return sendThrough(message, options, queue::send);
    }

    @Override
    public Mono<SendResult<T>> sendStored(OutboundMessage<T> message, SendOptions options,
            Withdrawable withdrawable) {
        return sendThrough(message, options, (m, o) -> queue.sendStored(m, o, withdrawable));
    }

    /** {@code send} converted: the message stored as the queue's type, the result carrying the caller's message. */
    private Mono<SendResult<T>> sendThrough(OutboundMessage<T> message, SendOptions options,
            BiFunction<OutboundMessage<Object>, SendOptions, Mono<SendResult<Object>>> send) {
        Objects.requireNonNull(message, "message");
        Objects.requireNonNull(options, "options");
        return Mono.defer(() -> send.apply(toStored(message), options))
                .map(r -> new SendResult<>(r.messageId(), r.duplicate(), message));
    }

    @Override
    public Mono<Void> durableSoFar() {
        return queue.durableSoFar();
    }

    /**
     * {@inheritDoc}
     *
     * <p>Results come one per message and in order, so each is paired with the message this view was given (not
     * the converted one) through a FIFO of the messages converted and not answered yet (at most the stream's
     * in-flight bound).
     */
    @Override
    public Flux<SendResult<T>> sendMany(Publisher<OutboundMessage<T>> messages, SendOptions options) {
        Objects.requireNonNull(messages, "messages");
        Objects.requireNonNull(options, "options");
        return Flux.defer(() -> {
            ConcurrentLinkedQueue<OutboundMessage<T>> unanswered = new ConcurrentLinkedQueue<>();
            Flux<OutboundMessage<Object>> converted = Flux.from(messages).map(m -> {
                OutboundMessage<Object> s = toStored(m);
                unanswered.add(m);
                return s;
            });
            return queue.sendMany(converted, options)
                    .map(r -> new SendResult<>(r.messageId(), r.duplicate(), unanswered.poll()));
        });
    }

    @Override
    public Flux<Delivery<T>> receive(ReceiveOptions options) {
        return queue.receive(options).handle(this::wrap);
    }

    @Override
    public Mono<Delivery<T>> receiveOne(Duration wait) {
        return queue.receiveOne(wait).handle(this::wrap);
    }

    @Override
    @SuppressWarnings("unchecked")
    public Mono<Void> ackAll(Collection<? extends Delivery<T>> deliveries) {
        // the queue accepts this view's deliveries as its own (it looks behind a TranscodedDelivery)
        return queue.ackAll((Collection<? extends Delivery<Object>>) (Collection<?>) deliveries);
    }

    @Override
    @SuppressWarnings("unchecked")
    public Mono<List<LeaseOutcome>> ackEach(List<? extends Delivery<T>> deliveries) {
        return queue.ackEach((List<? extends Delivery<Object>>) (List<?>) deliveries);
    }

    @Override
    public Flux<QueueEvent> events() {
        return queue.events();
    }

    @Override
    public Mono<QueueStats> stats() {
        return queue.stats();
    }

    /**
     * {@inheritDoc}
     *
     * <p>Payloads are decoded on use, as for deliveries.
     */
    @Override
    public Flux<Message<T>> peek(int max) {
        return queue.peek(max).map(this::fromStored);
    }

    @Override
    public Mono<Long> purge() {
        return queue.purge();
    }

    @Override
    public String toString() {
        return "ReactiveQueue{" + name() + ", converting through bytes}";
    }

    /** A delivery of the queue seen through the view: its message converted, settling delegated. */
    static final class TranscodedDelivery<T> implements Delivery<T> {

        final Delivery<Object> delivery;
        private final Message<T> message;

        TranscodedDelivery(Delivery<Object> delivery, Message<T> message) {
            this.delivery = delivery;
            this.message = message;
        }

        /**
         * {@inheritDoc}
         *
         * <p>Its {@link Message#payload()} is decoded on first use and throws when this view's codec cannot decode
         * it; the delivery is still held then, and is settled as usual.
         */
        @Override
        public Message<T> message() {
            return message;
        }

        @Override
        public int deliveryCount() {
            return delivery.deliveryCount();
        }

        @Override
        public long deadline() {
            return delivery.deadline();
        }

        @Override
        public Mono<Void> ack() {
            return delivery.ack();
        }

        @Override
        public Mono<Void> nack() {
            return delivery.nack();
        }

        @Override
        public Mono<Void> nack(Duration delay) {
            return delivery.nack(delay);
        }

        @Override
        public Mono<Void> extend(Duration duration) {
            return delivery.extend(duration);
        }

        @Override
        public Mono<Void> reject(String reason) {
            return delivery.reject(reason);
        }

        @Override
        public Mono<Void> release() {
            return delivery.release();
        }

        @Override
        public boolean isSettled() {
            return delivery.isSettled();
        }

        @Override
        public String toString() {
            return delivery.toString();
        }
    }
}
