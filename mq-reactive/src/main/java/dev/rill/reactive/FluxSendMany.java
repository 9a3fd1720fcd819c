package dev.rill.reactive;

import dev.rill.core.OutboundMessage;
import dev.rill.core.Overflow;
import dev.rill.core.SendOutcome;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.Exceptions;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Operators;
import reactor.util.concurrent.Queues;

/**
 * {@link ReactiveQueue#sendMany}: stores upstream messages in order, in batches (one core call per batch), and
 * emits one result per message in the same order.
 *
 * <p>Demand: the messages requested from upstream and not yet answered downstream never exceed
 * {@code min(maxInFlight, downstream demand)}. Results are emitted as soon as messages are stored, so a full queue
 * stops the requests: upstream requests never exceed results emitted + maxInFlight, i.e. consumed + capacity +
 * maxInFlight.
 */
final class FluxSendMany<T> extends Flux<SendResult<T>> {

    /**
     * Sends made one at a time after the queue refused one as full, before batches resume. Measured with a consumer
     * that acks each message behind a publishOn hop (the producer woken for every freed slot): 1.6M -> 2.3-2.5M
     * msg/s at 64; 16 and 1024 were no better for it, and cost more when the consumer acks in batches (256 slots
     * freed at once, refilled one at a time): -10% at 64, -30% at 1024.
     */
    static final int SINGLES = 64;

    private final InMemoryQueue<T> queue;
    private final Flux<OutboundMessage<T>> source;
    private final Overflow overflow;
    private final int maxInFlight;

    FluxSendMany(InMemoryQueue<T> queue, Flux<OutboundMessage<T>> source, Overflow overflow, int maxInFlight) {
        this.queue = queue;
        this.source = source;
        this.overflow = overflow;
        this.maxInFlight = maxInFlight;
    }

    @Override
    public void subscribe(CoreSubscriber<? super SendResult<T>> actual) {
        source.subscribe(new SendManySubscriber<>(actual, queue, overflow, maxInFlight));
    }

