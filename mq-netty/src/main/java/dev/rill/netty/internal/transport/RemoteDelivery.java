package dev.rill.netty.internal.transport;

import dev.rill.core.LeaseOutcome;
import dev.rill.core.Message;
import dev.rill.reactive.Delivery;
import java.time.Duration;
import java.util.Objects;
import reactor.core.publisher.Mono;

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
        return Mono.defer(() -> acked ? Mono.empty()
                : op(ClientConnection.SettleKind.ACK, 0, null, "ack", true).doOnSuccess(v -> acked = true));
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
        return Mono.defer(() -> op(ClientConnection.SettleKind.NACK, delay.toMillis(), null, "nack", true));
    }

    @Override
    public Mono<Void> extend(Duration duration) {
        Objects.requireNonNull(duration, "duration");
        if (duration.isNegative() || duration.isZero()) {
            return Mono.error(new IllegalArgumentException("duration must be positive, was " + duration));
        }
        return Mono.defer(() -> {
            long millis = Math.max(1, duration.toMillis());
            // the server's new deadline is its now + duration; the client's clock is the best estimate it has
            long estimate = clock.now(java.util.concurrent.TimeUnit.MILLISECONDS) + millis;
            return op(ClientConnection.SettleKind.EXTEND, millis, null, "extend", false)
                    .doOnSuccess(v -> deadline = estimate);
        });
    }

    @Override
    public Mono<Void> reject(String reason) {
        Objects.requireNonNull(reason, "reason");
        String r = reason.length() > MAX_REASON ? reason.substring(0, MAX_REASON) : reason;
        return Mono.defer(() -> op(ClientConnection.SettleKind.REJECT, 0, r, "reject", true));
    }

    private Mono<Void> op(ClientConnection.SettleKind kind, long arg, String reason, String name, boolean settles) {
        return conn.settle(kind, tag, arg, reason).flatMap(outcome -> {
            if (outcome == LeaseOutcome.OK) {
                if (settles) {
                    settled = true;
                }
                return Mono.<Void>empty();
            }
            return Mono.error(Wire.stale(queue, message.id(), deliveryCount, name));
        });
    }

    /** Gives back a delivery that arrived after its stream was cancelled and was never emitted. */
    void release() {
        conn.settle(ClientConnection.SettleKind.NACK, tag, 0, null).subscribe(null, e -> { });
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
