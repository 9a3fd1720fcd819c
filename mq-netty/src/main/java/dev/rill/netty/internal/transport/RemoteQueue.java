package dev.rill.netty.internal.transport;

import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueEvent;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.SendReceipt;
import dev.rill.netty.internal.protocol.SendStatus;
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
import dev.rill.reactive.RillException;
import reactor.core.CoreSubscriber;
import reactor.core.Disposable;
import reactor.core.Disposables;
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
        return MonoRemoteSend.of(this, message, options.overflow().orElse(null));
    }

    /** @return the error a refused message's send ends with, or null when it was stored (new or duplicate) */
    RuntimeException failureOf(SendReceipt r) {
        return switch (r.status()) { // an expression: a new status must be handled here
            case ENQUEUED, DUPLICATE -> null;
            case FULL -> new QueueFullException(name());
            case CLOSED -> new QueueClosedException(name());
            case CANCELLED -> new RillException("the send to '" + name() + "' was cancelled");
            case ERROR -> Wire.refusal(r.error(), refusal(r), name());
        };
    }

    /** @return the message of a refused message's error: the server's reason when it gave one (version 3) */
    private String refusal(SendReceipt r) {
        if (r.reason() != null) {
            // a reason that names the queue first (a codec's refusal does) is not prefixed with it twice
            String prefix = "queue '" + name() + "': ";
            String reason = r.reason().startsWith(prefix) ? r.reason().substring(prefix.length()) : r.reason();
            return "queue '" + name() + "' refused the message (" + r.error() + "): " + reason;
        }
        if (r.error() == ErrorCode.INVALID_ARGUMENT) {
            // a version-2 server gives no reason. The client checked the fields before sending: most likely the
            // payload, refused by the typed codec the queue is used with in the server's JVM
            return "queue '" + name() + "' refused the message (INVALID_ARGUMENT): a field broke the server's rules, "
                    + "or the payload is not one the codec the queue was first declared with in the server's JVM can "
                    + "decode";
        }
        return "queue '" + name() + "' refused the message (" + r.error() + ")";
    }

    /** @return the result of a stored message */
    SendResult<T> resultOf(SendReceipt r, OutboundMessage<T> message) {
        return new SendResult<>(r.messageId(), r.status() == SendStatus.DUPLICATE, message);
    }

    /**
     * {@inheritDoc}
     *
     * <p>Demand: at most {@code min(options.maxInFlight(), downstream demand)} messages are pulled from upstream and
     * not yet answered; they wait for the queue's SEND_CREDIT, which the server grants only as it stores messages,
     * so a full queue stops the pulling (see {@link FluxRemoteSendMany}).
     */
    @Override
    public Flux<SendResult<T>> sendMany(Publisher<OutboundMessage<T>> messages, SendOptions options) {
        Objects.requireNonNull(messages, "messages");
        Objects.requireNonNull(options, "options");
        return FluxRemoteSendMany.of(this, messages, options.overflow().orElse(null), options.maxInFlight());
    }

    /**
     * {@inheritDoc}
     *
     * <p>Demand: {@code request(n)} becomes CREDIT for the server (see {@link RemoteSubscription}).
     */
    @Override
    public Flux<Delivery<T>> receive(ReceiveOptions options) {
        Objects.requireNonNull(options, "options");
        Flux<Delivery<T>> flux = new RemoteFlux<>(deliveries(options), s -> { });
        return options.maxMessages().isPresent() ? flux.take(options.maxMessages().getAsLong(), true) : flux;
    }

    private RemoteSubscription.Kind<Delivery<T>> deliveries(ReceiveOptions options) {
        int prefetch = options.prefetch();
        int maxUnacked = options.maxUnacked().orElse(0);
        long visibility = options.visibilityTimeout().map(Duration::toMillis).orElse(0L);
        return new RemoteSubscription.Kind<>() {
            @Override
            public Frame subscribe(int id) {
                return new Frame.Subscribe(id, name(), prefetch, maxUnacked, visibility);
            }

            @Override
            public Delivery<T> decode(Frame f, ClientConnection conn) {
                if (!(f instanceof Frame.Deliver d)) {
                    return null;
                }
                // decoded on use: a payload the codec cannot decode fails in the code that handles it, and the
                // stream (and its other messages) goes on
                Message<T> m = Message.decodedOnUse(d.messageId(), d.payload(), codec, d.key(), d.priority(),
                        d.headers(), d.timestamp());
                return new RemoteDelivery<>(name(), m, d.deliveryCount(), d.deadline(), d.deliveryTag(), conn,
                        broker.scheduler());
            }

            @Override
            public void discard(Delivery<T> d) {
                ((RemoteDelivery<T>) d).discard();
            }

            @Override
            public RuntimeException error(ErrorCode code, String message) {
                return Wire.toException(code, message, name());
            }
        };
    }

    /** A stream of this queue; each subscriber gets its own {@link RemoteSubscription}. */
    private final class RemoteFlux<E> extends Flux<E> {
        private final RemoteSubscription.Kind<E> kind;
        private final java.util.function.Consumer<RemoteSubscription<E>> onOpen;

        RemoteFlux(RemoteSubscription.Kind<E> kind, java.util.function.Consumer<RemoteSubscription<E>> onOpen) {
            this.kind = kind;
            this.onOpen = onOpen;
        }

        @Override
        public void subscribe(CoreSubscriber<? super E> actual) {
            RemoteSubscription<E> s = new RemoteSubscription<>(broker, RemoteQueue.this.name(), kind, actual,
                    broker.options().receiveWindow());
            actual.onSubscribe(s);
            broker.register(s);
            onOpen.accept(s);
        }
    }

    @Override
    public Mono<Delivery<T>> receiveOne(Duration wait) {
        Objects.requireNonNull(wait, "wait");
        if (wait.isNegative()) {
            return Mono.error(new IllegalArgumentException("wait must be >= 0, was " + wait));
        }
        return Mono.defer(() -> {
            Disposable.Swap timer = Disposables.swap();
            Flux<Delivery<T>> one = new RemoteFlux<>(deliveries(ReceiveOptions.defaults()), s -> {
                if (wait.isZero()) {
                    s.requestEnd();
                } else {
                    timer.update(broker.scheduler().schedule(s::requestEnd, wait.toMillis(),
                            java.util.concurrent.TimeUnit.MILLISECONDS));
                }
            });
            return one.take(1, true).next().doFinally(sig -> timer.dispose());
        });
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
     * {@inheritDoc}
     *
     * <p>Over the network: an events subscription (SUBSCRIBE_EVENTS); {@code request(n)} becomes CREDIT like for
     * {@code receive}. The server buffers what the subscriber has not asked for yet up to the queue's events buffer;
     * beyond it the stream ends with the same overflow error as in memory.
     */
    @Override
    public Flux<QueueEvent> events() {
        RemoteSubscription.Kind<QueueEvent> kind = new RemoteSubscription.Kind<>() {
            @Override
            public Frame subscribe(int id) {
                return new Frame.SubscribeEvents(id, name());
            }

            @Override
            public QueueEvent decode(Frame f, ClientConnection conn) {
                if (!(f instanceof Frame.Event e)) {
                    return null;
                }
                return new QueueEvent(e.eventType(), name(), e.messageId(), e.deliveryCount(), e.detail(),
                        e.timestamp());
            }

            @Override
            public void discard(QueueEvent e) {
                // nothing to give back
            }

            @Override
            public RuntimeException error(ErrorCode code, String message) {
                return Wire.toException(code, message, name());
            }
        };
        return new RemoteFlux<>(kind, s -> { });
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
                .map(p -> Message.decodedOnUse(p.messageId(), p.payload(), codec, p.key(), p.priority(),
                        p.headers(), p.timestamp()));
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
