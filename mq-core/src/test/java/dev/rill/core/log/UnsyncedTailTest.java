package dev.rill.core.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * After a power loss, a file system with delayed allocation can leave part of the unsynced end of the newest segment
 * reading as zeros (blocks allocated, never written) and a later part written: a zero hole followed by records. No
 * fsync covered those records (one that had would have covered the hole too), so recovery cuts the segment at the
 * hole and reports what it dropped, instead of refusing the start. The on-disk states are made from real segment
 * files with blocks zeroed.
 */
class UnsyncedTailTest {

    /** The smallest unit a disk writes: a file system block never written reads as whole sectors of zeros. */
    private static final int SECTOR = 512;

    @TempDir
    Path dir;

    private static LogRecord.Send send(long id) {
        byte[] p = new byte[40 + (int) (id * 37 % 150)]; // frames of 100..250 bytes, never on a sector boundary
        for (int i = 0; i < p.length; i++) {
            p[i] = (byte) (id + i + 1);
        }
        return new LogRecord.Send("q", id, 1000 + id, "k" + id, 0, Map.of("n", Long.toString(id)), p, 0, 0, null, 0);
    }

    private static List<LogRecord> sends(long from, long to) {
        List<LogRecord> out = new ArrayList<>();
        for (long id = from; id <= to; id++) {
            out.add(send(id));
        }
        return out;
    }

    private static void write(Path d, List<LogRecord> records) throws IOException {
        try (SegmentedLog log = SegmentedLog.open(d, LogOptions.defaults().fsync(FsyncPolicy.always()), r -> { })) {
            long last = 0;
            for (LogRecord r : records) {
                last = log.append(r);
            }
            log.whenDurable(last).orTimeout(30, TimeUnit.SECONDS).join();
        }
    }

    private static Path copy(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        for (Path p : SegmentedLog.segmentFiles(from)) {
            Files.copy(p, to.resolve(p.getFileName()));
        }
        return to;
    }

    /** The start offsets of the frames of a segment, and its size at the end. */
    private static List<Integer> frameStarts(byte[] file) {
        List<Integer> starts = new ArrayList<>();
        int pos = RecordFormat.HEADER_BYTES;
        while (pos < file.length) {
            starts.add(pos);
            pos += RecordFormat.FRAME_HEADER_BYTES + ByteBuffer.wrap(file).getInt(pos);
        }
        starts.add(file.length);
        return starts;
    }

    private static boolean unchanged(byte[] a, byte[] b, int from, int to) {
        return Arrays.equals(a, from, to, b, from, to);
    }

    /** The index of the first frame whose bytes differ. */
    private static int firstChanged(byte[] original, byte[] damaged, List<Integer> starts) {
        int i = 0;
        while (unchanged(original, damaged, starts.get(i), starts.get(i + 1))) {
            i++;
        }
        return i;
    }

    /**
     * A zero hole of one sector or one 4 KiB block at every sector of the newest segment (never its header), with
     * records after it: the records before the first damaged one are replayed, the segment is cut there, the report
     * counts the bytes and the intact records that went, and the log goes on from there.
     */
    @Test
    void aZeroHoleFollowedByRecordsInTheNewestSegmentIsCutAndReported() throws IOException {
        Path src = dir.resolve("src");
        List<LogRecord> records = sends(1, 80);
        write(src, records);
        Path file = SegmentedLog.segmentFiles(src).get(0);
        byte[] original = Files.readAllBytes(file);
        List<Integer> starts = frameStarts(original);
        int checked = 0;
        for (int holeLength : new int[] {SECTOR, 4096}) {
            for (int hole = SECTOR; hole + holeLength < original.length - 300; hole += SECTOR) {
                Path d = copy(src, dir.resolve("hole-" + holeLength + "-" + hole));
                byte[] damaged = original.clone();
                Arrays.fill(damaged, hole, hole + holeLength, (byte) 0);
                Files.write(d.resolve(file.getFileName()), damaged);
                int firstBad = firstChanged(original, damaged, starts);
                long intactAfter = 0;
                for (int i = firstBad + 1; i < records.size(); i++) {
                    intactAfter += unchanged(original, damaged, starts.get(i), starts.get(i + 1)) ? 1 : 0;
                }
                long dropped = intactAfter;
                assertThat(dropped).as("hole at %d", hole).isPositive();
                int cut = starts.get(firstBad);
                List<LogRecord> got = new ArrayList<>();
                try (SegmentedLog log = SegmentedLog.open(d, LogOptions.defaults(), got::add)) {
                    assertThat(got).as("hole at %d", hole).containsExactlyElementsOf(records.subList(0, firstBad));
                    assertThat(log.recovery().tornTail()).as("hole at %d", hole).hasValueSatisfying(t -> {
                        assertThat(t.offset()).isEqualTo(cut);
                        assertThat(t.droppedBytes()).isEqualTo(original.length - cut);
                        assertThat(t.droppedRecords()).isEqualTo(dropped);
                    });
                    assertThat(log.lastSeq()).isEqualTo(firstBad);
                    log.appendAndWait(send(1000)).orTimeout(30, TimeUnit.SECONDS).join();
                }
                assertThat(Files.size(d.resolve(file.getFileName()))).isEqualTo(cut);
                List<LogRecord> again = new ArrayList<>();
                try (SegmentedLog log = SegmentedLog.open(d, LogOptions.defaults(), again::add)) {
                    assertThat(log.recovery().tornTail()).isEmpty();
                }
                List<LogRecord> expected = new ArrayList<>(records.subList(0, firstBad));
                expected.add(send(1000));
                assertThat(again).as("hole at %d", hole).containsExactlyElementsOf(expected);
                checked++;
            }
        }
        assertThat(checked).isGreaterThan(20);
    }

