package dev.rill.core.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What bounds a log that can still be opened: not the size of a segment (recovery and relocation read it through a
 * window, a record at a time: a segment over 2 GiB used to fail the open with an OutOfMemoryError), but the size of
 * one record, which the writer and the durable broker keep within what recovery reads back; segment sizes are
 * refused outside 4 KiB..1 GiB, and a batch is framed in at most a few MiB.
 */
class SegmentLimitsTest {

    @TempDir
    Path dir;

    private static LogRecord.Send send(long id, int payloadBytes) {
        byte[] p = new byte[payloadBytes];
        for (int i = 0; i < p.length; i += 97) {
            p[i] = (byte) (i + id);
        }
        return new LogRecord.Send("limits", id, 5000 + id, id % 2 == 0 ? null : "key-" + id, 1,
                id % 3 == 0 ? Map.of() : Map.of("h", "v" + id), p, 0, 0, null, 0);
    }

    private static void write(Path d, LogOptions options, List<LogRecord> records) throws IOException {
        try (SegmentedLog log = SegmentedLog.open(d, options, r -> { })) {
            long seq = 0;
            for (LogRecord r : records) {
                seq = log.append(r);
            }
            log.whenDurable(seq).orTimeout(60, TimeUnit.SECONDS).join();
        }
    }

    @Test
    void segmentSizesOutsideFourKibibytesToOneGibibyteAreRefusedNamingTheBounds() {
        assertThat(LogOptions.defaults().segmentBytes(4096).segmentBytes()).isEqualTo(4096);
        assertThat(LogOptions.defaults().segmentBytes(1L << 30).segmentBytes()).isEqualTo(LogOptions.MAX_SEGMENT_BYTES);
        for (long bad : new long[] {4095, (1L << 30) + 1, 3L << 30, Long.MAX_VALUE, -1}) {
            assertThatThrownBy(() -> LogOptions.defaults().segmentBytes(bad))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("segmentBytes must be 4096..1073741824 (4 KiB..1 GiB), was " + bad);
        }
    }

    /**
     * A segment file of more than 2 GiB (here an older one whose end reads as zeros: a sparse file) is read like any
     * other up to its damage, which is refused naming the file and the offset. It was read whole into one array, and
     * the open failed with an OutOfMemoryError ("Required array size too large") whatever the heap.
     */
    @Test
    void aSegmentOverTwoGibibytesIsReadThroughNotIntoOneArray() throws IOException {
        List<LogRecord> first = new ArrayList<>();
        for (long id = 1; id <= 20; id++) {
            first.add(send(id, 300));
        }
        write(dir, LogOptions.defaults(), first);
        write(dir, LogOptions.defaults(), List.of(send(21, 300)));
        Path older = SegmentedLog.segmentFiles(dir).get(0);
        long end = Files.size(older);
        try (RandomAccessFile f = new RandomAccessFile(older.toFile(), "rw")) {
            f.setLength((2L << 30) + (1 << 20)); // sparse: no disk used
        }
        List<LogRecord> got = new ArrayList<>();
        assertThatThrownBy(() -> SegmentedLog.open(dir, LogOptions.defaults(), got::add))
                .isInstanceOfSatisfying(LogCorruptedException.class, e -> {
                    assertThat(e.file()).isEqualTo(older);
                    assertThat(e.offset()).isEqualTo(end);
                    assertThat(e.getMessage()).contains("bad frame length before the end of the log");
                });
        assertThat(got).containsExactlyElementsOf(first);
    }

    /** Frames that straddle the window, and records bigger than it, read the same through any window. */
    @Test
    void anyReadWindowReplaysTheSameRecordsAndCutsTheSameTail() throws IOException {
        List<LogRecord> records = new ArrayList<>();
        for (long id = 1; id <= 60; id++) {
            records.add(send(id, (int) (id * 53 % 700)));
        }
        Path src = dir.resolve("src");
        write(src, LogOptions.defaults().segmentBytes(8192), records);
        List<Path> files = SegmentedLog.segmentFiles(src);
        assertThat(files.size()).isGreaterThan(2);
        Path newest = files.get(files.size() - 1);
        long lastFrame = Files.size(newest) - new RecordFormat.Out(16).frame(60, records.get(59));
        long cutAt = Files.size(newest) - 5; // the last record cut short
        for (int window : new int[] {16, 17, 100, 333, 4096, SegmentReader.WINDOW}) {
            Path d = dir.resolve("window-" + window);
            Files.createDirectories(d);
            for (Path p : files) {
                Files.copy(p, d.resolve(p.getFileName()));
            }
            try (FileChannel ch = FileChannel.open(d.resolve(newest.getFileName()), StandardOpenOption.WRITE)) {
                ch.truncate(cutAt);
            }
            List<LogRecord> got = new ArrayList<>();
            try (SegmentedLog log = SegmentedLog.open(d, LogOptions.defaults().readWindow(window), got::add)) {
                assertThat(got).as("window %d", window).containsExactlyElementsOf(records.subList(0, 59));
                assertThat(log.recovery().tornTail()).as("window %d", window).hasValueSatisfying(t -> {
                    assertThat(t.offset()).isEqualTo(lastFrame);
                    assertThat(t.droppedBytes()).isEqualTo(cutAt - lastFrame);
                });
            }
        }
    }

