package dev.rill.reactive;

import dev.rill.core.QueueEvent;
import dev.rill.core.QueueStats;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.HashMap;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.ToDoubleFunction;
import reactor.core.Disposable;
import reactor.core.Disposables;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;
import reactor.util.retry.Retry;

/**
 * Micrometer meters for one queue, tagged {@code queue=<name>}.
 *
 * <p>Counters, driven by the queue's {@link ReactiveQueue#events() events} from binding on:
 * {@value #SENT} (messages enqueued), {@value #ACKED}, {@value #NACKED}, {@value #REDELIVERED} (leases that ran out
 * without an ack, so the message is delivered again), {@value #DEAD_LETTERED}. Timer {@value #LEASE_TO_ACK}: from a
 * message's lease to its ack, on the queue's clock (a lease taken before the events stream failed and was
 * resubscribed is not timed: its end may have been missed). Gauges {@value #READY}, {@value #IN_FLIGHT}, {@value #DELAYED},
 * read from a {@link ReactiveQueue#stats() stats} snapshot refreshed periodically on a scheduler (gauges must never
 * wait for a queue, which may be remote); {@code NaN} until the first snapshot arrives.
 *
 * <p>Micrometer is an optional dependency of this module: use this class only with micrometer-core on the class
 * path. Options are immutable ({@link #refreshEvery(Duration, Scheduler)} returns a new, unbound instance); binding
 * starts the event subscription and the refresh timer, {@link #dispose()} stops them. One instance may be bound to
 * several registries.
 *
 * <pre>{@code
 * RillMetrics.of(queue).refreshEvery(Duration.ofSeconds(5), broker.scheduler()).bindTo(registry);
 * }</pre>
 */
public final class RillMetrics implements MeterBinder, Disposable {

    /** Counter: messages enqueued (sent, including dead letters arriving in a dead-letter queue). */
    public static final String SENT = "rill.queue.sent";
    /** Counter: messages acknowledged and deleted. */
    public static final String ACKED = "rill.queue.acked";
    /** Counter: negative acknowledgments. */
    public static final String NACKED = "rill.queue.nacked";
    /** Counter: leases that ran out without an ack (the message is delivered again, or dead-lettered). */
    public static final String REDELIVERED = "rill.queue.redelivered";
    /** Counter: messages moved to the dead-letter queue (or dropped as dead letters). */
    public static final String DEAD_LETTERED = "rill.queue.dead.lettered";
    /** Gauge: messages deliverable now. */
    public static final String READY = "rill.queue.ready";
    /** Gauge: messages leased and not yet settled. */
    public static final String IN_FLIGHT = "rill.queue.in.flight";
    /** Gauge: messages waiting for a delay or retry backoff. */
    public static final String DELAYED = "rill.queue.delayed";
    /** Timer: from lease to ack. */
    public static final String LEASE_TO_ACK = "rill.queue.lease.to.ack";

    /** Default gauge refresh interval. */
    public static final Duration DEFAULT_REFRESH = Duration.ofSeconds(10);

    private static final System.Logger LOG = System.getLogger(RillMetrics.class.getName());

    private final ReactiveQueue<?> queue;
    private final Duration refresh;
    private final Scheduler scheduler;

    // ---- binding state ----
    private final CopyOnWriteArrayList<Meters> bound = new CopyOnWriteArrayList<>();
    private final Disposable.Composite subscriptions = Disposables.composite();
    // touched by the serial event stream only (its signals, and its (re)subscription, which follows the last signal
    // of the stream before it); cleared at every (re)subscription and when the stream ends, see bindTo
    private final HashMap<Long, Long> leasedAt = new HashMap<>();
    /** The newest stats snapshot stored, by the order refreshes started in (see {@link #refresh()}). */
    private final AtomicReference<Snapshot> snapshot = new AtomicReference<>();
    private final AtomicLong refreshes = new AtomicLong();
    private boolean started; // guarded by this
    /** The last failure of the event stream logged, until an event arrives: the same one again is not repeated. */
    private final AtomicReference<String> lastEventFailure = new AtomicReference<>();

    private RillMetrics(ReactiveQueue<?> queue, Duration refresh, Scheduler scheduler) {
        this.queue = queue;
        this.refresh = refresh;
        this.scheduler = scheduler;
    }

