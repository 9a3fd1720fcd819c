package dev.rill.reactive;

import dev.rill.core.LeaseOutcome;
import dev.rill.core.Message;
import dev.rill.core.MessageQueue;
import dev.rill.core.OutboundMessage;
import dev.rill.core.Overflow;
import dev.rill.core.QueueEvent;
import dev.rill.core.QueueListener;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.core.ReceiptHandle;
import dev.rill.reactive.internal.AckEach;
import dev.rill.reactive.internal.StoreFirst;
import dev.rill.reactive.internal.Withdrawable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;
import reactor.core.publisher.Mono;

/**
 * A {@link ReactiveQueue} over one in-memory {@link MessageQueue}: the core's readable/writable edges wake
 * waiting receivers and senders, and one {@link QueueTimer} runs the queue's deadlines on the broker's scheduler.
 */
final class InMemoryQueue<T> implements ReactiveQueue<T>, StoreFirst<T>, AckEach<T> {

    /** How many events a slow {@link #events()} subscriber may fall behind before it gets an overflow error. */
    static final int EVENT_BUFFER = 4096;

    /** Something waiting for the queue's timer. {@link #wake()} is called at most once per registration. */
    interface Waiter {
        void wake();
    }

    final MessageQueue<T> core;
    final InMemoryBroker broker;
    final QueueTimer timer;
    private final String name;
    private final QueueSpec spec;
    private final boolean hasDeadLetterQueue;
    private final boolean hasTtl;

    /** Receivers waiting for the readable edge. */
    final EdgeWaiters readers = new EdgeWaiters();
    /** Senders waiting for the writable edge. */
    final EdgeWaiters writers = new EdgeWaiters();
    final Set<Waiter> timerWaiters = ConcurrentHashMap.newKeySet();
    private final CopyOnWriteArrayList<FluxSink<QueueEvent>> eventSinks = new CopyOnWriteArrayList<>();

    volatile boolean closed;

    InMemoryQueue(MessageQueue<T> core, InMemoryBroker broker) {
        this.core = core;
        this.broker = broker;
        this.name = core.name();
        this.spec = core.spec();
        this.hasDeadLetterQueue = spec.deadLetterQueue().isPresent();
        this.hasTtl = spec.messageTtl().isPresent();
        this.timer = new QueueTimer(broker.scheduler(), this::onTimer);
        core.setListener(new Listener());
        timer.ensure(core.nextDeadline());
    }

    private final class Listener implements QueueListener {
        @Override
        public void onReadable() {
            readers.wakeUntilBlocked();
        }

        @Override
        public void onWritable() {
            writers.wakeUntilBlocked();
        }

        @Override
        public void onEvents(List<QueueEvent> events) {
            for (FluxSink<QueueEvent> sink : eventSinks) {
                for (QueueEvent e : events) {
                    sink.next(e);
                }
            }
        }

        @Override
        public boolean wantsEvents() {
            return !eventSinks.isEmpty();
        }
    }

    static void wakeAll(Set<Waiter> waiters) {
        if (waiters.isEmpty()) {
            return;
        }
        // wake a snapshot: a woken waiter that finds nothing re-registers at once, and iterating the live set
        // could revisit it forever (two such waiters in one hash bin re-append behind each other: a livelock)
        for (Waiter w : waiters.toArray(new Waiter[0])) {
            if (waiters.remove(w)) {
                w.wake();
            }
        }
    }

    private long onTimer(long now) {
        long next = core.advance(now);
        wakeAll(timerWaiters);
        if (hasDeadLetterQueue) {
            broker.touch(spec.deadLetterQueue().get());
        }
        return next;
    }

    long now() {
        return timer.now();
    }

    /** After an operation that may have moved messages to the dead-letter queue: its timers may need to run. */
    void afterDeadLetterRisk() {
        if (hasDeadLetterQueue) {
            broker.touch(spec.deadLetterQueue().get());
        }
    }

