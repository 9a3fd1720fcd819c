package dev.rill.reactive;

import dev.rill.core.Lease;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.Disposable;
import reactor.core.Disposables;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Operators;

/**
 * {@link ReactiveQueue#receive(ReceiveOptions)}: leases from the core only what the subscriber asked for (plus
 * prefetch), waiting for the queue's readable edge when it is empty.
 *
 * <p>Each subscription competes with every other receiver of the queue. Signals to the subscriber are serialized
 * by a drain loop; leases taken but not yet emitted live in a buffer owned by that loop and are released to the
 * queue when the subscription ends.
 */
final class FluxReceive<T> extends Flux<Delivery<T>> {

    /** Most leases taken in one core call. */
    static final int MAX_BATCH = 256;

    private final InMemoryQueue<T> queue;
    private final ReceiveOptions options;
    private final boolean singleLook;
    private final Duration wait; // null: no end but the options'

    FluxReceive(InMemoryQueue<T> queue, ReceiveOptions options) {
        this(queue, options, false, null);
    }

    /**
     * @param singleLook complete instead of waiting when the queue has nothing ready (for
     *     {@code receiveOne(Duration.ZERO)})
     * @param wait complete once this long has passed on the broker's scheduler (for {@code receiveOne(wait)}), or
     *     null. The end is decided by the drain loop, so a lease taken meanwhile is either emitted before it or
     *     released at once; {@code take(wait)} downstream could drop a delivery emitted as its timer fired, and the
     *     message stayed leased to nobody until its visibility timeout
     */
    FluxReceive(InMemoryQueue<T> queue, ReceiveOptions options, boolean singleLook, Duration wait) {
        this.queue = queue;
        this.options = options;
        this.singleLook = singleLook;
        this.wait = wait;
    }

    @Override
    public void subscribe(CoreSubscriber<? super Delivery<T>> actual) {
        ReceiveSubscription<T> s = new ReceiveSubscription<>(actual, queue, options, singleLook);
        actual.onSubscribe(s);
        if (wait != null) {
            s.endAfter(wait);
        }
        s.drain(); // terminal states (maxMessages(0), closed queue) need no demand; prefetch starts leasing
    }

    static final class ReceiveSubscription<T> implements Subscription, EdgeWaiters.Waiter {

        final CoreSubscriber<? super Delivery<T>> actual;
        final InMemoryQueue<T> queue;
        private final int prefetch;
        private final int maxUnacked; // 0: unbounded
        private final long maxMessages; // -1: endless
        private final Duration visibility; // null: the spec's
        private final boolean singleLook;
        /** Emitted and not known to be settled; only with maxUnacked. */
        private final Set<DeliveryImpl<T>> unsettled;
        private final InMemoryQueue.Waiter timerWaiter;

        volatile long requested;
        static final AtomicLongFieldUpdater<ReceiveSubscription> REQUESTED =
                AtomicLongFieldUpdater.newUpdater(ReceiveSubscription.class, "requested");

        volatile int wip;
        static final AtomicIntegerFieldUpdater<ReceiveSubscription> WIP =
                AtomicIntegerFieldUpdater.newUpdater(ReceiveSubscription.class, "wip");

        volatile boolean cancelled;
        /** The error to end the stream with: a request(n) with n <= 0, or a wait the scheduler refused to time. */
        volatile Throwable badRequest;
        /** In the queue's readers and not woken yet. */
        volatile boolean registered;
        /** Set while a readable edge runs this subscription: if it waits again, it keeps its place in line. */
        volatile boolean edgeWoken;
        /** In the queue's timer waiters and not woken yet. */
        volatile boolean timerRegistered;
        /** The wait of {@link FluxReceive#wait} is over: the drain loop completes the stream. */
        volatile boolean waitOver;
        /** The task that ends the wait; disposed when the stream ends first. */
        private final Disposable.Swap waitTask = Disposables.swap();

        // ---- owned by the drain loop ----
        private final ArrayDeque<Lease<T>> buffer = new ArrayDeque<>();
        private long emitted;
        private boolean done;

        ReceiveSubscription(CoreSubscriber<? super Delivery<T>> actual, InMemoryQueue<T> queue, ReceiveOptions options,
                boolean singleLook) {
            this.actual = actual;
            this.queue = queue;
            this.prefetch = options.prefetch();
            this.maxUnacked = options.maxUnacked().orElse(0);
            this.maxMessages = options.maxMessages().orElse(-1);
            this.visibility = options.visibilityTimeout().orElse(null);
            this.singleLook = singleLook;
            this.unsettled = maxUnacked > 0 ? ConcurrentHashMap.newKeySet() : null;
            this.timerWaiter = () -> {
                timerRegistered = false;
                drain();
            };
        }

        @Override
        public void request(long n) {
            if (n <= 0) {
                badRequest = new IllegalArgumentException(
                        "§3.9 violated: request(n) needs n > 0, was " + n + " (queue '" + queue.name() + "')");
            } else {
                Operators.addCap(REQUESTED, this, n);
            }
            drain();
        }

        @Override
        public void cancel() {
            if (cancelled) {
                return;
            }
            cancelled = true;
            unregister();
            drain(); // releases the leases not emitted yet, unless the drain loop runs now and does it
        }

