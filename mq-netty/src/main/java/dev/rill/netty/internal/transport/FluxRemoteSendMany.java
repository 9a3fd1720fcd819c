package dev.rill.netty.internal.transport;

import dev.rill.core.OutboundMessage;
import dev.rill.core.Overflow;
import dev.rill.netty.internal.protocol.SendReceipt;
import dev.rill.reactive.SendResult;
import java.lang.invoke.VarHandle;
import java.util.Queue;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.Exceptions;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Operators;
import reactor.util.concurrent.Queues;

/**
 * {@link RemoteQueue#sendMany}: hands upstream messages to the connection as they arrive (the connection batches
 * them into SEND frames as SEND_CREDIT allows) and emits one result per message, in upstream order, whatever order
 * the answers come in. Each message is one {@link Slot}: the pending message and its answer, no Mono per message.
 *
 * <p>Demand: the messages requested from upstream and not yet answered downstream never exceed
 * {@code min(maxInFlight, downstream demand)}, as for a local queue, and upstream is asked again once a quarter of
 * that is free (or nothing is outstanding). The server grants SEND_CREDIT only as it stores messages, so a full
 * queue stops the answers and with them the requests.
 *
 * <p>Errors: the first refused message (queue full with {@link Overflow#FAIL}, queue closed, refused by the server,
 * connection lost without a dedup id) ends the stream once the results before it were emitted; the messages after
 * it are cancelled (those still waiting for credit never go out). An upstream error or completion waits for the
 * answers of the messages already taken, so every message that was handed over gets its result first; so does a
 * payload the codec cannot encode (upstream is cancelled there). Cancelling cancels every unanswered message the
 * same way as a refusal.
 *
 * <p>Threads: each payload is encoded and handed over in {@code onNext}, on the upstream's thread; results are
 * emitted by a drain loop on whichever thread answers arrive (usually the connection's event loop).
 *
 * @param <T> the payload type
 */
final class FluxRemoteSendMany<T> extends Flux<SendResult<T>> {

    private final RemoteQueue<T> queue;
    private final Publisher<OutboundMessage<T>> source;
    private final Overflow overflow;
    private final int maxInFlight;

    private FluxRemoteSendMany(RemoteQueue<T> queue, Publisher<OutboundMessage<T>> source, Overflow overflow,
            int maxInFlight) {
        this.queue = queue;
        this.source = source;
        this.overflow = overflow;
        this.maxInFlight = maxInFlight;
    }

    /** @return the stream of results, through Reactor's assembly hooks like any operator */
    static <T> Flux<SendResult<T>> of(RemoteQueue<T> queue, Publisher<OutboundMessage<T>> source, Overflow overflow,
            int maxInFlight) {
        return onAssembly(new FluxRemoteSendMany<>(queue, source, overflow, maxInFlight));
    }

    @Override
    public void subscribe(CoreSubscriber<? super SendResult<T>> actual) {
        Flux.from(source).subscribe(new Main<>(actual, queue, overflow, maxInFlight));
    }

    /** One message handed to the connection, and its answer once it came. */
    static final class Slot<T> extends ClientConnection.PendingMessage {
        final Main<T> parent;
        final OutboundMessage<T> message;
        private SendReceipt receipt; // written before answered
        private Throwable failure; // written before answered
        volatile boolean answered;

        Slot(Main<T> parent, OutboundMessage<T> message) {
            super(parent.queue.name(), Wire.toWire(message, parent.queue.codec().encode(message.payload())),
                    parent.overflow);
            this.parent = parent;
            this.message = message;
        }

        @Override
        void sent(SendReceipt r) {
            receipt = r;
            answered = true;
            parent.drain();
        }

        @Override
        void failed(Throwable e) {
            failure = e;
            answered = true;
            parent.drain();
        }
    }

    static final class Main<T> implements CoreSubscriber<OutboundMessage<T>>, Subscription {

        final CoreSubscriber<? super SendResult<T>> actual;
        final RemoteQueue<T> queue;
        final Overflow overflow;
        private final int maxInFlight;
        /** Ask upstream again once this many are free (or nothing is outstanding). */
        private final int limit;
        /**
         * Handed over, in upstream order, until emitted: offered by {@code onNext}, taken by the drain loop. Never
         * more than maxInFlight: upstream honours our requests.
         */
        private final Queue<Slot<T>> slots;

        Subscription s;

        volatile long requested;
        @SuppressWarnings("rawtypes")
        static final AtomicLongFieldUpdater<Main> REQUESTED = AtomicLongFieldUpdater.newUpdater(Main.class, "requested");

        volatile int wip;
        @SuppressWarnings("rawtypes")
        static final AtomicIntegerFieldUpdater<Main> WIP = AtomicIntegerFieldUpdater.newUpdater(Main.class, "wip");

