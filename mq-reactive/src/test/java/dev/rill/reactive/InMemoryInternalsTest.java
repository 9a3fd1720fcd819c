package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;
import reactor.test.scheduler.VirtualTimeScheduler;

/** In-memory specifics the contract cannot see: waiter bookkeeping and the one timer per queue. */
class InMemoryInternalsTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private final VirtualTimeScheduler vts = VirtualTimeScheduler.create();
    private final ReactiveBroker broker = Rill.inMemory(vts);

    @AfterEach
    void close() {
        broker.close().block(TIMEOUT);
        vts.dispose();
    }

    private InMemoryQueue<String> queue(QueueSpec spec) {
        return (InMemoryQueue<String>) broker.queue(spec, Codec.utf8()).block(TIMEOUT);
    }

    @Test
    void cancellingAWaitingSendRemovesItsWaiter() {
        InMemoryQueue<String> q = queue(QueueSpec.named("w").capacity(1));
        q.send(OutboundMessage.of("a")).block(TIMEOUT);
        Disposable waiting = q.send(OutboundMessage.of("b")).subscribe();
        assertThat(q.writers.size()).isEqualTo(1);
        waiting.dispose();
        assertThat(q.writers.size()).isZero();
    }

    @Test
    void cancellingAnIdleReceiveRemovesItsWaiter() {
        InMemoryQueue<String> q = queue(QueueSpec.named("r"));
        Disposable d = q.receive().subscribe();
        assertThat(q.readers.size()).isEqualTo(1);
        d.dispose();
        assertThat(q.readers.size()).isZero();
    }

    @Test
    void theReadableEdgeWakesOnlyAsManyIdleReceiversAsThereAreMessages() {
        InMemoryQueue<String> q = queue(QueueSpec.named("herd"));
        List<String> got = new CopyOnWriteArrayList<>();
        List<Disposable> subs = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            subs.add(q.receive().flatMap(d -> d.ack().thenReturn(d.payload())).subscribe(got::add));
        }
        assertThat(q.readers.size()).isEqualTo(50);

        q.send(OutboundMessage.of("one")).block(TIMEOUT);
        // the oldest waiter leased it, found the queue empty again and re-registered; nobody else was woken
        assertThat(got).containsExactly("one");
        assertThat(q.readers.size()).isEqualTo(50);

        // a batch of 3: one edge; each woken receiver (demand unbounded, no prefetch) leases what is there
        q.core.sendAll(List.of(OutboundMessage.of("a"), OutboundMessage.of("b"), OutboundMessage.of("c")), q.now());
        assertThat(got).containsExactly("one", "a", "b", "c");
        assertThat(q.readers.size()).isEqualTo(50);
        subs.forEach(Disposable::dispose);
        assertThat(q.readers.size()).isZero();
    }

    @Test
    void receiversWithDemandOneEachAreAllServedFromOneEdge() {
        InMemoryQueue<String> q = queue(QueueSpec.named("ones"));
        int n = 40;
        List<String> got = new CopyOnWriteArrayList<>();
        for (int i = 0; i < n; i++) {
            q.receive(ReceiveOptions.defaults().maxMessages(1)).subscribe(d -> got.add(d.payload()));
        }
        List<OutboundMessage<String>> batch = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            batch.add(OutboundMessage.of("m" + i));
        }
        // one readable edge: each woken receiver leases the one it asked for in full, so the next is woken too
        q.core.sendAll(batch, q.now());
        assertThat(got).hasSize(n).doesNotHaveDuplicates();
        assertThat(q.readers.size()).isZero();
        assertThat(q.core.stats().ready()).isZero();
    }

    @Test
    void aCancelledReceiverPassesTheWakeUpOn() {
        InMemoryQueue<String> q = queue(QueueSpec.named("pass"));
        Disposable first = q.receive().subscribe();
        List<String> got = new CopyOnWriteArrayList<>();
        q.receive().subscribe(d -> got.add(d.payload()));
        first.dispose();
        q.send(OutboundMessage.of("x")).block(TIMEOUT);
        assertThat(got).containsExactly("x");
    }

    @Test
    void aReceiverBlockedByMaxUnackedPassesTheWakeUpOn() {
        InMemoryQueue<String> q = queue(QueueSpec.named("unacked"));
        List<Delivery<String>> held = new CopyOnWriteArrayList<>();
        q.receive(ReceiveOptions.defaults().maxUnacked(1)).subscribe(held::add);
        List<String> other = new CopyOnWriteArrayList<>();
        q.receive().subscribe(d -> other.add(d.payload()));
        q.send(OutboundMessage.of("1")).block(TIMEOUT);
        assertThat(held).hasSize(1);
        // the first receiver holds its one unacked delivery and has re-registered to wait; "2" must reach the other
        q.send(OutboundMessage.of("2")).block(TIMEOUT);
        assertThat(other).containsExactly("2");
    }

    @Test
    void competingReceiversOnManyThreadsLoseNoWakeUp() throws Exception {
        // real threads (not virtual time): producers send in bursts separated by empty moments, so the readable edge
        // fires again and again while receivers register, are woken and re-register concurrently
        ReactiveBroker real = Rill.inMemory();
        try {
            ReactiveQueue<String> q = real.queue(QueueSpec.named("race"), Codec.utf8()).block(TIMEOUT);
            int consumers = 64;
            int producers = 2;
            int perProducer = 20_000;
            int total = producers * perProducer;
            AtomicInteger acked = new AtomicInteger();
            CountDownLatch done = new CountDownLatch(1);
            ConcurrentHashMap<String, Boolean> seen = new ConcurrentHashMap<>();
            AtomicInteger duplicates = new AtomicInteger();
            List<Disposable> subs = new ArrayList<>();
            for (int c = 0; c < consumers; c++) {
                ReceiveOptions o = c % 2 == 0 ? ReceiveOptions.defaults() : ReceiveOptions.defaults().maxUnacked(3);
                subs.add(q.receive(o).limitRate(1 + c % 7).flatMap(d -> d.ack().thenReturn(d.payload()), 4)
                        .subscribe(p -> {
                            if (seen.putIfAbsent(p, Boolean.TRUE) != null) {
                                duplicates.incrementAndGet();
                            }
                            if (acked.incrementAndGet() == total) {
                                done.countDown();
                            }
                        }));
            }
            Scheduler pool = Schedulers.newParallel("race-producer", producers);
            try {
                for (int p = 0; p < producers; p++) {
                    int base = p * perProducer;
                    Flux.range(0, perProducer / 10)
                            .concatMap(burst -> q.sendMany(Flux.range(0, 10)
                                    .map(i -> OutboundMessage.of("m" + (base + burst * 10 + i)))))
                            .subscribeOn(pool)
                            .subscribe();
                }
                assertThat(done.await(60, TimeUnit.SECONDS))
                        .as("acked %d of %d", acked.get(), total).isTrue();
            } finally {
                pool.dispose();
                subs.forEach(Disposable::dispose);
            }
            assertThat(duplicates.get()).isZero();
            assertThat(seen).hasSize(total);
        } finally {
            real.close().block(TIMEOUT);
        }
    }

    @Test
    void receiversWithBoundedWantsAreAllServedWhileProducersRace() throws Exception {
        // only wake-ups can serve these receivers (each wants exactly 3 messages, leases up to what is left of that
        // and re-registers when it finds the queue empty), so a wake-up lost while receivers register, are woken and
        // lease on several threads at once leaves one waiting for good
        ReactiveBroker real = Rill.inMemory();
        Scheduler pool = Schedulers.newParallel("bounded-producer", 2);
        try {
            ReactiveQueue<String> q = real.queue(QueueSpec.named("bounded-race"), Codec.utf8()).block(TIMEOUT);
            int receivers = 32;
            int each = 3;
            for (int round = 0; round < 200; round++) {
                CountDownLatch served = new CountDownLatch(receivers);
                for (int i = 0; i < receivers; i++) {
                    q.receive(ReceiveOptions.defaults().maxMessages(each))
                            .flatMap(Delivery::ack)
                            .subscribe(null, e -> { }, served::countDown);
                }
                int r = round;
                int perProducer = receivers * each / 2;
                for (int p = 0; p < 2; p++) {
                    int base = p * perProducer;
                    Flux.range(0, perProducer)
                            .concatMap(i -> q.send(OutboundMessage.of(r + ":" + (base + i))))
                            .subscribeOn(pool)
                            .subscribe();
                }
                assertThat(served.await(30, TimeUnit.SECONDS))
                        .as("round %d: %d receivers still waiting, stats %s", round, served.getCount(),
                                q.stats().block(TIMEOUT))
                        .isTrue();
            }
            assertThat(q.stats().block(TIMEOUT).ready()).isZero();
        } finally {
            pool.dispose();
            real.close().block(TIMEOUT);
        }
    }

    @Test
    void theWritableEdgeWakesOnlyAsManyWaitingSendersAsThereIsRoom() {
        InMemoryQueue<String> q = queue(QueueSpec.named("senders").capacity(2));
        q.send(OutboundMessage.of("a")).block(TIMEOUT);
        q.send(OutboundMessage.of("b")).block(TIMEOUT);
        List<String> sent = new CopyOnWriteArrayList<>();
        List<Disposable> waiting = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            waiting.add(q.send(OutboundMessage.of("w" + i)).subscribe(r -> sent.add(r.message().payload())));
        }
        assertThat(q.writers.size()).isEqualTo(50);
        q.receiveOne(Duration.ZERO).flatMap(Delivery::ack).block(TIMEOUT);
        // the oldest waiting send stored its message; the next found the queue full again and went back to wait
        assertThat(sent).containsExactly("w0");
        assertThat(q.writers.size()).isEqualTo(49);
        q.receive(ReceiveOptions.defaults().maxMessages(2)).concatMap(Delivery::ack).blockLast(TIMEOUT);
        assertThat(sent).containsExactly("w0", "w1", "w2");
        // a cancelled waiting send passes the wake-up on
        waiting.get(3).dispose();
        q.receiveOne(Duration.ZERO).flatMap(Delivery::ack).block(TIMEOUT);
        assertThat(sent).containsExactly("w0", "w1", "w2", "w4");
        waiting.forEach(Disposable::dispose);
        assertThat(q.writers.size()).isZero();
    }

    @Test
    void waitingSendersOnManyThreadsAreAllServedAsConsumersFreeRoom() throws Exception {
        ReactiveBroker real = Rill.inMemory();
        Scheduler senders = Schedulers.newParallel("race-sender", 2);
        try {
            ReactiveQueue<String> q = real.queue(QueueSpec.named("send-race").capacity(4), Codec.utf8()).block(TIMEOUT);
            int total = 20_000;
            CountDownLatch allSent = new CountDownLatch(total);
            ConcurrentHashMap<String, Boolean> received = new ConcurrentHashMap<>();
            AtomicInteger duplicates = new AtomicInteger();
            CountDownLatch allReceived = new CountDownLatch(total);
            for (int c = 0; c < 3; c++) {
                q.receive().limitRate(1 + c).flatMap(d -> d.ack().thenReturn(d.payload()), 2).subscribe(p -> {
                    if (received.putIfAbsent(p, Boolean.TRUE) != null) {
                        duplicates.incrementAndGet();
                    }
                    allReceived.countDown();
                });
            }
            // single sends (many waiting at once) and a sendMany compete for the 4 slots
            Flux.range(0, total / 2)
                    .flatMap(i -> q.send(OutboundMessage.of("s" + i)).subscribeOn(senders), 64)
                    .subscribe(r -> allSent.countDown());
            q.sendMany(Flux.range(0, total / 2).map(i -> OutboundMessage.of("m" + i)))
                    .subscribeOn(senders)
                    .subscribe(r -> allSent.countDown());
            assertThat(allSent.await(60, TimeUnit.SECONDS)).as("%d sends still waiting", allSent.getCount())
                    .isTrue();
            assertThat(allReceived.await(60, TimeUnit.SECONDS)).as("%d not received", allReceived.getCount())
                    .isTrue();
            assertThat(duplicates.get()).isZero();
            assertThat(received).hasSize(total);
        } finally {
            senders.dispose();
            real.close().block(TIMEOUT);
        }
    }

    @Test
    void aWaitingSendIsWokenByTheWritableEdgeAndUnregisters() {
        InMemoryQueue<String> q = queue(QueueSpec.named("edge").capacity(1));
        q.send(OutboundMessage.of("a")).block(TIMEOUT);
        SendResult<String>[] result = new SendResult[1];
        q.send(OutboundMessage.of("b")).subscribe(r -> result[0] = r);
        assertThat(result[0]).isNull();
        q.receiveOne(Duration.ZERO).flatMap(Delivery::ack).block(TIMEOUT);
        assertThat(result[0]).isNotNull();
        assertThat(q.writers.size()).isZero();
    }

    @Test
    void oneTimerAtTheQueuesNextDeadline() {
        InMemoryQueue<String> q = queue(QueueSpec.named("t").visibilityTimeout(Duration.ofSeconds(30)));
        assertThat(q.timer.scheduledAt()).isEqualTo(Long.MAX_VALUE); // nothing pending, nothing scheduled
        q.send(OutboundMessage.of("a")).block(TIMEOUT);
        assertThat(q.timer.scheduledAt()).isEqualTo(Long.MAX_VALUE);
        q.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(q.timer.scheduledAt()).isEqualTo(30_000);
        q.send(OutboundMessage.of("b").delay(Duration.ofSeconds(5))).block(TIMEOUT);
        assertThat(q.timer.scheduledAt()).isEqualTo(5_000);
        vts.advanceTimeBy(Duration.ofSeconds(5));
        assertThat(q.timer.scheduledAt()).isEqualTo(30_000);
        assertThat(q.core.nextDeadline()).isEqualTo(30_000);
        vts.advanceTimeBy(Duration.ofSeconds(25));
        assertThat(q.timer.scheduledAt()).isEqualTo(Long.MAX_VALUE);
        assertThat(vts.now(TimeUnit.MILLISECONDS)).isEqualTo(30_000);
    }
}
