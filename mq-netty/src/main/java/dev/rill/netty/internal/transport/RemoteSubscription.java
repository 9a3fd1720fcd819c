package dev.rill.netty.internal.transport;

import dev.rill.core.Message;
import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.ReceiveOptions;
import java.util.concurrent.atomic.AtomicLong;
import reactor.core.publisher.FluxSink;

/**
 * One {@code receive()} subscriber of a remote queue. It outlives connections: after a reconnect the broker attaches
 * it again (a new SUBSCRIBE on the new connection) with credit for the demand still outstanding.
 *
 * <p>Demand: the subscriber's {@code request(n)} is added to {@link #demand}; the current attachment turns it into
 * CREDIT frames: exactly the demand when it is below the receive window, otherwise a window refilled once 75% of it
 * was used (see {@code ClientOptions.receiveWindow}). The server never delivers past the credit, so the client never holds more than was asked for.
 */
final class RemoteSubscription<T> {

    private final RemoteQueue<T> queue;
    private final Frame.Subscribe template;
    private final FluxSink<Delivery<T>> sink;
    private final int window;
    private final AtomicLong demand = new AtomicLong();
    private volatile Attachment current;
    private volatile boolean cancelled;
    private volatile boolean endRequested;
    private volatile boolean terminated;
    private volatile boolean attaching;

    RemoteSubscription(RemoteQueue<T> queue, ReceiveOptions options, FluxSink<Delivery<T>> sink, int window) {
        this.queue = queue;
        this.sink = sink;
        this.window = window;
        this.template = new Frame.Subscribe(0, queue.name(), options.prefetch(), options.maxUnacked().orElse(0),
                options.visibilityTimeout().map(d -> d.toMillis()).orElse(0L));
    }

    void onRequest(long n) {
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
    }

    void onCancel() {
        cancelled = true;
        queue.broker().unregister(this);
        Attachment a = current;
        if (a != null) {
            a.conn.exec(a::unsubscribe);
        }
    }

    /** Ends the stream once the server confirmed no more deliveries come (receiveOne's timeout). */
    void requestEnd() {
        endRequested = true;
        Attachment a = current;
        if (a != null) {
            a.conn.exec(a::unsubscribe);
        } else if (!attaching) {
            complete();
        }
    }

    boolean isCancelled() {
        return cancelled || terminated;
    }

    /** Opens the subscription on {@code conn} (on its event loop). */
    void attach(ClientConnection conn) {
        attaching = true;
        conn.exec(() -> {
            attaching = false;
            if (cancelled || terminated) {
                return;
            }
            Attachment a = new Attachment(conn);
            current = a;
            a.id = conn.subscribe(a, template);
            if (endRequested) {
                // a single look: SUBSCRIBE, CREDIT and UNSUBSCRIBE go out together
                a.grant();
                a.unsubscribe();
            } else {
                a.grant();
            }
        });
    }

    /** The connection of {@code a} was lost; the broker re-attaches after reconnecting. */
    void detached(Attachment a) {
        if (current == a) {
            current = null;
        }
        if (endRequested) {
            complete();
        }
    }

    void fail(Throwable e) {
        if (!terminated) {
            terminated = true;
            queue.broker().unregister(this);
            sink.error(e);
        }
    }

    void brokerClosed() {
        fail(new dev.rill.reactive.QueueClosedException(queue.name()));
    }

    private void complete() {
        if (!terminated) {
            terminated = true;
            queue.broker().unregister(this);
            sink.complete();
        }
    }

    /** The subscription on one connection; its fields are confined to that connection's event loop. */
    final class Attachment {
        final ClientConnection conn;
        int id;
        long creditOut;
        boolean unsubscribed;

        Attachment(ClientConnection conn) {
            this.conn = conn;
        }

        RemoteSubscription<T> owner() {
            return RemoteSubscription.this;
        }

        void lost() {
            detached(this);
        }

        void grant() {
            if (unsubscribed || cancelled || terminated) {
                return;
            }
            long d = demand.get();
            long target = Math.min(d, window);
            long deficit = target - creditOut;
            if (deficit > 0 && (d < window || creditOut <= window / 4)) {
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

        /** @return false when the delivery is unwanted (cancelled): the caller releases it */
        boolean onDeliver(Frame.Deliver d) {
            if (cancelled || terminated || current != this) {
                return false;
            }
            creditOut--;
            demand.decrementAndGet();
            T payload = queue.codec().decode(d.payload());
            Message<T> m = new Message<>(d.messageId(), payload, d.key(), d.priority(), d.headers(), d.timestamp());
            sink.next(new RemoteDelivery<>(queue.name(), m, d.deliveryCount(), d.deadline(), d.deliveryTag(), conn,
                    queue.broker().scheduler()));
            grant();
            return true;
        }

        void onEnd(ErrorCode code, String message) {
            if (current == this) {
                current = null;
            }
            if (code == ErrorCode.NONE) {
                complete();
            } else {
                fail(Wire.toException(code, message, queue.name()));
            }
        }
    }
}
