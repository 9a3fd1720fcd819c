package dev.rill.core.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compaction (deleting and relocating segments) against recovery: whatever compaction did when the log stopped, a
 * reopen replays exactly the live messages.
 */
class CompactionRecoveryTest {

    @TempDir
    Path dir;

    private final AtomicLong clock = new AtomicLong(0);

    private LogOptions opts() {
        return LogOptions.defaults().segmentBytes(4096).clock(clock::get);
    }

    private static LogRecord.Send send(String q, long id, int payloadBytes) {
        byte[] p = new byte[payloadBytes];
        for (int i = 0; i < p.length; i++) {
            p[i] = (byte) (id + i);
        }
        return new LogRecord.Send(q, id, 1000 + id, "k" + id, 0, Map.of("n", Long.toString(id)), p, 0, 0, null, 0);
    }

    /** Replays the log and returns the live SENDs by id (the last SEND of an id wins, as in the broker). */
    private Map<Long, LogRecord.Send> live() throws IOException {
        Map<Long, LogRecord.Send> live = new LinkedHashMap<>();
        try (SegmentedLog log = SegmentedLog.open(dir, opts(), r -> {
            if (r instanceof LogRecord.Send s) {
                live.put(s.id(), s);
            } else if (r instanceof LogRecord.Ack a) {
                live.remove(a.id());
            }
        })) {
            return live;
        }
    }

    /**
     * An open that relocates at once (a dedup window ended while the log was closed) writes the copies into the
     * segment it just started, which holds no record with a sequence number of its own. The next open named its new
     * segment after the last sequence number, found that segment under the same name, took it for an empty leftover
     * and deleted it: the copies were gone, and so were the originals. Once no segment held a numbered record, the
     * next open started numbering at 1 again and named its segment so that it sorted before the copies: an ack
     * written there replayed before the copy (the message came back), and the open after that failed.
     */
    @Test
    void copiesRelocatedIntoTheSegmentAnOpenStartedSurviveTheNextOpens() throws Exception {
        try (SegmentedLog log = SegmentedLog.open(dir, opts(), r -> { })) {
            log.append(new LogRecord.Declare("q", "s".getBytes(StandardCharsets.UTF_8), 1));
            log.append(send("q", 1, 100)); // long-lived
            log.append(new LogRecord.Send("q", 2, 0, null, 0, Map.of(), new byte[500], 0, 0, "d-2", 1000));
            log.append(new LogRecord.Ack("q", 2)); // its dedup window (until 1000) keeps the first segment
            long id = 3;
            long last = 0;
            for (int round = 0; round < 12; round++) {
                for (int i = 0; i < 8; i++) {
                    log.append(send("q", id, 500));
                    last = log.append(new LogRecord.Ack("q", id++));
                }
                log.whenDurable(last).get(30, TimeUnit.SECONDS);
            }
            assertThat(log.stats().messagesRelocated()).isZero();
        }
        clock.set(2000); // the window ended while the log was closed
        try (SegmentedLog log = SegmentedLog.open(dir, opts(), r -> { })) {
            // the idle writer relocates message 1 into the segment this open started, and deletes the old ones
            await().atMost(Duration.ofSeconds(30)).until(() -> log.stats().messagesRelocated() == 1
                    && log.stats().segments() <= 2);
        } // closed without a record of its own
        for (int open = 0; open < 3; open++) {
            assertThat(live()).as("open %d", open).containsOnlyKeys(1L);
        }
        assertThat(live().get(1L)).isEqualTo(send("q", 1, 100));
        // records appended now replay after the copy: an ack removes the message for good
        try (SegmentedLog log = SegmentedLog.open(dir, opts(), r -> { })) {
            log.whenDurable(log.append(new LogRecord.Ack("q", 1))).get(30, TimeUnit.SECONDS);
        }
        assertThat(live()).isEmpty();
        assertThat(live()).isEmpty();
    }

