package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.SendOutcome.Status;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The broker-wide memory budget ({@link BrokerOptions#memoryBudget(long)}) shared by a broker's queues. */
class MemoryBudgetTest {

    private static final int OVERHEAD = BrokerOptions.MESSAGE_OVERHEAD_BYTES;
    /** What a 100-byte payload counts. */
    private static final long M = 100 + OVERHEAD;

    private final ExecutorService other = Executors.newCachedThreadPool();

    @TempDir
    Path dir;

    @AfterEach
    void stop() throws InterruptedException {
        other.shutdownNow();
        assertThat(other.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }

    private static Broker broker(long budget) {
        return Broker.create(BrokerOptions.defaults().memoryBudget(budget));
    }

    private static OutboundMessage<byte[]> msg(int size) {
        return OutboundMessage.of(new byte[size]);
    }

    /** Counts writable edges; optionally runs a check on each. */
    private static final class Writable implements QueueListener {
        final AtomicInteger count = new AtomicInteger();
        volatile Runnable check = () -> { };

        @Override
        public void onWritable() {
            check.run();
            count.incrementAndGet();
        }
    }

    @Test
    void optionsAreImmutableAndValidated() {
        BrokerOptions d = BrokerOptions.defaults();
        BrokerOptions b = d.memoryBudget(1 << 20);
        assertThat(d.memoryBudget()).isEmpty();
        assertThat(b.memoryBudget()).hasValue(1 << 20);
        assertThat(b.noMemoryBudget().memoryBudget()).isEmpty();
        assertThatThrownBy(() -> d.memoryBudget(OVERHEAD)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("memoryBudget must be > 128").hasMessageContaining("was 128");
        assertThat(Broker.create().memoryBudget()).isEmpty();
        assertThat(broker(4096).memoryBudget()).hasValue(4096);
    }

    @Test
    void plainSendsOnTheLockFreePathAreRefusedFullAtTheBudget() {
        Broker b = broker(3 * M);
        MessageQueue<byte[]> a = b.declare(QueueSpec.named("a")); // a ring queue without maxBytes: the send inbox
        MessageQueue<byte[]> c = b.declare(QueueSpec.named("c"));
        assertThat(a.send(msg(100), 0).status()).isEqualTo(Status.ENQUEUED);
        assertThat(c.send(msg(100), 0).status()).isEqualTo(Status.ENQUEUED);
        assertThat(a.send(msg(100), 0).status()).isEqualTo(Status.ENQUEUED);
        assertThat(c.send(msg(100), 0).status()).isEqualTo(Status.FULL);
        assertThat(a.send(msg(0), 0).status()).isEqualTo(Status.FULL);
        assertThat(b.memoryUsed()).isEqualTo(3 * M);
        assertThat(a.stats().ready() + c.stats().ready()).isEqualTo(3);
        // what was refused left nothing behind: an ack makes room for exactly one more
        Lease<byte[]> l = c.receive(1, 0).get(0);
        assertThat(c.ack(l, 0)).isEqualTo(LeaseOutcome.OK);
        assertThat(b.memoryUsed()).isEqualTo(2 * M);
        assertThat(a.send(msg(100), 0).status()).isEqualTo(Status.ENQUEUED);
        assertThat(a.send(msg(0), 0).status()).isEqualTo(Status.FULL);
    }

    @Test
    void sendsUnderTheLockAreRefusedToo() {
        Broker b = broker(2 * M);
        // each of these takes the locked path: a byte limit, a key-ordered queue, a TTL, a priority, a dedup id
        MessageQueue<byte[]> limited = b.declare(QueueSpec.named("limited").maxBytes(1 << 20));
        MessageQueue<byte[]> keyed = b.declare(QueueSpec.named("keyed").ordering(Ordering.KEY_ORDERED));
        assertThat(limited.send(msg(100), 0).status()).isEqualTo(Status.ENQUEUED);
        assertThat(keyed.send(msg(100).key("k"), 0).status()).isEqualTo(Status.ENQUEUED);
        assertThat(limited.send(msg(100).priority(3), 0).status()).isEqualTo(Status.FULL);
        assertThat(keyed.send(msg(1).dedupId("d"), 0).status()).isEqualTo(Status.FULL);
        assertThat(limited.send(msg(1).ttl(Duration.ofSeconds(1)), 0).status()).isEqualTo(Status.FULL);
        assertThat(b.memoryUsed()).isEqualTo(2 * M);
    }

    @Test
    void emptyMessagesAreBoundedByTheirOverhead() {
        Broker b = broker(10 * OVERHEAD);
        MessageQueue<byte[]> q = b.declare(QueueSpec.named("q"));
        for (int i = 0; i < 10; i++) {
            assertThat(q.send(msg(0), 0).status()).isEqualTo(Status.ENQUEUED);
        }
        assertThat(q.send(msg(0), 0).status()).isEqualTo(Status.FULL);
        assertThat(b.memoryUsed()).isEqualTo(10L * OVERHEAD);
    }

    @Test
    void sendAllAndOfferAllStopAtTheBudgetInOrder() {
        Broker b = broker(3 * M);
        MessageQueue<byte[]> q = b.declare(QueueSpec.named("q"));
        List<OutboundMessage<byte[]>> five = List.of(msg(100), msg(100), msg(100), msg(0), msg(0));
        List<SendOutcome> out = q.sendAll(five.subList(0, 2), 0);
        assertThat(out).extracting(SendOutcome::status).containsOnly(Status.ENQUEUED);
        out = q.sendAll(five.subList(2, 5), 0);
        assertThat(out).extracting(SendOutcome::status).containsExactly(Status.ENQUEUED, Status.FULL, Status.FULL);
        assertThat(b.memoryUsed()).isEqualTo(3 * M);
        q.ack(q.receive(1, 0).get(0), 0);
        q.ack(q.receive(1, 0).get(0), 0);
        assertThat(q.offerAll(five, 0)).isEqualTo(2);
        assertThat(b.memoryUsed()).isEqualTo(3 * M);
        assertThat(q.stats().ready()).isEqualTo(3);
    }

    @Test
    void aPayloadBiggerThanTheWholeBudgetIsRefusedOnEveryPathNamingBoth() {
        Broker b = broker(1000);
        MessageQueue<byte[]> q = b.declare(QueueSpec.named("q"));
        String expected = "queue 'q': payload of 900 bytes (+128 per message) exceeds the broker's memory budget of"
                + " 1000 bytes";
        assertThatThrownBy(() -> q.send(msg(900), 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(expected);
        assertThatThrownBy(() -> q.send(msg(900).priority(1), 0)).hasMessage(expected);
        assertThatThrownBy(() -> q.sendAll(List.of(msg(1), msg(900)), 0)).hasMessage(expected);
        assertThatThrownBy(() -> q.offerAll(List.of(msg(900)), 0)).hasMessage(expected);
        assertThat(b.memoryUsed()).isZero();
        assertThat(q.stats().ready()).isZero();
        assertThat(q.send(msg(1000 - OVERHEAD), 0).status()).isEqualTo(Status.ENQUEUED); // exactly the budget fits
    }

    @Test
    void anAckInOneQueueWakesAProducerWaitingOnAnotherOutsideTheAckingQueuesLock() throws Exception {
        Broker b = broker(2 * M);
        MessageQueue<byte[]> a = b.declare(QueueSpec.named("a"));
        MessageQueue<byte[]> c = b.declare(QueueSpec.named("c"));
        Writable cw = new Writable();
        c.setListener(cw);
        a.send(msg(100), 0);
        a.send(msg(100), 0);
        assertThat(c.send(msg(100), 0).status()).isEqualTo(Status.FULL);
        assertThat(c.send(msg(50), 0).status()).isEqualTo(Status.FULL);
        assertThat(cw.count).hasValue(0);
        // the edge runs after a's lock is released: another thread can use a while c's listener runs
        AtomicReference<Throwable> failed = new AtomicReference<>();
        cw.check = () -> {
            try {
                other.submit(() -> a.stats()).get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                failed.set(e);
            }
        };
        Lease<byte[]> l = a.receive(1, 0).get(0);
        assertThat(cw.count).hasValue(0); // a lease frees nothing
        assertThat(a.ack(l, 0)).isEqualTo(LeaseOutcome.OK);
        assertThat(cw.count).hasValue(1);
        assertThat(failed.get()).isNull();
        assertThat(c.send(msg(100), 0).status()).isEqualTo(Status.ENQUEUED);
        // once woken it waits again only after a new refusal: the next ack signals nothing
        a.ack(a.receive(1, 0).get(0), 0);
        assertThat(cw.count).hasValue(1);
    }

    @Test
    void aWaitingQueueIsWokenOnlyWhenItsSmallestRefusedSendFits() {
        Broker b = broker(4 * M);
        MessageQueue<byte[]> a = b.declare(QueueSpec.named("a"));
        MessageQueue<byte[]> c = b.declare(QueueSpec.named("c"));
        Writable cw = new Writable();
        c.setListener(cw);
        for (int i = 0; i < 4; i++) {
            a.send(msg(100), 0);
        }
        assertThat(c.send(msg(300), 0).status()).isEqualTo(Status.FULL); // needs 428: more than one ack frees
        a.ack(a.receive(1, 0).get(0), 0);
        assertThat(cw.count).hasValue(0);
        a.ack(a.receive(1, 0).get(0), 0);
        assertThat(cw.count).hasValue(1);
        assertThat(c.send(msg(300), 0).status()).isEqualTo(Status.ENQUEUED);
    }

    @Test
    void expiryPurgeAndDeleteWakeWaitingQueues() {
        Broker b = broker(M);
        MessageQueue<byte[]> ttl = b.declare(QueueSpec.named("ttl").messageTtl(Duration.ofSeconds(1)));
        MessageQueue<byte[]> c = b.declare(QueueSpec.named("c"));
        Writable cw = new Writable();
        c.setListener(cw);

        ttl.send(msg(100), 0);
        assertThat(c.send(msg(100), 0).status()).isEqualTo(Status.FULL);
        ttl.advance(1_000); // expired: dropped
        assertThat(cw.count).hasValue(1);
        assertThat(b.memoryUsed()).isZero();

        ttl.send(msg(100), 2_000);
        assertThat(c.send(msg(100), 2_000).status()).isEqualTo(Status.FULL);
        ttl.purge(2_000);
        assertThat(cw.count).hasValue(2);
        assertThat(b.memoryUsed()).isZero();

        ttl.send(msg(100), 3_000);
        assertThat(c.send(msg(100), 3_000).status()).isEqualTo(Status.FULL);
        assertThat(b.delete("ttl", 3_000)).isTrue();
        assertThat(cw.count).hasValue(3);
        assertThat(b.memoryUsed()).isZero();
        assertThat(c.send(msg(100), 3_000).status()).isEqualTo(Status.ENQUEUED);
    }

    @Test
    void deadLettersAndRedrivesAreNeverRefusedByTheBudget() {
        Broker b = broker(2 * M);
        MessageQueue<byte[]> q = b.declare(QueueSpec.named("q").maxDeliveries(1).deadLetterQueue("q.dlq")
                .visibilityTimeout(Duration.ofSeconds(1)));
        q.send(msg(100), 0);
        q.send(msg(100), 0);
        assertThat(q.send(msg(0), 0).status()).isEqualTo(Status.FULL);
        List<Lease<byte[]>> ls = q.receive(2, 0);
        assertThat(q.nack(ls.get(0), Duration.ZERO, 0)).isEqualTo(LeaseOutcome.OK); // maxDeliveries: dead letter
        q.advance(1_000); // the other lease expires: dead-lettered too
        MessageQueue<byte[]> dlq = b.<byte[]>get("q.dlq").orElseThrow();
        assertThat(dlq.stats().ready()).isEqualTo(2);
        assertThat(q.stats().ready() + q.stats().inFlight()).isZero();
        assertThat(b.memoryUsed()).isEqualTo(2 * M); // a dead letter counts what its source message counted
        assertThat(b.<byte[]>declare(QueueSpec.named("other")).send(msg(0), 1_000).status()).isEqualTo(Status.FULL);
    }

    @Test
    void redriveAboveTheBudgetLeavesTheBrokerAboveItAndSendsWait() {
        Broker b = broker(2 * M);
        MessageQueue<byte[]> q = b.declare(QueueSpec.named("q").maxDeliveries(1).deadLetterQueue("q.dlq"));
        q.send(msg(100), 0);
        q.reject(q.receive(1, 0).get(0), "bad", 0); // dead letter: 1 message held
        q.send(msg(100), 0); // 2 held: the budget is spent
        MessageQueue<byte[]> dlq = b.<byte[]>get("q.dlq").orElseThrow();
        // the dead letter gains headers but counts the same; redrive moves it although the budget is spent
        assertThat(b.redrive("q.dlq", 10, 0)).isEqualTo(1);
        assertThat(dlq.stats().ready()).isZero();
        assertThat(q.stats().ready()).isEqualTo(2);
        assertThat(b.memoryUsed()).isEqualTo(2 * M);
        assertThat(q.send(msg(0), 0).status()).isEqualTo(Status.FULL);
    }

    @Test
    void recoveredMessagesAreCountedNeverRefusedAndNewSendsWait() throws IOException {
        DurabilityOptions opts = DurabilityOptions.defaults().clock(() -> 0L);
        try (DurableBroker d = DurableBroker.open(dir, opts, BrokerOptions.defaults().memoryBudget(10 * M))) {
            MessageQueue<byte[]> q = d.declare(QueueSpec.named("q"), Codec.bytes());
            for (int i = 0; i < 5; i++) {
                assertThat(q.send(msg(100), 0).status()).isEqualTo(Status.ENQUEUED);
            }
            assertThat(d.broker().memoryUsed()).isEqualTo(5 * M);
            d.whenDurable(d.lastSeq()).orTimeout(30, TimeUnit.SECONDS).join();
        }
        // reopened with a budget smaller than what the log holds: every message comes back
        try (DurableBroker d = DurableBroker.open(dir, opts.declareRecoveredWith(Codec.bytes()),
                BrokerOptions.defaults().memoryBudget(3 * M))) {
            MessageQueue<byte[]> q = d.broker().<byte[]>get("q").orElseThrow();
            assertThat(q.stats().ready()).isEqualTo(5);
            assertThat(d.broker().memoryUsed()).isEqualTo(5 * M);
            assertThat(d.broker().memoryBudget()).hasValue(3 * M);
            assertThat(q.send(msg(0), 0).status()).isEqualTo(Status.FULL);
            for (int i = 0; i < 3; i++) {
                q.ack(q.receive(1, 0).get(0), 0);
            }
            assertThat(d.broker().memoryUsed()).isEqualTo(2 * M);
            assertThat(q.send(msg(100), 0).status()).isEqualTo(Status.ENQUEUED);
            assertThat(q.send(msg(0), 0).status()).isEqualTo(Status.FULL);
        }
    }

    /** Writes queues a (5 × 100 B), b (3 × 100 B) and s (4 UTF-8 strings of 10 chars) to the log in {@code dir}. */
    private void fillLog() throws IOException {
        try (DurableBroker d = DurableBroker.open(dir, DurabilityOptions.defaults().clock(() -> 0L))) {
            MessageQueue<byte[]> a = d.declare(QueueSpec.named("a"), Codec.bytes());
            MessageQueue<byte[]> bq = d.declare(QueueSpec.named("b"), Codec.bytes());
            MessageQueue<String> s = d.declare(QueueSpec.named("s"), Codec.utf8());
            for (int i = 0; i < 5; i++) {
                a.send(msg(100), 0);
            }
            for (int i = 0; i < 3; i++) {
                bq.send(msg(100), 0);
            }
            for (int i = 0; i < 4; i++) {
                s.send(OutboundMessage.of("0123456789"), 0);
            }
            d.whenDurable(d.lastSeq()).orTimeout(30, TimeUnit.SECONDS).join();
        }
    }

    /** The log of {@link #fillLog} opened with a budget of 9 M, and a queue c waiting for it. */
    private record Waiting(DurableBroker durable, Broker broker, MessageQueue<byte[]> c, Writable edges)
            implements AutoCloseable {
        @Override
        public void close() throws IOException {
            durable.close();
        }
    }

    /** Opens {@link #fillLog}'s log with a budget of 9 M, above which c's send of {@code size} bytes is refused. */
    private Waiting openWithAQueueWaiting(int size) throws IOException {
        DurableBroker d = DurableBroker.open(dir, DurabilityOptions.defaults().clock(() -> 0L),
                BrokerOptions.defaults().memoryBudget(9 * M));
        MessageQueue<byte[]> c = d.declare(QueueSpec.named("c"), Codec.bytes());
        Writable cw = new Writable();
        c.setListener(cw);
        assertThat(c.send(msg(size), 0).status()).isEqualTo(Status.FULL);
        return new Waiting(d, d.broker(), c, cw);
    }

    /**
     * A library user opens a log with a backlog and declares only some of its queues: the messages of the others are
     * in memory too (the recovered state, their encoded bytes), and the budget counts them from the open. Declaring
     * such a queue swaps what its recovered state counted for what its queue counts (its decoded payloads: a
     * 10-char string counts 20 bytes, 10 encoded), a purge or delete of one not declared gives its count back (and
     * wakes the queues waiting for it), and once everything is acked the count is 0. Before, the budget counted a
     * recovered queue only once it was declared again: here it read 0 after the open, and sends were let in above it.
     */
    @Test
    void recoveredQueuesNobodyDeclaredAgainAreCountedFromTheOpen() throws IOException {
        fillLog();
        long strings = 4 * (10 + OVERHEAD);
        long stringsDecoded = 4 * (20 + OVERHEAD);
        try (Waiting w = openWithAQueueWaiting(100)) { // 8 M + strings + M > 9 M
            DurableBroker d = w.durable();
            Broker b = w.broker();
            MessageQueue<byte[]> c = w.c();
            assertThat(d.recoveredQueues()).containsExactlyInAnyOrder("a", "b", "s");
            assertThat(b.memoryUsed()).isEqualTo(8 * M + strings);
            assertThat(b.memoryStats().used()).isEqualTo(8 * M + strings);

            MessageQueue<byte[]> a = d.declare(QueueSpec.named("a"), Codec.bytes());
            assertThat(b.memoryUsed()).as("declared again: counted once").isEqualTo(8 * M + strings);
            MessageQueue<String> s = d.declare(QueueSpec.named("s"), Codec.utf8());
            assertThat(b.memoryUsed()).as("as its queue counts it").isEqualTo(8 * M + stringsDecoded);

            assertThat(b.purge("b", 0)).isEqualTo(3); // b is not declared: its recovered state is purged
            assertThat(b.memoryUsed()).isEqualTo(5 * M + stringsDecoded);
            assertThat(w.edges().count).as("the purge woke the queue waiting for the budget").hasValue(1);
            assertThat(c.send(msg(100), 0).status()).isEqualTo(Status.ENQUEUED);
            assertThat(b.delete("b", 0)).isTrue();
            assertThat(b.memoryUsed()).isEqualTo(6 * M + stringsDecoded);

            for (MessageQueue<?> q : List.of(a, s, c)) {
                for (long i = q.size(); i > 0; i--) {
                    assertThat(q.ack(q.receive(1, 0).get(0).handle(), 0)).isEqualTo(LeaseOutcome.OK);
                }
            }
            assertThat(b.memoryUsed()).isZero();
        }
    }

    /**
     * A queue declared again whose queue counts less than its recovered state did (a codec that decodes to a type
     * sized 0) frees bytes: the declaration wakes the queues waiting for them.
     */
    @Test
    void aDeclarationThatCountsLessThanTheRecoveredStateWakesWaitingQueues() throws IOException {
        fillLog();
        try (Waiting w = openWithAQueueWaiting(0)) {
            Codec<List<Integer>> sizedZero = Codec.of(l -> new byte[l.get(0)], bytes -> List.of(bytes.length));
            MessageQueue<List<Integer>> a = w.durable().declare(QueueSpec.named("a"), sizedZero);
            assertThat(w.broker().memoryUsed()).isEqualTo(5L * OVERHEAD + 3 * M + 4 * (10 + OVERHEAD));
            assertThat(w.edges().count).hasValue(1);
            assertThat(w.c().send(msg(0), 0).status()).isEqualTo(Status.ENQUEUED);
            assertThat(a.receive(1, 0).get(0).payload()).containsExactly(100);
        }
    }

    /** A recovered queue deleted before anyone declared it again gives its count back, and wakes a waiting queue. */
    @Test
    void aRecoveredQueueDeletedBeforeItIsDeclaredAgainGivesItsCountBack() throws IOException {
        fillLog();
        try (Waiting w = openWithAQueueWaiting(100)) {
            DurableBroker d = w.durable();
            Broker b = w.broker();
            assertThat(b.delete("a", 0)).isTrue();
            assertThat(b.memoryUsed()).isEqualTo(3 * M + 4 * (10 + OVERHEAD));
            assertThat(w.edges().count).hasValue(1);
            assertThat(w.c().send(msg(100), 0).status()).isEqualTo(Status.ENQUEUED);
            assertThat(b.delete("b", 0)).isTrue();
            assertThat(b.delete("s", 0)).isTrue();
            assertThat(b.memoryUsed()).as("c's message alone").isEqualTo(M);
            assertThat(d.recoveredQueues()).isEmpty();
        }
    }

    /** Without a budget the broker's memory adds the recovered queues not declared again, as the budget does. */
    @Test
    void withoutABudgetMemoryUsedCountsRecoveredQueuesNotDeclaredAgainToo() throws IOException {
        fillLog();
        try (DurableBroker d = DurableBroker.open(dir, DurabilityOptions.defaults().clock(() -> 0L))) {
            Broker b = d.broker();
            assertThat(b.memoryUsed()).isEqualTo(8 * M + 4 * (10 + OVERHEAD));
            d.declare(QueueSpec.named("s"), Codec.utf8());
            assertThat(b.memoryUsed()).isEqualTo(8 * M + 4 * (20 + OVERHEAD));
            b.purge("a", 0);
            assertThat(b.memoryUsed()).isEqualTo(3 * M + 4 * (20 + OVERHEAD));
        }
    }

    @Test
    void withoutABudgetMemoryUsedAddsUpTheQueues() {
        Broker b = Broker.create();
        MessageQueue<byte[]> q = b.declare(QueueSpec.named("q"));
        MessageQueue<String> s = b.declare(QueueSpec.named("s"));
        q.send(msg(100), 0);
        s.send(OutboundMessage.of("abc"), 0);
        q.receive(1, 0);
        assertThat(b.memoryUsed()).isEqualTo(M + 6 + OVERHEAD);
    }

    /**
     * Producers on many queues, on the lock-free path and under the lock at once, with consumers acking: the budget
     * is never exceeded (sends reserve with a CAS that never goes above it), refused producers are woken, and once
     * everything is acked the count is back to zero (nothing charged twice or lost).
     */
    @Test
    void concurrentProducersOnManyQueuesNeverExceedTheBudget() throws Exception {
        int queues = 4;
        int perQueue = 1_000;
        long budget = 20 * M;
        Broker b = broker(budget);
        List<MessageQueue<byte[]>> qs = new ArrayList<>();
        for (int i = 0; i < queues; i++) {
            // odd queues have a byte limit: their sends take the lock; even ones use the send inbox
            qs.add(b.declare(i % 2 == 0 ? QueueSpec.named("q" + i) : QueueSpec.named("q" + i).maxBytes(1 << 30)));
        }
        CountDownLatch start = new CountDownLatch(1);
        AtomicLong maxSeen = new AtomicLong();
        AtomicLong clock = new AtomicLong();
        List<Future<?>> tasks = new ArrayList<>();
        for (MessageQueue<byte[]> q : qs) {
            tasks.add(other.submit(() -> { // producer: one message at a time, retrying on FULL
                start.await();
                int sent = 0;
                while (sent < perQueue) {
                    SendOutcome o = q.send(msg(100), clock.get());
                    if (o.status() == Status.ENQUEUED) {
                        sent++;
                    }
                    maxSeen.accumulateAndGet(b.memoryUsed(), Math::max);
                }
                return null;
            }));
            tasks.add(other.submit(() -> { // consumer: acks everything the producer sends
                start.await();
                int acked = 0;
                while (acked < perQueue) {
                    for (Lease<byte[]> l : q.receive(8, clock.get())) {
                        assertThat(q.ack(l, clock.get())).isEqualTo(LeaseOutcome.OK);
                        acked++;
                    }
                    maxSeen.accumulateAndGet(b.memoryUsed(), Math::max);
                }
                return null;
            }));
        }
        start.countDown();
        for (Future<?> f : tasks) {
            f.get(120, TimeUnit.SECONDS);
        }
        assertThat(maxSeen.get()).isPositive().isLessThanOrEqualTo(budget);
        assertThat(b.memoryUsed()).isZero();
        for (MessageQueue<byte[]> q : qs) {
            assertThat(q.stats().bytes()).isZero();
            assertThat(q.stats().acked()).isEqualTo(perQueue);
        }
    }

    /** Producers that wait for the writable edge (no retry loop): every one is woken and finishes. */
    @Test
    void producersWaitingForTheWritableEdgeAreAllWokenByAcksOfOtherQueues() throws Exception {
        int queues = 4;
        int perQueue = 500;
        Broker b = broker(3 * M);
        List<MessageQueue<byte[]>> qs = new ArrayList<>();
        for (int i = 0; i < queues; i++) {
            qs.add(b.declare(QueueSpec.named("q" + i)));
        }
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> tasks = new ArrayList<>();
        for (MessageQueue<byte[]> q : qs) {
            Semaphore edge = new Semaphore(0);
            q.setListener(new QueueListener() {
                @Override
                public void onWritable() {
                    edge.release();
                }
            });
            tasks.add(other.submit(() -> {
                start.await();
                for (int sent = 0; sent < perQueue; ) {
                    edge.drainPermits(); // before the try: an edge after a refusal is never lost
                    if (q.send(msg(100), 0).status() == Status.ENQUEUED) {
                        sent++;
                    } else {
                        assertThat(edge.tryAcquire(60, TimeUnit.SECONDS)).as("writable edge").isTrue();
                    }
                }
                return null;
            }));
        }
        // one consumer moves every message out of the budget's way: acked in its own queue
        tasks.add(other.submit(() -> {
            start.await();
            int acked = 0;
            while (acked < queues * perQueue) {
                for (MessageQueue<byte[]> q : qs) {
                    for (Lease<byte[]> l : q.receive(4, 0)) {
                        q.ack(l, 0);
                        acked++;
                    }
                }
            }
            return null;
        }));
        start.countDown();
        for (Future<?> f : tasks) {
            f.get(120, TimeUnit.SECONDS);
        }
        assertThat(b.memoryUsed()).isZero();
    }
}
