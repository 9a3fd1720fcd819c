package dev.rill.netty.internal.transport;

import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueEvent;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.SendReceipt;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.QueueClosedException;
import dev.rill.reactive.QueueFullException;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.ReceiveOptions;
import dev.rill.reactive.SendOptions;
import dev.rill.reactive.SendResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;
import reactor.core.publisher.Mono;

/** A queue of a remote broker: the same API as a local queue, every call a frame exchange. */
final class RemoteQueue<T> implements ReactiveQueue<T> {

    private final RemoteBroker broker;
    private final QueueSpec spec;
    private final Codec<T> codec;

    RemoteQueue(RemoteBroker broker, QueueSpec spec, Codec<T> codec) {
        this.broker = broker;
        this.spec = spec;
        this.codec = codec;
    }

    RemoteBroker broker() {
        return broker;
    }

    Codec<T> codec() {
        return codec;
    }

    @Override
    public String name() {
        return spec.name();
    }

    @Override
    public QueueSpec spec() {
        return spec;
    }

    @Override
    public Mono<SendResult<T>> send(OutboundMessage<T> message, SendOptions options) {
        Objects.requireNonNull(message, "message");
        Objects.requireNonNull(options, "options");
        return Mono.defer(() -> {
            byte[] payload = codec.encode(message.payload());
            var wire = Wire.toWire(message, payload);
            return Mono.<SendReceipt>create(sink -> broker.submit(
                    new ClientConnection.PendingMessage(name(), wire, sink)));
        }).flatMap(r -> switch (r.status()) {
            case ENQUEUED -> Mono.just(new SendResult<>(r.messageId(), false, message));
            case DUPLICATE -> Mono.just(new SendResult<>(r.messageId(), true, message));
            case FULL -> Mono.error(new QueueFullException(name()));
            case CLOSED -> Mono.error(new QueueClosedException(name()));
            case ERROR -> Mono.error(Wire.toException(r.error(), "message refused by the server ("
                    + r.error() + ")", name()));
        });
    }

    /**
     * {@inheritDoc}
     *
     * <p>Demand: at most {@code options.maxInFlight()} messages are pulled from upstream and not yet stored; they
     * wait for the queue's SEND_CREDIT, which the server grants only as it stores messages, so a full queue stops
     * the pulling.
     */
    @Override
    public Flux<SendResult<T>> sendMany(Publisher<OutboundMessage<T>> messages, SendOptions options) {
        Objects.requireNonNull(messages, "messages");
        Objects.requireNonNull(options, "options");
        return Flux.from(messages).flatMapSequential(m -> send(m, options), options.maxInFlight(), 1);
    }

    @Override
    public Flux<Delivery<T>> receive(ReceiveOptions options) {
        Objects.requireNonNull(options, "options");
        Flux<Delivery<T>> flux = Flux.create(sink -> open(sink, options, false), FluxSink.OverflowStrategy.BUFFER);
        return options.maxMessages().isPresent() ? flux.take(options.maxMessages().getAsLong(), true) : flux;
    }

    private RemoteSubscription<T> open(FluxSink<Delivery<T>> sink, ReceiveOptions options, boolean single) {
        RemoteSubscription<T> s = new RemoteSubscription<>(this, options, sink, broker.options().receiveWindow());
        sink.onRequest(s::onRequest);
        sink.onCancel(s::onCancel);
        broker.register(s);
        return s;
    }

    @Override
    public Mono<Delivery<T>> receiveOne(Duration wait) {
        Objects.requireNonNull(wait, "wait");
        if (wait.isNegative()) {
            return Mono.error(new IllegalArgumentException("wait must be >= 0, was " + wait));
        }
        return Flux.<Delivery<T>>create(sink -> {
            RemoteSubscription<T> s = open(sink, ReceiveOptions.defaults(), true);
            if (wait.isZero()) {
                s.requestEnd();
            } else {
                var timer = broker.scheduler().schedule(s::requestEnd, wait.toMillis(),
                        java.util.concurrent.TimeUnit.MILLISECONDS);
                sink.onDispose(timer::dispose);
            }
        }, FluxSink.OverflowStrategy.BUFFER).take(1, true).next();
    }

    @Override
    public Mono<Void> ackAll(Collection<? extends Delivery<T>> deliveries) {
        Objects.requireNonNull(deliveries, "deliveries");
        List<Delivery<T>> copy = new ArrayList<>(deliveries);
        return Flux.fromIterable(copy)
                .flatMapSequential(d -> d.ack().then(Mono.<Throwable>empty()).onErrorResume(Mono::just))
                .collectList()
                .flatMap(errors -> errors.isEmpty() ? Mono.<Void>empty() : Mono.<Void>error(errors.get(0)));
    }

    /**
     * Not available over the network yet.
     *
     * @return a Flux that errors with {@link UnsupportedOperationException}
     */
    @Override
    public Flux<QueueEvent> events() {
        return Flux.error(new UnsupportedOperationException(
                "events() is not available through RillClient yet; subscribe to events on the server's broker"));
    }

    @Override
    public Mono<QueueStats> stats() {
        return broker.call(name(), id -> new Frame.Stats(id, name()),
                f -> ((Frame.StatsResult) f).stats().get(0));
    }

    @Override
    public Flux<Message<T>> peek(int max) {
        if (max < 1) {
            return Flux.error(new IllegalArgumentException("max must be >= 1, was " + max));
        }
        return broker.call(name(), id -> new Frame.Peek(id, name(), max), f -> ((Frame.PeekResult) f).messages())
                .flatMapIterable(list -> list)
                .map(p -> new Message<>(p.messageId(), codec.decode(p.payload()), p.key(), p.priority(), p.headers(),
                        p.timestamp()));
    }

    @Override
    public Mono<Long> purge() {
        return broker.purge(name());
    }

    @Override
    public String toString() {
        return "RemoteQueue{" + name() + " @ " + broker.address() + "}";
    }
}