        volatile boolean done;
        Throwable error; // written before done
        volatile boolean cancelled;
        volatile Throwable badRequest;
        /** A message the codec could not encode: upstream was cancelled there; ends the stream after the rest. */
        volatile Throwable encodeFailure;
        /** The stream ended (drain loop); a slot offered from now on is cancelled by the next drain. */
        volatile boolean terminated;

        // ---- owned by the drain loop ----
        private long upstreamRequested;
        private long emittedTotal;

        Main(CoreSubscriber<? super SendResult<T>> actual, RemoteQueue<T> queue, Overflow overflow,
                int maxInFlight) {
            this.actual = actual;
            this.queue = queue;
            this.overflow = overflow;
            this.maxInFlight = maxInFlight;
            this.limit = Math.max(1, maxInFlight >> 2);
            this.slots = Queues.<Slot<T>>get(maxInFlight).get();
        }

        @Override
        public void onSubscribe(Subscription s) {
            if (Operators.validate(this.s, s)) {
                this.s = s;
                actual.onSubscribe(this);
                drain(); // the first request upstream waits for downstream demand
            }
        }

        /**
         * Encodes the message and hands it to the connection here, on the upstream's thread, in order (onNext is
         * serialized): the drain loop, which emits results on whatever thread answers arrive, does not take that
         * work over while it runs.
         */
        @Override
        public void onNext(OutboundMessage<T> m) {
            if (done || encodeFailure != null || terminated) {
                Operators.onNextDropped(m, actual.currentContext());
                return;
            }
            if (m == null) {
                s.cancel();
                onError(new NullPointerException("sendMany: upstream emitted null"));
                return;
            }
            Slot<T> slot;
            try {
                slot = new Slot<>(this, m); // encodes the payload
            } catch (RuntimeException e) {
                // like an upstream error at this message: the ones before it still get their results
                encodeFailure = Operators.onOperatorError(s, e, m, actual.currentContext()); // cancels upstream
                drain();
                return;
            }
            if (!slots.offer(slot)) {
                s.cancel();
                onError(Exceptions.failWithOverflow("sendMany: upstream emitted more than requested"));
                return;
            }
            queue.broker().submit(slot);
            // Nothing to emit yet (the slot has no answer), but the stream may have ended meanwhile (a refused message,
            // a cancel). The fence orders the offer before this read: either the ending drain polled the slot and
            // cancelled it, or this read sees the end and the drain below cancels it.
            VarHandle.fullFence();
            if (terminated || cancelled) {
                drain();
            }
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
            drain();
        }

        void drain() {
            if (WIP.getAndIncrement(this) != 0) {
                return;
            }
            int missed = 1;
            for (;;) {
                if (terminated) {
                    cancelSlots(); // slots offered after the end
                } else {
                    drainLoop();
                }
                missed = WIP.addAndGet(this, -missed);
                if (missed == 0) {
                    return;
                }
            }
        }

        private void drainLoop() {
            if (cancelled) {
                terminated = true;
                cancelSlots();
                return;
            }
            Throwable bad = badRequest;
            if (bad != null) {
                fail(bad);
                return;
            }
            long r = requested;
            long e = 0;
            Slot<T> head;
            while (e != r && (head = slots.peek()) != null && head.answered) {
                slots.poll();
                RuntimeException refused = head.failure == null ? queue.failureOf(head.receipt) : null;
                if (head.failure != null || refused != null) {
                    fail(head.failure != null ? head.failure : refused);
                    return;
                }
                e++;
                emittedTotal++;
                actual.onNext(queue.resultOf(head.receipt, head.message));
                if (cancelled) {
                    terminated = true;
                    cancelSlots();
                    return;
                }
            }
            if (e != 0 && r != Long.MAX_VALUE) {
                REQUESTED.addAndGet(this, -e);
                r -= e;
            }
            Throwable encoding = encodeFailure;
            // onComplete/onError/an encoding failure come after every onNext: with done read first, the slots of all
            // messages are in the queue
            if ((encoding != null || done) && slots.isEmpty()) {
                terminated = true;
                Throwable err = encoding != null ? encoding : error;
                if (err != null) {
                    actual.onError(err);
                } else {
                    actual.onComplete();
                }
                return;
            }
            if (!done && encoding == null) {
                long inFlight = upstreamRequested - emittedTotal;
                long k = Math.min(maxInFlight, r) - inFlight;
                if (k > 0 && (k >= limit || inFlight == 0)) {
                    upstreamRequested += k;
                    s.request(k); // may call onNext right here
                }
            }
        }

        /** Ends with {@code t}: upstream and every unanswered message cancelled. */
        private void fail(Throwable t) {
            terminated = true;
            s.cancel();
            cancelSlots();
            actual.onError(t);
        }

        private void cancelSlots() {
            Slot<T> slot;
            while ((slot = slots.poll()) != null) {
                if (!slot.answered) {
                    queue.broker().cancel(slot);
                }
            }
        }
    }
}
