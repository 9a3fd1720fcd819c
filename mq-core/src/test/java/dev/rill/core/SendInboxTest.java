package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * The lock-free path of plain sends ({@link SendInbox}): a plain send claims its id and capacity with one CAS and
 * the next locked call stores it. These tests check what that must never change: capacity is never exceeded, ids
 * follow FIFO order, nothing sent is lost (also across a close), every call sees every send that returned before
 * it, and the readable/writable edges are never lost, so a consumer and a producer that park on them never hang.
 * No sleeps: threads meet on barriers and the tests wait on latches with generous bounds.
 */
class SendInboxTest {

    private static final long NOW = 1;

    private static Thread started(Runnable r) {
        Thread t = new Thread(r, "inbox-test");
        t.setDaemon(true);
        t.start();
        return t;
    }

    @Test
    void aPushedSendIsSeenByEveryLaterCall() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q"));
        SendOutcome a = q.send(OutboundMessage.of("a"), NOW);
        assertThat(a.status()).isEqualTo(SendOutcome.Status.ENQUEUED);
        assertThat(q.size()).isEqualTo(1);
        assertThat(q.stats().ready()).isEqualTo(1);
        assertThat(q.peek(10)).extracting(Message::payload).containsExactly("a");
        q.send(OutboundMessage.of("b"), NOW);
        assertThat(q.stats().sent()).isEqualTo(2);
        List<Lease<String>> got = q.receive(10, NOW);
        assertThat(got).extracting(Lease::payload).containsExactly("a", "b");
        assertThat(got).extracting(l -> l.message().id()).containsExactly(a.messageId(), a.messageId() + 1);
    }

    @Test
    void pushedAndLockedSendsShareOneIdSequenceInSendOrder() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q"));
        long[] ids = {
            q.send(OutboundMessage.of("plain1"), NOW).messageId(),
            q.send(OutboundMessage.of("dedup").dedupId("d1"), NOW).messageId(), // under the lock
            q.send(OutboundMessage.of("plain2"), NOW).messageId(),
            q.sendAll(List.of(OutboundMessage.of("all1"), OutboundMessage.of("all2")), NOW).get(1).messageId(),
            q.send(OutboundMessage.of("plain3"), NOW).messageId(),
        };
        assertThat(ids).containsExactly(1, 2, 3, 5, 6);
        assertThat(q.send(OutboundMessage.of("again").dedupId("d1"), NOW))
                .isEqualTo(new SendOutcome(SendOutcome.Status.DUPLICATE, 2));
        assertThat(q.receive(10, NOW)).extracting(Lease::payload)
                .containsExactly("plain1", "dedup", "plain2", "all1", "all2", "plain3");
    }

    @Test
    void aFullQueueFreedOnlyByTimersRefusesUnderTheLockWhereTheTimersRun() {
        // a TTL'd message: at its expiry the queue has room again, also for a send that finds it full by the counts
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q").capacity(1));
        q.send(OutboundMessage.of("short-lived").ttl(Duration.ofMillis(5)), 0);
        assertThat(q.send(OutboundMessage.of("plain"), 4)).isEqualTo(SendOutcome.FULL);
        assertThat(q.send(OutboundMessage.of("plain"), 5).status()).isEqualTo(SendOutcome.Status.ENQUEUED);
        assertThat(q.stats().expired()).isEqualTo(1);

        // a lease that runs out past maxDeliveries: its message is dead-lettered, which frees a slot
        Broker b = Broker.create();
        b.declare(QueueSpec.named("dlq"));
        MessageQueue<String> w = b.declare(QueueSpec.named("w").capacity(1).maxDeliveries(1).deadLetterQueue("dlq")
                .visibilityTimeout(Duration.ofMillis(10)));
        w.send(OutboundMessage.of("m"), 0);
        assertThat(w.receive(1, 0)).hasSize(1);
        assertThat(w.send(OutboundMessage.of("n"), 9)).isEqualTo(SendOutcome.FULL);
        assertThat(w.send(OutboundMessage.of("n"), 10).status()).isEqualTo(SendOutcome.Status.ENQUEUED);
        assertThat(b.<String>get("dlq").orElseThrow().size()).isEqualTo(1);
    }

    @Test
    void aFullQueueRefusesWithoutTheLockAndSignalsWritableOnceItHasRoom() {
        MessageQueue<Integer> q = MessageQueue.create(QueueSpec.named("q").capacity(2));
        AtomicInteger writable = new AtomicInteger();
        q.setListener(new QueueListener() {
            @Override
            public void onWritable() {
                writable.incrementAndGet();
            }
        });
        assertThat(q.send(OutboundMessage.of(1), NOW).status()).isEqualTo(SendOutcome.Status.ENQUEUED);
        assertThat(q.send(OutboundMessage.of(2), NOW).status()).isEqualTo(SendOutcome.Status.ENQUEUED);
        assertThat(q.send(OutboundMessage.of(3), NOW)).isEqualTo(SendOutcome.FULL);
        assertThat(q.isFull()).isTrue();
        Lease<Integer> l = q.receive(1, NOW).get(0);
        assertThat(writable).hasValue(0); // leased messages still count against capacity
        assertThat(q.ack(l.handle(), NOW)).isEqualTo(LeaseOutcome.OK);
        assertThat(writable).hasValue(1);
        assertThat(q.send(OutboundMessage.of(3), NOW).status()).isEqualTo(SendOutcome.Status.ENQUEUED);
        assertThat(q.send(OutboundMessage.of(4), NOW)).isEqualTo(SendOutcome.FULL);
    }

    @Test
    void aPushSignalsReadableOnlyWhenTheQueueHadNothingReady() {
        MessageQueue<Integer> q = MessageQueue.create(QueueSpec.named("q"));
        AtomicInteger readable = new AtomicInteger();
        q.setListener(new QueueListener() {
            @Override
            public void onReadable() {
                readable.incrementAndGet();
            }
        });
        q.send(OutboundMessage.of(1), NOW);
        assertThat(readable).hasValue(1);
        q.send(OutboundMessage.of(2), NOW);
        assertThat(readable).as("the queue already had something ready").hasValue(1);
        List<Lease<Integer>> got = q.receive(2, NOW);
        assertThat(got).hasSize(2);
        q.send(OutboundMessage.of(3), NOW);
        assertThat(readable).as("empty again: a new edge").hasValue(2);
        q.receive(1, NOW);
        q.send(OutboundMessage.of(4).dedupId("x"), NOW); // a send under the lock signals the same edge
        assertThat(readable).hasValue(3);
    }

    @Test
    void concurrentPushesNeverExceedCapacityAndIdsFollowFifoOrder() throws Exception {
        int capacity = 1000;
        int producers = 4;
        MessageQueue<Integer> q = MessageQueue.create(QueueSpec.named("q").capacity(capacity));
        CyclicBarrier start = new CyclicBarrier(producers);
        AtomicInteger enqueued = new AtomicInteger();
        AtomicInteger full = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        for (int t = 0; t < producers; t++) {
            int base = t * 1_000_000;
            threads.add(started(() -> {
                try {
                    start.await(30, TimeUnit.SECONDS);
                    for (int i = 0; i < 2_000; i++) {
                        SendOutcome o = q.send(OutboundMessage.of(base + i), NOW);
                        (o.status() == SendOutcome.Status.ENQUEUED ? enqueued : full).incrementAndGet();
                    }
                } catch (Throwable e) {
                    failure.set(e);
                }
            }));
        }
        for (Thread t : threads) {
            t.join(60_000);
        }
        assertThat(failure.get()).isNull();
        assertThat(enqueued).hasValue(capacity);
        assertThat(full).hasValue(producers * 2_000 - capacity);
        assertThat(q.size()).isEqualTo(capacity);
        List<Lease<Integer>> got = q.receive(capacity + 1, NOW);
        assertThat(got).hasSize(capacity);
        long[] lastPerProducer = new long[producers];
        for (int i = 0; i < got.size(); i++) {
            assertThat(got.get(i).message().id()).as("ids in delivery order").isEqualTo(i + 1);
            int p = got.get(i).payload() / 1_000_000;
            int seq = got.get(i).payload() % 1_000_000;
            assertThat(seq).as("each producer's sends in its order").isGreaterThanOrEqualTo((int) lastPerProducer[p]);
            lastPerProducer[p] = seq + 1;
        }
    }

    @Test
    void plainAndLockedSendsFromManyThreadsLoseNothing() throws Exception {
        for (int round = 0; round < 20; round++) {
            MessageQueue<Integer> q = MessageQueue.create(QueueSpec.named("q").capacity(1_000_000));
            int threads = 3;
            int each = 5_000;
            CyclicBarrier start = new CyclicBarrier(threads);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                boolean locked = t == 0; // one thread sends under the lock (dedup ids), two push
                int base = t * 1_000_000;
                ts.add(started(() -> {
                    try {
                        start.await(30, TimeUnit.SECONDS);
                        for (int i = 0; i < each; i++) {
                            OutboundMessage<Integer> m = OutboundMessage.of(base + i);
                            SendOutcome o = q.send(locked ? m.dedupId("d" + i) : m, NOW);
                            if (o.status() != SendOutcome.Status.ENQUEUED) {
                                throw new AssertionError("send reported " + o);
                            }
                        }
                    } catch (Throwable e) {
                        failure.set(e);
                    }
                }));
            }
            for (Thread t : ts) {
                t.join(60_000);
            }
            assertThat(failure.get()).isNull();
            List<Lease<Integer>> got = q.receive(threads * each + 1, NOW);
            assertThat(got).as("round " + round).hasSize(threads * each);
            int[] next = new int[threads];
            for (int i = 0; i < got.size(); i++) {
                assertThat(got.get(i).message().id()).isEqualTo(i + 1);
                int p = got.get(i).payload() / 1_000_000;
                assertThat(got.get(i).payload() % 1_000_000).isEqualTo(next[p]++);
            }
        }
    }

    @Test
    void closeKeepsEverySendThatReturnedEnqueued() throws Exception {
        for (int round = 0; round < 20; round++) {
            MessageQueue<Integer> q = MessageQueue.create(QueueSpec.named("q").capacity(1_000_000));
            int producers = 3;
            CyclicBarrier start = new CyclicBarrier(producers + 1);
            AtomicLong enqueued = new AtomicLong();
            AtomicLong afterClose = new AtomicLong();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < producers; t++) {
                threads.add(started(() -> {
                    try {
                        start.await(30, TimeUnit.SECONDS);
                        for (int i = 0; ; i++) {
                            boolean wasClosed = q.isClosed();
                            SendOutcome o = q.send(OutboundMessage.of(i), NOW);
                            if (o == SendOutcome.CLOSED) {
                                return;
                            }
                            if (o.status() != SendOutcome.Status.ENQUEUED) {
                                throw new AssertionError("send reported " + o);
                            }
                            enqueued.incrementAndGet();
                            if (wasClosed) {
                                afterClose.incrementAndGet();
                            }
                        }
                    } catch (Throwable e) {
                        failure.set(e);
                    }
                }));
            }
            start.await(30, TimeUnit.SECONDS);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (q.stats().sent() < 1_000 && failure.get() == null) {
                assertThat(System.nanoTime()).as("producers made progress").isLessThan(deadline);
                Thread.onSpinWait();
            }
            q.close();
            for (Thread t : threads) {
                t.join(60_000);
                assertThat(t.isAlive()).isFalse();
            }
            assertThat(failure.get()).isNull();
            assertThat(afterClose).as("sends that started after the close returned").hasValue(0);
            assertThat(q.size()).as("round " + round).isEqualTo(enqueued.get());
            assertThat(q.stats().sent()).isEqualTo(enqueued.get());
        }
    }

    /**
     * One producer and one consumer, one message at a time, each parking when it must wait and woken only by the
     * queue's edges: a lost readable or writable edge hangs this test (and the latch times out).
     */
    @Test
    void parkingProducerAndConsumerNeverMissAnEdge() throws Exception {
        for (int capacity : new int[] {1, 8, 1024}) {
            int n = capacity == 1 ? 50_000 : 200_000; // capacity 1 parks a side for nearly every message
            MessageQueue<Integer> q = MessageQueue.create(QueueSpec.named("q").capacity(capacity));
            AtomicReference<Thread> parkedProducer = new AtomicReference<>();
            AtomicReference<Thread> parkedConsumer = new AtomicReference<>();
            q.setListener(new QueueListener() {
                @Override
                public void onReadable() {
                    Thread t = parkedConsumer.get();
                    if (t != null) {
                        LockSupport.unpark(t);
                    }
                }

                @Override
                public void onWritable() {
                    Thread t = parkedProducer.get();
                    if (t != null) {
                        LockSupport.unpark(t);
                    }
                }
            });
            CountDownLatch done = new CountDownLatch(2);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            AtomicLong nextExpected = new AtomicLong();
            Thread producer = started(() -> {
                try {
                    for (int i = 0; i < n; i++) {
                        OutboundMessage<Integer> m = OutboundMessage.of(i);
                        if (q.send(m, NOW).status() != SendOutcome.Status.ENQUEUED) {
                            parkedProducer.set(Thread.currentThread());
                            while (q.send(m, NOW).status() != SendOutcome.Status.ENQUEUED) {
                                LockSupport.park(this);
                            }
                            parkedProducer.set(null);
                        }
                    }
                } catch (Throwable e) {
                    failure.set(e);
                } finally {
                    done.countDown();
                }
            });
            Thread consumer = started(() -> {
                try {
                    for (int i = 0; i < n; i++) {
                        List<Lease<Integer>> got = q.receive(1, NOW);
                        if (got.isEmpty()) {
                            parkedConsumer.set(Thread.currentThread());
                            while ((got = q.receive(1, NOW)).isEmpty()) {
                                LockSupport.park(this);
                            }
                            parkedConsumer.set(null);
                        }
                        Lease<Integer> l = got.get(0);
                        if (l.payload() != nextExpected.getAndIncrement()) {
                            throw new AssertionError("got " + l.payload() + ", expected " + (nextExpected.get() - 1));
                        }
                        if (q.ack(l.handle(), NOW) != LeaseOutcome.OK) {
                            throw new AssertionError("stale ack of " + l.payload());
                        }
                    }
                } catch (Throwable e) {
                    failure.set(e);
                } finally {
                    done.countDown();
                }
            });
            assertThat(done.await(120, TimeUnit.SECONDS)).as("capacity " + capacity + ": both sides finished")
                    .isTrue();
            assertThat(failure.get()).isNull();
            assertThat(nextExpected).hasValue(n);
            assertThat(q.size()).isZero();
            producer.join(60_000);
            consumer.join(60_000);
            assertThat(producer.isAlive() || consumer.isAlive()).isFalse();
        }
    }

    @Test
    void aLongBurstOfPlainSendsLeavesAtMostMaxPendingUnstored() {
        MessageQueue<Integer> q = MessageQueue.create(QueueSpec.named("q").capacity(100_000));
        for (int i = 0; i < 10_000; i++) {
            assertThat(q.send(OutboundMessage.of(i), NOW).status()).isEqualTo(SendOutcome.Status.ENQUEUED);
            assertThat(q.undrainedPushes()).isLessThanOrEqualTo(SendInbox.MAX_PENDING);
        }
        assertThat(q.undrainedPushes()).isPositive(); // the sends did skip the lock
        assertThat(q.size()).isEqualTo(10_000);
        assertThat(q.undrainedPushes()).isZero();
        List<Lease<Integer>> got = q.receive(10_000, NOW);
        for (int i = 0; i < got.size(); i++) {
            assertThat(got.get(i).payload()).isEqualTo(i);
            assertThat(got.get(i).message().id()).isEqualTo(i + 1);
        }
    }

    @Test
    void drainedPushesAreNotKeptAlive() {
        MessageQueue<Object> q = MessageQueue.create(QueueSpec.named("q"));
        List<WeakReference<Object>> refs = new ArrayList<>();
        for (int i = 0; i < 1_000; i++) {
            Object payload = new Object();
            refs.add(new WeakReference<>(payload));
            q.send(OutboundMessage.of(payload), NOW);
        }
        List<Lease<Object>> got = q.receive(1_000, NOW); // drains all pushes in one batch
        assertThat(q.ackAll(got.stream().map(Lease::handle).toList(), NOW)).containsOnly(LeaseOutcome.OK);
        got = null;
        // the inbox's head (and the node below it) may keep the newest two messages; nothing older
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            System.gc();
            assertThat(refs.subList(0, 998)).allMatch(r -> r.get() == null);
        });
    }

    @Test
    void pushedSendsRunDueTimersAtTheirOwnTimeFirst() {
        // a delayed message due at 5 and a plain send at 6: as under the lock, the delayed one becomes ready first
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q"));
        q.send(OutboundMessage.of("delayed").delay(Duration.ofMillis(4)), 1);
        q.send(OutboundMessage.of("plain"), 6);
        assertThat(q.receive(10, 6)).extracting(Lease::payload).containsExactly("delayed", "plain");
    }

    @Test
    void aPushedMessageCarriesItsSendersTime() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q"));
        q.send(OutboundMessage.of("a"), 40);
        assertThat(q.receive(1, 50).get(0).message().timestamp()).isEqualTo(40);
    }
}
