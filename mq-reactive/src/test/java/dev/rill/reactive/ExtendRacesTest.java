package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueEvent;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * {@link Delivery#extend(Duration)} racing the lease's expiry, an ack, or another extension, and extensions with
 * durations at the edges. The races were reproduced every time by pausing (LockSupport.parkNanos) the extending
 * thread at the racing point in DeliveryImpl.extend (see the commit messages); without the pauses these tests run
 * the same interleavings when they happen to occur. Queue time is virtual: the queue's timer fires only when the
 * test advances the {@link VirtualTimeScheduler}.
 */
class ExtendRacesTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final Duration VISIBILITY = Duration.ofSeconds(10);

    private final ExecutorService other = Executors.newSingleThreadExecutor();
    private final VirtualTimeScheduler vts = VirtualTimeScheduler.create();
    private final ReactiveBroker broker = Rill.inMemory(vts);
    private final List<Disposable> subscriptions = new ArrayList<>();

    @AfterEach
    void stop() {
        subscriptions.forEach(Disposable::dispose);
        other.shutdownNow();
        broker.close().block(TIMEOUT);
        vts.dispose();
    }

    private InMemoryQueue<String> queue(String name) {
        return (InMemoryQueue<String>) broker.queue(QueueSpec.named(name).visibilityTimeout(VISIBILITY),
                Codec.utf8()).block(TIMEOUT);
    }

    private long now() {
        return vts.now(TimeUnit.MILLISECONDS);
    }

    /** Counts down once the core has extended a lease (the event is published right after the core call). */
    private CountDownLatch extendedInCore(ReactiveQueue<String> q) {
        CountDownLatch latch = new CountDownLatch(1);
        subscriptions.add(q.events().filter(e -> e.type() == QueueEvent.Type.EXTENDED)
                .subscribe(e -> latch.countDown()));
        return latch;
    }

    private Future<Throwable> onOtherThread(Mono<?> m) {
        return other.submit(() -> {
            try {
                m.block(TIMEOUT);
                return null;
            } catch (Throwable t) {
                return t;
            }
        });
    }

    /**
     * A stream bounded by maxUnacked forgets a delivery once its lease is over. An extension the core already made
     * must count from then on: the stream, woken by the queue timer at the old deadline, must not take the extended
     * delivery for over and lease one more beyond maxUnacked while it is still held.
     */
    @Test
    void aDeliveryExtendedAsItsOldDeadlinePassesStillCountsUnderMaxUnacked() throws Exception {
        InMemoryQueue<String> q = queue("bounded");
        q.send(OutboundMessage.of("m1")).block(TIMEOUT);
        q.send(OutboundMessage.of("m2")).block(TIMEOUT);
        List<Delivery<String>> got = new CopyOnWriteArrayList<>();
        subscriptions.add(q.receive(ReceiveOptions.defaults().maxUnacked(1)).subscribe(got::add));
        assertThat(got).extracting(Delivery::payload).containsExactly("m1");
        CountDownLatch extended = extendedInCore(q);

        Future<Throwable> extend = onOtherThread(got.get(0).extend(Duration.ofSeconds(30)));
        assertThat(extended.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        vts.advanceTimeBy(VISIBILITY); // the old deadline: the queue timer wakes the stream waiting for room
        assertThat(extend.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)).isNull();

        assertThat(got.get(0).deadline()).isEqualTo(30_000);
        assertThat(got).as("m1 is still held: no room for m2").extracting(Delivery::payload).containsExactly("m1");
        assertThat(q.core.stats().inFlight()).isEqualTo(1);
        got.get(0).ack().block(TIMEOUT);
        assertThat(got).extracting(Delivery::payload).containsExactly("m1", "m2");
    }

    /**
     * Two extensions of one delivery at once: its deadline is the one the core set last, whatever order the two
     * callers return in (the earlier one, finishing last, must not put back its shorter deadline).
     */
    @Test
    void twoConcurrentExtensionsLeaveTheDeadlineTheCoreSetLast() throws Exception {
        InMemoryQueue<String> q = queue("twice");
        q.send(OutboundMessage.of("m")).block(TIMEOUT);
        Delivery<String> d = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        CountDownLatch extended = extendedInCore(q);

        Future<Throwable> first = onOtherThread(d.extend(Duration.ofSeconds(20)));
        assertThat(extended.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        d.extend(Duration.ofMinutes(5)).block(TIMEOUT); // after the first in the core
        assertThat(first.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)).isNull();

        assertThat(d.deadline()).isEqualTo(300_000);
        vts.advanceTimeBy(Duration.ofSeconds(30)); // past the first extension's deadline: still held
        assertThat(q.core.stats().expiredLeases()).isZero();
        d.ack().block(TIMEOUT);
    }

    /**
     * An extension that reaches the core after the lease ran out (the timer fired first) fails with
     * {@link LeaseExpiredException} and the message is redelivered; one that got in first keeps it. Never both.
     */
    @Test
    void anExtensionRacingTheExpiryHasExactlyOneOutcome() throws Exception {
        InMemoryQueue<String> q = queue("expiry");
        q.send(OutboundMessage.of("m")).block(TIMEOUT);
        Delivery<String> d = q.receiveOne(Duration.ZERO).block(TIMEOUT);

        Future<Throwable> extend = onOtherThread(d.extend(Duration.ofSeconds(30)));
        vts.advanceTimeBy(VISIBILITY);
        Throwable error = extend.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);

        QueueStats s = q.core.stats();
        Delivery<String> again = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        if (error == null) { // extended before the old deadline: still held, not redelivered
            assertThat(s.expiredLeases()).isZero();
            assertThat(again).isNull();
            assertThat(d.deadline()).isGreaterThan(now());
            d.ack().block(TIMEOUT);
        } else {
            assertThat(error).isInstanceOf(LeaseExpiredException.class);
            assertThat(s.expiredLeases()).isEqualTo(1);
            assertThat(again).isNotNull();
            assertThat(again.deliveryCount()).isEqualTo(2);
            assertThat(d.deadline()).isLessThanOrEqualTo(now());
            assertThat(catchError(d.ack())).isInstanceOf(LeaseExpiredException.class);
            again.ack().block(TIMEOUT);
        }
        assertThat(q.core.stats().size()).isZero();
    }

    /** An extension racing an ack: the ack wins or the extension goes first; the message is acked once, never lost. */
    @Test
    void anExtensionRacingAnAckNeverLosesOrRedeliversTheMessage() throws Exception {
        InMemoryQueue<String> q = queue("ack");
        for (int i = 0; i < 20; i++) {
            q.send(OutboundMessage.of("m" + i)).block(TIMEOUT);
            Delivery<String> d = q.receiveOne(Duration.ZERO).block(TIMEOUT);
            Future<Throwable> extend = onOtherThread(d.extend(Duration.ofSeconds(30)));
            d.ack().block(TIMEOUT);
            Throwable error = extend.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            if (error != null) {
                assertThat(error).as("round %d", i).isInstanceOf(LeaseExpiredException.class);
            }
            assertThat(d.isSettled()).isTrue();
        }
        vts.advanceTimeBy(Duration.ofMinutes(1));
        QueueStats s = q.core.stats();
        assertThat(s.acked()).isEqualTo(20);
        assertThat(s.expiredLeases()).isZero();
        assertThat(s.size()).isZero();
    }

    /** Zero and negative durations are refused with IllegalArgumentException and change nothing. */
    @Test
    void zeroAndNegativeExtensionsAreRefused() {
        InMemoryQueue<String> q = queue("bad");
        q.send(OutboundMessage.of("m")).block(TIMEOUT);
        Delivery<String> d = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(catchError(d.extend(Duration.ZERO))).isInstanceOf(IllegalArgumentException.class);
        assertThat(catchError(d.extend(Duration.ofMillis(-1)))).isInstanceOf(IllegalArgumentException.class);
        assertThat(d.deadline()).isEqualTo(10_000);
        d.ack().block(TIMEOUT);
    }

    /**
     * A duration too long for a millisecond deadline (or for millis at all) extends the lease to the end of time, as
     * every other deadline of the queue saturates; it neither fails with an ArithmeticException nor wraps the
     * delivery's deadline around to the past.
     */
    @Test
    void hugeExtensionsSaturateInsteadOfOverflowing() {
        InMemoryQueue<String> q = queue("huge");
        q.send(OutboundMessage.of("a")).block(TIMEOUT);
        q.send(OutboundMessage.of("b")).block(TIMEOUT);
        List<Delivery<String>> got = new CopyOnWriteArrayList<>();
        subscriptions.add(q.receive(ReceiveOptions.defaults().maxUnacked(1)).subscribe(got::add));
        Delivery<String> d = got.get(0);

        assertThat(catchError(d.extend(Duration.ofSeconds(Long.MAX_VALUE)))).isNull();
        assertThat(d.deadline()).isEqualTo(Long.MAX_VALUE);
        assertThat(catchError(d.extend(Duration.ofMillis(Long.MAX_VALUE)))).isNull();
        assertThat(d.deadline()).isEqualTo(Long.MAX_VALUE);
        vts.advanceTimeBy(Duration.ofDays(365));
        assertThat(got).as("a is held for good: no room for b").hasSize(1);
        assertThat(q.core.stats().expiredLeases()).isZero();
        d.ack().block(TIMEOUT);
        assertThat(got).extracting(Delivery::payload).containsExactly("a", "b");
    }

    /** A nack whose delay overflows millis keeps the message back for good instead of failing. */
    @Test
    void aHugeNackDelaySaturates() {
        InMemoryQueue<String> q = queue("hugenack");
        q.send(OutboundMessage.of("m")).block(TIMEOUT);
        Delivery<String> d = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(catchError(d.nack(Duration.ofSeconds(Long.MAX_VALUE)))).isNull();
        assertThat(d.isSettled()).isTrue();
        vts.advanceTimeBy(Duration.ofDays(365));
        QueueStats s = q.core.stats();
        assertThat(s.delayed()).isEqualTo(1);
        assertThat(s.inFlight()).isZero();
    }

    /**
     * A positive extension shorter than a millisecond gives the lease at least a millisecond: it reported success
     * while leaving the lease over at once (deadline = now), so the next ack failed and the message was redelivered.
     */
    @Test
    void aSubMillisecondExtensionStillLeavesTheLeaseRunning() {
        InMemoryQueue<String> q = queue("tiny");
        q.send(OutboundMessage.of("m")).block(TIMEOUT);
        Delivery<String> d = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        vts.advanceTimeBy(Duration.ofSeconds(5));
        assertThat(catchError(d.extend(Duration.ofNanos(1)))).isNull();
        assertThat(d.deadline()).isEqualTo(now() + 1);
        assertThat(catchError(d.ack())).isNull();
        assertThat(q.core.stats().acked()).isEqualTo(1);
    }

    private static Throwable catchError(Mono<?> m) {
        try {
            m.block(TIMEOUT);
            return null;
        } catch (Throwable t) {
            return t;
        }
    }
}