    /**
     * An open that relocates more than a segment's worth of copies into the segment it just started, before any
     * record of its own: the next record rolled to a new segment named after its sequence number, which is the name
     * of that very segment (its copies carry none), so creating it failed and the log failed with it
     * ("already exists"; seen in {@code CrashLoopTest}). A segment without a numbered record is not rolled.
     */
    @Test
    void moreThanASegmentOfCopiesAtOpenDoesNotMakeTheNextRecordCollideWithTheirSegment() throws Exception {
        List<Long> kept = new ArrayList<>();
        try (SegmentedLog log = SegmentedLog.open(dir, opts(), r -> { })) {
            log.append(new LogRecord.Declare("q", "s".getBytes(StandardCharsets.UTF_8), 1));
            log.append(new LogRecord.Send("q", 1, 0, null, 0, Map.of(), new byte[500], 0, 0, "d-1", 1000));
            log.append(new LogRecord.Ack("q", 1)); // its dedup window (until 1000) keeps the first segment
            long id = 2;
            long last = 0;
            for (int round = 0; round < 14; round++) {
                kept.add(id);
                log.append(send("q", id++, 600)); // one long-lived message per segment
                for (int i = 0; i < 7; i++) {
                    log.append(send("q", id, 500));
                    last = log.append(new LogRecord.Ack("q", id++));
                }
                log.whenDurable(last).get(30, TimeUnit.SECONDS);
            }
            assertThat(log.stats().messagesRelocated()).isZero();
        }
        clock.set(2000); // the window ended while the log was closed
        try (SegmentedLog log = SegmentedLog.open(dir, opts(), r -> { })) {
            await().atMost(Duration.ofSeconds(30)).until(() -> log.stats().messagesRelocated() >= 8);
            long seq = log.append(send("q", 1_000, 100));
            log.whenDurable(seq).get(30, TimeUnit.SECONDS);
            seq = log.append(send("q", 1_001, 5_000)); // and a roll after it
            log.whenDurable(seq).get(30, TimeUnit.SECONDS);
        }
        List<Long> expected = new ArrayList<>(kept);
        expected.add(1_000L);
        expected.add(1_001L);
        for (int open = 0; open < 2; open++) {
            assertThat(live().keySet()).as("open %d", open).containsExactlyInAnyOrderElementsOf(expected);
        }
    }

