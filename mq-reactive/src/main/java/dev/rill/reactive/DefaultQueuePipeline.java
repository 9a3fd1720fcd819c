package dev.rill.reactive;

import dev.rill.reactive.PipelineError.Stage;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscription;
import reactor.core.Disposable;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Scheduler;
import reactor.util.concurrent.Queues;

/**
 * The pipeline: one demand-driven subscription to {@link ReactiveQueue#receive(ReceiveOptions)} plus a handler run
 * per delivery. Uses only the public queue and delivery API, so it runs unchanged over any broker.
 *
 * <p>Threading: every state change (deliveries arriving, handlers finishing, pause, drain, timers) is a command run
 * by a serializing drain loop (a lock-free multi-producer queue and a work-in-progress counter), so the state below
 * is touched by one thread at a time and no thread ever waits for another. Handlers and acks run outside the loop's
 * state, on whatever thread signals them; their outcomes come back as commands.
 */
final class DefaultQueuePipeline<T> implements QueuePipeline {

    private static final System.Logger LOG = System.getLogger(QueuePipeline.class.getName());
    private static final Optional<Throwable> SUCCESS = Optional.empty();

    private final ReactiveQueue<T> queue;
    private final String name;
    private final Function<? super Delivery<T>, ? extends Publisher<?>> handler;
    private final ReceiveOptions receiveOptions;
    private final int concurrency;
    private final boolean keyOrdered;
    private final Duration handlingTimeout; // null: none
    private final RetryPolicy retry;
    private final int queueMaxDeliveries; // 0: none
    private final Duration leaseLength;
    private final Duration renewEvery; // null: no renewal
    private final Scheduler scheduler;

    // ---- serialized command loop ----
    private final Queue<Runnable> commands = Queues.<Runnable>unboundedMultiproducer().get();
    private final AtomicInteger wip = new AtomicInteger();

    // ---- state touched only inside the command loop ----
    private Upstream current; // null: not subscribed (paused, stopping or not started)
    private long requested; // demand outstanding on current
    private int held;
    private boolean paused;
    private boolean stopping;
    private boolean graceExpired;
    private boolean terminated;
    private Disposable graceTimer;
    private Disposable sweepTimer; // the one pending sweep (lease extension, handling timeout), or null
    private long sweepAt; // when it runs (the scheduler's millis)
    private boolean sweepRefused; // the scheduler refused the sweep's timer: no more sweeps
    private Throwable failure;
    private final LinkedHashSet<Holder> holders = new LinkedHashSet<>();
    private final HashMap<String, ArrayDeque<Holder>> keyWaiters = new HashMap<>(); // key -> waiting behind running

    // ---- views for other threads ----
    private volatile int heldView;
    private volatile boolean pausedView;
    private volatile boolean disposed;

    private final Sinks.Empty<Void> done = Sinks.empty();
    private final Sinks.Many<PipelineError> errors = Sinks.many().multicast().directBestEffort();

    DefaultQueuePipeline(ReactiveQueue<T> queue, Function<? super Delivery<T>, ? extends Publisher<?>> handler,
            ReceiveOptions receiveOptions, int concurrency, boolean keyOrdered, Duration handlingTimeout,
            RetryPolicy retry, Duration leaseLength, Duration renewEvery, Scheduler scheduler) {
        this.queue = queue;
        this.name = queue.name();
        this.handler = handler;
        this.receiveOptions = receiveOptions;
        this.concurrency = concurrency;
        this.keyOrdered = keyOrdered;
        this.handlingTimeout = handlingTimeout;
        this.retry = retry;
        this.queueMaxDeliveries = queue.spec().maxDeliveries().orElse(0);
        this.leaseLength = leaseLength;
        this.renewEvery = renewEvery;
        this.scheduler = scheduler;
    }

    void start() {
        execute(this::subscribeUpstream);
    }

    // =====================================================================================================
    // Public API
    // =====================================================================================================

    @Override
    public void pause() {
        execute(() -> {
            if (stopping || paused) {
                return;
            }
            paused = true;
            pausedView = true;
            cancelUpstream();
        });
    }

    @Override
    public void resume() {
        execute(() -> {
            if (stopping || !paused) {
                return;
            }
            paused = false;
            pausedView = false;
            subscribeUpstream();
        });
    }

    @Override
    public boolean isPaused() {
        return pausedView && !disposed;
    }

    @Override
    public Mono<Void> drain(Duration grace) {
        Objects.requireNonNull(grace, "grace");
        if (grace.isNegative()) {
            throw new IllegalArgumentException("grace must be >= 0, was " + grace);
        }
        return Mono.defer(() -> {
            execute(() -> stop(grace));
            return done.asMono();
        });
    }

    @Override
    public void dispose() {
        execute(() -> stop(Duration.ZERO));
    }

