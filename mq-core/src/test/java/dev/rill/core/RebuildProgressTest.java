package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.log.FsyncPolicy;
import dev.rill.core.log.RebuildProgress;
import dev.rill.core.log.RecoveryListener;
import dev.rill.core.log.RecoveryReport;
import java.lang.management.LockInfo;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * After the log's replay, a broker that declares the recovered queues again (a server's start) says so: the
 * rebuild is not a silent phase after "recovered". {@link RecoveryListener} is told when it begins (queues,
 * messages), how far it got at most every 5 seconds (checked after each queue, and within one) and when it is done. Time comes from
 * the options' nano clock, stepped by hand: no test waits for real time.
 */
class RebuildProgressTest {

    @TempDir
    Path dir;

    /** Every call a listener got, in order. */
    private static final class Recorder implements RecoveryListener {
        final List<String> calls = new ArrayList<>();
        final List<RebuildProgress> rebuild = new ArrayList<>();
        final List<String> lines = new ArrayList<>();
        private final RecoveryListener text = RecoveryListener.lines(lines::add);

        @Override
        public void finished(RecoveryReport r) {
            calls.add("finished");
        }

        @Override
        public void rebuildProgress(RebuildProgress p) {
            calls.add("rebuildProgress");
            rebuild.add(p);
            text.rebuildProgress(p);
        }

        @Override
        public void rebuilt(RebuildProgress p) {
            calls.add("rebuilt");
            rebuild.add(p);
            text.rebuilt(p);
        }
    }

    /** A clock that moves {@code step} seconds each time it is read. */
    private static LongSupplier stepping(long stepSeconds) {
        AtomicLong now = new AtomicLong(TimeUnit.DAYS.toNanos(3));
        return () -> now.getAndAdd(TimeUnit.SECONDS.toNanos(stepSeconds));
    }

