package dev.rill.core.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A relocation's copies are bound by the segment size like appends: the writer rolls the active segment when the
 * copies fill it. It wrote every copy of a run into the active segment without a roll, so a run of half-live
 * segments (the head rule takes up to {@value SegmentedLog#RELOCATE_RUN} of them) made one segment of several
 * segments' worth of copies (16 × 64 MiB half live: ~512 MiB in a segment set to 64 MiB), relocated whole later.
 *
 * <p>Session 1 writes {@value #MESSAGES} messages over {@value #SEGMENT}-byte segments, every other one acked, each
 * with a dedup window open until {@code T1} (nothing is relocated then); session 2 opens at {@code T1} and appends
 * nothing: the idle writer relocates the half-live segments (8 or more behind the oldest). The writer rolls the
 * segment the open started before any record is appended (it holds only declarations and copies): the next segment is
 * named past it, and the first records appended afterwards are numbered below that name, which recovery allows.
 * Session 2 then appends {@value #MORE} messages, confirmed one by one, while the relocation goes on or after it,
 * which roll segments too; a third open replays both sessions' live messages.
 */
class RelocationRollTest {

    private static final long T0 = 1_000_000_000L;
    private static final long T1 = T0 + 120_000;
    private static final int SEGMENT = 4096;
    private static final int MESSAGES = 300;
    private static final int MORE = 100;

    @TempDir
    Path dir;

    private final AtomicLong clock = new AtomicLong(T0);

    private FsyncPolicy fsync = FsyncPolicy.never();

    private LogOptions opts() {
        return LogOptions.defaults().fsync(fsync).segmentBytes(SEGMENT).clock(clock::get)
                .recoveryListener(RecoveryListener.none());
    }

    private static String payload(long id) {
        return "m-" + id + "-" + "x".repeat(100);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void copiesOfARunOfHalfLiveSegmentsAreSpreadOverSegmentsOfTheSetSize(boolean always) throws Exception {
        fsync = always ? FsyncPolicy.always() : FsyncPolicy.never();
        Map<Long, String> want = new TreeMap<>();
        List<Path> old;
        try (SegmentedLog log = SegmentedLog.open(dir, opts(), r -> { })) {
            log.append(new LogRecord.Declare("q", new byte[] {1}, 1));
            long last = 0;
            for (long id = 1; id <= MESSAGES; id++) {
                last = log.append(new LogRecord.Send("q", id, T0, null, 0, Map.of(), payload(id).getBytes(), 0, 0,
                        "d-" + id, T0 + 60_000));
                if (id % 2 == 0) {
                    last = log.append(new LogRecord.Ack("q", id));
                } else {
                    want.put(id, payload(id));
                }
            }
            log.whenDurable(last).get(30, TimeUnit.SECONDS);
            assertThat(log.stats().messagesRelocated()).isZero();
            old = SegmentedLog.segmentFiles(dir);
            assertThat(old).hasSizeBetween(SegmentedLog.RELOCATE_BEHIND + 2, SegmentedLog.RELOCATE_RUN);
        }
        clock.set(T1);
        long largest = 0;
        long copied;
        try (SegmentedLog log = SegmentedLog.open(dir, opts(), r -> { })) {
            await().atMost(Duration.ofSeconds(30)).until(() -> log.stats().messagesRelocated() > 0);
            for (long id = MESSAGES + 1; id <= MESSAGES + MORE; id++) {
                log.appendAndWait(new LogRecord.Send("q", id, T1, null, 0, Map.of(), payload(id).getBytes(), 0, 0,
                        null, 0)).get(30, TimeUnit.SECONDS);
                want.put(id, payload(id));
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> old.stream().noneMatch(Files::exists));
            copied = log.stats().messagesRelocated();
            for (Path p : SegmentedLog.segmentFiles(dir)) {
                largest = Math.max(largest, Files.size(p));
            }
        }
        System.out.printf("relocation of %d half-live %d-byte segments: %d copies, largest segment %d bytes%n",
                old.size(), SEGMENT, copied, largest);
        assertThat(copied).isEqualTo(want.size() - MORE);
        // a segment may exceed its size by its header and declarations and by one message's copies, as by one append
        assertThat(largest).as("largest segment after the relocation").isLessThanOrEqualTo(SEGMENT + 512);
        assertThat(LiveAfterReplay.payloadsById(dir, opts())).isEqualTo(want);
    }
}