    /**
     * Creates meters for {@code queue}, gauges refreshed every 10 seconds on
     * {@link Schedulers#parallel()}.
     *
     * @param queue the queue
     * @return a new, unbound binder
     */
    public static RillMetrics of(ReactiveQueue<?> queue) {
        return new RillMetrics(Objects.requireNonNull(queue, "queue"), DEFAULT_REFRESH, Schedulers.parallel());
    }

    /**
     * Sets how often the gauges' stats snapshot is refreshed, and on which scheduler (the broker's, so virtual time
     * drives it in tests).
     *
     * <p>Default: every 10 seconds on {@link Schedulers#parallel()}.
     *
     * @param interval at least 1 ms
     * @param timers the scheduler
     * @return a new, unbound binder with the setting
     * @throws IllegalArgumentException if {@code interval} is shorter than 1 ms
     */
    public RillMetrics refreshEvery(Duration interval, Scheduler timers) {
        Objects.requireNonNull(interval, "interval");
        if (interval.toMillis() < 1) {
            throw new IllegalArgumentException("interval must be >= 1ms, was " + interval);
        }
        return new RillMetrics(queue, interval, Objects.requireNonNull(timers, "scheduler"));
    }

    /**
     * Registers the meters in {@code registry} and, on the first binding, subscribes to the queue's events and
     * starts refreshing the gauges.
     *
     * @param registry the registry
     */
    @Override
    public void bindTo(MeterRegistry registry) {
        Objects.requireNonNull(registry, "registry");
        Tags tags = Tags.of("queue", queue.name());
        bound.add(new Meters(registry, tags));
        gauge(registry, READY, tags, "messages deliverable now", QueueStats::ready);
        gauge(registry, IN_FLIGHT, tags, "messages leased and not yet settled", QueueStats::inFlight);
        gauge(registry, DELAYED, tags, "messages waiting for a delay or retry backoff", QueueStats::delayed);
        synchronized (this) {
            if (started || subscriptions.isDisposed()) {
                return;
            }
            started = true;
        }
        // Every (re)subscription starts the lease-to-ack bookkeeping over: a lease seen before a gap may have ended in
        // it (its ACKED or EXPIRED missed), and its entry would stay for good, a slow leak per failure. Cleared at the
        // subscription, which follows the old stream's last signal; and when the stream ends for good.
        subscriptions.add(Flux.defer(() -> {
                    leasedAt.clear();
                    return queue.events();
                })
                .doOnNext(e -> lastEventFailure.set(null)) // it works again: the next failure is news
                .doOnError(this::eventStreamFailed)
                .retryWhen(Retry.fixedDelay(Long.MAX_VALUE, Duration.ofSeconds(1))
                        // a queue without events (RillClient's, for now) never gets them by retrying
                        .filter(e -> !(e instanceof QueueClosedException)
                                && !(e instanceof UnsupportedOperationException))
                        .scheduler(scheduler))
                .subscribe(this::onEvent, e -> {
                    leasedAt.clear(); // no event will end them
                    LOG.log(Level.DEBUG, "metrics for queue '" + queue.name() + "': event stream ended", e);
                }, leasedAt::clear));
        subscriptions.add(Flux.interval(Duration.ZERO, refresh, scheduler)
                .onBackpressureDrop()
                .concatMap(tick -> refresh(), 0)
                .subscribe(null, e -> LOG.log(Level.WARNING, "metrics for queue '" + queue.name()
                        + "': gauge refresh stopped", e)));
    }

    /**
     * Refreshes the gauges' stats snapshot now. Errors (say, a deleted queue) are logged, not signalled, so a
     * periodic refresh keeps running.
     *
     * @return a Mono that completes once the snapshot is refreshed (or the attempt failed)
     */
    public Mono<Void> refresh() {
        return Mono.defer(() -> {
                    // a refresh that took its stats before another may store them after it: the newer one stays
                    long seq = refreshes.incrementAndGet();
                    return queue.stats().doOnNext(s -> store(new Snapshot(seq, s)));
                })
                .onErrorResume(e -> {
                    LOG.log(Level.DEBUG, "metrics for queue '" + queue.name() + "': stats failed", e);
                    return Mono.empty();
                })
                .then();
    }

