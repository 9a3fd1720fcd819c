package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.LeaseOutcome;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

/**
 * Two settlements of one delivery at once, from two threads. Concurrent acks share one outcome (both complete when
 * the message is acked); an ack racing a nack, reject or release: exactly one wins, the other errors with
 * {@link LeaseExpiredException}. The ack-ack race was reproduced every time by pausing (LockSupport.parkNanos) the
 * winning ack between its core ack and the change of the delivery's state; without the pause these tests run the
 * same interleavings when they happen to occur. Also: two RillMetrics refreshes whose stats calls and stores
 * interleave (an older snapshot must not overwrite a newer one).
 */
class SettleRacesTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private static final int ROUNDS = 10;

    private final ExecutorService threads = Executors.newFixedThreadPool(2);
    private ReactiveBroker broker;
    private InMemoryQueue<String> q;

    @BeforeEach
    void open() {
        broker = Rill.inMemory();
        q = (InMemoryQueue<String>) broker.queue(QueueSpec.named("settle"), Codec.utf8()).block(TIMEOUT);
    }

    @AfterEach
    void stop() {
        threads.shutdownNow();
        broker.close().block(TIMEOUT);
    }

    private Delivery<String> oneDelivery(String payload) {
        q.send(OutboundMessage.of(payload)).block(TIMEOUT);
        Delivery<String> d = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(d).isNotNull();
        return d;
    }

    /** Runs both at once (released together) on two threads; each result is null (completed) or its error. */
    private List<Throwable> race(Mono<?> a, Mono<?> b) throws Exception {
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Throwable>> fs = new ArrayList<>();
        for (Mono<?> m : List.of(a, b)) {
            fs.add(threads.submit(() -> {
                go.await();
                try {
                    m.block(TIMEOUT);
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            }));
        }
        go.countDown();
        List<Throwable> out = new ArrayList<>();
        for (Future<Throwable> f : fs) {
            out.add(f.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
        }
        return out;
    }

    @Test
    void twoConcurrentAcksOfOneDeliveryBothComplete() throws Exception {
        for (int i = 0; i < ROUNDS; i++) {
            Delivery<String> d = oneDelivery("m" + i);
            List<Throwable> r = race(d.ack(), d.ack());
            assertThat(r).as("round %d", i).containsOnlyNulls();
            assertThat(d.isSettled()).isTrue();
            assertThat(q.core.stats().inFlight()).isZero();
            assertThat(q.core.stats().ready()).isZero();
        }
    }

    @Test
    void anAckEachRacingAnAckOfTheSameDeliveryCallsItAcked() throws Exception {
        for (int i = 0; i < ROUNDS; i++) {
            Delivery<String> d = oneDelivery("m" + i);
            List<LeaseOutcome> each = new ArrayList<>();
            List<Throwable> r = race(d.ack(), q.ackEach(List.of(d)).doOnNext(each::addAll));
            assertThat(r).as("round %d", i).containsOnlyNulls();
            assertThat(each).containsExactly(LeaseOutcome.OK);
            assertThat(q.core.stats().inFlight()).isZero();
        }
    }

    @Test
    void anAckAllRacingAnAckOfTheSameDeliveryBothComplete() throws Exception {
        for (int i = 0; i < ROUNDS; i++) {
            Delivery<String> d = oneDelivery("m" + i);
            List<Throwable> r = race(q.ackAll(List.of(d)), d.ack());
            assertThat(r).as("round %d", i).containsOnlyNulls();
            assertThat(q.core.stats().inFlight()).isZero();
        }
    }

    @Test
    void anAckRacingANackRejectOrReleaseHasExactlyOneWinner() throws Exception {
        List<Function<Delivery<String>, Mono<Void>>> others = List.of(
                Delivery::nack, d -> d.reject("bad"), Delivery::release, d -> d.nack(Duration.ofMinutes(1)));
        for (int i = 0; i < ROUNDS; i++) {
            for (int k = 0; k < others.size(); k++) {
                Delivery<String> d = oneDelivery("m" + i + "-" + k);
                boolean ackFirst = (i & 1) == 0;
                Mono<Void> ack = d.ack();
                Mono<Void> other = others.get(k).apply(d);
                List<Throwable> r = ackFirst ? race(ack, other) : race(other, ack);
                Throwable ackError = r.get(ackFirst ? 0 : 1);
                Throwable otherError = r.get(ackFirst ? 1 : 0);
                assertThat(ackError == null ^ otherError == null)
                        .as("round %d/%d: exactly one wins (ack: %s, other: %s)", i, k, ackError, otherError)
                        .isTrue();
                Throwable loser = ackError != null ? ackError : otherError;
                assertThat(loser).isInstanceOf(LeaseExpiredException.class);
                assertThat(d.isSettled()).isTrue();
                assertThat(q.core.stats().inFlight()).isZero();
                // a later settlement of either kind agrees with the winner
                if (ackError == null) {
                    d.ack().block(TIMEOUT);
                    assertThat(q.core.stats().ready() + q.core.stats().delayed()).isZero();
                } else {
                    assertThat(catchError(d.ack())).isInstanceOf(LeaseExpiredException.class);
                }
                assertThat(catchError(d.nack())).isInstanceOf(LeaseExpiredException.class);
                q.purge().block(TIMEOUT);
            }
        }
    }

    /**
     * A refresh that took its stats before another refresh and stores them after it must not overwrite the newer
     * snapshot: once a refresh() has completed, the gauges show stats at least as new as its start. The older
     * refresh is held (on this test's own thread, not a Reactor one) between taking its stats and storing them.
     */
    @Test
    void anOlderStatsSnapshotDoesNotOverwriteANewerOne() throws Exception {
        CountDownLatch taken = new CountDownLatch(1);
        CountDownLatch newerDone = new CountDownLatch(1);
        java.util.concurrent.atomic.AtomicReference<Thread> slow = new java.util.concurrent.atomic.AtomicReference<>();
        @SuppressWarnings("unchecked")
        ReactiveQueue<String> view = (ReactiveQueue<String>) java.lang.reflect.Proxy.newProxyInstance(
                getClass().getClassLoader(), new Class<?>[] {ReactiveQueue.class}, (proxy, method, args) -> {
                    Object r = method.invoke(q, args);
                    if (method.getName().equals("stats")) {
                        return ((Mono<?>) r).doOnNext(st -> {
                            if (slow.compareAndSet(Thread.currentThread(), null)) {
                                taken.countDown();
                                try {
                                    assertThat(newerDone.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
                                } catch (InterruptedException e) {
                                    throw new IllegalStateException(e);
                                }
                            }
                        });
                    }
                    return r;
                });
        io.micrometer.core.instrument.MeterRegistry registry =
                new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        RillMetrics metrics = RillMetrics.of(view)
                .refreshEvery(Duration.ofDays(1), reactor.test.scheduler.VirtualTimeScheduler.create());
        try {
            metrics.bindTo(registry);
            Future<?> newer = threads.submit(() -> {
                assertThat(taken.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
                q.send(OutboundMessage.of("x")).block(TIMEOUT);
                metrics.refresh().block(TIMEOUT);
                newerDone.countDown();
                return null;
            });
            slow.set(Thread.currentThread());
            metrics.refresh().block(TIMEOUT); // takes stats (empty queue), waits for the newer refresh, stores
            newer.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            assertThat(registry.get(RillMetrics.READY).gauge().value()).isEqualTo(1.0);
        } finally {
            metrics.dispose();
        }
    }

    private static Throwable catchError(Mono<Void> m) {
        try {
            m.block(TIMEOUT);
            return null;
        } catch (Throwable t) {
            return t;
        }
    }
}