    /** Called by the broker when dead letters (or redriven messages) may have arrived. */
    void touched() {
        if (hasTtl) {
            timer.ensure(core.nextDeadline());
        }
    }

    /** The earliest deadline a freshly stored message creates, or Long.MAX_VALUE. */
    long deadlineOf(OutboundMessage<T> m, long now) {
        long d = Long.MAX_VALUE;
        long delay = m.delay().toMillis();
        if (delay > 0) {
            d = Math.min(d, now + delay);
        }
        if (m.ttl() != null) {
            d = Math.min(d, now + Math.max(1, m.ttl().toMillis()));
        }
        if (hasTtl) {
            d = Math.min(d, now + Math.max(1, spec.messageTtl().get().toMillis()));
        }
        if (m.dedupId() != null) {
            d = Math.min(d, now + spec.dedupWindow().toMillis());
        }
        return d;
    }

    /** Closes this view: wakes everyone so streams see {@link #closed} and end with an error. */
    void close() {
        closed = true;
        timer.dispose();
        readers.wakeAll();
        writers.wakeAll();
        wakeAll(timerWaiters);
        for (FluxSink<QueueEvent> sink : eventSinks) {
            sink.complete();
        }
    }

    QueueClosedException closedException() {
        return new QueueClosedException(name);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public QueueSpec spec() {
        return spec;
    }

    @Override
    public Mono<SendResult<T>> send(OutboundMessage<T> message, SendOptions options) {
        Objects.requireNonNull(message, "message");
        Objects.requireNonNull(options, "options");
        return new MonoSend<>(this, message, options.overflow().orElse(spec.overflow()), true, null);
    }

    @Override
    public Mono<SendResult<T>> sendStored(OutboundMessage<T> message, SendOptions options,
            Withdrawable withdrawable) {
        Objects.requireNonNull(message, "message");
        Objects.requireNonNull(options, "options");
        return new MonoSend<>(this, message, options.overflow().orElse(spec.overflow()), false, withdrawable);
    }

    @Override
    public Mono<Void> durableSoFar() {
        return broker.durable();
    }

    @Override
    public Flux<SendResult<T>> sendMany(Publisher<OutboundMessage<T>> messages, SendOptions options) {
        Objects.requireNonNull(messages, "messages");
        Objects.requireNonNull(options, "options");
        Overflow overflow = options.overflow().orElse(spec.overflow());
        if (!broker.isDurable()) {
            return new FluxSendMany<>(this, Flux.from(messages), overflow, options.maxInFlight());
        }
        // A durable broker emits each result once its record is on disk; a stored batch becomes durable together.
        // The stream's own error (a refused message, an upstream error) comes after the results before it, as
        // without durability: concatMap would pass it on at once and drop results still waiting for the disk.
        return Flux.defer(() -> {
            AtomicReference<Throwable> deferred = new AtomicReference<>();
            return new FluxSendMany<>(this, Flux.from(messages), overflow, options.maxInFlight())
                    .map(broker::durableAfter)
                    .onErrorResume(e -> {
                        deferred.set(e);
                        return Flux.empty();
                    })
                    .concatMap(d -> d, options.maxInFlight())
                    .concatWith(Mono.defer(() -> {
                        Throwable e = deferred.get();
                        return e == null ? Mono.<SendResult<T>>empty() : Mono.<SendResult<T>>error(e);
                    }));
        });
    }

    @Override
    public Flux<Delivery<T>> receive(ReceiveOptions options) {
        Objects.requireNonNull(options, "options");
        return new FluxReceive<>(this, options);
    }

    @Override
    public Mono<Delivery<T>> receiveOne(Duration wait) {
        Objects.requireNonNull(wait, "wait");
        if (wait.isNegative()) { // signalled, not thrown: every method is lazy (and the network client's signals it)
            return Mono.error(new IllegalArgumentException("wait must be >= 0, was " + wait));
        }
        ReceiveOptions one = ReceiveOptions.defaults().maxMessages(1);
        if (wait.isZero()) {
            // a single look: lease what is ready now, never wait (take(ZERO) could win before the first lease)
            return new FluxReceive<>(this, one, true, null).next();
        }
        // the stream ends itself when the wait is over: a lease taken meanwhile is emitted or released at once
        return new FluxReceive<>(this, one, false, wait).next();
    }

    @Override
    public Mono<Void> ackAll(Collection<? extends Delivery<T>> deliveries) {
        Objects.requireNonNull(deliveries, "deliveries");
        return Mono.defer(() -> {
            List<DeliveryImpl<T>> owned = own(deliveries);
            LeaseOutcome[] outcomes = ackOwned(owned);
            if (anyPending(outcomes)) {
                return awaitPending(owned, outcomes).flatMap(o -> ackAllResult(owned, o));
            }
            return ackAllResult(owned, outcomes);
        });
    }

    private Mono<Void> ackAllResult(List<DeliveryImpl<T>> owned, LeaseOutcome[] outcomes) {
        LeaseExpiredException first = null;
        int failed = 0;
        for (int i = 0; i < outcomes.length; i++) {
            if (outcomes[i] != LeaseOutcome.OK) {
                failed++;
                if (first == null) {
                    first = owned.get(i).expired("ackAll");
                }
            }
        }
        if (first != null) {
            if (failed > 1) {
                first.addSuppressed(new RillException(failed + " of " + owned.size()
                        + " deliveries had expired leases; the others were acked"));
            }
            return Mono.error(first);
        }
        return broker.durable(); // a durable broker confirms the acks once they are on disk
    }

    @Override
    public Mono<List<LeaseOutcome>> ackEach(List<? extends Delivery<T>> deliveries) {
        Objects.requireNonNull(deliveries, "deliveries");
        return Mono.defer(() -> {
            List<DeliveryImpl<T>> owned = own(deliveries);
            LeaseOutcome[] outcomes = ackOwned(owned);
            if (anyPending(outcomes)) {
                return awaitPending(owned, outcomes).flatMap(o -> broker.durable().then(Mono.just(List.of(o))));
            }
            return broker.durable().then(Mono.just(List.of(outcomes))); // durable: confirmed once on disk
        });
    }

    /**
     * Acks, with one core {@code ackAll}, every delivery it can claim (see {@link DeliveryImpl#claim}).
     *
     * @return per delivery, in order: OK when it is acked (now, or before), STALE when its lease was over or it was
     *     settled otherwise (the delivery now knows it), null while another settlement of it is in flight (see
     *     {@link #awaitPending})
     */
    private LeaseOutcome[] ackOwned(List<DeliveryImpl<T>> owned) {
        int n = owned.size();
        LeaseOutcome[] outcomes = new LeaseOutcome[n];
        List<ReceiptHandle> handles = new ArrayList<>(n);
        int[] at = new int[n];
        for (int i = 0; i < n; i++) {
            DeliveryImpl<T> d = owned.get(i);
            if (d.claim(DeliveryImpl.ACKING)) {
                at[handles.size()] = i;
                handles.add(d.handle());
            } else {
                int s = d.state;
                if (s == DeliveryImpl.ACKED) {
                    outcomes[i] = LeaseOutcome.OK;
                } else if (s == DeliveryImpl.SETTLED || s == DeliveryImpl.OVER) {
                    outcomes[i] = LeaseOutcome.STALE;
                } // else in flight elsewhere (or this very list names it twice): decided by awaitPending
            }
        }
        if (handles.isEmpty()) {
            return outcomes;
        }
        List<LeaseOutcome> acked;
        try {
            acked = core.ackAll(handles, now());
        } catch (RuntimeException | Error e) {
            for (int j = 0; j < handles.size(); j++) {
                owned.get(at[j]).publish(DeliveryImpl.OPEN); // nothing changed: their waiters try again
            }
            throw e;
        }
        for (int j = 0; j < handles.size(); j++) {
            DeliveryImpl<T> d = owned.get(at[j]);
            if (acked.get(j) == LeaseOutcome.OK) {
                d.publish(DeliveryImpl.ACKED);
                outcomes[at[j]] = LeaseOutcome.OK;
            } else {
                d.publish(DeliveryImpl.OVER);
                outcomes[at[j]] = LeaseOutcome.STALE;
            }
        }
        return outcomes;
    }

    private static boolean anyPending(LeaseOutcome[] outcomes) {
        for (LeaseOutcome o : outcomes) {
            if (o == null) {
                return true;
            }
        }
        return false;
    }

    /** Fills in, without blocking, the outcomes of deliveries another settlement had claimed, once it ends. */
    private Mono<LeaseOutcome[]> awaitPending(List<DeliveryImpl<T>> owned, LeaseOutcome[] outcomes) {
        return Flux.range(0, outcomes.length)
                .filter(i -> outcomes[i] == null)
                .concatMap(i -> {
                    DeliveryImpl<T> d = owned.get(i);
                    return d.settledState()
                            .flatMap(end -> end == DeliveryImpl.OPEN
                                    // the claimed settlement changed nothing: ack it as its own ack() would
                                    ? d.ack().then(Mono.just(LeaseOutcome.OK))
                                            .onErrorResume(LeaseExpiredException.class,
                                                    e -> Mono.just(LeaseOutcome.STALE))
                                    : Mono.just(end == DeliveryImpl.ACKED ? LeaseOutcome.OK : LeaseOutcome.STALE))
                            .doOnNext(o -> outcomes[i] = o);
                })
                .then(Mono.fromSupplier(() -> outcomes));
    }

    /**
     * @throws IllegalArgumentException when one is not a delivery of this queue, received directly or through a
     *     {@link TranscodingQueue} (before anything is acked)
     */
    private List<DeliveryImpl<T>> own(Collection<? extends Delivery<T>> deliveries) {
        List<DeliveryImpl<T>> owned = new ArrayList<>(deliveries.size());
        for (Delivery<T> d : deliveries) {
            owned.add(own(d));
        }
        return owned;
    }

    @SuppressWarnings("unchecked")
    private DeliveryImpl<T> own(Delivery<T> d) {
        Objects.requireNonNull(d, "delivery");
        if (d instanceof TranscodingQueue.TranscodedDelivery<?> t) {
            d = (Delivery<T>) t.delivery; // received through a view of this queue with another codec
        }
        if (d instanceof DeliveryImpl<T> impl && impl.queue == this) {
            return impl;
        }
        throw new IllegalArgumentException("delivery of message " + d.message().id() + " was not received from queue '"
                + name + "' of this broker");
    }

    @Override
    public Flux<QueueEvent> events() {
        return Flux.<QueueEvent>create(sink -> {
            eventSinks.add(sink);
            sink.onDispose(() -> eventSinks.remove(sink));
            // Registered first, closed read after: close() writes closed before it completes the registered sinks,
            // so either it completes this one or this read sees it closed. Read first, a close in between completed
            // the sinks without this one, and the stream never ended.
            if (closed) {
                sink.complete();
            }
        }, FluxSink.OverflowStrategy.BUFFER).onBackpressureBuffer(EVENT_BUFFER);
    }

    @Override
    public Mono<QueueStats> stats() {
        return Mono.fromSupplier(core::stats);
    }

    @Override
    public Flux<Message<T>> peek(int max) {
        return Flux.defer(() -> Flux.fromIterable(core.peek(max)));
    }

    @Override
    public Mono<Long> purge() {
        return Mono.fromSupplier(() -> core.purge(now()));
    }

    @Override
    public String toString() {
        return "ReactiveQueue{" + name + "}";
    }
}
