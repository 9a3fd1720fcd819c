package dev.rill.reactive;

import dev.rill.core.Lease;
import dev.rill.core.LeaseOutcome;
import dev.rill.core.Message;
import dev.rill.core.ReceiptHandle;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/** A delivery from an {@link InMemoryQueue}: one lease and its receipt handle. */
final class DeliveryImpl<T> implements Delivery<T> {

    static final int OPEN = 0;
    static final int ACKED = 1;
    static final int SETTLED = 2; // nacked, rejected or released
    static final int OVER = 3; // the lease was found to be over
    static final int ACKING = 4; // an ack (or an ackAll/ackEach) claimed the settlement and is in the core
    static final int SETTLING = 5; // a nack, reject or release claimed the settlement and is in the core

    final InMemoryQueue<T> queue;
    private final Lease<T> lease;
    /** The stream that emitted this delivery when it bounds unsettled deliveries, else null. */
    private final FluxReceive.ReceiveSubscription<T> owner;

    /*
     * Settlement: one call at a time takes the lease to the core. It claims the settlement (CAS OPEN -> ACKING or
     * SETTLING), calls the core and publishes the end (ACKED, SETTLED or OVER; back to OPEN when the core call threw,
     * having changed nothing). A settlement that finds another in flight does not call the core (the core would
     * answer STALE before the winner has published, see SettleRacesTest): it waits, without blocking, for the
     * winner's end on `waiters`, created by the first such caller only (an uncontended settle allocates nothing).
     * Dekker pair: the winner writes `state`, then reads `waiters`; a waiter installs `waiters`, then reads `state`,
     * so either the winner sees the waiter and wakes it, or the waiter sees the end.
     */
    volatile int state;
    static final AtomicIntegerFieldUpdater<DeliveryImpl> STATE =
            AtomicIntegerFieldUpdater.newUpdater(DeliveryImpl.class, "state");

    /** Woken with the end of the settlement in flight; null when nobody waits. */
    private volatile Sinks.One<Integer> waiters;
    @SuppressWarnings("rawtypes")
    private static final AtomicReferenceFieldUpdater<DeliveryImpl, Sinks.One> WAITERS =
            AtomicReferenceFieldUpdater.newUpdater(DeliveryImpl.class, Sinks.One.class, "waiters");

    DeliveryImpl(InMemoryQueue<T> queue, Lease<T> lease, FluxReceive.ReceiveSubscription<T> owner) {
        this.queue = queue;
        this.lease = lease;
        this.owner = owner;
    }

    ReceiptHandle handle() {
        return lease.handle();
    }

    /** Whether the holder still owns the lease as far as this object knows (not settled, deadline not reached). */
    boolean isHeld(long now) {
        int s = state;
        return (s == OPEN || s >= ACKING) && now < lease.deadline();
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
        // the lease's: the core moves it under its lock as it extends, so it is never behind (nor ahead of) the core's
        // (a copy written here after the core call let a reader in between take the extended lease for over, and let
        // two concurrent extensions leave the one the core made first)
        return lease.deadline();
    }

    @Override
    public Mono<Void> ack() {
        return Mono.defer(() -> {
            if (!claim(ACKING)) {
                return lost("ack", ACKED, this::ack);
            }
            LeaseOutcome o;
            try {
                o = queue.core.ack(lease.handle(), queue.now());
            } catch (RuntimeException | Error e) {
                publish(OPEN);
                throw e;
            }
            if (o == LeaseOutcome.OK) {
                publish(ACKED);
                return queue.broker.durable(); // a durable broker confirms the ack once it is on disk
            }
            publish(OVER);
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
            if (delay.isNegative()) {
                return Mono.error(new IllegalArgumentException("delay must be >= 0, was " + delay));
            }
            if (!claim(SETTLING)) {
                return lost("nack", -1, () -> nack(delay));
            }
            long now = queue.now();
            LeaseOutcome o;
            try {
                o = queue.core.nack(lease.handle(), delay, now);
            } catch (RuntimeException | Error e) {
                publish(OPEN);
                throw e;
            }
            if (o == LeaseOutcome.OK) {
                publish(SETTLED);
                if (!delay.isZero()) {
                    long ms = delay.getSeconds() >= Long.MAX_VALUE / 1000 ? Long.MAX_VALUE : delay.toMillis();
                    queue.timer.ensure(ms > Long.MAX_VALUE - now ? Long.MAX_VALUE : now + ms); // saturates as the core
                }
                queue.afterDeadLetterRisk();
                return queue.broker.durable(); // a durable broker confirms the nack once it is on disk
            }
            publish(OVER);
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
                queue.timer.ensure(lease.deadline());
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
            if (!claim(SETTLING)) {
                return lost("reject", -1, () -> reject(reason));
            }
            LeaseOutcome o;
            try {
                o = queue.core.reject(lease.handle(), reason, queue.now());
            } catch (RuntimeException | Error e) {
                publish(OPEN);
                throw e;
            }
            if (o == LeaseOutcome.OK) {
                publish(SETTLED);
                queue.afterDeadLetterRisk();
                return queue.broker.durable(); // the dead-letter move (or drop) is on disk when this completes
            }
            publish(OVER);
            return Mono.error(expired("reject"));
        });
    }