    /** Queues a (10 messages, dead-lettering to a.dlq), a.dlq (empty), b (20) and c (30). */
    private void fill() throws Exception {
        DurabilityOptions opts = DurabilityOptions.defaults().fsync(FsyncPolicy.never())
                .recoveryListener(RecoveryListener.none());
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            int n = 10;
            for (QueueSpec spec : List.of(QueueSpec.named("a").deadLetterQueue("a.dlq"), QueueSpec.named("b"),
                    QueueSpec.named("c"))) {
                MessageQueue<String> q = b.declare(spec, Codec.utf8());
                for (int i = 0; i < n; i++) {
                    q.send(OutboundMessage.of("m" + i), 0);
                }
                n += 10;
            }
            b.whenDurable(b.lastSeq()).join();
        }
    }

    @Test
    void aServerStartTellsWhenItRebuildsTheQueuesHowFarItGotAndWhenItIsDone() throws Exception {
        fill();
        Recorder rec = new Recorder();
        // 3 s per read, checked before each queue but the first: begins at t with a (a.dlq first), then b at t+3
        // (not reported: less than 5 s), c at t+6 (reported), done at t+9
        DurabilityOptions opts = DurabilityOptions.defaults().recoveryListener(rec).declareRecoveredWith(Codec.utf8())
                .nanoClock(stepping(3));
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            assertThat(b.recoveredQueues()).isEmpty();
        }
        assertThat(rec.calls).containsExactly("finished", "rebuildProgress", "rebuildProgress", "rebuilt");
        assertThat(rec.rebuild).containsExactly(new RebuildProgress(0, 4, 0, 60, 0),
                new RebuildProgress(3, 4, 30, 60, 6_000), new RebuildProgress(4, 4, 60, 60, 9_000));
        assertThat(rec.lines).containsExactly("rebuilding 4 queues, 60 messages", "rebuilt 3/4 queues, 30/60 messages",
                "rebuilt 4 queues, 60 messages in 9.0 s");
    }

    /** One queue, {@code count} messages of {@code payload}, written and closed. */
    private void fillOne(int count, String payload) throws Exception {
        DurabilityOptions opts = DurabilityOptions.defaults().fsync(FsyncPolicy.never())
                .recoveryListener(RecoveryListener.none());
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            MessageQueue<String> q = b.declare(QueueSpec.named("big"), Codec.utf8());
            for (int i = 0; i < count; i++) {
                q.send(OutboundMessage.of(payload), 0);
            }
            b.whenDurable(b.lastSeq()).join();
        }
    }

    private Recorder rebuild() throws Exception {
        Recorder rec = new Recorder();
        DurabilityOptions opts = DurabilityOptions.defaults().recoveryListener(rec).declareRecoveredWith(Codec.utf8())
                .nanoClock(stepping(3));
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            assertThat(b.recoveredQueues()).isEmpty();
        }
        return rec;
    }

    /**
     * A single queue (a backlog of millions of messages, here 10,000) reports within itself: the clock is checked
     * every {@value DurableBroker#REBUILD_STEP_MESSAGES} messages read, and a call is made when 5 s have passed.
     * Progress was checked between queues only, so such a queue said nothing from "rebuilding" to "rebuilt".
     */
    @Test
    void aSingleBigQueueReportsHowFarItGotWithinIt() throws Exception {
        fillOne(10_000, "m");
        Recorder rec = rebuild();
        // 3 s per read: begins at t; t+3 after 4,096 messages (not reported), t+6 after 8,192 (reported); done at t+9
        assertThat(rec.calls).containsExactly("finished", "rebuildProgress", "rebuildProgress", "rebuilt");
        assertThat(rec.rebuild).containsExactly(new RebuildProgress(0, 1, 0, 10_000, 0),
                new RebuildProgress(0, 1, 8_192, 10_000, 6_000), new RebuildProgress(1, 1, 10_000, 10_000, 9_000));
        assertThat(rec.lines).containsExactly("rebuilding 1 queue, 10,000 messages",
                "rebuilt 0/1 queues, 8,192/10,000 messages", "rebuilt 1 queue, 10,000 messages in 9.0 s");
    }

    /**
     * The listener is user code: it is called with no lock held, also within a queue (where the rebuild reports while
     * the queue's messages are decoded), so it may use the broker, log, or take its time. The thread's locks are read
     * as a thread dump lists them: monitors (a {@code ConcurrentHashMap} bin's, which {@code compute} holds) and
     * ownable synchronizers (a queue's {@code ReentrantLock}). Before, the call within a queue came from inside the
     * queue's declaration, under the bin locks of the broker's queue map and of the durable broker's journals: another
     * thread declaring that queue (or one in the same bin) waited for the listener.
     */
    @Test
    void theListenerIsCalledWithNoLockHeldAlsoWithinAQueue() throws Exception {
        fillOne(10_000, "m");
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        assertThat(threads.isObjectMonitorUsageSupported()).isTrue();
        assertThat(threads.isSynchronizerUsageSupported()).isTrue();
        Recorder rec = new Recorder();
        List<String> held = new ArrayList<>();
        RecoveryListener checking = new RecoveryListener() {
            private void check(String call) {
                ThreadInfo t = threads.getThreadInfo(new long[] {Thread.currentThread().getId()}, true, true)[0];
                for (LockInfo l : t.getLockedMonitors()) {
                    held.add(call + ": monitor " + l);
                }
                for (LockInfo l : t.getLockedSynchronizers()) {
                    held.add(call + ": synchronizer " + l);
                }
            }

            @Override
            public void rebuildProgress(RebuildProgress p) {
                check("rebuildProgress " + p.messagesDone());
                rec.rebuildProgress(p);
            }

            @Override
            public void rebuilt(RebuildProgress p) {
                check("rebuilt");
                rec.rebuilt(p);
            }
        };
        DurabilityOptions opts = DurabilityOptions.defaults().recoveryListener(checking)
                .declareRecoveredWith(Codec.utf8()).nanoClock(stepping(3));
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            assertThat(b.broker().<String>get("big").orElseThrow().size()).isEqualTo(10_000);
        }
        assertThat(held).isEmpty();
        // the same reports, at the same pace, as before (aSingleBigQueueReportsHowFarItGotWithinIt)
        assertThat(rec.rebuild).containsExactly(new RebuildProgress(0, 1, 0, 10_000, 0),
                new RebuildProgress(0, 1, 8_192, 10_000, 6_000), new RebuildProgress(1, 1, 10_000, 10_000, 9_000));
    }

    /**
     * With no lock held the listener may use the broker, even on the queue being rebuilt: a purge of it while its
     * messages are decoded (here from the listener, between the decode and the declaration) is not undone by the
     * declaration, which decodes again what is left (nothing). Before, the call came from inside the declaration,
     * with the queue neither recovered nor live, and the purge failed ("no queue named 'big'").
     */
    @Test
    void aQueuePurgedWhileItsMessagesAreDecodedComesBackEmpty() throws Exception {
        fillOne(10_000, "m");
        AtomicReference<DurableBroker> broker = new AtomicReference<>();
        List<Long> purged = new ArrayList<>();
        RecoveryListener purging = new RecoveryListener() {
            @Override
            public void rebuildProgress(RebuildProgress p) {
                if (p.messagesDone() > 0) {
                    purged.add(broker.get().broker().purge("big", 0));
                }
            }
        };
        DurabilityOptions opts = DurabilityOptions.defaults().recoveryListener(purging).nanoClock(stepping(3))
                .clock(() -> 0L);
        try (DurableBroker b = DurableBroker.open(dir, opts, BrokerOptions.defaults().memoryBudget(1 << 30))) {
            broker.set(b);
            assertThat(b.broker().memoryUsed()).isEqualTo(10_000 * (1 + BrokerOptions.MESSAGE_OVERHEAD_BYTES));
            assertThat(b.declareRecovered(Codec.utf8())).containsExactly("big");
            assertThat(purged).containsExactly(10_000L);
            MessageQueue<String> q = b.broker().<String>get("big").orElseThrow();
            assertThat(q.size()).isZero();
            assertThat(b.broker().memoryUsed()).as("the purged messages counted once, then not at all").isZero();
            assertThat(q.send(OutboundMessage.of("after"), 0).accepted()).isTrue();
            assertThat(b.broker().memoryUsed()).isEqualTo(10 + BrokerOptions.MESSAGE_OVERHEAD_BYTES);
            b.whenDurable(b.lastSeq()).join();
        }
        try (DurableBroker b = DurableBroker.open(dir, DurabilityOptions.defaults()
                .recoveryListener(RecoveryListener.none()).declareRecoveredWith(Codec.utf8()))) {
            assertThat(b.broker().<String>get("big").orElseThrow().receive(10, 0))
                    .extracting(Lease::payload).containsExactly("after");
        }
    }

    /** Large messages: the clock is also checked every {@value DurableBroker#REBUILD_STEP_BYTES} bytes of payloads. */
    @Test
    void aQueueOfLargeMessagesIsCheckedByBytesRead() throws Exception {
        int mib = 1 << 20;
        fillOne(33, "x".repeat(mib));
        Recorder rec = rebuild();
        // checked after 16 and 32 messages of 1 MiB (t+3, t+6: reported); done at t+9
        assertThat(rec.rebuild).containsExactly(new RebuildProgress(0, 1, 0, 33, 0),
                new RebuildProgress(0, 1, 32, 33, 6_000), new RebuildProgress(1, 1, 33, 33, 9_000));
    }

    @Test
    void nothingToRebuildSaysNothing() throws Exception {
        Recorder rec = new Recorder();
        DurabilityOptions opts = DurabilityOptions.defaults().recoveryListener(rec).declareRecoveredWith(Codec.utf8())
                .nanoClock(stepping(3));
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            b.declare(QueueSpec.named("x"), Codec.utf8()).send(OutboundMessage.of("m"), 0);
            assertThat(b.declareRecovered(Codec.utf8())).isEmpty();
        }
        assertThat(rec.calls).containsExactly("finished");
    }

    @Test
    void queuesTheApplicationDeclaresOneByOneAreNotARebuild() throws Exception {
        fill();
        Recorder rec = new Recorder();
        try (DurableBroker b = DurableBroker.open(dir, DurabilityOptions.defaults().recoveryListener(rec)
                .nanoClock(stepping(3)))) {
            assertThat(b.declare(QueueSpec.named("b"), Codec.utf8()).size()).isEqualTo(20);
        }
        assertThat(rec.calls).containsExactly("finished");
    }

    /**
     * A queue the listener declares while it is told how a queue's decode goes (here a single message of 16 MiB, so
     * its own decode reaches a step at once) is not part of the rebuild's count: its decode reports nothing. Before,
     * it reported as if it were the queue being rebuilt, with that queue's count reset to its own, so the messages
     * done went back (4,096, then 1).
     */
    @Test
    void aQueueTheListenerDeclaresWithinAQueueDoesNotReport() throws Exception {
        DurabilityOptions quiet = DurabilityOptions.defaults().fsync(FsyncPolicy.never())
                .recoveryListener(RecoveryListener.none());
        try (DurableBroker b = DurableBroker.open(dir, quiet)) {
            MessageQueue<String> big = b.declare(QueueSpec.named("big"), Codec.utf8());
            for (int i = 0; i < REBUILD_STEP + 1; i++) {
                big.send(OutboundMessage.of("m"), 0);
            }
            b.declare(QueueSpec.named("other"), Codec.utf8()).send(OutboundMessage.of("x".repeat(16 << 20)), 0);
            b.whenDurable(b.lastSeq()).join();
        }
        AtomicReference<DurableBroker> broker = new AtomicReference<>();
        java.util.concurrent.atomic.AtomicBoolean once = new java.util.concurrent.atomic.AtomicBoolean();
        Recorder rec = new Recorder();
        RecoveryListener declaring = new RecoveryListener() {
            @Override
            public void rebuildProgress(RebuildProgress p) {
                rec.rebuildProgress(p);
                if (p.messagesDone() > 0 && once.compareAndSet(false, true)) {
                    broker.get().declare(QueueSpec.named("other"), Codec.utf8());
                }
            }

            @Override
            public void rebuilt(RebuildProgress p) {
                rec.rebuilt(p);
            }
        };
        DurabilityOptions opts = DurabilityOptions.defaults().recoveryListener(declaring).nanoClock(stepping(6));
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            broker.set(b);
            assertThat(b.declareRecovered(Codec.utf8())).containsExactly("big");
            assertThat(b.broker().get("other").orElseThrow().size()).isEqualTo(1);
        }
        assertThat(rec.rebuild).extracting(RebuildProgress::messagesDone).isSorted();
    }

    private static final int REBUILD_STEP = DurableBroker.REBUILD_STEP_MESSAGES;
}
