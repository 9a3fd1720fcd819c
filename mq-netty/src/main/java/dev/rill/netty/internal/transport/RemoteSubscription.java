package dev.rill.netty.internal.transport;

import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.Frame;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Operators;

/**
 * One remote stream ({@code receive()} deliveries or {@code events()}) and its {@link Subscription}. It outlives
 * connections: after a reconnect the broker attaches it again (a new SUBSCRIBE on the new connection) with credit
 * for the demand still outstanding.
 *
 * <p>Demand: the subscriber's {@code request(n)} is added to {@link #requested} (what may be emitted) and to
 * {@link #demand} (what credit may still cover: requested minus arrived); the current attachment turns the latter
 * into CREDIT frames: the demand when it is below the receive window, topped up once a quarter of it was used
 * (so {@code request(1)} per message does not cost a frame per message), otherwise a window refilled once 75% of it
 * was used. The server never sends past the credit, so the buffer between arrival (on the event loop) and
 * emission (the drain loop) never holds more than was asked for. {@code request(n <= 0)} cancels the stream and
 * signals {@link IllegalArgumentException} (rule 3.9).
 *
 * <p>Cancel: UNSUBSCRIBE (the server releases what it prefetched at once); elements that arrived but were never
 * emitted are given back through {@link Kind#discard} (deliveries: released).
 *
 * @param <E> the element type
 */
final class RemoteSubscription<E> implements Subscription {

    /** What a stream subscribes with and how its frames become elements. */
    interface Kind<E> {
        /** @return the frame that opens the stream with id {@code id} */
        Frame subscribe(int id);

        /** @return the element of a DELIVER/EVENT frame received on {@code conn}, or null if not this kind's frame */
        E decode(Frame f, ClientConnection conn);

        /** Gives back an element that arrived but will never be emitted. */
        void discard(E e);

        /** @return the error a SUBSCRIPTION_END (or ERROR) with this code ends the stream with */
        RuntimeException error(ErrorCode code, String message);
    }

    private final RemoteBroker broker;
    private final String queue;
    private final Kind<E> kind;
    private final CoreSubscriber<? super E> actual;
    private final int window;
    private final AtomicLong demand = new AtomicLong();
    private final Queue<E> buffer = new ConcurrentLinkedQueue<>();

    volatile long requested;
    @SuppressWarnings("rawtypes")
    static final AtomicLongFieldUpdater<RemoteSubscription> REQUESTED =
            AtomicLongFieldUpdater.newUpdater(RemoteSubscription.class, "requested");
    volatile int wip;
    @SuppressWarnings("rawtypes")
    static final AtomicIntegerFieldUpdater<RemoteSubscription> WIP =
            AtomicIntegerFieldUpdater.newUpdater(RemoteSubscription.class, "wip");

    private volatile Attachment current;
    private volatile boolean cancelled;
    private volatile boolean endRequested;
    /** No more elements will arrive; {@link #error} (if any) is signalled once the buffer is emitted. */
    private volatile boolean done;
    /** A rule 3.9 violation: signal the error at once, dropping what is buffered. */
    private volatile boolean failFast;
    private Throwable error; // written before done
    private boolean terminated; // drain loop only
    private volatile boolean attaching;

    RemoteSubscription(RemoteBroker broker, String queue, Kind<E> kind, CoreSubscriber<? super E> actual,
            int window) {
        this.broker = broker;
        this.queue = queue;
        this.kind = kind;
        this.actual = actual;
        this.window = window;
    }

    // ---- Subscription ---------------------------------------------------------------------------------------------

    @Override
    public void request(long n) {
        if (n <= 0) {
            badRequest(n);
            return;
        }
        Operators.addCap(REQUESTED, this, n);
        long r;
        long u;
        do {
            r = demand.get();
            u = r + n < 0 ? Long.MAX_VALUE : r + n;
        } while (!demand.compareAndSet(r, u));
        Attachment a = current;
        if (a != null) {
            a.conn.exec(a::grant);
        }
        drain();
    }

    private void badRequest(long n) {
        stopUpstream();
        failFast = true;
        finish(new IllegalArgumentException("§3.9 violated: request(n) needs n > 0, was " + n));
    }

    @Override
    public void cancel() {
        if (cancelled) {
            return;
        }
        cancelled = true;
        stopUpstream();
        drain(); // discards what arrived and was not emitted
    }

    private void stopUpstream() {
        broker.unregister(this);
        Attachment a = current;
        if (a != null) {
            a.conn.exec(a::unsubscribe);
        }
    }

    // ---- lifecycle driven by the broker -------------------------------------------------------------------------

    /** Ends the stream once the server confirmed no more elements come (receiveOne's timeout). */
    void requestEnd() {
        endRequested = true;
        // Read attaching before current: the attach task publishes current before it clears attaching, so seeing
        // attaching cleared means seeing its current too. Read the other way round, a look could find current not
        // yet set and attaching already cleared, and end the stream empty while the attach went on to subscribe.
        if (attaching) {
            return; // the attach task reads endRequested after clearing attaching: it unsubscribes
        }
        Attachment a = current;
        if (a != null) {
            a.conn.exec(a::unsubscribe);
        } else {
            finish(null);
        }
    }

    /** @return the queue of this stream */
    String queue() {
        return queue;
    }

    boolean isCancelled() {
        return cancelled || done;
    }