    @Override
    public boolean isDisposed() {
        return disposed;
    }

    @Override
    public Mono<Void> onTerminate() {
        return done.asMono();
    }

    @Override
    public Flux<PipelineError> errors() {
        return errors.asFlux();
    }

    @Override
    public int inFlight() {
        return heldView;
    }

    @Override
    public String toString() {
        return "QueuePipeline{queue=" + name + ", concurrency=" + concurrency + ", inFlight=" + heldView
                + (pausedView ? ", paused" : "") + (disposed ? ", stopped" : "") + "}";
    }

    // =====================================================================================================
    // Command loop
    // =====================================================================================================

    private void execute(Runnable command) {
        commands.offer(command);
        if (wip.getAndIncrement() != 0) {
            return;
        }
        int missed = 1;
        for (;;) {
            Runnable r;
            while ((r = commands.poll()) != null) {
                try {
                    r.run();
                } catch (Throwable ex) {
                    // a bug in this class, not in user code (user code is guarded where it runs); keep the loop alive
                    LOG.log(Level.ERROR, "pipeline on queue '" + name + "': internal error", ex);
                }
            }
            missed = wip.addAndGet(-missed);
            if (missed == 0) {
                return;
            }
        }
    }

    // ---- upstream ----

    private void subscribeUpstream() {
        if (stopping || paused || current != null) {
            return;
        }
        Upstream u = new Upstream();
        current = u;
        requested = 0;
        try {
            queue.receive(receiveOptions).subscribe(u);
        } catch (RuntimeException ex) {
            onUpstreamTerminated(u, ex);
        }
    }

    private void cancelUpstream() {
        Upstream u = current;
        if (u != null) {
            current = null;
            requested = 0;
            u.cancel(); // the queue releases leases taken but not yet emitted
        }
    }

    private void requestMore() {
        Upstream u = current;
        if (u == null || !u.subscribed || paused || stopping) {
            return;
        }
        long want = concurrency - held - requested;
        if (want > 0) {
            requested += want;
            u.request(want);
        }
    }

    private void onUpstreamSubscribed(Upstream u) {
        if (u == current) {
            u.subscribed = true;
            requestMore();
        }
    }

    private void onDelivery(Upstream u, Delivery<T> d) {
        boolean wanted = u == current && !paused && !stopping && held < concurrency;
        if (u == current && requested > 0) {
            requested--;
        }
        Holder h = new Holder(d);
        holders.add(h);
        setHeld(held + 1);
        if (!wanted) {
            // raced with pause/drain/cancel: give it back at once rather than sit on it until its lease runs out
            giveBack(h);
            return;
        }
        startRenewal(h);
        String key = keyOrdered ? d.message().key() : null;
        if (key != null) {
            ArrayDeque<Holder> waiters = keyWaiters.get(key);
            if (waiters != null) {
                waiters.addLast(h); // runs when the one ahead of it with the same key is settled
                return;
            }
            keyWaiters.put(key, new ArrayDeque<>());
        }
        run(h);
    }

    private void onUpstreamTerminated(Upstream u, Throwable error) {
        if (u != current) {
            return;
        }
        current = null;
        requested = 0;
        if (error != null) {
            failure = error;
            report(new PipelineError(Stage.RECEIVE, name, 0, 0, error));
        }
        // the receive stream is over: finish what is held, then end (no grace: nothing asked us to hurry)
        stopping = true;
        disposed = true;
        maybeTerminate();
    }

    // ---- per delivery ----

    private void run(Holder h) {
        h.started = true;
        Delivery<T> d = h.delivery;
        Mono<Void> handled = Mono.defer(() -> {
            Publisher<?> p = handler.apply(d);
            if (p == null) {
                return Mono.error(new NullPointerException("the pipeline handler returned null for message "
                        + d.message().id()));
            }
            return Flux.from(p).then();
        });
        if (handlingTimeout != null) {
            // fired by the sweep (see startRenewal), not by a timer of its own per message
            Sinks.One<Boolean> timedOut = Sinks.one();
            h.timedOut = timedOut;
            h.timeoutAt = now() + handlingTimeout.toMillis();
            handled = handled.timeout(timedOut.asMono(), Mono.defer(() -> Mono.error(
                    new HandlingTimeoutException(name, d.message().id(), handlingTimeout))));
            sweepBy(h.timeoutAt);
        }
        Mono<Void> work = handled
                .then(Mono.just(SUCCESS))
                .onErrorResume(e -> Mono.just(Optional.of(e)))
                .flatMap(outcome -> outcome.isPresent() ? settleFailure(h, outcome.get()) : settleSuccess(h));
        h.work = work.subscribe(null,
                e -> execute(() -> {
                    LOG.log(Level.ERROR, "pipeline on queue '" + name + "': settle chain failed", e);
                    onSettled(h);
                }),
                () -> execute(() -> onSettled(h)));
    }

