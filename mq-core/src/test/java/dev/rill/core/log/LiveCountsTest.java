package dev.rill.core.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The relocation policy reads the whole log's live and SEND counts from running totals kept where a segment's counts
 * change (not a sum over every segment on each writer pass). They must stay exact: after every slice of every
 * relocation (checked on the writer thread), after a close, and after recovery, each segment's live count must be
 * what a recount from the live messages and dead letters in transit gives, and the totals their sums.
 *
 * <p>A seeded random workload over a queue and its dead-letter queue: sends, acks, deliveries, nacks, dead letters
 * routed (accepted later, or dropped while in transit) or not, drops, purges, and the dead-letter queue deleted and
 * declared again, over 4 KiB segments, so that relocation and compaction run throughout.
 */
class LiveCountsTest {

    private static final String Q = "q";
    private static final String DLQ = "q.dlq";

    @TempDir
    Path dir;

    private final List<String> problems = new CopyOnWriteArrayList<>();
    private final AtomicInteger slices = new AtomicInteger();

    private LogOptions opts(AtomicReference<SegmentedLog> ref) {
        IntConsumer hook = slice -> {
            if (ref.get() == null) { // the writer may relocate before open returns
                await().atMost(Duration.ofSeconds(30)).until(() -> ref.get() != null);
            }
            slices.incrementAndGet();
            String d = ref.get().recountLive();
            if (d != null) {
                problems.add("after slice " + slice + ": " + d);
            }
        };
        return LogOptions.defaults().fsync(FsyncPolicy.never()).segmentBytes(4096).clock(() -> 1_000L)
                .recoveryListener(RecoveryListener.none()).relocation(256, hook);
    }

    private SegmentedLog open(AtomicReference<SegmentedLog> ref) throws Exception {
        ref.set(null);
        SegmentedLog log = SegmentedLog.open(dir, opts(ref), r -> { });
        ref.set(log);
        return log;
    }

    @Test
    void runningTotalsMatchARecountThroughRelocationCompactionRecoveryAndDeadLettering() throws Exception {
        Random rnd = new Random(42);
        Workload w = new Workload(rnd);
        AtomicReference<SegmentedLog> ref = new AtomicReference<>();
        for (int session = 0; session < 3; session++) {
            SegmentedLog log = open(ref);
            try {
                if (session == 0) {
                    log.append(new LogRecord.Declare(Q, new byte[] {1}, 1));
                    log.append(new LogRecord.Declare(DLQ, new byte[] {2}, 1));
                }
                for (int chunk = 0; chunk < 100; chunk++) {
                    long last = 0;
                    for (int i = 0; i < 40; i++) {
                        last = w.step(log);
                    }
                    // written: the writer takes a compaction step, or a relocation slice, between such batches
                    log.whenDurable(last).get(30, TimeUnit.SECONDS);
                }
            } finally {
                log.close();
            }
            assertThat(log.recountLive()).as("after session " + session + " closed").isNull();
            assertThat(log.stats().segmentsDeleted()).as("compaction ran").isPositive();
        }
        SegmentedLog recovered = open(ref);
        recovered.close();
        assertThat(recovered.recountLive()).as("after recovery").isNull();
        assertThat(slices.get()).as("relocation slices checked").isGreaterThan(10);
        assertThat(problems).isEmpty();
    }

    /** The records of a random workload, with what is live in it. */
    private static final class Workload {
        private final Random rnd;
        private final List<Long> queued = new ArrayList<>();
        private final List<Long> kept = new ArrayList<>();
        private final List<Long> inTransit = new ArrayList<>();
        private final List<Long> dead = new ArrayList<>();
        private long nextId = 1;
        private long nextDeadId = 1;

        Workload(Random rnd) {
            this.rnd = rnd;
        }

        private long take(List<Long> from) {
            return from.remove(rnd.nextInt(from.size()));
        }

        private long pick(List<Long> from) {
            return from.get(rnd.nextInt(from.size()));
        }

        long step(SegmentedLog log) {
            // a dead letter is in transit for a few records at most, as in the broker (its ACCEPT follows, or a
            // recovery drops it): relocation cannot copy one in transit, and its segment stays until then
            if (!inTransit.isEmpty() && rnd.nextInt(3) == 0) {
                if (rnd.nextInt(10) == 0) {
                    return log.append(new LogRecord.Drop(Q, take(inTransit)));
                }
                long id = nextDeadId++;
                dead.add(id);
                return log.append(new LogRecord.Accept(DLQ, id, Q, take(inTransit), 2_000, 0,
                        Map.of("rill-dead-letter-reason", "bad")));
            }
            int op = rnd.nextInt(100);
            if (op < 40 || queued.isEmpty()) {
                long id = nextId++;
                (rnd.nextInt(10) == 0 ? kept : queued).add(id); // one in ten long-lived: relocated
                return log.append(new LogRecord.Send(Q, id, 1_000, null, 0, Map.of(), new byte[50 + rnd.nextInt(250)],
                        0, 0, null, 0));
            }
            if (op == 69 && !kept.isEmpty()) {
                return log.append(new LogRecord.Ack(Q, take(kept)));
            }
            if (op < 70 || queued.size() > 40) {
                return log.append(new LogRecord.Ack(Q, take(queued)));
            }
            if (op < 75) {
                return log.append(new LogRecord.Delivered(Q, pick(queued), 1 + rnd.nextInt(3)));
            }
            if (op < 80) {
                return log.append(new LogRecord.Nack(Q, pick(queued), 5_000 + rnd.nextInt(1000)));
            }
            if (op < 85) {
                long id = take(queued);
                inTransit.add(id);
                return log.append(new LogRecord.DeadLetter(Q, id, 3, "bad", true));
            }
            if (op < 88) {
                return log.append(new LogRecord.DeadLetter(Q, take(queued), 3, "gone", false));
            }
            if (op < 98 && !dead.isEmpty()) {
                return log.append(new LogRecord.Drop(DLQ, take(dead)));
            }
            if (op < 99) {
                dead.clear();
                return log.append(new LogRecord.Purge(DLQ));
            }
            dead.clear();
            log.append(new LogRecord.Delete(DLQ));
            return log.append(new LogRecord.Declare(DLQ, new byte[] {2}, 1));
        }
    }
}