    /** Opens the stream on {@code conn} (on its event loop). */
    void attach(ClientConnection conn) {
        attaching = true;
        conn.exec(() -> {
            if (cancelled || done) {
                attaching = false;
                return;
            }
            Attachment was = current;
            if ((was != null && was.conn == conn) || conn.isClosed()) {
                // Already attached here. A stream registering while the broker reconnects is attached twice: by
                // the reconnect, which found it registered, and by its own register, which found the new connection
                // current. A second SUBSCRIBE would leave the first open on the server (its deliveries released, its
                // credit on top of the demand, its slot held) or be refused at the subscription limit.
                // Or the connection closed before this task ran: its loss was handled without this stream, so an
                // attachment here would never be detached, and made current (maybe over the attachment to the next
                // connection) it would swallow the stream. The broker attaches the stream to the next connection
                // (it was registered before the broker handed this one out), or fails it
                attaching = false;
                if (endRequested) {
                    requestEnd(); // it may have left the end to this task, having seen attaching set
                }
                return;
            }
            Attachment a = new Attachment(conn);
            current = a;
            a.id = conn.subscribe(a, kind::subscribe);
            a.grant();
            attaching = false; // after current (see requestEnd), before reading endRequested
            if (endRequested || cancelled || done) {
                // a single look: SUBSCRIBE, CREDIT and UNSUBSCRIBE go out together. A stream cancelled or ended
                // on another thread after the check above may have found current not yet set: it is closed here,
                // or the server would hold the subscription (and its slot) until the connection closes
                a.unsubscribe();
            }
        });
    }

    /** The connection of {@code a} was lost; the broker re-attaches after reconnecting. */
    void detached(Attachment a) {
        if (current == a) {
            current = null;
        }
        if (endRequested) {
            finish(null);
        }
    }

    void fail(Throwable e) {
        finish(e);
    }

    void brokerClosed() {
        fail(new dev.rill.reactive.QueueClosedException(queue));
    }

    /** No more elements: complete (error null) or fail once the buffered ones are emitted. */
    private void finish(Throwable e) {
        if (done) {
            return;
        }
        broker.unregister(this);
        error = e;
        done = true;
        drain();
    }

    // ---- the drain loop -------------------------------------------------------------------------------------------

    private void drain() {
        if (WIP.getAndIncrement(this) != 0) {
            return;
        }
        int missed = 1;
        for (;;) {
            if (cancelled || terminated) {
                E e;
                while ((e = buffer.poll()) != null) {
                    kind.discard(e);
                }
            } else {
                long r = requested;
                long emitted = 0;
                while (emitted != r && !cancelled && !failFast) {
                    E e = buffer.poll();
                    if (e == null) {
                        break;
                    }
                    actual.onNext(e);
                    emitted++;
                }
                if (emitted != 0 && r != Long.MAX_VALUE) {
                    REQUESTED.addAndGet(this, -emitted);
                }
                if (!cancelled && done && (buffer.isEmpty() || failFast)) {
                    terminated = true;
                    Throwable ex = error;
                    E e;
                    while ((e = buffer.poll()) != null) {
                        kind.discard(e);
                    }
                    if (ex == null) {
                        actual.onComplete();
                    } else {
                        actual.onError(ex);
                    }
                }
            }
            missed = WIP.addAndGet(this, -missed);
            if (missed == 0) {
                return;
            }
        }
    }

    /** The stream on one connection; its fields are confined to that connection's event loop. */
    final class Attachment {
        final ClientConnection conn;
        int id;
        long creditOut;
        boolean unsubscribed;

        Attachment(ClientConnection conn) {
            this.conn = conn;
        }

        void lost() {
            detached(this);
        }

        void grant() {
            if (unsubscribed || cancelled || done) {
                return;
            }
            long d = demand.get();
            long target = Math.min(d, window);
            long deficit = target - creditOut;
            // Top up once the server's credit falls to 3/4 of the target (below the window) or 1/4 of the window
            // (unbounded demand), not on every request(1): a flatMap(ack, 128) asks for one more message per ack,
            // and a CREDIT frame per message cost both sides a read and a wake-up per message. Never more than the
            // demand; with the credit used up (creditOut 0) the deficit always goes at once, so nothing waits.
            boolean due = d < window ? creditOut * 4 <= target * 3 : creditOut <= window / 4;
            if (deficit > 0 && due) {
                creditOut += deficit;
                conn.writeFrame(new Frame.Credit(id, (int) deficit));
            }
        }

        void unsubscribe() {
            if (!unsubscribed) {
                unsubscribed = true;
                conn.writeFrame(new Frame.Unsubscribe(id));
            }
        }

        /** @return false when the frame is unwanted (cancelled, or not this stream's kind): the caller releases it */
        boolean onFrame(Frame f) {
            if (cancelled || done || current != this) {
                return false;
            }
            E e = kind.decode(f, conn);
            if (e == null) {
                return false;
            }
            creditOut--;
            demand.decrementAndGet();
            buffer.offer(e);
            drain();
            grant();
            return true;
        }

        void onEnd(ErrorCode code, String message) {
            if (current == this) {
                current = null;
            }
            if (code == ErrorCode.SHUTTING_DOWN) {
                // the server drains: with reconnection the stream waits for the next connection and subscribes
                // again there with the demand still outstanding; without it, it completes (nothing more comes)
                if (broker.reconnects() && !endRequested) {
                    detached(this);
                } else {
                    finish(null);
                }
                return;
            }
            finish(code == ErrorCode.NONE ? null : kind.error(code, message));
        }
    }
}