    private Mono<Void> settleSuccess(Holder h) {
        if (!h.claim()) {
            return Mono.empty(); // drain or dispose already gave it back
        }
        Delivery<T> d = h.delivery;
        return d.ack().onErrorResume(e -> {
            reportLater(Stage.ACK, d, e);
            return Mono.empty();
        });
    }

    private Mono<Void> settleFailure(Holder h, Throwable error) {
        Delivery<T> d = h.delivery;
        reportLater(error instanceof HandlingTimeoutException ? Stage.TIMEOUT : Stage.HANDLER, d, error);
        if (!h.claim()) {
            return Mono.empty();
        }
        int count = d.deliveryCount();
        if (retry.exhausted(count, queueMaxDeliveries)) {
            String reason = "pipeline gave up after " + count + (count == 1 ? " delivery: " : " deliveries: ")
                    + error;
            return d.reject(reason).onErrorResume(e -> {
                reportLater(Stage.REJECT, d, e);
                return Mono.empty();
            });
        }
        return d.nack(retry.delay(count)).onErrorResume(e -> {
            reportLater(Stage.NACK, d, e);
            return Mono.empty();
        });
    }

    /** Gives a held delivery back to the queue at once (drain after grace, dispose, a delivery that raced a stop). */
    private void giveBack(Holder h) {
        if (!h.claim()) {
            return; // its own settle is under way; it will report back
        }
        if (h.started) {
            Disposable w = h.work;
            if (w != null) {
                w.dispose(); // cancels the handler
            }
        } else if (keyOrdered) {
            String key = h.delivery.message().key();
            ArrayDeque<Holder> waiters = key == null ? null : keyWaiters.get(key);
            if (waiters != null) {
                waiters.remove(h);
            }
        }
        Delivery<T> d = h.delivery;
        d.nack(Duration.ZERO)
                .onErrorResume(e -> {
                    reportLater(Stage.NACK, d, e);
                    return Mono.empty();
                })
                .subscribe(null,
                        e -> execute(() -> onSettled(h)),
                        () -> execute(() -> onSettled(h)));
    }

    private void onSettled(Holder h) {
        if (!holders.remove(h)) {
            return;
        }
        setHeld(held - 1);
        if (h.started && keyOrdered) {
            String key = h.delivery.message().key();
            if (key != null) {
                ArrayDeque<Holder> waiters = keyWaiters.get(key);
                Holder next = waiters == null ? null : waiters.pollFirst();
                if (next == null) {
                    keyWaiters.remove(key);
                } else if (graceExpired) {
                    keyWaiters.remove(key);
                    giveBack(next);
                } else {
                    run(next);
                }
            }
        }
        if (stopping) {
            maybeTerminate();
        } else {
            requestMore();
        }
    }

    /**
     * Makes {@code h} due for lease extension one interval from now.
     *
     * <p>One timer serves every held delivery, for lease extension and handling timeouts alike: a sweep, armed for
     * the earliest delivery due. A timer per delivery, armed and cancelled per message, woke a scheduler thread for
     * nearly every message (the delivery settled first is usually the one whose timer is next); the sweep's timer
     * is re-armed only when a delivery falls due before it.
     */
    private void startRenewal(Holder h) {
        if (renewEvery == null) {
            return;
        }
        h.renewAt = now() + renewEvery.toMillis();
        sweepBy(h.renewAt);
    }

    private long now() {
        return scheduler.now(TimeUnit.MILLISECONDS);
    }