    static final class SendManySubscriber<T> implements CoreSubscriber<OutboundMessage<T>>, Subscription,
            EdgeWaiters.Waiter {

        final CoreSubscriber<? super SendResult<T>> actual;
        final InMemoryQueue<T> queue;
        private final Overflow overflow;
        private final int maxInFlight;
        /** Replenish upstream once this many slots are free (or nothing is outstanding). */
        private final int limit;
        /** Received from upstream, not yet moved to staging; upstream honours our requests, so bounded. */
        private final Queue<OutboundMessage<T>> pending;

        Subscription s;

        volatile long requested;
        static final AtomicLongFieldUpdater<SendManySubscriber> REQUESTED =
                AtomicLongFieldUpdater.newUpdater(SendManySubscriber.class, "requested");

        volatile int wip;
        static final AtomicIntegerFieldUpdater<SendManySubscriber> WIP =
                AtomicIntegerFieldUpdater.newUpdater(SendManySubscriber.class, "wip");

        volatile boolean done;
        Throwable error;
        volatile boolean cancelled;
        volatile Throwable badRequest;
        /** In the queue's writers and not woken yet. */
        volatile boolean registered;
        /** Set while a writable edge runs this subscriber: if it waits again, it keeps its place in line. */
        volatile boolean edgeWoken;

        // ---- owned by the drain loop ----
        private final ArrayList<OutboundMessage<T>> staging = new ArrayList<>();
        /** Messages still to send one at a time after a refusal (see drainLoop). */
        private int singles;
        private long upstreamRequested;
        private long emittedTotal;
        private boolean terminated;

        SendManySubscriber(CoreSubscriber<? super SendResult<T>> actual, InMemoryQueue<T> queue, Overflow overflow,
                int maxInFlight) {
            this.actual = actual;
            this.queue = queue;
            this.overflow = overflow;
            this.maxInFlight = maxInFlight;
            this.limit = Math.max(1, maxInFlight >> 2);
            this.pending = Queues.<OutboundMessage<T>>get(maxInFlight).get();
        }

        @Override
        public void onSubscribe(Subscription s) {
            if (Operators.validate(this.s, s)) {
                this.s = s;
                actual.onSubscribe(this);
            }
        }

        @Override
        public void onNext(OutboundMessage<T> m) {
            if (done) {
                Operators.onNextDropped(m, actual.currentContext());
                return;
            }
            if (m == null || !pending.offer(m)) {
                s.cancel();
                onError(m == null ? new NullPointerException("sendMany: upstream emitted null")
                        : Exceptions.failWithOverflow("sendMany: upstream emitted more than requested"));
                return;
            }
            drain();
        }

        @Override
        public void onError(Throwable t) {
            if (done) {
                Operators.onErrorDropped(t, actual.currentContext());
                return;
            }
            error = t;
            done = true;
            drain();
        }

        @Override
        public void onComplete() {
            if (done) {
                return;
            }
            done = true;
            drain();
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
            s.cancel();
            queue.writers.remove(this);
            drain();
        }

        @Override
        public boolean onEdge() {
            registered = false;
            edgeWoken = true;
            boolean blocked = drain();
            edgeWoken = false;
            return blocked;
        }

        /**
         * Runs the drain loop unless another thread runs it now.
         *
         * @return true when this call ran the loop and its last store attempt found the queue full
         */
        boolean drain() {
            if (WIP.getAndIncrement(this) != 0) {
                return false;
            }
            boolean full = false;
            int missed = 1;
            for (;;) {
                if (!terminated) {
                    full = drainLoop();
                }
                missed = WIP.addAndGet(this, -missed);
                if (missed == 0) {
                    return full;
                }
            }
        }

        /** @return whether the last store attempt of this pass found the queue full */
        private boolean drainLoop() {
            boolean full = false;
            long r = requested;
            long e = 0;
            for (;;) {
                if (cancelled) {
                    clear();
                    return false;
                }
                Throwable bad = badRequest;
                if (bad != null) {
                    fail(bad);
                    return false;
                }
                OutboundMessage<T> m;
                while ((m = pending.poll()) != null) {
                    staging.add(m);
                }
                if (!staging.isEmpty() && e != r) {
                    if (queue.closed) {
                        fail(queue.closedException());
                        return false;
                    }
                    int n = (int) Math.min(staging.size(), r - e);
                    List<OutboundMessage<T>> batch = staging.subList(0, n);
                    long now = queue.now();
                    List<SendOutcome> outcomes = null;
                    if (singles == 0) {
                        try {
                            outcomes = queue.core.sendAll(batch, now); // durable: encodes each payload once
                        } catch (RuntimeException ex) {
                            if (n == 1) {
                                fail(ex);
                                return false;
                            }
                            // A payload over the byte limit, or one a durable queue's codec cannot encode: the core
                            // stored none of the batch. Store the messages before it one at a time (below), through
                            // the whole batch, so the batch is not tried (and encoded) again for each of them; the
                            // refused one then ends the stream after their results.
                            singles = n;
                        }
                    }
                    if (outcomes == null) {
                        // One message: after a byte-limit failure above, or after a refusal. Then the queue stays near
                        // full and every freed slot wakes this drain: a batch call would take the queue's lock each
                        // time to store one message and be refused the rest, fighting the consumer's acks for the
                        // lock. A plain send takes no lock (the core's send inbox) and is refused without it, so send
                        // one at a time until the queue has taken SINGLES.
                        SendOutcome one = sendOne(staging.get(0), now);
                        if (one == null) {
                            return false; // failed
                        }
                        outcomes = List.of(one);
                        n = 1;
                        if (singles > 0 && one.accepted()) {
                            singles--;
                        }
                    }
                    int stored = 0;
                    SendOutcome.Status stop = null;
                    for (int i = 0; i < n; i++) {
                        SendOutcome o = outcomes.get(i);
                        if (!o.accepted()) {
                            stop = o.status();
                            break;
                        }
                        stored++;
                    }
                    long deadline = Long.MAX_VALUE;
                    for (int i = 0; i < stored; i++) {
                        SendOutcome o = outcomes.get(i);
                        OutboundMessage<T> sent = staging.get(i);
                        boolean dup = o.status() == SendOutcome.Status.DUPLICATE;
                        if (!dup) {
                            deadline = Math.min(deadline, queue.deadlineOf(sent, now));
                        }
                        e++;
                        emittedTotal++;
                        if (!cancelled) {
                            actual.onNext(new SendResult<>(o.messageId(), dup, sent));
                        }
                    }
                    queue.timer.ensure(deadline);
                    if (stored == staging.size()) {
                        staging.clear();
                    } else {
                        staging.subList(0, stored).clear();
                    }
                    full = stop == SendOutcome.Status.FULL;
                    if (full) {
                        singles = SINGLES;
                    }
                    if (stop == SendOutcome.Status.CLOSED) {
                        fail(queue.closedException());
                        return false;
                    }
                    if (stop == SendOutcome.Status.FULL) {
                        if (overflow == Overflow.FAIL) {
                            fail(new QueueFullException(queue.name()));
                            return false;
                        }
                        if (!registered) {
                            registered = true;
                            queue.writers.add(this, edgeWoken);
                            continue; // re-check: space may have freed before we registered
                        }
                        // wait for the writable edge; meanwhile upstream may still fill maxInFlight
                    } else if (stored > 0) {
                        continue;
                    }
                }
                if (done && staging.isEmpty() && pending.isEmpty()) {
                    terminated = true;
                    queue.writers.remove(this);
                    Throwable err = error;
                    if (err != null) {
                        actual.onError(err);
                    } else {
                        actual.onComplete();
                    }
                    return false;
                }
                if (!done) {
                    long inFlight = upstreamRequested - emittedTotal;
                    long cap = Math.min(maxInFlight, r - e);
                    long k = cap - inFlight;
                    if (k > 0 && (k >= limit || inFlight == 0)) {
                        upstreamRequested += k;
                        s.request(k); // may call onNext right here: that drain is counted as missed work
                    }
                }
                break;
            }
            if (e != 0 && r != Long.MAX_VALUE) {
                REQUESTED.addAndGet(this, -e);
            }
            return full;
        }

        private SendOutcome sendOne(OutboundMessage<T> m, long now) {
            try {
                return queue.core.send(m, now);
            } catch (RuntimeException ex) {
                fail(ex);
                return null;
            }
        }

        private void fail(Throwable t) {
            terminated = true;
            cancelled = true;
            s.cancel();
            queue.writers.remove(this);
            clear();
            actual.onError(t);
        }

        private void clear() {
            terminated = true;
            staging.clear();
            pending.clear();
            queue.writers.remove(this);
        }
    }
}