        /** Completes the stream {@code wait} from now unless it ended before; a lease in progress is not lost. */
        void endAfter(Duration wait) {
            try {
                waitTask.update(queue.broker.scheduler().schedule(() -> {
                    waitOver = true;
                    drain();
                }, wait.toMillis(), TimeUnit.MILLISECONDS));
            } catch (RejectedExecutionException e) {
                badRequest = e; // the scheduler cannot time the wait (disposed): the stream fails at once
            }
        }

        @Override
        public boolean onEdge() {
            registered = false;
            edgeWoken = true;
            boolean blocked = drain();
            edgeWoken = false;
            return blocked;
        }

        /** An emitted delivery was settled (or found expired): room under maxUnacked. */
        void settled(DeliveryImpl<T> d) {
            if (unsettled != null && unsettled.remove(d)) {
                drain();
            }
        }

        /**
         * Runs the drain loop unless another thread runs it now.
         *
         * @return true when this call ran the loop and its last lease attempt came back short (the queue had nothing
         *     more for this receiver); false when it leased all it asked for, asked for nothing, or did not run
         */
        boolean drain() {
            if (WIP.getAndIncrement(this) != 0) {
                return false;
            }
            boolean sawEmpty = false;
            int missed = 1;
            for (;;) {
                if (!done) {
                    sawEmpty = drainLoop();
                }
                missed = WIP.addAndGet(this, -missed);
                if (missed == 0) {
                    return sawEmpty;
                }
            }
        }

        /** @return whether the last lease attempt of this pass came back short */
        private boolean drainLoop() {
            boolean sawEmpty = false;
            long r = requested;
            long e = 0;
            for (;;) {
                if (cancelled) {
                    finish();
                    return false;
                }
                Throwable bad = badRequest;
                if (bad != null) {
                    cancelled = true;
                    finish();
                    actual.onError(bad);
                    return false;
                }
                if (queue.closed) {
                    finish();
                    actual.onError(queue.closedException());
                    return false;
                }
                if (maxMessages >= 0 && emitted >= maxMessages) {
                    finish();
                    actual.onComplete();
                    return false;
                }
                if (waitOver) {
                    finish(); // releases leases not emitted
                    actual.onComplete();
                    return false;
                }
                if (e != r && !buffer.isEmpty() && unackedRoom() > 0) {
                    DeliveryImpl<T> d = new DeliveryImpl<>(queue, buffer.poll(), unsettled == null ? null : this);
                    if (unsettled != null) {
                        unsettled.add(d);
                    }
                    emitted++;
                    e++;
                    actual.onNext(d);
                    continue;
                }
                long outstanding = r - e;
                long want = outstanding > Long.MAX_VALUE - prefetch ? Long.MAX_VALUE : outstanding + prefetch;
                want -= buffer.size();
                if (maxMessages >= 0) {
                    want = Math.min(want, maxMessages - emitted - buffer.size());
                }
                if (unsettled != null) {
                    long room = unackedRoom();
                    if (room <= 0 && outstanding > 0) {
                        // blocked on our own unsettled deliveries: their settlement wakes us, and so does the queue
                        // timer when their leases run out
                        if (!timerRegistered) {
                            timerRegistered = true;
                            queue.timerWaiters.add(timerWaiter);
                            continue; // re-check: a lease may have run out before we registered
                        }
                        break;
                    }
                    want = Math.min(want, room - buffer.size());
                }
                if (want <= 0) {
                    break;
                }
                int n = (int) Math.min(want, MAX_BATCH);
                long now = queue.now();
                List<Lease<T>> got = visibility == null ? queue.core.receive(n, now)
                        : queue.core.receive(n, visibility, now);
                sawEmpty = got.size() < n;
                if (!got.isEmpty()) {
                    buffer.addAll(got);
                    queue.timer.ensure(got.get(0).deadline()); // one lease length for all: the first is the earliest
                    continue;
                }
                if (singleLook) {
                    finish();
                    actual.onComplete();
                    return false;
                }
                if (!registered) {
                    registered = true;
                    queue.readers.add(this, edgeWoken);
                    continue; // re-check: something may have arrived before we registered
                }
                break;
            }
            if (e != 0 && r != Long.MAX_VALUE) {
                REQUESTED.addAndGet(this, -e);
            }
            return sawEmpty;
        }

        /** Room under maxUnacked, forgetting emitted deliveries whose lease ran out; Long.MAX_VALUE when unbounded. */
        private long unackedRoom() {
            if (unsettled == null) {
                return Long.MAX_VALUE;
            }
            if (unsettled.size() >= maxUnacked) {
                long now = queue.now();
                unsettled.removeIf(d -> !d.isHeld(now));
            }
            return maxUnacked - unsettled.size();
        }

        /** Ends the subscription's life: no more wake-ups, every lease not emitted goes back to the queue at once. */
        private void finish() {
            done = true;
            waitTask.dispose();
            unregister();
            if (!buffer.isEmpty()) {
                long now = queue.now();
                Lease<T> l;
                while ((l = buffer.poll()) != null) {
                    queue.core.release(l.handle(), now);
                }
            }
        }

        private void unregister() {
            queue.readers.remove(this);
            queue.timerWaiters.remove(timerWaiter);
        }

        /** For tests: leases taken and not emitted. Only meaningful when no drain runs. */
        int buffered() {
            return buffer.size();
        }
    }
}