    /**
     * As above, with older segments still holding numbered records (a backlog of live messages that is not worth
     * relocating): the next open's segment took the name of the one holding the copies, which was deleted as an empty
     * leftover; that open still replayed the copy (read before the delete), the one after it no longer had it.
     */
    @Test
    void copiesRelocatedAtOpenBehindABacklogSurviveTheNextOpens() throws Exception {
        List<Long> backlog = new ArrayList<>();
        try (SegmentedLog log = SegmentedLog.open(dir, opts(), r -> { })) {
            log.append(new LogRecord.Declare("q", "s".getBytes(StandardCharsets.UTF_8), 1));
            log.append(send("q", 1, 100)); // long-lived
            log.append(new LogRecord.Send("q", 2, 0, null, 0, Map.of(), new byte[500], 0, 0, "d-2", 1000));
            long last = log.append(new LogRecord.Ack("q", 2)); // its dedup window (until 1000) keeps the first segment
            long id = 3;
            for (int i = 0; i < 20; i++) { // the rest of the first segment: sent and acked (a tenth live at most)
                log.append(send("q", id, 100));
                last = log.append(new LogRecord.Ack("q", id++));
            }
            log.whenDurable(last).get(30, TimeUnit.SECONDS);
            for (int i = 0; i < 24; i++) { // three segments of live messages: not relocated
                backlog.add(id);
                last = log.append(send("q", id++, 500));
                if (i % 8 == 7) {
                    log.whenDurable(last).get(30, TimeUnit.SECONDS);
                }
            }
            log.whenDurable(last).get(30, TimeUnit.SECONDS);
            assertThat(log.stats().messagesRelocated()).isZero();
        }
        clock.set(2000);
        try (SegmentedLog log = SegmentedLog.open(dir, opts(), r -> { })) {
            await().atMost(Duration.ofSeconds(30)).until(() -> log.stats().messagesRelocated() == 1
                    && log.stats().segmentsDeleted() >= 1);
        }
        List<Long> expected = new ArrayList<>(backlog);
        expected.add(0, 1L);
        for (int open = 0; open < 3; open++) {
            assertThat(new ArrayList<>(live().keySet())).as("open %d", open).containsExactlyInAnyOrderElementsOf(expected);
        }
    }
    /**
     * Compaction deletes the oldest segments one by one; each unlink must be durable (directory fsync) before the
     * next, or a power loss could bring back an older segment without a later one that held the ACKs of its SENDs.
     */
    @Test
    void compactionMakesEachDeletionDurableBeforeTheNext() throws Exception {
        try (SegmentedLog log = SegmentedLog.open(dir, opts(), r -> { })) {
            log.append(new LogRecord.Declare("q", "s".getBytes(StandardCharsets.UTF_8), 1));
            long last = 0;
            for (long id = 1; id <= 30; id++) { // ~10 segments, every message live
                last = log.append(send("q", id, 1000));
            }
            log.whenDurable(last).get(30, TimeUnit.SECONDS);
            long syncsBefore = log.dirSyncs;
            int segments = log.stats().segments();
            assertThat(segments).isGreaterThan(5);
            for (long id = 1; id <= 30; id++) {
                last = log.append(new LogRecord.Ack("q", id));
            }
            log.whenDurable(last).get(30, TimeUnit.SECONDS);
            await().atMost(Duration.ofSeconds(30)).until(() -> log.stats().segments() <= 2);
            long deleted = log.stats().segmentsDeleted();
            assertThat(deleted).isGreaterThanOrEqualTo(segments - 2);
            assertThat(log.dirSyncs - syncsBefore).as("directory fsyncs").isGreaterThanOrEqualTo(deleted);
        }
        assertThat(live()).isEmpty();
    }

    /**
     * Under NEVER the writer leaves fsyncs to the OS, but relocated copies must be on disk before their originals are
     * deleted: the originals may have been on disk for long, and a machine crash lost them with the copies.
     */
    @Test
    void underNeverRelocatedCopiesAreFsyncedBeforeTheOriginalsGo() throws Exception {
        LogOptions never = opts().fsync(FsyncPolicy.never());
        try (SegmentedLog log = SegmentedLog.open(dir, never, r -> { })) {
            log.append(new LogRecord.Declare("q", "s".getBytes(StandardCharsets.UTF_8), 1));
            log.append(send("q", 1, 100)); // long-lived
            log.append(new LogRecord.Send("q", 2, 0, null, 0, Map.of(), new byte[500], 0, 0, "d-2", 1000));
            log.append(new LogRecord.Ack("q", 2)); // its dedup window (until 1000) keeps the first segment
            long id = 3;
            long last = 0;
            for (int round = 0; round < 12; round++) {
                for (int i = 0; i < 8; i++) {
                    log.append(send("q", id, 500));
                    last = log.append(new LogRecord.Ack("q", id++));
                }
                log.whenDurable(last).get(30, TimeUnit.SECONDS);
            }
        }
        clock.set(2000);
        try (SegmentedLog log = SegmentedLog.open(dir, never, r -> { })) {
            await().atMost(Duration.ofSeconds(30)).until(() -> log.stats().messagesRelocated() == 1
                    && log.stats().segments() <= 2);
            // one for the new segment's header and declarations, one for the copies
            assertThat(log.stats().fsyncs()).as("fsyncs").isEqualTo(2);
        }
        assertThat(live()).containsOnlyKeys(1L);
    }
}
