package dev.rill.core.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An oldest segment more than half live and more than half full (a backlog, a dead-letter queue nobody drains) must
 * not pin the log. Segments are deleted from the head only, and no per-segment rule took such a head: every segment
 * of acked traffic behind it stayed, disk growing with the traffic while the live data stayed one segment's worth.
 * The head is now also relocated once the closed segments as a whole are at least half dead.
 *
 * <p>The head: {@value #HEAD} messages of which two in three are never acked, filling most of a 64 KiB segment;
 * then rounds of {@value #ROUND} messages sent and acked (about a segment each).
 */
class MostlyLiveHeadTest {

    private static final long T0 = 1_000_000_000L;
    private static final long T1 = T0 + 120_000;
    private static final int SEGMENT = 64 * 1024;
    private static final int HEAD = 200;
    private static final int ROUND = 250;
    /** What the log may hold once the writer has caught up: the closed segments it waits for, the run, the active. */
    private static final int BOUND = SegmentedLog.RELOCATE_BEHIND + 3;

    @TempDir
    Path tmp;

    private final AtomicLong clock = new AtomicLong(T0);

    private LogOptions opts() {
        return LogOptions.defaults().fsync(FsyncPolicy.never()).segmentBytes(SEGMENT).clock(clock::get)
                .recoveryListener(RecoveryListener.none());
    }

    private static String payload(long id) {
        return "m-" + id + "-" + "x".repeat(200);
    }

    private static boolean headLive(long id) {
        return id % 3 != 0;
    }

    private static Map<Long, String> headLiveSet() {
        Map<Long, String> m = new TreeMap<>();
        for (long id = 1; id <= HEAD; id++) {
            if (headLive(id)) {
                m.put(id, payload(id));
            }
        }
        return m;
    }

    private static LogRecord.Send send(long id, long dedupUntil) {
        return new LogRecord.Send("q", id, T0, null, 0, Map.of(), payload(id).getBytes(), 0, 0,
                dedupUntil > 0 ? "d-" + id : null, dedupUntil);
    }

    /** Writes the head: the declaration, then {@value #HEAD} messages, one in three acked. */
    private static long writeHead(SegmentedLog log, long dedupUntil) {
        log.append(new LogRecord.Declare("q", new byte[] {1}, 1));
        long last = 0;
        for (long id = 1; id <= HEAD; id++) {
            last = log.append(send(id, dedupUntil));
            if (!headLive(id)) {
                last = log.append(new LogRecord.Ack("q", id));
            }
        }
        return last;
    }

    /** One round of traffic: {@value #ROUND} messages after {@code from}, each sent and acked. */
    private static long round(SegmentedLog log, long from) {
        long last = 0;
        for (long id = from + 1; id <= from + ROUND; id++) {
            log.append(send(id, 0));
            last = log.append(new LogRecord.Ack("q", id));
        }
        return last;
    }

    /**
     * Many rounds of acked traffic behind a two-thirds-live head: the segment count stays bounded (before: one more
     * segment a round, for good), every message still live after a reopen is exactly the head's live ones, and the
     * copying stays small beside what it frees (the head's live messages are copied once each time the head passes
     * over them, once {@value SegmentedLog#RELOCATE_BEHIND} or so segments are closed, not again and again).
     */
    @Test
    void aMostlyLiveHeadDoesNotPinTheSegmentsBehindIt() throws Exception {
        int rounds = 80;
        long relocated;
        long deleted;
        int most = 0;
        try (SegmentedLog log = SegmentedLog.open(tmp, opts(), r -> { })) {
            log.whenDurable(writeHead(log, 0)).get(30, TimeUnit.SECONDS);
            assertThat(log.stats().segments()).as("the head is one segment").isEqualTo(1);
            assertThat(log.stats().bytes()).as("more than half full").isGreaterThan(SEGMENT / 2);
            long id = HEAD;
            for (int r = 0; r < rounds; r++) {
                log.whenDurable(round(log, id)).get(30, TimeUnit.SECONDS);
                id += ROUND;
                await().atMost(Duration.ofSeconds(30)).until(() -> log.stats().segments() <= BOUND);
                most = Math.max(most, log.stats().segments());
            }
            relocated = log.stats().messagesRelocated();
            deleted = log.stats().segmentsDeleted();
        }
        int headLive = headLiveSet().size();
        long freed = (long) rounds * ROUND + (HEAD - headLive); // messages acked
        System.out.printf("mostly-live head: %d rounds, %d segments deleted, %d copies of %d live messages "
                + "(%.2f copies per live message), %d messages freed, at most %d segments seen%n", rounds, deleted,
                relocated, headLive, (double) relocated / headLive, freed, most);
        assertThat(deleted).isGreaterThan(rounds / 2);
        // each pass of the head over the live messages (a copy of each) deletes the segments that piled up behind
        // them, RELOCATE_BEHIND - 1 or more: copies do not go round in circles
        assertThat(relocated).as("copies").isGreaterThanOrEqualTo(headLive)
                .isLessThanOrEqualTo(headLive * (deleted / (SegmentedLog.RELOCATE_BEHIND - 1) + 1))
                .isLessThanOrEqualTo(freed / 8);
        assertThat(LiveAfterReplay.payloadsById(tmp, opts())).isEqualTo(headLiveSet());
    }

    /**
     * A log that is mostly live (a backlog of {@value SegmentedLog#RELOCATE_BEHIND} + 4 segments, each two thirds
     * live) is not rewritten: copying it would free a third of what it copies. The writer weighs the policy after
     * each of the 20 batches that follow (under {@code never} a batch is confirmed before its pass takes a step).
     */
    @Test
    void aMostlyLiveLogIsNotRewritten() throws Exception {
        try (SegmentedLog log = SegmentedLog.open(tmp, opts(), r -> { })) {
            log.append(new LogRecord.Declare("q", new byte[] {1}, 1));
            long id = 0;
            while (log.stats().segments() < SegmentedLog.RELOCATE_BEHIND + 4) {
                long last = 0;
                for (int i = 0; i < 60; i++) {
                    id++;
                    last = log.append(send(id, 0));
                    if (!headLive(id)) {
                        last = log.append(new LogRecord.Ack("q", id));
                    }
                }
                log.whenDurable(last).get(30, TimeUnit.SECONDS);
            }
            for (int r = 0; r < 20; r++) {
                id++;
                log.append(send(id, 0));
                log.whenDurable(log.append(new LogRecord.Ack("q", id))).get(30, TimeUnit.SECONDS);
            }
            assertThat(log.stats().messagesRelocated()).isZero();
            assertThat(log.stats().segmentsDeleted()).isZero();
        }
    }

    /**
     * The crash states of the relocation that takes such a head: after each slice (copies written, not fsynced,
     * every old segment there), the segment with the copies cut at every frame, and the old segments partly deleted
     * (oldest first): each recovers exactly the head's live messages. Session 1 writes the head with a dedup window
     * open until {@code T1} (so nothing is relocated then) and {@value SegmentedLog#RELOCATE_BEHIND} + 2 rounds of
     * traffic; session 2 opens at {@code T1} and appends nothing.
     */
    @Test
    void everyCrashStateOfTheHeadsRelocationRecovers() throws Exception {
        Path live = tmp.resolve("live");
        try (SegmentedLog log = SegmentedLog.open(live, opts(), r -> { })) {
            writeHead(log, T0 + 60_000);
            long id = HEAD;
            long last = 0;
            for (int r = 0; r < SegmentedLog.RELOCATE_BEHIND + 2; r++) {
                last = round(log, id);
                id += ROUND;
            }
            log.whenDurable(last).get(30, TimeUnit.SECONDS);
            assertThat(log.stats().messagesRelocated()).isZero();
            assertThat(log.stats().segmentsDeleted()).isZero();
        }
        Path before = copyOf(live, "before");
        List<String> old = new ArrayList<>(names(before));
        assertThat(old).hasSizeGreaterThan(SegmentedLog.RELOCATE_BEHIND);
        clock.set(T1);
        List<Path> states = new CopyOnWriteArrayList<>();
        IntConsumer hook = slice -> {
            try {
                states.add(copyOf(live, "slice-" + slice + "-" + states.size()));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
        try (SegmentedLog log = SegmentedLog.open(live, opts().relocation(8 * 1024, hook), r -> { })) {
            await().atMost(Duration.ofSeconds(30)).until(() -> !Files.exists(live.resolve(old.get(0))));
        }
        Path after = copyOf(live, "after");
        Map<Long, String> want = headLiveSet();
        assertThat(LiveAfterReplay.payloadsById(copyOf(after, "after-opened"), opts())).isEqualTo(want);
        assertThat(states).hasSizeGreaterThanOrEqualTo(3);
        for (int i = 0; i < states.size(); i++) {
            Path s = states.get(i);
            assertThat(LiveAfterReplay.payloadsById(copyOf(s, "opened-" + i), opts())).as("after slice " + (i + 1))
                    .isEqualTo(want);
        }
        // the first relocation's copies cut (the crash before their fsync) at every third frame and in it, every old
        // segment still there
        Path lastSlice = states.get(0);
        for (int i = 0; i < states.size() && names(states.get(i)).contains(old.get(0)); i++) {
            lastSlice = states.get(i);
        }
        List<Path> files = SegmentedLog.segmentFiles(lastSlice);
        Path newest = files.get(files.size() - 1);
        assertThat(old).doesNotContain(newest.getFileName().toString());
        byte[] data = Files.readAllBytes(newest);
        ByteBuffer b = ByteBuffer.wrap(data);
        int cuts = 0;
        int frame = 0;
        for (int pos = RecordFormat.HEADER_BYTES; pos < data.length; ) {
            pos += RecordFormat.FRAME_HEADER_BYTES + b.getInt(pos);
            if (frame++ % 3 != 0 && pos < data.length) {
                continue;
            }
            for (int cut : new int[] {pos - 1, pos}) {
                if (cut > data.length) {
                    continue;
                }
                Path s = copyOf(lastSlice, "cut-" + cuts++);
                try (FileChannel ch = FileChannel.open(s.resolve(newest.getFileName()), StandardOpenOption.WRITE)) {
                    ch.truncate(cut);
                }
                assertThat(LiveAfterReplay.payloadsAfterCut(s, opts())).as("copies cut at " + cut + " of "
                        + data.length).isEqualTo(want);
            }
        }
        assertThat(cuts).isGreaterThan(10);
        // the old segments deleted oldest first, the crash after the k-th
        Set<String> gone = new TreeSet<>(old);
        gone.removeAll(names(after));
        List<String> run = new ArrayList<>(gone);
        assertThat(run).contains(old.get(0));
        for (int k = 1; k < run.size(); k++) {
            Path d = copyOf(after, "deleted-" + k);
            for (String n : run.subList(k, run.size())) {
                Files.copy(before.resolve(n), d.resolve(n));
            }
            assertThat(LiveAfterReplay.payloadsById(d, opts())).as("the first " + k + " deleted").isEqualTo(want);
        }
    }

    private static Set<String> names(Path d) throws IOException {
        Set<String> out = new TreeSet<>();
        for (Path p : SegmentedLog.segmentFiles(d)) {
            out.add(p.getFileName().toString());
        }
        return out;
    }

    private Path copyOf(Path from, String name) throws IOException {
        return LiveAfterReplay.copySegments(from, tmp.resolve(name));
    }
}