    /** Makes sure the sweep runs no later than {@code dueAt} (the scheduler's millis). */
    private void sweepBy(long dueAt) {
        if (sweepRefused || (sweepTimer != null && sweepAt <= dueAt)) {
            return;
        }
        if (sweepTimer != null) {
            sweepTimer.dispose(); // due later than this one: rare, deliveries fall due in the order they came
        }
        try {
            sweepAt = dueAt;
            sweepTimer = scheduler.schedule(() -> execute(this::sweep), Math.max(1, dueAt - now()),
                    TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // the timers' scheduler was disposed: no more lease extensions or handling timeouts; say so once
            sweepTimer = null;
            sweepRefused = true;
            report(new PipelineError(Stage.EXTEND, name, 0, 0, e));
        }
    }

    /**
     * Extends every held delivery due for it, times out every running handler past its handling timeout, then arms
     * the timer for the next one due.
     */
    private void sweep() {
        sweepTimer = null;
        if (terminated) {
            return;
        }
        long now = now();
        long next = Long.MAX_VALUE;
        for (Holder h : holders) {
            if (h.claimed.get()) {
                continue; // being settled
            }
            if (h.timeoutAt <= now) {
                h.timeoutAt = Long.MAX_VALUE;
                h.timedOut.tryEmitValue(Boolean.TRUE); // the handler is cancelled and the delivery nacked
                continue;
            }
            if (h.renewAt <= now) { // MAX_VALUE when not renewed (no renewal, or an extension failed)
                h.renewAt = now + renewEvery.toMillis();
                extend(h);
            }
            next = Math.min(next, Math.min(h.renewAt, h.timeoutAt));
        }
        if (next != Long.MAX_VALUE) {
            sweepBy(next);
        }
    }

    private void extend(Holder h) {
        Delivery<T> d = h.delivery;
        d.extend(leaseLength).subscribe(null, e -> {
            if (!h.claimed.get()) {
                reportLater(Stage.EXTEND, d, e);
            }
            execute(() -> h.renewAt = Long.MAX_VALUE); // a lease that could not be extended is over: stop trying
        });
    }

    // ---- stopping ----

    private void stop(Duration grace) {
        disposed = true;
        if (terminated) {
            return;
        }
        if (!stopping) {
            stopping = true;
            cancelUpstream();
            if (held > 0 && !grace.isZero()) {
                try {
                    graceTimer = scheduler.schedule(() -> execute(this::expireGrace), grace.toMillis(),
                            TimeUnit.MILLISECONDS);
                } catch (RejectedExecutionException ex) {
                    expireGrace();
                }
            }
        }
        if (grace.isZero()) {
            expireGrace();
        }
        maybeTerminate();
    }

    private void expireGrace() {
        if (graceExpired || terminated) {
            return;
        }
        graceExpired = true;
        // waiting deliveries first, so a settled runner does not start the next of its key
        for (Holder h : new ArrayList<>(holders)) {
            if (!h.started) {
                giveBack(h);
            }
        }
        for (Holder h : new ArrayList<>(holders)) {
            if (h.started) {
                giveBack(h);
            }
        }
    }

    private void maybeTerminate() {
        if (terminated || !stopping || held > 0) {
            return;
        }
        terminated = true;
        disposed = true;
        Disposable t = graceTimer;
        if (t != null) {
            t.dispose();
        }
        Disposable r = sweepTimer;
        if (r != null) {
            r.dispose();
            sweepTimer = null;
        }
        if (failure != null) {
            done.tryEmitError(failure);
        } else {
            done.tryEmitEmpty();
        }
        errors.tryEmitComplete();
    }

    // ---- errors ----

    private void reportLater(Stage stage, Delivery<T> d, Throwable error) {
        PipelineError e = new PipelineError(stage, name, d.message().id(), d.deliveryCount(), error);
        execute(() -> report(e));
    }

    private void report(PipelineError e) {
        Sinks.EmitResult r = errors.tryEmitNext(e);
        Level level = r.isSuccess() ? Level.DEBUG : Level.WARNING;
        if (LOG.isLoggable(level)) {
            LOG.log(level, "pipeline on queue '" + name + "': " + e.stage() + " failed for message " + e.messageId()
                    + " (delivery " + e.deliveryCount() + ")", e.error());
        }
    }

    private void setHeld(int n) {
        held = n;
        heldView = n;
    }

    // =====================================================================================================
    // Inner types
    // =====================================================================================================

    /** One held delivery. {@code started} and the key bookkeeping are loop-confined; the rest is thread-safe. */
    private final class Holder {
        final Delivery<T> delivery;
        final AtomicBoolean claimed = new AtomicBoolean(); // whoever claims it settles it: handler outcome or giveBack
        boolean started;
        volatile Disposable work;
        /** When its lease is next extended (the scheduler's millis); MAX_VALUE: never again. Loop-confined. */
        long renewAt = Long.MAX_VALUE;
        /** When its running handler times out (the scheduler's millis); MAX_VALUE: no timeout. Loop-confined. */
        long timeoutAt = Long.MAX_VALUE;
        /** Emits when the handler times out (with a handling timeout, once it runs). */
        Sinks.One<Boolean> timedOut;

        Holder(Delivery<T> delivery) {
            this.delivery = delivery;
        }

        boolean claim() {
            return claimed.compareAndSet(false, true);
        }
    }

    /** The subscription to the receive stream; a new one per (re)start, so signals of an old one are told apart. */
    private final class Upstream extends BaseSubscriber<Delivery<T>> {
        boolean subscribed; // loop-confined

        @Override
        protected void hookOnSubscribe(Subscription subscription) {
            execute(() -> onUpstreamSubscribed(this)); // demand is issued by the loop, never unbounded
        }

        @Override
        protected void hookOnNext(Delivery<T> delivery) {
            execute(() -> onDelivery(this, delivery));
        }

        @Override
        protected void hookOnError(Throwable throwable) {
            execute(() -> onUpstreamTerminated(this, throwable));
        }

        @Override
        protected void hookOnComplete() {
            execute(() -> onUpstreamTerminated(this, null));
        }
    }
}
