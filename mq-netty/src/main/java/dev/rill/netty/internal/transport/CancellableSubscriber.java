package dev.rill.netty.internal.transport;

import java.lang.System.Logger.Level;
import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Operators;

/**
 * The server's subscriber to a served queue's stream (a subscription's deliveries, its events): Reactor's
 * {@code BaseSubscriber} but for one thing. The server cancels it on its connection's event loop (UNSUBSCRIBE, the
 * connection closing, a shutdown) while the queue may be ending the stream on another thread: a DELETE of the queue
 * on another connection closes it and its receivers fail with "queue ... is closed or was deleted". Such an end that
 * crosses the cancel tells nobody anything (the subscription is gone, and its client with it), but
 * {@code BaseSubscriber} hands it to {@code Operators.onErrorDropped}, whose default logs it at ERROR with its stack
 * trace: {@code rill serve} printed one now and then when a {@code rill bench} deleted its queue right after
 * unsubscribing (and {@code rill bench}, with its embedded server, right after its summary). Here it is only logged
 * at DEBUG.
 *
 * @param <T> the element type
 */
abstract class CancellableSubscriber<T> implements CoreSubscriber<T>, Subscription {

    private static final System.Logger LOG = System.getLogger(PeerLog.LOGGER);

    @SuppressWarnings("rawtypes")
    private static final AtomicReferenceFieldUpdater<CancellableSubscriber, Subscription> S =
            AtomicReferenceFieldUpdater.newUpdater(CancellableSubscriber.class, Subscription.class, "subscription");

    private volatile Subscription subscription;

    /** Called once the stream is subscribed: requests nothing unless it does. */
    protected void hookOnSubscribe(Subscription s) {
    }

    /** Called with each element (also one that crosses a cancel: the stream may still be emitting). */
    protected abstract void hookOnNext(T t);

    /** Called when the stream fails, unless it was cancelled before. */
    protected abstract void hookOnError(Throwable e);

    /** Called when the stream completes, unless it was cancelled before. */
    protected abstract void hookOnComplete();

    @Override
    public final void onSubscribe(Subscription s) {
        if (Operators.setOnce(S, this, s)) {
            hookOnSubscribe(s);
        }
    }

    @Override
    public final void onNext(T t) {
        try {
            hookOnNext(t);
        } catch (Throwable e) {
            onError(Operators.onOperatorError(subscription, e, t, currentContext()));
        }
    }

    @Override
    public final void onError(Throwable e) {
        if (S.getAndSet(this, Operators.cancelledSubscription()) == Operators.cancelledSubscription()) {
            if (LOG.isLoggable(Level.DEBUG)) {
                LOG.log(Level.DEBUG, "a served stream ended after the server had cancelled it: " + e);
            }
            return;
        }
        hookOnError(e);
    }

    @Override
    public final void onComplete() {
        if (S.getAndSet(this, Operators.cancelledSubscription()) != Operators.cancelledSubscription()) {
            hookOnComplete();
        }
    }

    /** Requests {@code n} more elements; nothing before the stream is subscribed or after it ended. */
    @Override
    public final void request(long n) {
        Subscription s = subscription;
        if (s != null) {
            s.request(n);
        }
    }

    /** Cancels the stream; what it signals from now on, but elements on their way, is dropped. */
    @Override
    public final void cancel() {
        Operators.terminate(S, this);
    }
}
