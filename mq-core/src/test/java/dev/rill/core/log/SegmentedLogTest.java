package dev.rill.core.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SegmentedLogTest {

    @TempDir
    Path dir;

    private static LogRecord.Send send(String q, long id, int payloadBytes) {
        byte[] p = new byte[payloadBytes];
        for (int i = 0; i < p.length; i++) {
            p[i] = (byte) (id + i);
        }
        return new LogRecord.Send(q, id, 1000 + id, "k" + id, (int) (id % 10), Map.of("n", Long.toString(id)), p,
                0, 0, null, 0);
    }

    private static List<LogRecord> allKinds() {
        return LogFixture.records();
    }

    private static List<LogRecord> reopen(Path dir) throws IOException {
        List<LogRecord> got = new ArrayList<>();
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), got::add)) {
            assertThat(log.recovery().records()).isEqualTo(got.size());
        }
        return got;
    }

    private static void writeAll(Path dir, List<LogRecord> records) throws IOException {
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> { })) {
            long last = 0;
            for (LogRecord r : records) {
                last = log.append(r);
            }
            log.whenDurable(last).orTimeout(30, TimeUnit.SECONDS).join();
        }
    }

    @Test
    void roundTripOfEveryRecordType() throws IOException {
        writeAll(dir, allKinds());
        assertThat(reopen(dir)).containsExactlyElementsOf(allKinds());
    }

    @Test
    void restartContinuesSequenceAndKeepsEarlierRecords() throws IOException {
        List<LogRecord> expected = new ArrayList<>();
        for (int round = 0; round < 3; round++) {
            List<LogRecord> batch = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                batch.add(send("q", round * 5L + i + 1, 10));
            }
            List<LogRecord> seen = new ArrayList<>();
            try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), seen::add)) {
                assertThat(seen).containsExactlyElementsOf(expected);
                long before = log.lastSeq();
                assertThat(before).isEqualTo(expected.size());
                long last = 0;
                for (LogRecord r : batch) {
                    last = log.append(r);
                }
                assertThat(last).isEqualTo(before + 5);
                log.whenDurable(last).orTimeout(30, TimeUnit.SECONDS).join();
            }
            expected.addAll(batch);
        }
        assertThat(reopen(dir)).containsExactlyElementsOf(expected);
    }

    /** The byte size of a record's frame. */
    private static int frameSize(long seq, LogRecord r) {
        RecordFormat.Out o = new RecordFormat.Out(64);
        return o.frame(seq, r);
    }

    private Path onlySegment(Path d) throws IOException {
        List<Path> files = SegmentedLog.segmentFiles(d);
        assertThat(files).hasSize(1);
        return files.get(0);
    }

    private static Path copyDir(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        for (Path p : SegmentedLog.segmentFiles(from)) {
            Files.copy(p, to.resolve(p.getFileName()));
        }
        return to;
    }

    @Test
    void tornTailAtEveryByteOfTheLastRecordIsCutAndEarlierRecordsStay() throws IOException {
        Path src = dir.resolve("src");
        List<LogRecord> records = List.of(send("q", 1, 20), send("q", 2, 7), send("q", 3, 33));
        writeAll(src, records);
        Path file = onlySegment(src);
        long size = Files.size(file);
        long lastStart = size - frameSize(3, records.get(2));
        for (long cut = lastStart; cut < size; cut++) {
            Path d = copyDir(src, dir.resolve("cut" + cut));
            try (FileChannel ch = FileChannel.open(d.resolve(file.getFileName()), StandardOpenOption.WRITE)) {
                ch.truncate(cut);
            }
            List<LogRecord> got = new ArrayList<>();
            try (SegmentedLog log = SegmentedLog.open(d, LogOptions.defaults(), got::add)) {
                assertThat(got).as("cut at %d", cut).containsExactlyElementsOf(records.subList(0, 2));
                if (cut > lastStart) {
                    long dropped = cut - lastStart;
                    assertThat(log.recovery().tornTail()).as("cut at %d", cut).hasValueSatisfying(t -> {
                        assertThat(t.offset()).isEqualTo(lastStart);
                        assertThat(t.droppedBytes()).isEqualTo(dropped);
                    });
                } else {
                    assertThat(log.recovery().tornTail()).isEmpty();
                }
                assertThat(log.lastSeq()).isEqualTo(2);
                log.appendAndWait(send("q", 4, 5)).orTimeout(30, TimeUnit.SECONDS).join();
            }
            List<LogRecord> again = reopen(d);
            assertThat(again).hasSize(3);
            assertThat(again.get(2)).isEqualTo(send("q", 4, 5));
        }
    }

    @Test
    void zeroFilledTailIsTorn() throws IOException {
        List<LogRecord> records = List.of(send("q", 1, 20), send("q", 2, 7));
        writeAll(dir, records);
        Path file = onlySegment(dir);
        long size = Files.size(file);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ch.write(ByteBuffer.allocate(100));
        }
        List<LogRecord> got = new ArrayList<>();
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), got::add)) {
            assertThat(got).containsExactlyElementsOf(records);
            assertThat(log.recovery().tornTail()).hasValueSatisfying(t -> assertThat(t.offset()).isEqualTo(size));
        }
    }

    @Test
    void flippedByteInAnEarlierRecordRefusesStartNamingFileAndOffset() throws IOException {
        Path src = dir.resolve("src");
        List<LogRecord> records = List.of(send("q", 1, 20), send("q", 2, 7), send("q", 3, 33));
        writeAll(src, records);
        Path file = onlySegment(src);
        long firstStart = RecordFormat.HEADER_BYTES;
        long secondStart = firstStart + frameSize(1, records.get(0));
        long thirdStart = secondStart + frameSize(2, records.get(1));
        for (long at = firstStart; at < thirdStart; at++) {
            Path d = copyDir(src, dir.resolve("flip" + at));
            Path f = d.resolve(file.getFileName());
            byte[] content = Files.readAllBytes(f);
            content[(int) at] ^= 0x10;
            Files.write(f, content);
            long recordStart = at < secondStart ? firstStart : secondStart;
            long flipped = at;
            assertThatThrownBy(() -> SegmentedLog.open(d, LogOptions.defaults(), r -> { }))
                    .as("flip at %d", at)
                    .isInstanceOfSatisfying(LogCorruptedException.class, e -> {
                        assertThat(e.file()).isEqualTo(f);
                        assertThat(e.offset()).as("flip at %d", flipped).isEqualTo(recordStart);
                        assertThat(e.getMessage()).contains(f.toString()).contains("offset " + recordStart);
                    });
            // refused, not repaired: the file is unchanged and still refused
            assertThat(Files.readAllBytes(f)).isEqualTo(content);
        }
    }

    @Test
    void unknownFormatVersionIsRefused() throws IOException {
        writeAll(dir, List.of(send("q", 1, 3)));
        Path file = onlySegment(dir);
        byte[] content = Files.readAllBytes(file);
        content[5] = 2; // version 1 -> 2
        Files.write(file, content);
        assertThatThrownBy(() -> SegmentedLog.open(dir, LogOptions.defaults(), r -> { }))
                .isInstanceOf(LogCorruptedException.class)
                .hasMessageContaining("unsupported log format version 2")
                .hasMessageContaining("reads version 1")
                .hasMessageContaining(file.toString());
    }

    @Test
    void foreignFileIsRefused() throws IOException {
        Files.writeString(dir.resolve(SegmentedLog.fileName(1)), "this is not a log segment at all");
        assertThatThrownBy(() -> SegmentedLog.open(dir, LogOptions.defaults(), r -> { }))
                .isInstanceOf(LogCorruptedException.class)
                .hasMessageContaining("not a Rill log segment");
    }

    @Test
    void checkedInFixtureOfFormatVersion1StillReads() throws IOException {
        Path file = dir.resolve(SegmentedLog.fileName(1));
        try (InputStream in = getClass().getResourceAsStream("/log-fixture/" + SegmentedLog.fileName(1))) {
            assertThat(in).as("fixture resource").isNotNull();
            Files.copy(in, file);
        }
        List<LogRecord> got = new ArrayList<>();
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), got::add)) {
            assertThat(log.recovery().tornTail()).isEmpty();
            assertThat(log.recovery().lastSeq()).isEqualTo(LogFixture.records().size());
        }
        assertThat(got).containsExactlyElementsOf(LogFixture.records());
    }

    @Test
    void groupCommitWritesManyRecordsPerFsyncUnderConcurrentAppenders() throws Exception {
        int threads = 4;
        int perThread = 2000;
        CountDownLatch start = new CountDownLatch(1);
        List<CompletableFuture<Void>> all = Collections.synchronizedList(new ArrayList<>());
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults().fsync(FsyncPolicy.always()), r -> { })) {
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int tt = t;
                Thread th = new Thread(() -> {
                    try {
                        start.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    for (int i = 0; i < perThread; i++) {
                        all.add(log.appendAndWait(send("q" + tt, i + 1, 100)));
                    }
                });
                th.start();
                ts.add(th);
            }
            start.countDown();
            for (Thread th : ts) {
                th.join(30_000);
            }
            CompletableFuture.allOf(all.toArray(new CompletableFuture[0])).get(60, TimeUnit.SECONDS);
            LogStats s = log.stats();
            assertThat(s.records()).isEqualTo(threads * perThread);
            assertThat(s.durableSeq()).isEqualTo(threads * perThread);
            // group commit: one fsync covers every batch written since the previous one (the next batch is written
            // while the previous fsync runs), never more fsyncs than writes (+1 for the new segment's header), and
            // each fsync covers many records
            assertThat(s.fsyncs()).isLessThanOrEqualTo(s.batches() + 1);
            assertThat(s.fsyncs()).isLessThan(s.records() / 4);
        }
        List<LogRecord> got = reopen(dir);
        assertThat(got).hasSize(threads * perThread);
        for (int t = 0; t < threads; t++) { // per appender, in order
            String q = "q" + t;
            assertThat(got.stream().filter(r -> r.queue().equals(q)).mapToLong(r -> ((LogRecord.Send) r).id()))
                    .containsExactlyElementsOf(() -> java.util.stream.LongStream.rangeClosed(1, perThread).iterator());
        }
    }

    @Test
    void waitersOfALaterRecordCompleteOnlyAfterEarlierOnes() throws Exception {
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> { })) {
            List<Long> order = Collections.synchronizedList(new ArrayList<>());
            List<CompletableFuture<Void>> fs = new ArrayList<>();
            for (int i = 1; i <= 200; i++) {
                long seq = log.append(send("q", i, 10));
                fs.add(log.whenDurable(seq).thenRun(() -> order.add(seq)));
            }
            CompletableFuture.allOf(fs.toArray(new CompletableFuture[0])).get(30, TimeUnit.SECONDS);
            assertThat(order).isSorted().hasSize(200);
            assertThat(log.whenDurable(5)).isCompleted();
        }
    }

    @Test
    void intervalAndNeverPoliciesConfirmAfterTheWrite() throws Exception {
        for (FsyncPolicy p : List.of(FsyncPolicy.interval(Duration.ofMillis(50)), FsyncPolicy.never())) {
            Path d = dir.resolve(p.kind().name());
            try (SegmentedLog log = SegmentedLog.open(d, LogOptions.defaults().fsync(p), r -> { })) {
                long before = log.stats().fsyncs();
                long last = 0;
                for (int i = 1; i <= 500; i++) {
                    last = log.append(send("q", i, 10));
                }
                log.whenDurable(last).get(30, TimeUnit.SECONDS);
                if (p.kind() == FsyncPolicy.Kind.NEVER) {
                    assertThat(log.stats().fsyncs()).isEqualTo(before);
                }
            }
            assertThat(reopen(d)).hasSize(500);
        }
    }

    @Test
    void secondLogOnTheSameDirectoryFailsClearly() throws IOException {
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> { })) {
            assertThatThrownBy(() -> SegmentedLog.open(dir, LogOptions.defaults(), r -> { }))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("in use by another broker")
                    .hasMessageContaining(dir.toString());
            log.appendAndWait(send("q", 1, 1)).orTimeout(30, TimeUnit.SECONDS).join();
        }
        assertThat(reopen(dir)).hasSize(1); // free again after close
    }

    @Test
    void appendsAfterCloseAreNeverConfirmed() throws IOException {
        SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> { });
        log.close();
        long seq = log.append(send("q", 1, 1));
        assertThat(log.whenDurable(seq)).isCompletedExceptionally();
        assertThat(reopen(dir)).isEmpty();
    }

    @Test
    void compactionDeletesSegmentsWhoseMessagesAreAllGoneWithoutStoppingAppends() throws Exception {
        AtomicLong clock = new AtomicLong(0);
        LogOptions opts = LogOptions.defaults().segmentBytes(4096).clock(clock::get);
        byte[] spec = "s".getBytes(StandardCharsets.UTF_8);
        try (SegmentedLog log = SegmentedLog.open(dir, opts, r -> { })) {
            log.append(new LogRecord.Declare("q", spec, 1));
            long last = 0;
            for (int i = 1; i <= 100; i++) { // ~ 100 * 530 bytes: 13+ segments
                last = log.append(send("q", i, 500));
            }
            // a message with an open dedup window keeps its segment
            last = log.append(new LogRecord.Send("q", 101, 0, null, 0, Map.of(), new byte[500], 0, 0, "d", 1000));
            log.whenDurable(last).get(30, TimeUnit.SECONDS);
            int before = SegmentedLog.segmentFiles(dir).size();
            assertThat(before).isGreaterThan(10);
            for (int i = 1; i <= 90; i++) {
                last = log.append(new LogRecord.Ack("q", i));
            }
            last = log.append(new LogRecord.Ack("q", 101));
            for (int i = 102; i <= 110; i++) { // appends go on and trigger compaction between batches
                last = log.append(send("q", i, 500));
            }
            log.whenDurable(last).get(30, TimeUnit.SECONDS);
            // compaction runs on the writer thread right after it confirmed the batch, one segment at a time, while
            // the sends above may have rolled new ones: wait for the count to drop, not for the first deletion
            await().atMost(Duration.ofSeconds(30)).until(() -> log.stats().segmentsDeleted() > 0
                    && SegmentedLog.segmentFiles(dir).size() < before);
            int afterAcks = SegmentedLog.segmentFiles(dir).size();
            assertThat(afterAcks).isLessThan(before);
            // the segment of message 101 (dedup window until 1000) is still there: messages 91..100 sit in it or before
            clock.set(2000);
            for (int i = 91; i <= 100; i++) {
                last = log.append(new LogRecord.Ack("q", i));
            }
            for (int i = 111; i <= 120; i++) {
                last = log.append(send("q", i, 500));
            }
            log.whenDurable(last).get(30, TimeUnit.SECONDS);
            await().atMost(Duration.ofSeconds(30)).until(() -> SegmentedLog.segmentFiles(dir).size() < afterAcks);
        }
        // the writer renames a dropped segment; the unlinker thread removes it, and close() waits for it to finish
        assertThat(deletedLeftovers(dir)).isEmpty();
        // what remains replays to exactly the live messages, with the queue still declared
        List<LogRecord> got = reopen(dir);
        List<Long> live = new ArrayList<>();
        java.util.Set<Long> acked = new java.util.HashSet<>();
        boolean declared = false;
        for (LogRecord r : got) {
            if (r instanceof LogRecord.Declare d) {
                declared = true;
                assertThat(d.nextId()).isGreaterThan(101);
            } else if (r instanceof LogRecord.Send s) {
                live.add(s.id());
            } else if (r instanceof LogRecord.Ack a) {
                acked.add(a.id());
            }
        }
        live.removeAll(acked);
        assertThat(declared).isTrue();
        assertThat(live).containsExactlyElementsOf(java.util.stream.LongStream.rangeClosed(102, 120).boxed().toList());
    }

    private static List<Path> deletedLeftovers(Path d) throws IOException {
        try (java.util.stream.Stream<Path> files = Files.list(d)) {
            return files.filter(p -> p.getFileName().toString().endsWith(SegmentedLog.DELETED_SUFFIX)).toList();
        }
    }

    /**
     * A segment renamed for deletion that a crash left before its unlink is never read (it may be damaged, or hold
     * records whose acks are gone) and an open removes it.
     */
    @Test
    void anOpenRemovesSegmentsRenamedForDeletionWithoutReadingThem() throws Exception {
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> { })) {
            log.whenDurable(log.append(new LogRecord.Declare("q", "s".getBytes(StandardCharsets.UTF_8), 1)))
                    .get(30, TimeUnit.SECONDS);
        }
        Path leftover = dir.resolve(SegmentedLog.fileName(1) + SegmentedLog.DELETED_SUFFIX);
        Files.write(leftover, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9}); // not a segment: read, it would be damage
        List<LogRecord> got = reopen(dir);
        assertThat(got).singleElement().isInstanceOf(LogRecord.Declare.class);
        assertThat(deletedLeftovers(dir)).isEmpty();
    }

    /**
     * What a segment starts with (the declarations, the next ids of deleted names) counted towards its size: once
     * that alone outgrew a segment, every batch rolled, each new segment starting with all of it again.
     */
    @Test
    void aSegmentWhoseDeclarationsOutgrowItIsNotRolledOnEveryBatch() throws Exception {
        byte[] spec = "s".repeat(100).getBytes(StandardCharsets.UTF_8);
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults().segmentBytes(4096), r -> { })) {
            for (int q = 0; q < 60; q++) { // ~ 60 * 150 bytes of declarations: more than a segment
                log.append(new LogRecord.Declare("queue-" + q, spec, 1));
            }
            log.whenDurable(log.append(send("queue-0", 1, 10))).get(30, TimeUnit.SECONDS);
        }
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults().segmentBytes(4096), r -> { })) {
            int before = log.stats().segments();
            for (int i = 2; i <= 41; i++) { // 40 batches of ~100 bytes: one segment's worth
                log.whenDurable(log.append(send("queue-0", i, 10))).get(30, TimeUnit.SECONDS);
            }
            assertThat(log.stats().segments() - before).as("segments rolled").isLessThanOrEqualTo(1);
        }
    }

    @Test
    void aBacklogOfLiveMessagesIsNotCopiedAround() throws Exception {
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults().segmentBytes(4096), r -> { })) {
            log.append(new LogRecord.Declare("q", "s".getBytes(StandardCharsets.UTF_8), 1));
            long last = 0;
            for (int i = 1; i <= 200; i++) { // ~25 segments, every message live
                last = log.append(send("q", i, 500));
                if (i % 20 == 0) {
                    log.whenDurable(last).get(30, TimeUnit.SECONDS); // batches: the writer looks at compaction
                }
            }
            log.whenDurable(last).get(30, TimeUnit.SECONDS);
            assertThat(log.stats().messagesRelocated()).isZero();
            assertThat(log.stats().segmentsDeleted()).isZero();
            assertThat(log.stats().segments()).isGreaterThan(20);
        }
        assertThat(reopen(dir).stream().filter(r -> r instanceof LogRecord.Send)).hasSize(200);
    }

    @Test
    void relocationWaitsUntilTheOldestSegmentsDedupWindowsAreOver() throws Exception {
        AtomicLong clock = new AtomicLong(0);
        LogOptions opts = LogOptions.defaults().segmentBytes(4096).clock(clock::get);
        try (SegmentedLog log = SegmentedLog.open(dir, opts, r -> { })) {
            log.append(new LogRecord.Declare("q", "s".getBytes(StandardCharsets.UTF_8), 1));
            log.append(send("q", 1, 100)); // long-lived
            log.append(new LogRecord.Send("q", 2, 0, null, 0, Map.of(), new byte[500], 0, 0, "d-2", 1000));
            log.append(new LogRecord.Ack("q", 2)); // gone, but its dedup window (until 1000) must outlive it
            long id = 3;
            long last = 0;
            for (int round = 0; round < 40; round++) { // ~40 segments of sent-and-acked traffic
                for (int i = 0; i < 8; i++) {
                    log.append(send("q", id, 500));
                    last = log.append(new LogRecord.Ack("q", id++));
                }
                log.whenDurable(last).get(30, TimeUnit.SECONDS);
            }
            assertThat(log.stats().messagesRelocated()).isZero();
            assertThat(SegmentedLog.segmentFiles(dir).size()).isGreaterThan(30);
            clock.set(2000); // the window is over: the next batch relocates message 1 and the dead segments go
            for (int i = 0; i < 8; i++) {
                log.append(send("q", id, 500));
                last = log.append(new LogRecord.Ack("q", id++));
            }
            log.whenDurable(last).get(30, TimeUnit.SECONDS);
            await().atMost(Duration.ofSeconds(30)).until(() -> SegmentedLog.segmentFiles(dir).size() <= 3);
            assertThat(log.stats().messagesRelocated()).isEqualTo(1);
        }
        List<LogRecord> got = reopen(dir);
        List<Long> live = new ArrayList<>();
        for (LogRecord r : got) {
            if (r instanceof LogRecord.Send s) {
                live.add(s.id());
            } else if (r instanceof LogRecord.Ack a) {
                live.remove(a.id());
            }
        }
        assertThat(live).containsExactly(1L);
        assertThat(got.stream().filter(r -> r instanceof LogRecord.Send s && s.id() == 1).findFirst().orElseThrow())
                .isEqualTo(new LogRecord.Send("q", 1, 1001, "k1", 1, Map.of("n", "1"), ((LogRecord.Send) send("q", 1,
                        100)).payload(), 0, 0, null, 0));
    }

    @Test
    void aFailingWriteFailsEveryUnconfirmedAndLaterAppendWithAClearError() throws Exception {
        Path d = dir.resolve("vanishing");
        try (SegmentedLog log = SegmentedLog.open(d, LogOptions.defaults().segmentBytes(4096), r -> { })) {
            long ok = log.append(send("q", 1, 10));
            log.whenDurable(ok).get(30, TimeUnit.SECONDS);
            // the directory disappears (like a volume gone): the next segment cannot be created
            try (java.util.stream.Stream<Path> files = Files.list(d)) {
                for (Path f : files.toList()) {
                    Files.delete(f);
                }
            }
            Files.delete(d);
            List<CompletableFuture<Void>> fs = new ArrayList<>();
            for (int i = 2; i <= 20; i++) { // more than a segment: forces a roll
                fs.add(log.whenDurable(log.append(send("q", i, 500))));
            }
            CompletableFuture<Void> last = fs.get(fs.size() - 1);
            Throwable t = last.handle((v, e) -> e).get(30, TimeUnit.SECONDS);
            assertThat(t).isInstanceOf(IOException.class).hasMessageContaining("cannot create log segment");
            assertThat(log.failure()).isPresent();
            assertThat(log.whenDurable(log.append(send("q", 21, 1)))).isCompletedExceptionally();
            assertThat(log.whenDurable(ok)).isCompleted(); // what was confirmed stays confirmed
        }
    }
}
