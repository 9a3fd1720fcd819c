package dev.rill.reactive;

import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;
import java.util.function.LongUnaryOperator;
import reactor.core.Disposable;
import reactor.core.scheduler.Scheduler;

/**
 * The one scheduled task of a queue: fires at the earliest deadline anyone asked for, runs the queue's timers
 * and schedules itself again at the deadline they return. No polling: when nothing is pending, nothing is
 * scheduled.
 *
 * <p>Lock-free. {@link #ensure(long)} may be called from any thread, concurrently; the bookkeeping of the scheduled
 * task is serialized by a work-in-progress counter (the usual drain loop), so at most one task is live.
 *
 * <p>Invariant: whoever creates a deadline in the core calls {@link #ensure(long)} with it (or an earlier time)
 * afterwards; the task then fires no later than that deadline. Firing early is harmless (the fire just schedules
 * the next deadline).
 */
final class QueueTimer {

    private final Scheduler scheduler;
    private final LongUnaryOperator onFire;

    /** Earliest deadline asked for since the last fire; Long.MAX_VALUE for none. */
    volatile long wanted = Long.MAX_VALUE;
    static final AtomicLongFieldUpdater<QueueTimer> WANTED =
            AtomicLongFieldUpdater.newUpdater(QueueTimer.class, "wanted");

    volatile int wip;
    static final AtomicIntegerFieldUpdater<QueueTimer> WIP =
            AtomicIntegerFieldUpdater.newUpdater(QueueTimer.class, "wip");

    /** The task that fired last, handed to the drain loop so it can forget it. */
    volatile Task fired;
    static final AtomicReferenceFieldUpdater<QueueTimer, Task> FIRED =
            AtomicReferenceFieldUpdater.newUpdater(QueueTimer.class, Task.class, "fired");

    volatile boolean disposed;

    // ---- owned by the drain loop ----
    private Task task;
    private long scheduledAt = Long.MAX_VALUE;

    /**
     * @param scheduler runs the task; its clock ({@code now(MILLISECONDS)}) is the queue's clock
     * @param onFire runs the queue's due timers at the given time and returns its next deadline (Long.MAX_VALUE for
     *     none)
     */
    QueueTimer(Scheduler scheduler, LongUnaryOperator onFire) {
        this.scheduler = scheduler;
        this.onFire = onFire;
    }

    long now() {
        return scheduler.now(TimeUnit.MILLISECONDS);
    }

    /**
     * Makes sure the task fires no later than {@code deadline}. O(1), non-blocking.
     *
     * @param deadline millis on the scheduler's clock; Long.MAX_VALUE is ignored
     */
    void ensure(long deadline) {
        if (deadline == Long.MAX_VALUE) {
            return;
        }
        long w;
        do {
            w = wanted;
            if (w <= deadline) {
                return; // someone asked for an earlier (or the same) time already
            }
        } while (!WANTED.compareAndSet(this, w, deadline));
        drain();
    }

    /** Cancels the scheduled task; later calls to {@link #ensure(long)} schedule nothing. */
    void dispose() {
        disposed = true;
        drain();
    }

    private void drain() {
        if (WIP.getAndIncrement(this) != 0) {
            return;
        }
        int missed = 1;
        for (;;) {
            Task f = FIRED.getAndSet(this, null);
            if (f != null && f == task) {
                task = null;
                scheduledAt = Long.MAX_VALUE;
            }
            if (disposed) {
                if (task != null) {
                    task.cancel();
                    task = null;
                }
                scheduledAt = Long.MAX_VALUE;
            } else {
                long w = wanted;
                if (w < scheduledAt) {
                    if (task != null) {
                        task.cancel();
                    }
                    Task t = new Task();
                    task = t;
                    scheduledAt = w;
                    t.schedule(Math.max(0, w - now()));
                }
            }
            missed = WIP.addAndGet(this, -missed);
            if (missed == 0) {
                return;
            }
        }
    }

    void fire(Task t) {
        if (disposed) {
            return;
        }
        // Deadlines created before this reset are seen by onFire (it runs after); later ones stay in 'wanted'.
        wanted = Long.MAX_VALUE;
        fired = t;
        long next;
        try {
            next = onFire.applyAsLong(now());
        } catch (RuntimeException e) {
            System.getLogger(QueueTimer.class.getName()).log(System.Logger.Level.WARNING, "queue timer failed", e);
            next = now() + 1000; // retry later rather than lose the queue's timers
        }
        if (next == Long.MAX_VALUE) {
            drain(); // forget the fired task
        } else {
            ensure(next);
            if (fired != null) {
                drain();
            }
        }
    }

    /** For tests and diagnostics: the time the live task fires at, or Long.MAX_VALUE. */
    long scheduledAt() {
        return scheduledAt;
    }

    final class Task implements Runnable {

        private volatile Disposable handle;
        private volatile boolean cancelled;

        void schedule(long delayMillis) {
            Disposable d;
            try {
                d = scheduler.schedule(this, delayMillis, TimeUnit.MILLISECONDS);
            } catch (RejectedExecutionException e) {
                // the scheduler was shut down under us: nothing can run timers any more
                System.getLogger(QueueTimer.class.getName()).log(System.Logger.Level.WARNING,
                        "queue timer not scheduled: the broker's scheduler rejected it", e);
                return;
            }
            handle = d;
            if (cancelled) {
                d.dispose();
            }
        }

        void cancel() {
            cancelled = true;
            Disposable d = handle;
            if (d != null) {
                d.dispose();
            }
        }

        @Override
        public void run() {
            if (!cancelled) {
                fire(this);
            }
        }
    }
}