    /**
     * Logs a failure of the event stream, which is resubscribed every second: one line (the cause in words, no stack
     * trace unless it is not a {@link RillException}, i.e. a bug), then nothing while the stream fails the same way
     * (a client that gave up its connection fails every resubscription, once a second per queue), until an event
     * arrives or the failure changes.
     */
    private void eventStreamFailed(Throwable e) {
        String what = e.getClass().getName() + ": " + e.getMessage();
        if (what.equals(lastEventFailure.getAndSet(what))) {
            LOG.log(Level.DEBUG, "metrics for queue '" + queue.name() + "': event stream failed again: "
                    + e.getMessage());
            return;
        }
        String line = "metrics for queue '" + queue.name() + "': event stream failed, resubscribing every second"
                + " (counts in between are missed; logged again once it changes): " + e.getMessage();
        if (e instanceof RillException) {
            LOG.log(Level.WARNING, line);
        } else {
            LOG.log(Level.WARNING, line, e);
        }
    }

    /** For tests: how many leases wait for their end to be timed. Read it where the events are delivered. */
    int trackedLeases() {
        return leasedAt.size();
    }

    private void store(Snapshot next) {
        snapshot.accumulateAndGet(next, (cur, n) -> cur == null || cur.seq < n.seq ? n : cur);
    }

    /** Stats and the number of the refresh that took them. */
    private record Snapshot(long seq, QueueStats stats) { }

    /** Stops the event subscription and the gauge refresh. The meters stay registered. Idempotent. */
    @Override
    public void dispose() {
        subscriptions.dispose();
    }

    @Override
    public boolean isDisposed() {
        return subscriptions.isDisposed();
    }

    private void gauge(MeterRegistry registry, String name, Tags tags, String description,
            ToDoubleFunction<QueueStats> value) {
        Gauge.builder(name, this, m -> {
            Snapshot s = m.snapshot.get();
            return s == null ? Double.NaN : value.applyAsDouble(s.stats);
        }).tags(tags).description(description).baseUnit("messages").register(registry);
    }

    private void onEvent(QueueEvent e) {
        switch (e.type()) {
            case ENQUEUED -> bound.forEach(m -> m.sent.increment());
            case LEASED -> leasedAt.put(e.messageId(), e.timestamp());
            case ACKED -> {
                bound.forEach(m -> m.acked.increment());
                Long at = leasedAt.remove(e.messageId());
                if (at != null) {
                    long ms = Math.max(0, e.timestamp() - at);
                    bound.forEach(m -> m.leaseToAck.record(ms, TimeUnit.MILLISECONDS));
                }
            }
            case NACKED -> {
                bound.forEach(m -> m.nacked.increment());
                leasedAt.remove(e.messageId());
            }
            case EXPIRED -> {
                bound.forEach(m -> m.redelivered.increment());
                leasedAt.remove(e.messageId());
            }
            case DEAD_LETTERED -> {
                bound.forEach(m -> m.deadLettered.increment());
                leasedAt.remove(e.messageId());
            }
            case RELEASED, TTL_EXPIRED -> leasedAt.remove(e.messageId());
            case PURGED -> leasedAt.clear();
            default -> {
                // DEDUPLICATED, EXTENDED, REDRIVEN: not measured
            }
        }
    }

    /** The meters of one registry. */
    private static final class Meters {
        final Counter sent;
        final Counter acked;
        final Counter nacked;
        final Counter redelivered;
        final Counter deadLettered;
        final Timer leaseToAck;

        Meters(MeterRegistry registry, Tags tags) {
            sent = Counter.builder(SENT).tags(tags).description("messages enqueued").register(registry);
            acked = Counter.builder(ACKED).tags(tags).description("messages acknowledged").register(registry);
            nacked = Counter.builder(NACKED).tags(tags).description("negative acknowledgments").register(registry);
            redelivered = Counter.builder(REDELIVERED).tags(tags)
                    .description("leases that ran out without an ack").register(registry);
            deadLettered = Counter.builder(DEAD_LETTERED).tags(tags)
                    .description("messages moved to the dead-letter queue").register(registry);
            leaseToAck = Timer.builder(LEASE_TO_ACK).tags(tags)
                    .description("time from a message's lease to its ack, on the queue's clock").register(registry);
        }
    }
}
