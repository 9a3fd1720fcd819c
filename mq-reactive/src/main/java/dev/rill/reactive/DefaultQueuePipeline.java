package dev.rill.reactive;

import dev.rill.reactive.PipelineError.Stage;
import dev.rill.reactive.PipelineObserver.Handled;
import dev.rill.reactive.PipelineObserver.Settled;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;
import java.util.function.Function;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.Disposable;
import reactor.core.Exceptions;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Scheduler;
import reactor.util.concurrent.Queues;

/**
 * The pipeline: one demand-driven subscription to {@link ReactiveQueue#receive(ReceiveOptions)} plus a handler run
 * per delivery. Uses only the public queue and delivery API, so it runs unchanged over any broker.
 *
 * <p>Threading: every state change (deliveries arriving, handlers finishing, pause, drain, timers) is a command run
 * by a serializing drain loop (a lock-free multi-producer queue and a work-in-progress counter; a thread that finds
 * the loop free runs its command in place), so the state below is touched by one thread at a time and no thread
 * ever waits for another. Handlers and acks run outside the loop's state, on whatever thread signals them; their
 * outcomes come back as commands.
 *
 * <p>Per message the pipeline allocates a {@link Holder}, which is also the subscriber of the handler's publisher,
 * and a {@link Settle} for its ack (or nack, reject): no operator chain per message. Built from {@code defer},
 * {@code then}, {@code onErrorResume}, {@code flatMap} and {@code timeout} it took about two thirds of the
 * pipeline's CPU time in a profile (docs/architecture.md).
 */
final class DefaultQueuePipeline<T> implements QueuePipeline {

    private static final System.Logger LOG = System.getLogger(QueuePipeline.class.getName());

    @SuppressWarnings("rawtypes")
    private static final AtomicIntegerFieldUpdater<DefaultQueuePipeline> HELD_VIEW =
            AtomicIntegerFieldUpdater.newUpdater(DefaultQueuePipeline.class, "heldView");
    @SuppressWarnings("rawtypes")
    private static final AtomicIntegerFieldUpdater<DefaultQueuePipeline.Holder> CLAIMED =
            AtomicIntegerFieldUpdater.newUpdater(DefaultQueuePipeline.Holder.class, "claimed");
    @SuppressWarnings("rawtypes")
    private static final AtomicIntegerFieldUpdater<DefaultQueuePipeline.Holder> DECIDED =
            AtomicIntegerFieldUpdater.newUpdater(DefaultQueuePipeline.Holder.class, "decided");
    @SuppressWarnings("rawtypes")
    private static final AtomicReferenceFieldUpdater<DefaultQueuePipeline.Holder, Subscription> HANDLING =
            AtomicReferenceFieldUpdater.newUpdater(DefaultQueuePipeline.Holder.class, Subscription.class,
                    "handling");
    @SuppressWarnings("rawtypes")
    private static final AtomicReferenceFieldUpdater<DefaultQueuePipeline, PipelineObserver> OBSERVER =
            AtomicReferenceFieldUpdater.newUpdater(DefaultQueuePipeline.class, PipelineObserver.class, "observer");

    /** {@link Holder#startedAt} of a handler started while no observer was attached: its duration is not known. */
    private static final long NOT_TIMED = Long.MIN_VALUE;

    private final ReactiveQueue<T> queue;
    private final String queueName;
    private final String name; // the pipeline's, for meters and logs; the queue's unless given
    /** How log lines name the pipeline: "pipeline on queue 'q'", or "pipeline 'n' on queue 'q'" when named. */
    private final String label;
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
    /**
     * Of {@code held}: deliveries given back at once because they came after a pause, drain or cancel (a receive
     * stream the pipeline had left). They take no handler slot, so they count neither for the demand asked of the
     * current stream nor against its deliveries; they stay in {@code held} so that a drain waits for their give-back.
     */
    private int returning;
    private boolean paused;
    private boolean stopping;
    private boolean graceExpired;
    private boolean terminated;
    private Disposable graceTimer;
    private Disposable sweepTimer; // the one pending sweep (lease extension, handling timeout), or null
    private long sweepAt; // when it runs (the scheduler's millis)
    private boolean sweepRefused; // the scheduler refused the sweep's timer: no more sweeps
    private Throwable failure;
    private Holder first; // held deliveries in the order they came (an intrusive list: no hashing per message)
    private Holder last;
    private final HashMap<String, ArrayDeque<Holder>> keyWaiters = new HashMap<>(); // key -> waiting behind running

    // ---- views for other threads ----
    private volatile int heldView;
    private volatile boolean pausedView;
    private volatile boolean disposed;