    /**
     * The newest segment's first block (its header) reads as zeros and records follow: nothing of the segment ever
     * reached the disk through an fsync, so it goes whole; the older segments stay.
     */
    @Test
    void aNewestSegmentWhoseHeaderNeverReachedTheDiskGoesWhole() throws IOException {
        write(dir, sends(1, 10)); // segment 1
        write(dir, sends(11, 40)); // segment 11, the newest
        List<Path> files = SegmentedLog.segmentFiles(dir);
        assertThat(files).hasSize(2);
        Path newest = files.get(1);
        byte[] content = Files.readAllBytes(newest);
        Arrays.fill(content, 0, SECTOR, (byte) 0);
        Files.write(newest, content);
        List<LogRecord> got = new ArrayList<>();
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), got::add)) {
            assertThat(got).containsExactlyElementsOf(sends(1, 10));
            assertThat(log.recovery().tornTail()).hasValueSatisfying(t -> {
                assertThat(t.file()).isEqualTo(newest);
                assertThat(t.offset()).isZero();
                assertThat(t.droppedBytes()).isEqualTo(content.length);
                assertThat(t.droppedRecords()).isPositive().isLessThan(30);
            });
            log.appendAndWait(send(11)).orTimeout(30, TimeUnit.SECONDS).join();
        }
        List<LogRecord> again = new ArrayList<>();
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), again::add)) {
            assertThat(log.recovery().tornTail()).isEmpty();
        }
        assertThat(again).containsExactlyElementsOf(sends(1, 11));
    }

    /**
     * A closed segment was fsynced before its successor got a record: a zero hole in it is damage to synced data,
     * and the start is refused, naming the file and the offset, with the file left as it was.
     */
    @Test
    void aZeroHoleInAnOlderSegmentStillRefusesTheStart() throws IOException {
        write(dir, sends(1, 40));
        write(dir, sends(41, 50));
        Path older = SegmentedLog.segmentFiles(dir).get(0);
        byte[] original = Files.readAllBytes(older);
        byte[] content = original.clone();
        Arrays.fill(content, 1024, 1536, (byte) 0);
        Files.write(older, content);
        List<Integer> starts = frameStarts(original);
        int damaged = starts.get(firstChanged(original, content, starts));
        assertThatThrownBy(() -> SegmentedLog.open(dir, LogOptions.defaults(), r -> { }))
                .isInstanceOfSatisfying(LogCorruptedException.class, e -> {
                    assertThat(e.file()).isEqualTo(older);
                    assertThat(e.offset()).isEqualTo(damaged);
                });
        assertThat(Files.readAllBytes(older)).isEqualTo(content);
    }

    /**
     * Damage in the newest segment that is not a never-written region (a flipped bit, not a zero run) with records
     * after it is refused as before: it is not what a power loss leaves.
     */
    @Test
    void otherDamageBeforeMoreRecordsInTheNewestSegmentStillRefusesTheStart() throws IOException {
        write(dir, sends(1, 40));
        Path file = SegmentedLog.segmentFiles(dir).get(0);
        byte[] content = Files.readAllBytes(file);
        List<Integer> starts = frameStarts(content);
        int victim = starts.get(10);
        content[victim + 30] ^= 0x01;
        Files.write(file, content);
        assertThatThrownBy(() -> SegmentedLog.open(dir, LogOptions.defaults(), r -> { }))
                .isInstanceOfSatisfying(LogCorruptedException.class, e -> assertThat(e.offset()).isEqualTo(victim));
        assertThat(Files.readAllBytes(file)).isEqualTo(content);
    }
}
