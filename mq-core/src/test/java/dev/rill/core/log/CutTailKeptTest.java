package dev.rill.core.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tail recovery cuts off the newest segment is kept, fsynced, in {@code <segment>.cut-<UTC time>} next to it:
 * if the disk did lose fsynced data (which no rule can tell from a block never written), an operator can still look
 * at what went. The log never reads such a file, compaction leaves it, and a start that cannot keep the bytes is
 * refused with the segment as it was. Before, the bytes were truncated or deleted for good.
 */
class CutTailKeptTest {

    @TempDir
    Path dir;

    private static LogRecord.Send message(long id) {
        byte[] p = new byte[30 + (int) (id * 41 % 90)];
        Arrays.fill(p, (byte) (0x40 + id));
        return new LogRecord.Send("kept", id, id * 10, null, 0, Map.of(), p, 0, 0, null, 0);
    }

    private static List<LogRecord> messages(long from, long to) {
        List<LogRecord> out = new ArrayList<>();
        for (long id = from; id <= to; id++) {
            out.add(message(id));
        }
        return out;
    }

    private static void append(Path d, LogOptions options, List<LogRecord> records) throws IOException {
        try (SegmentedLog log = SegmentedLog.open(d, options, r -> { })) {
            long seq = 0;
            for (LogRecord r : records) {
                seq = log.append(r);
            }
            log.whenDurable(seq).orTimeout(30, TimeUnit.SECONDS).join();
        }
    }

    private static List<Path> cutFiles(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.filter(p -> p.getFileName().toString().contains(".log.cut-")).sorted().toList();
        }
    }

    private static List<LogRecord> replay(Path d) throws IOException {
        List<LogRecord> got = new ArrayList<>();
        try (SegmentedLog log = SegmentedLog.open(d, LogOptions.defaults(), got::add)) {
            assertThat(log.recovery().tornTail()).isEmpty();
        }
        return got;
    }

    @Test
    void aTornTailIsKeptNextToTheSegmentAndNeverReadBack() throws IOException {
        append(dir, LogOptions.defaults(), messages(1, 10));
        Path segment = SegmentedLog.segmentFiles(dir).get(0);
        byte[] whole = Files.readAllBytes(segment);
        int size = whole.length - 7; // the last record cut short
        try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.WRITE)) {
            ch.truncate(size);
        }
        long offset;
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> { })) {
            RecoveryReport.TornTail t = log.recovery().tornTail().orElseThrow();
            offset = t.offset();
            assertThat(t.savedTo()).isEqualTo(cutFiles(dir).get(0));
            assertThat(t.savedTo().getFileName().toString())
                    .matches(segment.getFileName() + "\\.cut-\\d{8}T\\d{6}Z");
            assertThat(Files.readAllBytes(t.savedTo())).isEqualTo(Arrays.copyOfRange(whole, (int) offset, size));
            assertThat(Files.size(segment)).isEqualTo(offset);
        }
        byte[] kept = Files.readAllBytes(cutFiles(dir).get(0));
        assertThat(replay(dir)).containsExactlyElementsOf(messages(1, 9));

        // compaction deletes the segment the tail came from; the kept bytes stay until an operator deletes them
        LogOptions small = LogOptions.defaults().segmentBytes(4096);
        try (SegmentedLog log = SegmentedLog.open(dir, small, r -> { })) {
            for (long id = 1; id <= 9; id++) {
                log.append(new LogRecord.Ack("kept", id));
            }
            for (long id = 11; id <= 200; id++) {
                log.append(message(id));
                log.append(new LogRecord.Ack("kept", id));
            }
            log.whenDurable(log.lastSeq()).orTimeout(30, TimeUnit.SECONDS).join();
            await().atMost(Duration.ofSeconds(30)).until(() -> !Files.exists(segment));
        }
        assertThat(cutFiles(dir)).hasSize(1);
        assertThat(Files.readAllBytes(cutFiles(dir).get(0))).isEqualTo(kept);
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> { })) {
            assertThat(log.recovery().tornTail()).isEmpty();
            assertThat(log.recovery().liveMessages()).isZero();
        }
    }

    /** A zero hole with intact records after it: the hole and those records are kept as they were on disk. */
    @Test
    void anUnsyncedTailIsKeptWithTheRecordsAfterItsHole() throws IOException {
        append(dir, LogOptions.defaults(), messages(1, 40));
        Path segment = SegmentedLog.segmentFiles(dir).get(0);
        byte[] damaged = Files.readAllBytes(segment);
        int hole = 2048;
        Arrays.fill(damaged, hole, hole + 512, (byte) 0);
        Files.write(segment, damaged);
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> { })) {
            RecoveryReport.TornTail t = log.recovery().tornTail().orElseThrow();
            assertThat(t.droppedRecords()).isPositive();
            assertThat(t.offset()).isLessThanOrEqualTo(hole);
            assertThat(Files.readAllBytes(t.savedTo()))
                    .isEqualTo(Arrays.copyOfRange(damaged, (int) t.offset(), damaged.length));
        }
    }

    /** A newest segment whose header never reached the disk goes whole: moved aside, not deleted. */
    @Test
    void aWholeSegmentCutIsMovedAside() throws IOException {
        append(dir, LogOptions.defaults(), messages(1, 5));
        append(dir, LogOptions.defaults(), messages(6, 20));
        Path newest = SegmentedLog.segmentFiles(dir).get(1);
        byte[] damaged = Files.readAllBytes(newest);
        Arrays.fill(damaged, 0, 512, (byte) 0);
        Files.write(newest, damaged);
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> { })) {
            RecoveryReport.TornTail t = log.recovery().tornTail().orElseThrow();
            assertThat(t.offset()).isZero();
            assertThat(t.file()).isEqualTo(newest);
            assertThat(Files.readAllBytes(t.savedTo())).isEqualTo(damaged);
        }
        assertThat(replay(dir)).containsExactlyElementsOf(messages(1, 5));
    }

    /**
     * Where the bytes cannot be kept (here their fsync fails; a full disk is the usual cause), the start is refused
     * naming both files, the segment is left as it was, and nothing half-written stays behind.
     */
    @Test
    void aTailThatCannotBeKeptRefusesTheStartAndLeavesTheSegment() throws IOException {
        append(dir, LogOptions.defaults(), messages(1, 10));
        Path segment = SegmentedLog.segmentFiles(dir).get(0);
        byte[] whole = Files.readAllBytes(segment);
        byte[] torn = Arrays.copyOf(whole, whole.length - 3);
        Files.write(segment, torn);
        SegmentedLog.Forcer failing = (path, channel, metadata) -> {
            if (path.getFileName().toString().contains(".cut-")) {
                throw new IOException("No space left on device");
            }
            channel.force(metadata);
        };
        assertThatThrownBy(() -> SegmentedLog.open(dir, LogOptions.defaults(), r -> { }, failing))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("cannot keep the")
                .hasMessageContaining(segment.toString())
                .hasMessageContaining("No space left on device")
                .hasMessageContaining("the start is refused");
        assertThat(Files.readAllBytes(segment)).isEqualTo(torn);
        assertThat(cutFiles(dir)).isEmpty();
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> { })) {
            assertThat(log.recovery().tornTail()).hasValueSatisfying(t -> assertThat(t.savedTo()).isNotNull());
        }
    }
}