    private final Sinks.Empty<Void> done = Sinks.empty();

    /** Completed (and cleared) at the next idle moment: paused or stopping, holding nothing. Shared by waiters. */
    private volatile Sinks.Empty<Void> idle;
    private static final AtomicReferenceFieldUpdater<DefaultQueuePipeline, Sinks.Empty> IDLE =
            AtomicReferenceFieldUpdater.newUpdater(DefaultQueuePipeline.class, Sinks.Empty.class, "idle");

    private final Sinks.Many<PipelineError> errors = Sinks.many().multicast().directBestEffort();

    /** Its meters, when bound ({@link PipelineMetrics}); null: none, and the pipeline calls nothing for them. */
    private volatile PipelineObserver observer;

    DefaultQueuePipeline(ReactiveQueue<T> queue, String name,
            Function<? super Delivery<T>, ? extends Publisher<?>> handler, ReceiveOptions receiveOptions,
            int concurrency, boolean keyOrdered, Duration handlingTimeout, RetryPolicy retry, Duration leaseLength,
            Duration renewEvery, Scheduler scheduler) {
        this.queue = queue;
        this.queueName = queue.name();
        this.name = name != null ? name : queueName;
        this.label = this.name.equals(queueName) ? "pipeline on queue '" + queueName + "'"
                : "pipeline '" + this.name + "' on queue '" + queueName + "'";
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
            checkIdle();
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
    public String queue() {
        return queueName;
    }

    @Override
    public String name() {
        return name;
    }

    /**
     * Attaches the observer of the pipeline's meters; one at a time.
     *
     * @return false when another one is attached
     */
    boolean observe(PipelineObserver o) {
        return OBSERVER.compareAndSet(this, null, o);
    }

    /** Detaches {@code o}, if it is the one attached. */
    void unobserve(PipelineObserver o) {
        OBSERVER.compareAndSet(this, o, null);
    }

    @Override
    public int inFlight() {
        return heldView;
    }

    @Override
    @SuppressWarnings("unchecked")
    public Mono<Void> idle() {
        return Mono.defer(() -> {
            Sinks.Empty<Void> s;
            for (;;) {
                s = idle;
                if (s != null) {
                    break;
                }
                Sinks.Empty<Void> fresh = Sinks.empty();
                if (IDLE.compareAndSet(this, null, fresh)) {
                    s = fresh;
                    break;
                }
            }
            execute(this::checkIdle); // it may be idle already
            return s.asMono(); // an empty sink replays its completion: a check that ran first is not missed
        });
    }

    /** In the command loop: completes the waiters of {@link #idle()} when paused or stopping and holding nothing. */
    @SuppressWarnings("unchecked")
    private void checkIdle() {
        if (held == 0 && (paused || stopping) && idle != null) {
            Sinks.Empty<Void> s = IDLE.getAndSet(this, null);
            if (s != null) {
                s.tryEmitEmpty();
            }
        }
    }

    @Override
    public String toString() {
        return "QueuePipeline{queue=" + queueName + (name.equals(queueName) ? "" : ", name=" + name)
                + ", concurrency=" + concurrency + ", inFlight=" + heldView
                + (pausedView ? ", paused" : "") + (disposed ? ", stopped" : "") + "}";
    }

    // =====================================================================================================
    // Command loop
    // =====================================================================================================

    private void execute(Runnable command) {
        if (enter()) {
            runCommand(command);
            leave();
            return;
        }
        commands.offer(command);
        if (wip.getAndIncrement() == 0) {
            drainCommands(1);
        }
    }

    /**
     * Takes the loop when nobody holds it, so that the caller runs its command in place: no queue node for the
     * common case of one thread signalling at a time. A thread's own commands keep their order: the loop is free
     * only once everything that thread queued before has run. A command another thread is queueing at this very
     * moment may run after this one, which is no different from that thread having come second.
     */
    private boolean enter() {
        return wip.get() == 0 && wip.compareAndSet(0, 1);
    }

    /** Leaves the loop taken by {@link #enter()}, running what other threads queued meanwhile. */
    private void leave() {
        int missed = wip.decrementAndGet();
        if (missed != 0) {
            drainCommands(missed);
        }
    }

    private void drainCommands(int missed) {
        for (;;) {
            Runnable r;
            while ((r = commands.poll()) != null) {
                runCommand(r);
            }
            missed = wip.addAndGet(-missed);
            if (missed == 0) {
                return;
            }
        }
    }

    private void runCommand(Runnable r) {
        try {
            r.run();
        } catch (Throwable ex) {
            // a bug in this class, not in user code (user code is guarded where it runs); keep the loop alive
            LOG.log(Level.ERROR, label + ": internal error", ex);
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
        long want = concurrency - (held - returning) - requested;
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
        // A late delivery of a stream left behind (pause and resume) is given back below; while its give-back settles
        // (asynchronously: a durable or remote nack), it must not count against the deliveries the new stream was
        // asked for: they would be given back too, each give-back counting a delivery (toward the dead-letter queue)
        boolean wanted = u == current && !paused && !stopping && held - returning < concurrency;
        if (u == current && requested > 0) {
            requested--;
        }
        Holder h = new Holder(d);
        link(h);
        setHeld(held + 1);
        if (!wanted) {
            // raced with pause/drain/cancel: give it back at once rather than sit on it until its lease runs out
            h.returning = true;
            returning++;
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
            report(new PipelineError(Stage.RECEIVE, queueName, 0, 0, error));
        }
        // the receive stream is over: finish what is held, then end (no grace: nothing asked us to hurry)
        stopping = true;
        disposed = true;
        maybeTerminate();
    }

    // ---- per delivery ----

    /**
     * Runs the handler for {@code h}: the holder subscribes to the handler's publisher itself and settles the
     * delivery from its terminal signal (see {@link Holder}), so a message costs no operator chain of its own.
     */
    private void run(Holder h) {
        h.started = true;
        Delivery<T> d = h.delivery;
        if (handlingTimeout != null) {
            // fired by the sweep (see startRenewal), not by a timer of its own per message
            h.timeoutAt = now() + handlingTimeout.toMillis();
            sweepBy(h.timeoutAt);
        }
        PipelineObserver o = observer;
        if (o != null) {
            h.startedAt = o.now();
        }
        Publisher<?> p;
        try {
            p = handler.apply(d);
        } catch (Throwable ex) {
            Exceptions.throwIfJvmFatal(ex);
            h.onError(ex);
            return;
        }
        if (p == null) {
            h.onError(new NullPointerException("the pipeline handler returned null for message "
                    + d.message().id()));
            return;
        }
        try {
            p.subscribe(h);
        } catch (Throwable ex) {
            Exceptions.throwIfJvmFatal(ex);
            h.onError(ex); // a publisher that throws instead of signalling onError
        }
    }

    /** The handler of {@code h} succeeded: ack, unless a drain or dispose already gave the delivery back. */
    private void settleSuccess(Holder h) {
        handled(h, Handled.SUCCESS);
        if (!h.claim()) {
            return; // giveBack settles it
        }
        settle(h, Settled.ACKED, h.delivery.ack());
    }

    /** Tells the observer, if any, how {@code h}'s handler ended and how long it ran (when it was timed). */
    private void handled(Holder h, Handled result) {
        PipelineObserver o = observer;
        long at = h.startedAt;
        if (o != null && at != NOT_TIMED) {
            o.handled(result, Math.max(0, o.now() - at));
        }
    }

    /** The handler of {@code h} failed or timed out: nack with the retry policy's delay, or reject once exhausted. */
    private void settleFailure(Holder h, Throwable error) {
        Delivery<T> d = h.delivery;
        boolean timeout = error instanceof HandlingTimeoutException;
        handled(h, timeout ? Handled.TIMEOUT : Handled.FAILURE);
        reportLater(timeout ? Stage.TIMEOUT : Stage.HANDLER, d, error);
        if (!h.claim()) {
            return;
        }
        int count = d.deliveryCount();
        if (retry.exhausted(count, queueMaxDeliveries)) {
            String reason = "pipeline gave up after " + count + (count == 1 ? " delivery: " : " deliveries: ")
                    + error;
            settle(h, Settled.REJECTED, d.reject(reason));
        } else {
            settle(h, Settled.RETRIED, d.nack(retry.delay(count)));
        }
    }

    /** Subscribes to a settlement of {@code h}; its failure is reported, and either way {@code h} is let go. */
    private void settle(Holder h, Settled outcome, Mono<Void> settlement) {
        Settle s = new Settle(h, outcome);
        try {
            settlement.subscribe(s);
        } catch (Throwable ex) {
            Exceptions.throwIfJvmFatal(ex);
            s.onError(ex);
        }
    }

    /**
     * Gives a held delivery back to the queue at once (drain after grace, dispose, a delivery that raced a stop): a
     * nack without delay when its handler ran, else a release, which does not count the delivery. A delivery that
     * never reached the handler (it waited behind its key, or came after a pause or stop) must not move toward
     * {@code maxDeliveries}: nacked, it could reach the dead-letter queue without ever having been handled.
     */
    private void giveBack(Holder h) {
        if (!h.claim()) {
            return; // its own settle is under way; it will report back
        }
        if (h.started) {
            h.decide(); // its outcome, if one still comes, is ignored
            h.cancelHandler();
            settle(h, Settled.RETURNED, h.delivery.nack(Duration.ZERO));
            return;
        }
        if (keyOrdered) {
            String key = h.delivery.message().key();
            ArrayDeque<Holder> waiters = key == null ? null : keyWaiters.get(key);
            if (waiters != null) {
                waiters.remove(h);
            }
        }
        Delivery<T> d = h.delivery;
        settle(h, Settled.RETURNED, d.release() // a Delivery of its own that cannot release: counted, as before
                .onErrorResume(UnsupportedOperationException.class, e -> d.nack(Duration.ZERO)));
    }

    private void onSettled(Holder h) {
        if (!unlink(h)) {
            return;
        }
        setHeld(held - 1);
        if (h.returning) {
            returning--;
        }
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
            report(new PipelineError(Stage.EXTEND, queueName, 0, 0, e));
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
        for (Holder h = first; h != null; h = h.next) {
            if (h.claimed != 0) {
                continue; // being settled
            }
            if (h.timeoutAt <= now) {
                h.timeoutAt = Long.MAX_VALUE;
                if (h.decide()) { // the handler's own outcome did not come first
                    h.cancelHandler();
                    settleFailure(h, new HandlingTimeoutException(queueName, h.delivery.message().id(),
                            handlingTimeout));
                }
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
            if (h.claimed == 0) {
                reportLater(Stage.EXTEND, d, e);
            }
            execute(() -> {
                h.renewAt = Long.MAX_VALUE; // a lease that could not be extended is over: stop trying
                if (e instanceof LeaseExpiredException) {
                    letGoUnstarted(h);
                }
            });
        });
    }

    /**
     * Lets go of a delivery waiting behind its key whose lease is over (its extension found it so): the message is
     * the queue's again (purged, or redelivered, possibly to another consumer), so its handler must not run when its
     * turn comes, and it must stop taking a slot of the concurrency. A running one is left to its handler (its ack
     * then fails and is reported).
     */
    private void letGoUnstarted(Holder h) {
        if (h.started || !h.linked || !h.claim()) {
            return;
        }
        String key = h.delivery.message().key();
        ArrayDeque<Holder> waiters = key == null ? null : keyWaiters.get(key);
        if (waiters != null) {
            waiters.remove(h);
        }
        PipelineObserver o = observer;
        if (o != null) {
            o.settled(Settled.EXPIRED);
        }
        onSettled(h); // nothing to settle: the lease is over
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
        ArrayList<Holder> all = new ArrayList<>(held);
        for (Holder h = first; h != null; h = h.next) {
            all.add(h);
        }
        for (Holder h : all) {
            if (!h.started) {
                giveBack(h);
            }
        }
        for (Holder h : all) {
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
        checkIdle();
    }

    // ---- errors ----

    private void reportLater(Stage stage, Delivery<T> d, Throwable error) {
        PipelineError e = new PipelineError(stage, queueName, d.message().id(), d.deliveryCount(), error);
        execute(() -> report(e));
    }

    private void report(PipelineError e) {
        PipelineObserver o = observer;
        if (o != null) {
            o.error(e.stage()); // counted whether anyone listens or not: the log stays a warning then
        }
        Sinks.EmitResult r = errors.tryEmitNext(e);
        Level level = r.isSuccess() ? Level.DEBUG : Level.WARNING;
        if (LOG.isLoggable(level)) {
            // a receive failure concerns no message: say what ended the pipeline instead of "message 0"
            LOG.log(level, e.stage() == Stage.RECEIVE
                    ? label + " stopped: the receive stream failed: "
                            + (e.error().getMessage() != null ? e.error().getMessage()
                                    : e.error().getClass().getSimpleName())
                    : label + ": " + e.stage() + " failed for message " + e.messageId()
                            + " (delivery " + e.deliveryCount() + ")", e.error());
        }
    }

    private void setHeld(int n) {
        held = n;
        HELD_VIEW.lazySet(this, n); // a view for other threads; no fence needed on the message path
        if (n == 0) {
            checkIdle();
        }
    }

    private void link(Holder h) {
        h.linked = true;
        h.prev = last;
        if (last == null) {
            first = h;
        } else {
            last.next = h;
        }
        last = h;
    }

    /** Removes {@code h} from the held list; false when it was removed before. */
    private boolean unlink(Holder h) {
        if (!h.linked) {
            return false;
        }
        h.linked = false;
        Holder p = h.prev;
        Holder n = h.next;
        if (p == null) {
            first = n;
        } else {
            p.next = n;
        }
        if (n == null) {
            last = p;
        } else {
            n.prev = p;
        }
        h.prev = null;
        h.next = null;
        return true;
    }

    // =====================================================================================================
    // Inner types
    // =====================================================================================================

    /**
     * One held delivery, and the subscriber of its handler's publisher. {@code started}, the list links and the
     * timer fields are loop-confined; the rest is thread-safe.
     *
     * <p>Two one-way switches decide who acts: {@code decided} picks between the handler's own outcome and its
     * handling timeout (the sweep), {@code claimed} between that outcome and a give-back (drain, dispose). Whoever
     * wins a switch acts; the loser does nothing.
     */
    private final class Holder implements CoreSubscriber<Object> {
        final Delivery<T> delivery;
        volatile int claimed; // 1: claimed; whoever claims it settles it: handler outcome or giveBack
        volatile int decided; // 1: the handler's outcome is known (it ended, or timed out)
        volatile Subscription handling; // the handler's subscription; Operators' cancelled marker once cancelled
        boolean started;
        boolean linked;
        boolean returning; // given back on arrival (see DefaultQueuePipeline.returning)
        Holder prev;
        Holder next;
        /** When its lease is next extended (the scheduler's millis); MAX_VALUE: never again. Loop-confined. */
        long renewAt = Long.MAX_VALUE;
        /** When its running handler times out (the scheduler's millis); MAX_VALUE: no timeout. Loop-confined. */
        long timeoutAt = Long.MAX_VALUE;
        /** When its handler started, on the observer's clock; written before the handler runs, read when it ends. */
        long startedAt = NOT_TIMED;

        Holder(Delivery<T> delivery) {
            this.delivery = delivery;
        }

        boolean claim() {
            return CLAIMED.compareAndSet(this, 0, 1);
        }

        boolean decide() {
            return DECIDED.compareAndSet(this, 0, 1);
        }

        void cancelHandler() {
            Operators.terminate(HANDLING, this);
        }

        @Override
        public void onSubscribe(Subscription s) {
            if (Operators.setOnce(HANDLING, this, s)) {
                s.request(Long.MAX_VALUE);
            }
        }

        @Override
        public void onNext(Object value) {
            Operators.onDiscard(value, currentContext()); // only the outcome counts, as with then()
        }

        @Override
        public void onError(Throwable error) {
            if (decide()) {
                settleFailure(this, error);
            } else {
                lateFailure(error);
            }
        }

        /**
         * The handler failed after its delivery was settled without it: it timed out, or a drain past its grace or
         * a dispose gave it back, and cancelled it; its publisher failed anyway (it was already failing on another
         * thread, or it ignores cancellation). The failure changes nothing, so it is only logged at DEBUG. Not
         * {@code Operators.onErrorDropped}: Reactor's default hook logs it at ERROR, so every pipeline stopped while
         * its handlers were failing printed their failures as errors.
         */
        private void lateFailure(Throwable error) {
            if (LOG.isLoggable(Level.DEBUG)) {
                LOG.log(Level.DEBUG, label + ": the handler of message "
                        + delivery.message().id() + " failed after its delivery was settled without it (timed out"
                        + " or given back)", error);
            }
        }

        @Override
        public void onComplete() {
            if (decide()) {
                settleSuccess(this);
            }
        }
    }

    /** Subscribes to one ack, nack or reject; lets its holder go when it ends, reporting a failure first. */
    private final class Settle implements CoreSubscriber<Void> {
        private final Holder holder;
        private final Settled outcome; // what its completion means; its failure is reported at its stage
        private boolean done;

        Settle(Holder holder, Settled outcome) {
            this.holder = holder;
            this.outcome = outcome;
        }

        @Override
        public void onSubscribe(Subscription s) {
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(Void ignored) {
            // a Mono<Void> has no values
        }

        @Override
        public void onError(Throwable error) {
            if (done) {
                return;
            }
            done = true;
            Stage stage = outcome == Settled.ACKED ? Stage.ACK : outcome == Settled.REJECTED ? Stage.REJECT
                    : Stage.NACK;
            reportLater(stage, holder.delivery, error);
            settled(Settled.FAILED);
            execute(() -> onSettled(holder));
        }

        @Override
        public void onComplete() {
            if (done) {
                return;
            }
            done = true;
            settled(outcome);
            execute(() -> onSettled(holder));
        }

        private void settled(Settled how) {
            PipelineObserver o = observer;
            if (o != null) {
                o.settled(how); // before the holder is let go: a pipeline ending with it ends after this count
            }
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