    /**
     * The largest message a server accepts (a 256 MiB frame) makes a SEND record a few dozen bytes over 256 MiB, the
     * old read limit: confirmed, then refused at the next open as damage. Such a record is read back now. Written by
     * hand, streaming, so the test holds only what recovery does (the record and its payload).
     */
    @Test
    void aRecordJustOverTwoHundredFiftySixMebibytesIsReadBack() throws IOException {
        int payload = (256 << 20) + 100;
        byte[] queue = "big".getBytes(StandardCharsets.UTF_8);
        ByteBuffer head = ByteBuffer.allocate(64);
        head.putLong(1).put(RecordFormat.SEND).putInt(queue.length).put(queue).putLong(7).putLong(1234).putInt(-1)
                .put((byte) 0).putInt(0).putInt(payload).flip();
        ByteBuffer tail = ByteBuffer.allocate(64);
        tail.putLong(0).putLong(0).putInt(-1).putLong(0).flip();
        int len = head.remaining() + payload + tail.remaining();
        assertThat(len).isGreaterThan(256 << 20);
        byte[] zeros = new byte[1 << 20];
        CRC32C crc = new CRC32C();
        crc.update(head.duplicate());
        for (int left = payload; left > 0; left -= Math.min(left, zeros.length)) {
            crc.update(zeros, 0, Math.min(left, zeros.length));
        }
        crc.update(tail.duplicate());
        ByteBuffer frame = ByteBuffer.allocate(RecordFormat.FRAME_HEADER_BYTES);
        frame.putInt(len).putInt(len ^ RecordFormat.LENGTH_MASK).putInt((int) crc.getValue()).flip();
        Files.createDirectories(dir);
        Path segment = dir.resolve(SegmentedLog.fileName(1));
        try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (ByteBuffer b : new ByteBuffer[] {RecordFormat.header(1), frame, head}) {
                while (b.hasRemaining()) {
                    ch.write(b);
                }
            }
            for (int left = payload; left > 0; ) {
                ByteBuffer z = ByteBuffer.wrap(zeros, 0, Math.min(left, zeros.length));
                left -= z.remaining();
                while (z.hasRemaining()) {
                    ch.write(z);
                }
            }
            while (tail.hasRemaining()) {
                ch.write(tail);
            }
        }
        long[] seen = new long[3];
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> {
            LogRecord.Send s = (LogRecord.Send) r;
            seen[0]++;
            seen[1] = s.id();
            seen[2] = s.payload().length;
        })) {
            assertThat(log.recovery().tornTail()).isEmpty();
            assertThat(log.recovery().lastSeq()).isEqualTo(1);
        }
        assertThat(seen).containsExactly(1, 7, payload);
    }

    /** What {@link LogRecord.Send#storedBytes} says is what the record takes, for every kind of field. */
    @Test
    void storedBytesIsTheSizeOfTheRecordsBody() {
        Map<String, String> headers = new HashMap<>();
        headers.put("plain", "ascii");
        headers.put("é", "ü");
        headers.put("日本", "語");
        headers.put("emoji", "\uD83D\uDE00");
        List<LogRecord.Send> sends = List.of(
                new LogRecord.Send("q", 1, 2, null, 0, Map.of(), new byte[0], 0, 0, null, 0),
                new LogRecord.Send("queue.é", 1, 2, "k€y", 9, headers, new byte[1000], 3, 4, "dédup", 5),
                new LogRecord.Send("q", 1, 2, "x".repeat(1024), 0, Map.of("a", "b".repeat(1024)), new byte[7], 0, 0,
                        "\uD83D\uDE00".repeat(10), 0));
        for (LogRecord.Send s : sends) {
            int body = new RecordFormat.Out(64).frame(99, s) - RecordFormat.FRAME_HEADER_BYTES;
            assertThat(LogRecord.Send.storedBytes(s.queue(), s.key(), s.headers(), s.payload().length, s.dedupId()))
                    .as("%s", s).isEqualTo(body);
        }
    }

    /**
     * However much is pending, the writer frames at most about {@value SegmentedLog#BATCH_BYTES} bytes into its buffer
     * before it writes: 100,000 records were framed into one array, and large ones took it past what an array holds
     * (failing the log), or to twice the backlog's size in memory. The writer is held in a directory fsync of a roll
     * while 10 MiB are appended; they are then written in several batches, not one.
     */
    @Test
    void aBacklogIsWrittenInBatchesOfAFewMebibytes() throws Exception {
        CountDownLatch armed = new CountDownLatch(1);
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        SegmentedLog.Forcer forcer = (path, channel, metadata) -> {
            if (armed.getCount() == 0 && Files.isDirectory(path) && holding.getCount() == 1) {
                holding.countDown();
                try {
                    release.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            channel.force(metadata);
        };
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults().segmentBytes(16 << 20), r -> { },
                forcer)) {
            try {
                log.appendAndWait(send(1, (16 << 20) + 1)).get(60, TimeUnit.SECONDS); // fills the segment
                armed.countDown();
                long rolling = log.append(send(2, 10)); // rolls: the writer stops in the new segment's dir fsync
                assertThat(holding.await(60, TimeUnit.SECONDS)).isTrue();
                long batchesBefore = log.stats().batches();
                long last = rolling;
                for (long id = 3; id <= 12; id++) {
                    last = log.append(send(id, 1 << 20));
                }
                release.countDown();
                CompletableFuture<Void> all = log.whenDurable(last);
                all.get(60, TimeUnit.SECONDS);
                // the roll's record and the ten after it (within one segment): one batch before, now 4 MiB at a time
                assertThat(log.stats().batches() - batchesBefore).isGreaterThanOrEqualTo(3);
            } finally {
                release.countDown();
            }
        }
        List<Long> ids = new ArrayList<>();
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> ids.add(((LogRecord.Send) r).id()))) {
            assertThat(ids).hasSize(12);
        }
    }
}
