package dev.rill.netty.internal.transport;

import dev.rill.core.OutboundMessage;
import dev.rill.core.Overflow;
import dev.rill.netty.internal.protocol.SendReceipt;
import dev.rill.reactive.SendResult;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;

/**
 * {@link RemoteQueue#send}: each subscription encodes the message and hands it to the connection; the subscriber's
 * {@link Subscription} is the pending message itself, so a send costs one object besides the message and its
 * result (a {@code Mono.create(...).handle(...)} chain cost five).
 *
 * <p>The payload is encoded at subscription, on the subscribing thread; an encoder's exception becomes the error.
 * The answer may come before the subscriber's request: it waits for it. Cancelling drops the message if it is
 * still waiting for SEND_CREDIT, and asks the server to store none of its SEND if every message of it was cancelled
 * (see {@link ClientConnection#cancel}).
 *
 * @param <T> the payload type
 */
final class MonoRemoteSend<T> extends Mono<SendResult<T>> {

    private final RemoteQueue<T> queue;
    private final OutboundMessage<T> message;
    private final Overflow overflow;

    private MonoRemoteSend(RemoteQueue<T> queue, OutboundMessage<T> message, Overflow overflow) {
        this.queue = queue;
        this.message = message;
        this.overflow = overflow;
    }

    /** @return the send, through Reactor's assembly hooks like any operator */
    static <T> Mono<SendResult<T>> of(RemoteQueue<T> queue, OutboundMessage<T> message, Overflow overflow) {
        return onAssembly(new MonoRemoteSend<>(queue, message, overflow));
    }

    @Override
    public void subscribe(CoreSubscriber<? super SendResult<T>> actual) {
        SendOne<T> one;
        try {
            one = new SendOne<>(actual, queue, message, overflow);
        } catch (Throwable e) {
            Operators.error(actual, Operators.onOperatorError(e, actual.currentContext()));
            return;
        }
        actual.onSubscribe(one);
        if (one.state != SendOne.DONE) {
            queue.broker().submit(one);
        }
    }

    /** One subscription: the message on its way and the subscriber's {@link Subscription}. */
    static final class SendOne<T> extends ClientConnection.PendingMessage implements Subscription {

        static final int NO_REQUEST_NO_RESULT = 0;
        static final int HAS_REQUEST_NO_RESULT = 1;
        static final int NO_REQUEST_HAS_RESULT = 2;
        static final int DONE = 3;

        private final CoreSubscriber<? super SendResult<T>> actual;
        private final RemoteQueue<T> queue;
        private final OutboundMessage<T> message;
        private SendResult<T> result; // written before state becomes NO_REQUEST_HAS_RESULT

        volatile int state;
        @SuppressWarnings("rawtypes")
        static final AtomicIntegerFieldUpdater<SendOne> STATE =
                AtomicIntegerFieldUpdater.newUpdater(SendOne.class, "state");

        SendOne(CoreSubscriber<? super SendResult<T>> actual, RemoteQueue<T> queue, OutboundMessage<T> message,
                Overflow overflow) {
            super(queue.name(), Wire.toWire(message, queue.codec().encode(message.payload())), overflow);
            this.actual = actual;
            this.queue = queue;
            this.message = message;
        }

        @Override
        void sent(SendReceipt receipt) {
            RuntimeException failure = queue.failureOf(receipt);
            if (failure != null) {
                failed(failure);
                return;
            }
            SendResult<T> r = queue.resultOf(receipt, message);
            for (;;) {
                int s = state;
                if (s == HAS_REQUEST_NO_RESULT) {
                    if (STATE.compareAndSet(this, s, DONE)) {
                        actual.onNext(r);
                        actual.onComplete();
                        return;
                    }
                } else if (s == NO_REQUEST_NO_RESULT) {
                    result = r;
                    if (STATE.compareAndSet(this, s, NO_REQUEST_HAS_RESULT)) {
                        return;
                    }
                } else {
                    return; // cancelled
                }
            }
        }

        @Override
        void failed(Throwable e) {
            for (;;) {
                int s = state;
                if (s == DONE) {
                    return; // cancelled: nobody to tell
                }
                if (STATE.compareAndSet(this, s, DONE)) {
                    result = null;
                    actual.onError(e);
                    return;
                }
            }
        }

        @Override
        public void request(long n) {
            if (n <= 0) {
                int s = STATE.getAndSet(this, DONE);
                if (s != DONE) {
                    result = null;
                    if (s != NO_REQUEST_HAS_RESULT) {
                        queue.broker().cancel(this);
                    }
                    actual.onError(new IllegalArgumentException("§3.9 violated: request(n) needs n > 0, was " + n));
                }
                return;
            }
            for (;;) {
                int s = state;
                if (s == NO_REQUEST_HAS_RESULT) {
                    if (STATE.compareAndSet(this, s, DONE)) {
                        SendResult<T> r = result;
                        result = null;
                        actual.onNext(r);
                        actual.onComplete();
                    }
                    return;
                }
                if (s != NO_REQUEST_NO_RESULT || STATE.compareAndSet(this, s, HAS_REQUEST_NO_RESULT)) {
                    return;
                }
            }
        }

        @Override
        public void cancel() {
            int s = STATE.getAndSet(this, DONE);
            result = null;
            if (s == NO_REQUEST_NO_RESULT || s == HAS_REQUEST_NO_RESULT) {
                queue.broker().cancel(this);
            }
        }
    }
}
