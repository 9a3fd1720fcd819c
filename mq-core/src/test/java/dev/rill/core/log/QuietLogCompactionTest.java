package dev.rill.core.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A log that receives nothing more still finishes its compaction: the writer, idle, goes on from one step to the
 * next (a compaction, a relocation run) for as long as there is one to take, instead of waiting for an append. It
 * used to take one step and park: a compaction done while idle (at open, or on the syncer's wake-up once the records
 * that emptied a segment were fsynced) left the mostly-dead segment it uncovered in place, and a finished run of
 * {@value SegmentedLog#RELOCATE_RUN} segments left the rest of a longer one, until the next append came, if ever.
 *
 * <p>The first two tests write their segments in a first session in which nothing can be compacted or relocated (a
 * dedup window open until {@link #T1} keeps the oldest segment), then open the log again at {@code T1} and append
 * nothing. The others let the window end while the log is open and quiet: the writer must come back when it ends
 * (on the log's clock, here stepped by hand with a {@link LogOptions.Timer} that wakes the writer when told to); it
 * used to wait for the next append, so a log that got none kept the segment, and every one behind it.
 */
class QuietLogCompactionTest {

    private static final long T0 = 5_000_000L;
    private static final long T1 = T0 + 60_000;
    private static final int SEGMENT = 4096;

    @TempDir
    Path dir;

    private final AtomicLong clock = new AtomicLong(T0);

    private LogOptions options() {
        return LogOptions.defaults().fsync(FsyncPolicy.never()).segmentBytes(SEGMENT).clock(clock::get)
                .recoveryListener(RecoveryListener.none());
    }

    private static LogRecord.Send message(long id, int bytes, long windowEnd) {
        return new LogRecord.Send("q", id, T0, null, 0, Map.of(), ("m" + id + "-" + "p".repeat(bytes)).getBytes(),
                0, 0, windowEnd > 0 ? "dedup-" + id : null, windowEnd);
    }

    /** Wakes the writer when the test's clock reaches the time it waits for ({@link #advanceTo}). */
    private final List<Map.Entry<Long, Runnable>> wakes = new CopyOnWriteArrayList<>();

    private LogOptions handTimed() {
        return options().timer((at, now, wake) -> {
            wakes.add(Map.entry(at, wake));
            return 0;
        });
    }

    /** Sets the clock to {@code t} and runs the wakes due by then. */
    private void advanceTo(long t) {
        clock.set(t);
        for (Map.Entry<Long, Runnable> w : wakes) {
            if (w.getKey() <= t && wakes.remove(w)) {
                w.getValue().run();
            }
        }
    }

    /** Awaits the writer going idle until {@code t}: it asked to be woken then. */
    private void awaitIdleUntil(long t) {
        await().atMost(Duration.ofSeconds(30)).until(() -> wakes.stream().anyMatch(w -> w.getKey() == t));
    }

    private static Set<Path> segmentSet(Path d) throws Exception {
        return Set.copyOf(SegmentedLog.segmentFiles(d));
    }

    /**
     * The oldest segment holds one acked message whose dedup window is open until {@code T1}; behind it, segments
     * where one message in ~16 lives. Once the window is over, the idle writer deletes the oldest segment, and then
     * relocates the mostly-dead one this uncovered.
     */
    @Test
    void aCompactionOnAQuietLogGoesOnToRelocateTheSegmentItUncovered() throws Exception {
        List<Path> first;
        try (SegmentedLog log = SegmentedLog.open(dir, options(), r -> { })) {
            log.append(new LogRecord.Declare("q", new byte[] {1}, 1));
            log.append(message(1, SEGMENT, T1)); // fills the first segment alone
            long last = log.append(new LogRecord.Ack("q", 1)); // rolls: the first segment is dead, kept by the window
            for (long id = 2; id <= 80; id++) {
                last = log.append(message(id, 150, 0));
                if (id != 2) {
                    last = log.append(new LogRecord.Ack("q", id));
                }
            }
            log.whenDurable(last).get(30, TimeUnit.SECONDS);
            assertThat(log.stats().segmentsDeleted()).isZero();
            assertThat(log.stats().messagesRelocated()).isZero();
            first = SegmentedLog.segmentFiles(dir);
            assertThat(first).hasSizeGreaterThanOrEqualTo(4);
        }
        clock.set(T1);
        try (SegmentedLog log = SegmentedLog.open(dir, options(), r -> { })) {
            // waited for as a whole: the segment count follows the files' deletion, a little after it
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                assertThat(log.stats().messagesRelocated()).isEqualTo(1);
                assertThat(first).noneMatch(Files::exists);
                assertThat(log.stats().segments()).isEqualTo(1);
            });
        }
        assertThat(LiveAfterReplay.payloadsById(dir, options())).containsOnlyKeys(2L).containsEntry(2L, "m2-" + "p".repeat(150));
    }

    /**
     * More than {@value SegmentedLog#RELOCATE_RUN} mostly-dead segments, each with a dedup window open until
     * {@code T1}: the idle writer relocates them in two runs, not in one and then nothing more.
     */
    @Test
    void aQuietLogRelocatesMoreThanOneRunOfSegments() throws Exception {
        Map<Long, String> expected = new TreeMap<>();
        List<Path> first;
        try (SegmentedLog log = SegmentedLog.open(dir, options(), r -> { })) {
            log.append(new LogRecord.Declare("q", new byte[] {1}, 1));
            long last = 0;
            for (long id = 1; id <= 560; id++) {
                LogRecord.Send s = message(id, 150, T1);
                last = log.append(s);
                if (id % 40 == 7) {
                    expected.put(id, new String(s.payload()));
                } else {
                    last = log.append(new LogRecord.Ack("q", id));
                }
            }
            log.whenDurable(last).get(30, TimeUnit.SECONDS);
            assertThat(log.stats().messagesRelocated()).isZero();
            first = SegmentedLog.segmentFiles(dir);
            assertThat(first).hasSizeGreaterThan(SegmentedLog.RELOCATE_RUN + 2);
        }
        clock.set(T1);
        try (SegmentedLog log = SegmentedLog.open(dir, options(), r -> { })) {
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                assertThat(first).noneMatch(Files::exists);
                assertThat(log.stats().messagesRelocated()).isEqualTo(expected.size());
                assertThat(segmentSet(dir)).hasSize(1);
            });
        }
        assertThat(LiveAfterReplay.payloadsById(dir, options())).isEqualTo(expected);
    }

    /**
     * Every message acked, the first segment's with a dedup window open until {@code T1}, the second's until
     * {@code T2}: the quiet log deletes the first segment when the first window ends, and the rest (everything dead
     * behind the second) when the second ends, each time without an append.
     */
    @Test
    void aDedupWindowEndingOnAQuietLogLetsItsSegmentGo() throws Exception {
        long t2 = T1 + 30_000;
        try (SegmentedLog log = SegmentedLog.open(dir, handTimed(), r -> { })) {
            log.append(new LogRecord.Declare("q", new byte[] {1}, 1));
            log.append(message(1, SEGMENT, T1)); // fills the first segment alone
            log.append(new LogRecord.Ack("q", 1));
            log.append(message(2, SEGMENT, t2)); // rolls: the second segment
            long last = log.append(new LogRecord.Ack("q", 2));
            for (long id = 3; id <= 60; id++) {
                log.append(message(id, 150, 0));
                last = log.append(new LogRecord.Ack("q", id));
            }
            log.whenDurable(last).get(30, TimeUnit.SECONDS);
            List<Path> written = SegmentedLog.segmentFiles(dir);
            assertThat(written).hasSizeGreaterThanOrEqualTo(4);
            awaitIdleUntil(T1);
            assertThat(log.stats().segmentsDeleted()).as("kept by the first window").isZero();
            advanceTo(T1);
            await().atMost(Duration.ofSeconds(30)).until(() -> log.stats().segmentsDeleted() == 1);
            assertThat(Files.exists(written.get(0))).isFalse();
            awaitIdleUntil(t2);
            assertThat(log.stats().segmentsDeleted()).as("kept by the second window").isEqualTo(1);
            advanceTo(t2);
            await().atMost(Duration.ofSeconds(30)).until(() -> log.stats().segments() == 1);
            assertThat(written.subList(0, written.size() - 1)).noneMatch(Files::exists);
            assertThat(log.stats().messagesRelocated()).isZero();
        }
        assertThat(LiveAfterReplay.payloadsById(dir, options())).isEmpty();
    }

    /**
     * A timer that takes the wake-up (returns 0, as one on a scheduler does) is asked once per time: the appends that
     * wake the writer while it waits do not ask again (on a scheduler each ask would be one more pending task, piling
     * up with the traffic until the window ends). A wake-up that comes before the clock gets there (early) is asked
     * for again, else the writer waited for the next append.
     */
    @Test
    void aTimerThatTakesTheWakeUpIsAskedOncePerTime() throws Exception {
        try (SegmentedLog log = SegmentedLog.open(dir, handTimed(), r -> { })) {
            log.append(new LogRecord.Declare("q", new byte[] {1}, 1));
            log.append(message(1, SEGMENT, T1)); // fills the first segment alone
            log.append(new LogRecord.Ack("q", 1));
            log.append(message(2, SEGMENT, 0)); // rolls: the first segment is dead, kept by the window
            log.whenDurable(log.append(new LogRecord.Ack("q", 2))).get(30, TimeUnit.SECONDS);
            awaitIdleUntil(T1);
            for (long id = 3; id <= 22; id++) { // each append wakes the writer, which waits for T1 again
                log.append(message(id, 10, 0));
                log.whenDurable(log.append(new LogRecord.Ack("q", id))).get(30, TimeUnit.SECONDS);
            }
            assertThat(wakes).as("asked once for T1").hasSize(1);
            Map.Entry<Long, Runnable> early = wakes.remove(0);
            early.getValue().run(); // before the clock got there
            awaitIdleUntil(T1);
            assertThat(log.stats().segmentsDeleted()).isZero();
            advanceTo(T1);
            await().atMost(Duration.ofSeconds(30)).until(() -> log.stats().segmentsDeleted() >= 1);
        }
    }

    /**
     * The oldest segment is mostly dead but for one live message, and a dedup window open until {@code T1} keeps it
     * from being relocated: the quiet log relocates it when the window ends and deletes every segment behind it.
     */
    @Test
    void aDedupWindowEndingOnAQuietLogLetsItsSegmentBeRelocated() throws Exception {
        List<Path> written;
        try (SegmentedLog log = SegmentedLog.open(dir, handTimed(), r -> { })) {
            log.append(new LogRecord.Declare("q", new byte[] {1}, 1));
            long last = 0;
            for (long id = 1; id <= 120; id++) {
                last = log.append(message(id, 150, id == 1 ? T1 : 0));
                if (id != 1) {
                    last = log.append(new LogRecord.Ack("q", id));
                }
            }
            log.whenDurable(last).get(30, TimeUnit.SECONDS);
            written = SegmentedLog.segmentFiles(dir);
            assertThat(written).hasSizeGreaterThanOrEqualTo(4);
            awaitIdleUntil(T1);
            assertThat(log.stats().messagesRelocated()).isZero();
            assertThat(log.stats().segmentsDeleted()).isZero();
            advanceTo(T1);
            await().atMost(Duration.ofSeconds(30)).until(() -> log.stats().segments() == 1);
            assertThat(log.stats().messagesRelocated()).isEqualTo(1);
            assertThat(written.subList(0, written.size() - 1)).noneMatch(Files::exists);
        }
        assertThat(LiveAfterReplay.payloadsById(dir, options())).containsOnlyKeys(1L);
    }

    /**
     * A relocation that could not take a message (a dead letter in transit: its SEND is needed until the dead-letter
     * queue's ACCEPT) leaves the oldest segment for a later attempt. That attempt waited for the next roll, which a
     * quiet log never has: the segment, and every one behind it, stayed after the ACCEPT came. It is also made once
     * {@value SegmentedLog#RELOCATE_RETRY_MILLIS} ms have passed on the log's clock.
     */
    @Test
    void aRelocationThatCouldNotTakeADeadLetterInTransitIsTriedAgainOnAQuietLog() throws Exception {
        List<Path> first;
        try (SegmentedLog log = SegmentedLog.open(dir, options(), r -> { })) {
            log.append(new LogRecord.Declare("q", new byte[] {1}, 1));
            log.append(new LogRecord.Declare("q.dlq", new byte[] {2}, 1));
            long last = 0;
            for (long id = 1; id <= 60; id++) {
                last = log.append(message(id, 150, T1));
                if (id != 1) {
                    last = log.append(new LogRecord.Ack("q", id));
                }
            }
            last = log.append(new LogRecord.DeadLetter("q", 1, 3, "bad", true)); // in transit at the close
            log.whenDurable(last).get(30, TimeUnit.SECONDS);
            assertThat(log.stats().messagesRelocated()).isZero();
            first = SegmentedLog.segmentFiles(dir);
            assertThat(first).hasSizeGreaterThanOrEqualTo(3);
        }
        clock.set(T1);
        long retry = T1 + SegmentedLog.RELOCATE_RETRY_MILLIS;
        try (SegmentedLog log = SegmentedLog.open(dir, handTimed(), r -> { })) {
            // the open's relocation copies nothing (the message is in transit) and leaves the oldest segment
            awaitIdleUntil(retry);
            assertThat(log.stats().segmentsDeleted()).isZero();
            long accepted = log.append(new LogRecord.Accept("q.dlq", 1, "q", 1, T1, 0, Map.of("reason", "bad")));
            log.whenDurable(accepted).get(30, TimeUnit.SECONDS);
            advanceTo(retry);
            await().atMost(Duration.ofSeconds(30)).until(() -> first.stream().noneMatch(Files::exists));
            assertThat(log.stats().messagesRelocated()).isEqualTo(1);
        }
        assertThat(LiveAfterReplay.payloadsById(dir, options())).containsOnlyKeys(1L)
                .containsEntry(1L, "m1-" + "p".repeat(150));
    }
}
