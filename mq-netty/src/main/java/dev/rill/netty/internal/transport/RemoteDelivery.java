package dev.rill.netty.internal.transport;

import dev.rill.core.LeaseOutcome;
import dev.rill.core.Message;
import dev.rill.netty.internal.protocol.FrameEncoder;
import dev.rill.netty.internal.protocol.Limits;
import dev.rill.reactive.Delivery;
import java.time.Duration;
import java.util.Objects;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;

/** A delivery received over the network; settling it sends a (coalesced) ACK/NACK/EXTEND/REJECT frame. */
final class RemoteDelivery<T> implements Delivery<T> {

    private static final int MAX_REASON = 1024;

    private final String queue;
    private final Message<T> message;
    private final int deliveryCount;
    private final reactor.core.scheduler.Scheduler clock;
    private volatile long deadline;
    private final long tag;
    private final ClientConnection conn;
    private volatile boolean acked;
    private volatile boolean settled;

    RemoteDelivery(String queue, Message<T> message, int deliveryCount, long deadline, long tag,
            ClientConnection conn, reactor.core.scheduler.Scheduler clock) {
        this.clock = clock;
        this.queue = queue;
        this.message = message;
        this.deliveryCount = deliveryCount;
        this.deadline = deadline;
        this.tag = tag;
        this.conn = conn;
    }

    @Override
    public Message<T> message() {
        return message;
    }

    @Override
    public int deliveryCount() {
        return deliveryCount;
    }

    @Override
    public long deadline() {
        return deadline;
    }

    @Override
    public Mono<Void> ack() {
        return new SettleMono(ClientConnection.SettleKind.ACK, 0, null, "ack");
    }

    @Override
    public Mono<Void> nack() {
        return nack(Duration.ZERO);
    }

    @Override
    public Mono<Void> nack(Duration delay) {
        Objects.requireNonNull(delay, "delay");
        if (delay.isNegative()) {
            return Mono.error(new IllegalArgumentException("delay must be >= 0, was " + delay));
        }
        return new SettleMono(ClientConnection.SettleKind.NACK, millis(delay), null, "nack");
    }

    @Override
    public Mono<Void> extend(Duration duration) {
        Objects.requireNonNull(duration, "duration");
        if (duration.isNegative() || duration.isZero()) {
            return Mono.error(new IllegalArgumentException("duration must be positive, was " + duration));
        }
        return new SettleMono(ClientConnection.SettleKind.EXTEND, Math.max(1, millis(duration)), null, "extend");
    }

    /**
     * Whole millis of a non-negative duration, saturating at {@code Long.MAX_VALUE} as the core does with what it is
     * given ({@code Duration.toMillis} throws past ~292 million years).
     */
    private static long millis(Duration d) {
        return d.getSeconds() >= Long.MAX_VALUE / 1000 ? Long.MAX_VALUE : d.toMillis();
    }

    @Override
    public Mono<Void> reject(String reason) {
        if (reason == null) {
            reason = "rejected"; // as in process: the core's default reason
        }
        int end = reason.length() <= MAX_REASON ? reason.length()
                : Character.isHighSurrogate(reason.charAt(MAX_REASON - 1)) ? MAX_REASON - 1 : MAX_REASON;
        // a reason is free text from any caller: a lone surrogate becomes U+FFFD, as the encoder would refuse it and
        // the connection (every queue and stream on it) would close
        String r = FrameEncoder.fitUtf8(reason.substring(0, end), Limits.MAX_TEXT_BYTES);
        return new SettleMono(ClientConnection.SettleKind.REJECT, 0, r, "reject");
    }

    /**
     * {@inheritDoc}
     *
     * <p>Over the network: a RELEASE frame; the server gives the lease back without counting the delivery.
     */
    @Override
    public Mono<Void> release() {
        return new SettleMono(ClientConnection.SettleKind.RELEASE, 0, null, "release");
    }

    /**
     * One settlement per subscription: registered straight with the connection (no intermediate operators, one
     * object per subscription), completed on the event loop with the server's outcome.
     */
    private final class SettleMono extends Mono<Void> {
        private final ClientConnection.SettleKind kind;
        private final long arg;
        private final String reason;
        private final String name;

        SettleMono(ClientConnection.SettleKind kind, long arg, String reason, String name) {
            this.kind = kind;
            this.arg = arg;
            this.reason = reason;
            this.name = name;
        }

        @Override
        public void subscribe(CoreSubscriber<? super Void> actual) {
            if (kind == ClientConnection.SettleKind.ACK && acked) {
                Operators.complete(actual);
                return;
            }
            // EXTEND: the server answers with the new deadline (EXTEND_RESULT); the client's clock is only the
            // fallback should an answer carry none
            long estimate = kind == ClientConnection.SettleKind.EXTEND
                    ? clock.now(java.util.concurrent.TimeUnit.MILLISECONDS) + arg : 0;
            Op op = new Op(actual, kind, name, estimate);
            actual.onSubscribe(op);
            conn.settle(kind, tag, arg, reason, op);
        }
    }

    private final class Op implements Subscription, ClientConnection.SettleWaiter {
        private final CoreSubscriber<? super Void> actual;
        private final ClientConnection.SettleKind kind;
        private final String name;
        private final long estimate;
        private volatile boolean cancelled;

        Op(CoreSubscriber<? super Void> actual, ClientConnection.SettleKind kind, String name, long estimate) {
            this.actual = actual;
            this.kind = kind;
            this.name = name;
            this.estimate = estimate;
        }

        @Override
        public void request(long n) {
            // completes empty: nothing to request
        }

        @Override
        public void cancel() {
            cancelled = true; // the settlement itself stays sent: the server acts on it either way
        }

        @Override
        public void settled(LeaseOutcome outcome) {
            settled(outcome, estimate);
        }

        @Override
        public void settled(LeaseOutcome outcome, long newDeadline) {
            if (outcome == LeaseOutcome.OK) {
                switch (kind) {
                    case ACK -> {
                        acked = true;
                        settled = true;
                    }
                    case EXTEND -> deadline = newDeadline;
                    default -> settled = true;
                }
                if (!cancelled) {
                    actual.onComplete();
                }
            } else if (!cancelled) {
                actual.onError(Wire.stale(queue, message.id(), deliveryCount, name));
            }
        }

        @Override
        public void failed(Throwable e) {
            if (!cancelled) {
                actual.onError(e);
            }
        }

        @Override
        public String queue() {
            return queue;
        }
    }

    /**
     * Gives back a delivery that arrived after its stream was cancelled and was never emitted: released without
     * counting the delivery, so cancelling never moves a message toward its queue's {@code maxDeliveries}.
     */
    void discard() {
        conn.settle(ClientConnection.SettleKind.RELEASE, tag, 0, null).subscribe(null, e -> { });
    }

    @Override
    public boolean isSettled() {
        return settled;
    }

    @Override
    public String toString() {
        return "RemoteDelivery{queue=" + queue + ", message=" + message + ", deliveryCount=" + deliveryCount
                + ", tag=" + tag + "}";
    }
}