    @Override
    public Mono<Void> release() {
        return Mono.defer(() -> {
            if (!claim(SETTLING)) {
                return lost("release", -1, this::release);
            }
            LeaseOutcome o;
            try {
                o = queue.core.release(lease.handle(), queue.now());
            } catch (RuntimeException | Error e) {
                publish(OPEN);
                throw e;
            }
            if (o == LeaseOutcome.OK) {
                publish(SETTLED);
                return queue.broker.durable(); // the uncounted delivery is logged like a nack
            }
            publish(OVER);
            return Mono.error(expired("release"));
        });
    }

    @Override
    public boolean isSettled() {
        int s = state;
        return s == ACKED || s == SETTLED;
    }

    /**
     * Claims the settlement for a call that is about to take the lease to the core.
     *
     * @param inFlight ACKING or SETTLING
     * @return false when the delivery is settled, over, or another settlement is in flight
     */
    boolean claim(int inFlight) {
        return state == OPEN && STATE.compareAndSet(this, OPEN, inFlight);
    }

    /**
     * Ends the claimed settlement, waking those that wait for it.
     *
     * @param end ACKED, SETTLED, OVER (the core said STALE), or OPEN when the core call threw (nothing changed)
     */
    void publish(int end) {
        state = end;
        if (end != OPEN && owner != null) {
            owner.settled(this);
        }
        if (waiters != null) {
            @SuppressWarnings("unchecked")
            Sinks.One<Integer> w = WAITERS.getAndSet(this, null);
            if (w != null) {
                w.tryEmitValue(end);
            }
        }
    }

    /**
     * The state once no settlement is in flight: at once, or (without blocking) when the one in flight publishes.
     * OPEN means the settlement in flight failed without changing anything: try again.
     */
    Mono<Integer> settledState() {
        for (;;) {
            int s = state;
            if (s < ACKING) {
                return Mono.just(s);
            }
            Sinks.One<Integer> w = waiters;
            if (w == null) {
                Sinks.One<Integer> mine = Sinks.one();
                if (!WAITERS.compareAndSet(this, null, mine)) {
                    continue; // another waiter installed one, or the winner just took one
                }
                w = mine;
            }
            s = state;
            if (s < ACKING) {
                return Mono.just(s);
            }
            return w.asMono();
        }
    }

    /**
     * A settlement that did not claim the delivery: the outcome of the one that did (or had) decides.
     *
     * @param op the operation, for the error
     * @param shared the end this operation succeeds with too (ACKED for an ack: a second ack is a no-op), or -1
     * @param again the operation, run again when the claimed settlement changed nothing
     */
    private Mono<Void> lost(String op, int shared, java.util.function.Supplier<Mono<Void>> again) {
        int s = state;
        if (s == shared) {
            return queue.broker.durable(); // e.g. acked before: the ack is (or will be) durable with the others
        }
        if (s < ACKING && s != OPEN) {
            return Mono.error(expired(op, s));
        }
        return settledState().flatMap(end -> {
            if (end == OPEN) {
                return again.get();
            }
            if (end == shared) {
                return queue.broker.durable();
            }
            return Mono.error(expired(op, end));
        });
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

    /** @param end the state that made {@code op} fail: says so when it was settled by another call */
    LeaseExpiredException expired(String op, int end) {
        LeaseExpiredException e = expired(op);
        if (end == ACKED) {
            e.addSuppressed(new RillException("the delivery was already acked"));
        } else if (end == SETTLED) {
            e.addSuppressed(new RillException("the delivery was already nacked, rejected or released"));
        }
        return e;
    }

    @Override
    public String toString() {
        return "Delivery{" + queue.name() + "#" + lease.message().id() + ", delivery " + lease.deliveryCount() + "}";
    }
}
