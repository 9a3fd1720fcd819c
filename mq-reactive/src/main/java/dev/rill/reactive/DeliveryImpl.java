package dev.rill.reactive;

import dev.rill.core.Lease;
import dev.rill.core.LeaseOutcome;
import dev.rill.core.Message;
import dev.rill.core.ReceiptHandle;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import reactor.core.publisher.Mono;

/** A delivery from an {@link InMemoryQueue}: one lease and its receipt handle. */
final class DeliveryImpl<T> implements Delivery<T> {

    static final int OPEN = 0;
    static final int ACKED = 1;
    static final int SETTLED = 2; // nacked or rejected
    static final int OVER = 3; // the lease was found to be over

    final InMemoryQueue<T> queue;
    private final Lease<T> lease;
    /** The stream that emitted this delivery when it bounds unsettled deliveries, else null. */
    private final FluxReceive.ReceiveSubscription<T> owner;
    private volatile long deadline;

    volatile int state;
    static final AtomicIntegerFieldUpdater<DeliveryImpl> STATE =
            AtomicIntegerFieldUpdater.newUpdater(DeliveryImpl.class, "state");

    DeliveryImpl(InMemoryQueue<T> queue, Lease<T> lease, FluxReceive.ReceiveSubscription<T> owner) {
        this.queue = queue;
        this.lease = lease;
        this.owner = owner;
        this.deadline = lease.deadline();
    }

    ReceiptHandle handle() {
        return lease.handle();
    }

    boolean isAcked() {
        return state == ACKED;
    }

    /** Whether the holder still owns the lease as far as this object knows (not settled, deadline not reached). */
    boolean isHeld(long now) {
        return state == OPEN && now < deadline;
    }

    @Override
    public Message<T> message() {
        return lease.message();
    }

    @Override
    public int deliveryCount() {
        return lease.deliveryCount();
    }

    @Override
    public long deadline() {
        return deadline;
    }

    @Override
    public Mono<Void> ack() {
        return Mono.defer(() -> {
            if (state == ACKED) {
                return queue.broker.durable();
            }
            LeaseOutcome o = queue.core.ack(lease.handle(), queue.now());
            if (o == LeaseOutcome.OK) {
                settledOk(true);
                return queue.broker.durable(); // a durable broker confirms the ack once it is on disk
            }
            if (state == ACKED) {
                return queue.broker.durable(); // a concurrent ack of this delivery won
            }
            leaseOver();
            return Mono.error(expired("ack"));
        });
    }

    @Override
    public Mono<Void> nack() {
        return nack(Duration.ZERO);
    }

    @Override
    public Mono<Void> nack(Duration delay) {
        Objects.requireNonNull(delay, "delay");
        return Mono.defer(() -> {
            long now = queue.now();
            LeaseOutcome o = queue.core.nack(lease.handle(), delay, now);
            if (o == LeaseOutcome.OK) {
                settledOk(false);
                if (!delay.isZero()) {
                    queue.timer.ensure(now + delay.toMillis());
                }
                queue.afterDeadLetterRisk();
                return queue.broker.durable(); // a durable broker confirms the nack once it is on disk
            }
            leaseOver();
            return Mono.error(expired("nack"));
        });
    }

    @Override
    public Mono<Void> extend(Duration duration) {
        Objects.requireNonNull(duration, "duration");
        return Mono.defer(() -> {
            long now = queue.now();
            LeaseOutcome o = queue.core.extend(lease.handle(), duration, now);
            if (o == LeaseOutcome.OK) {
                deadline = now + duration.toMillis();
                queue.timer.ensure(deadline);
                // extensions are not logged; waiting keeps the order of confirmations the same as for the others
                return queue.broker.durable();
            }
            leaseOver();
            return Mono.error(expired("extend"));
        });
    }

    @Override
    public Mono<Void> reject(String reason) {
        return Mono.defer(() -> {
            LeaseOutcome o = queue.core.reject(lease.handle(), reason, queue.now());
            if (o == LeaseOutcome.OK) {
                settledOk(false);
                queue.afterDeadLetterRisk();
                return queue.broker.durable(); // the dead-letter move (or drop) is on disk when this completes
            }
            leaseOver();
            return Mono.error(expired("reject"));
        });
    }

    @Override
    public Mono<Void> release() {
        return Mono.defer(() -> {
            LeaseOutcome o = queue.core.release(lease.handle(), queue.now());
            if (o == LeaseOutcome.OK) {
                settledOk(false);
                return queue.broker.durable(); // the uncounted delivery is logged like a nack
            }
            leaseOver();
            return Mono.error(expired("release"));
        });
    }

    @Override
    public boolean isSettled() {
        int s = state;
        return s == ACKED || s == SETTLED;
    }

    /** The core accepted an ack (acked) or a nack/reject: the holder no longer owns the lease. */
    void settledOk(boolean acked) {
        state = acked ? ACKED : SETTLED;
        if (owner != null) {
            owner.settled(this);
        }
    }

    /** The core said the lease is over. */
    void leaseOver() {
        if (STATE.compareAndSet(this, OPEN, OVER) && owner != null) {
            owner.settled(this);
        }
    }

    LeaseExpiredException expired(String op) {
        return new LeaseExpiredException(queue.name(), lease.message().id(), lease.deliveryCount(), op);
    }

    @Override
    public String toString() {
        return "Delivery{" + queue.name() + "#" + lease.message().id() + ", delivery " + lease.deliveryCount() + "}";
    }
}
