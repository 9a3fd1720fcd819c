package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Four threads each send, receive and acknowledge on one {@link MessageQueue}; every message must be acknowledged
 * exactly once (an acknowledgment that returns {@link LeaseOutcome#OK} counts, a {@code STALE} one must not have
 * deleted anything) and the queue must end empty.
 *
 * <p>Two clocks: a fixed one (leases never run out, so no ack may be stale) and a shared logical clock that every
 * loop moves forward, with a 5 ms visibility timeout and half the acks deferred to a later loop, so leases run
 * out, messages are redelivered and old handles go stale. No sleeps: threads start together on a barrier and
 * the test waits on a latch.
 */
class ConcurrencyStressTest {

    private static final int THREADS = 4;

    @Test
    void millionMessagesFixedClockEachAckedOnce() throws Exception {
        Result r = run(1_000_000, false);
        assertThat(r.stale).as("stale acks with a clock that never moves").isZero();
        assertThat(r.stats.expiredLeases()).isZero();
        assertThat(r.stats.delivered()).isEqualTo(1_000_000);
    }

    @Test
    void expiringLeasesRedeliverAndEachMessageIsAckedOnce() throws Exception {
        Result r = run(1_000_000, true);
        // the variant only proves something if leases did run out and old handles were refused
        assertThat(r.stats.expiredLeases()).as("expired leases").isPositive();
        assertThat(r.stale).as("stale acks").isPositive();
        assertThat(r.stats.delivered()).isGreaterThan(1_000_000);
    }

    @Test
    @Tag("heavy")
    void tenMillionMessagesFixedClock() throws Exception {
        Result r = run(10_000_000, false);
        assertThat(r.stale).isZero();
    }

    @Test
    @Tag("heavy")
    void tenMillionMessagesExpiringLeases() throws Exception {
        Result r = run(10_000_000, true);
        assertThat(r.stats.expiredLeases()).isPositive();
    }

    private record Result(QueueStats stats, long stale) {
    }

    private static Result run(int total, boolean expiring) throws Exception {
        int perThread = total / THREADS;
        assertThat(perThread * THREADS).isEqualTo(total);
        QueueSpec spec = QueueSpec.named("stress").capacity(10_000);
        if (expiring) {
            spec = spec.visibilityTimeout(Duration.ofMillis(5));
        }
        MessageQueue<Long> q = MessageQueue.create(spec);
        AtomicLong clock = new AtomicLong();
        AtomicIntegerArray[] ackCounts = new AtomicIntegerArray[THREADS];
        for (int i = 0; i < THREADS; i++) {
            ackCounts[i] = new AtomicIntegerArray(perThread);
        }
        AtomicLong acked = new AtomicLong();
        AtomicLong stale = new AtomicLong();
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        CyclicBarrier start = new CyclicBarrier(THREADS);
        CountDownLatch done = new CountDownLatch(THREADS);
        long t0 = System.nanoTime();

        for (int t = 0; t < THREADS; t++) {
            final int producer = t;
            Thread th = new Thread(() -> {
                try {
                    start.await(1, TimeUnit.MINUTES);
                    work(q, producer, perThread, total, expiring, clock, ackCounts, acked, stale, failures);
                } catch (Throwable e) {
                    failures.add(e);
                    acked.set(Long.MAX_VALUE / 2); // stop the others
                } finally {
                    done.countDown();
                }
            }, "stress-" + t);
            th.setDaemon(true);
            th.start();
        }
        assertThat(done.await(5, TimeUnit.MINUTES)).as("workers finished").isTrue();
        if (!failures.isEmpty()) {
            AssertionError e = new AssertionError(failures.size() + " worker failure(s), first: " + failures.peek());
            failures.forEach(e::addSuppressed);
            throw e;
        }
        QueueStats stats = q.stats();
        assertThat(acked.get()).as("acks that returned OK").isEqualTo(total);
        for (int p = 0; p < THREADS; p++) {
            for (int s = 0; s < perThread; s++) {
                if (ackCounts[p].get(s) != 1) {
                    throw new AssertionError("message " + p + "/" + s + " acked " + ackCounts[p].get(s) + " times");
                }
            }
        }
        assertThat(stats.sent()).isEqualTo(total);
        assertThat(stats.acked()).isEqualTo(total);
        assertThat(stats.size()).as("queue empty at the end").isZero();
        assertThat(q.size()).isZero();
        assertThat(q.receive(1, clock.get() + 1_000_000)).as("nothing comes back later").isEmpty();
        System.out.printf("stress %s: %,d messages, %d threads, %,d ms, delivered %,d, expired leases %,d, stale acks %,d%n",
                expiring ? "expiring" : "fixed-clock", total, THREADS, (System.nanoTime() - t0) / 1_000_000,
                stats.delivered(), stats.expiredLeases(), stale.get());
        return new Result(stats, stale.get());
    }

    private static void work(MessageQueue<Long> q, int producer, int perThread, int total, boolean expiring,
            AtomicLong clock, AtomicIntegerArray[] ackCounts, AtomicLong acked, AtomicLong stale,
            ConcurrentLinkedQueue<Throwable> failures) {
        SplittableRandom rnd = new SplittableRandom(producer);
        List<Lease<Long>> deferred = new ArrayList<>();
        List<Lease<Long>> deferredNext = new ArrayList<>();
        int nextSeq = 0;
        int loops = 0;
        while (acked.get() < total) {
            for (int i = 0; i < 16 && nextSeq < perThread; i++) {
                SendOutcome o = q.send(OutboundMessage.of(((long) producer << 32) | nextSeq), clock.get());
                if (o.status() == SendOutcome.Status.FULL) {
                    break; // make room by consuming
                }
                if (o.status() != SendOutcome.Status.ENQUEUED) {
                    throw new AssertionError("send: " + o);
                }
                nextSeq++;
            }
            List<Lease<Long>> got = q.receive(32, clock.get());
            if (expiring && (++loops & 63) == 0) {
                clock.addAndGet(5); // a full visibility timeout: every deferred lease below is surely over
            }
            // acks deferred by one loop: by then the clock has usually moved past their 5 ms lease
            for (Lease<Long> l : deferred) {
                ack(q, l, clock, ackCounts, acked, stale, expiring);
            }
            deferred.clear();
            List<Lease<Long>> swap = deferred;
            deferred = deferredNext;
            deferredNext = swap;
            for (Lease<Long> l : got) {
                if (expiring && rnd.nextInt(4) == 0) {
                    deferredNext.add(l);
                } else {
                    ack(q, l, clock, ackCounts, acked, stale, expiring);
                }
            }
            if (expiring) {
                clock.addAndGet(1 + rnd.nextInt(2));
            }
            if (got.isEmpty()) {
                Thread.onSpinWait();
            }
        }
    }

    private static void ack(MessageQueue<Long> q, Lease<Long> lease, AtomicLong clock, AtomicIntegerArray[] ackCounts,
            AtomicLong acked, AtomicLong stale, boolean expiring) {
        LeaseOutcome o = q.ack(lease.handle(), clock.get());
        if (o == LeaseOutcome.OK) {
            long payload = lease.payload(); // producer in the high half, sequence in the low half
            int producer = (int) (payload >>> 32);
            int seq = (int) payload;
            int n = ackCounts[producer].incrementAndGet(seq);
            if (n != 1) {
                throw new AssertionError("message " + producer + "/" + seq + " acked OK " + n + " times");
            }
            acked.incrementAndGet();
        } else {
            if (!expiring) {
                throw new AssertionError("stale ack of " + lease.handle() + " with a clock that never moves");
            }
            stale.incrementAndGet();
        }
    }
}
