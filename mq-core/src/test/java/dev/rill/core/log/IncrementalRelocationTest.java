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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Relocation runs in slices between batches of appends: appends are written and confirmed while a relocation is in
 * progress, a message acked between slices is not copied (or, copied already, its ack hits the copy), and a crash,
 * close or failure at any point between slices leaves a log that recovers every live message exactly once.
 *
 * <p>Session 1 writes {@value #MESSAGES} messages over several 16 KiB segments, one in {@value #LIVE_EVERY} never
 * acked; every SEND carries a dedup window that is open until {@link #T1}, so nothing is relocated in session 1.
 * Session 2 opens at {@code T1} with 4 KiB slices and 4 KiB segments: the idle writer relocates the whole run, and
 * its copies (about 5 KiB) fill the segment the open started, so they go on in a second one after a roll.
 */
class IncrementalRelocationTest {

    private static final long T0 = 1_000_000_000L;
    private static final long T1 = T0 + 120_000;
    private static final int MESSAGES = 400;
    private static final int LIVE_EVERY = 20;
    private static final int SLICE = 4096;

    @TempDir
    Path tmp;

    private Path live;
    private final AtomicLong clock = new AtomicLong(T0);
    private long segmentBytes = 16 * 1024;
    private Set<String> oldSegments;

    private static String payload(long id) {
        return "message-" + id + "-" + "x".repeat(200);
    }

    private static boolean isLive(long id) {
        return id % LIVE_EVERY == 1;
    }

    private LogOptions opts() {
        return LogOptions.defaults().fsync(FsyncPolicy.never()).segmentBytes(segmentBytes).clock(clock::get)
                .recoveryListener(RecoveryListener.none());
    }

    @BeforeEach
    void fill() throws Exception {
        live = tmp.resolve("live");
        try (SegmentedLog log = SegmentedLog.open(live, opts(), r -> { })) {
            log.append(new LogRecord.Declare("q", new byte[] {1}, 1));
            long last = 0;
            for (long id = 1; id <= MESSAGES; id++) {
                last = log.append(new LogRecord.Send("q", id, T0, null, 0, Map.of(), payload(id).getBytes(), 0, 0,
                        "d-" + id, T0 + 60_000));
                if (!isLive(id)) {
                    last = log.append(new LogRecord.Ack("q", id));
                }
            }
            log.whenDurable(last).join();
            assertThat(log.stats().messagesRelocated()).isZero();
        }
        oldSegments = names(live);
        assertThat(oldSegments).hasSizeBetween(5, SegmentedLog.RELOCATE_RUN);
        clock.set(T1);
        segmentBytes = 4096;
    }

    private static Set<String> names(Path d) throws IOException {
        Set<String> out = new TreeSet<>();
        for (Path p : SegmentedLog.segmentFiles(d)) {
            out.add(p.getFileName().toString());
        }
        return out;
    }

    private static Map<Long, String> expected(Set<Long> acked) {
        Map<Long, String> m = new TreeMap<>();
        for (long id = 1; id <= MESSAGES; id++) {
            if (isLive(id) && !acked.contains(id)) {
                m.put(id, payload(id));
            }
        }
        return m;
    }

    /** The (queue, id) of every relocated SEND copy (sequence number 0) in the segments of {@code d}. */
    private static List<Long> copiedIds(Path d) throws IOException {
        List<Long> ids = new ArrayList<>();
        for (Path p : SegmentedLog.segmentFiles(d)) {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p));
            int pos = RecordFormat.HEADER_BYTES;
            while (pos + RecordFormat.FRAME_HEADER_BYTES <= b.limit()) {
                int len = b.getInt(pos);
                ByteBuffer body = ByteBuffer.wrap(b.array(), pos + RecordFormat.FRAME_HEADER_BYTES, len).slice();
                long seq = body.getLong(0);
                if (seq == 0 && RecordFormat.decode(body.position(8)) instanceof LogRecord.Send s) {
                    ids.add(s.id());
                }
                pos += RecordFormat.FRAME_HEADER_BYTES + len;
            }
        }
        return ids;
    }

    private static long lastLiveId() {
        long id = MESSAGES;
        while (!isLive(id)) {
            id--;
        }
        return id;
    }

    /**
     * During one relocation, an ACK appended after its first slice (by the hook, on the writer thread: append never
     * blocks) is written and confirmed before the next slice, with nothing of the run deleted yet. Before, the writer
     * read the whole run (up to 16 segments) before it took the next append. The ACK of message 1 (copied in the
     * first slice) hits the copy; the ACK of the last live message (in the last segment, not read yet) keeps it from
     * being copied at all.
     */
    @Test
    void appendsAreConfirmedBetweenSlicesOfOneRelocation() throws Exception {
        AtomicReference<SegmentedLog> ref = new AtomicReference<>();
        AtomicLong ackSeq = new AtomicLong();
        List<String> seen = new CopyOnWriteArrayList<>();
        long lastLive = lastLiveId();
        IntConsumer hook = slice -> {
            SegmentedLog log = ref.get();
            if (slice == 1) {
                log.append(new LogRecord.Ack("q", 1));
                ackSeq.set(log.append(new LogRecord.Ack("q", lastLive)));
            } else {
                LogStats st = log.stats();
                seen.add(slice + ":" + (log.durableSeq() >= ackSeq.get()) + ":" + st.segmentsDeleted());
            }
        };
        // the writer starts relocating as soon as the open returns: the hook must find the log
        Path d = live;
        SegmentedLog log = openWithHook(d, hook, ref);
        try {
            await().atMost(Duration.ofSeconds(30)).until(() -> log.stats().segmentsDeleted() >= oldSegments.size());
            assertThat(seen).as("slices after the first, each as slice:ackConfirmed:segmentsDeleted")
                    .hasSizeGreaterThanOrEqualTo(5)
                    .first().isEqualTo("2:true:0");
            assertThat(seen).allMatch(s -> s.endsWith(":true:0"));
            assertThat(log.whenDurable(ackSeq.get())).isDone();
        } finally {
            log.close();
        }
        assertThat(names(d)).doesNotContainAnyElementsOf(oldSegments);
        List<Long> copied = copiedIds(d);
        assertThat(copied).as("copied before its ack").contains(1L).as("acked before its turn").doesNotContain(
                lastLive);
        assertThat(copied).doesNotHaveDuplicates();
        assertThat(LiveAfterReplay.payloadsById(d, opts())).isEqualTo(expected(Set.of(1L, lastLive)));
    }

    /** The writer may run the first slices before open returns: the hook waits for the log. */
    private SegmentedLog openWithHook(Path d, IntConsumer hook, AtomicReference<SegmentedLog> ref) throws Exception {
        IntConsumer waiting = slice -> {
            await().atMost(Duration.ofSeconds(30)).until(() -> ref.get() != null);
            hook.accept(slice);
        };
        SegmentedLog log = SegmentedLog.open(d, opts().relocation(SLICE, waiting), r -> { });
        ref.set(log);
        return log;
    }

    /**
     * The files as a crash leaves them after each slice of a relocation (every slice's copies written, not yet
     * fsynced, the old segments all there), and, after the last slice, with the copies spread over two segments (a
     * roll in the middle of the run): the older one whole (the roll fsynced it) and the newer one cut at every frame
     * boundary and inside every frame, or gone (a crash in the roll, before the directory fsync); the segment before a
     * roll cut anywhere with none after it; and, once the run is deleted, its segments partly deleted, oldest first.
     * Each recovers every live message once, without the ones acked between slices, and opens again (relocating or
     * not) to the same messages.
     */
    @Test
    void everyStateBetweenSlicesRecovers() throws Exception {
        AtomicReference<SegmentedLog> ref = new AtomicReference<>();
        List<Path> states = new CopyOnWriteArrayList<>();
        long lastLive = lastLiveId();
        IntConsumer hook = slice -> {
            try {
                states.add(LiveAfterReplay.copySegments(live, tmp.resolve("state-" + slice)));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            if (slice == 1) {
                ref.get().append(new LogRecord.Ack("q", 1));
                ref.get().append(new LogRecord.Ack("q", lastLive));
            }
        };
        try (SegmentedLog log = openWithHook(live, hook, ref)) {
            await().atMost(Duration.ofSeconds(30)).until(() -> log.stats().segmentsDeleted() >= oldSegments.size());
        }
        assertThat(states).hasSizeGreaterThanOrEqualTo(5);
        for (int i = 0; i < states.size(); i++) {
            Path s = states.get(i);
            assertThat(names(s)).as(s + " has every old segment").containsAll(oldSegments);
            Map<Long, String> want = expected(i == 0 ? Set.of() : Set.of(1L, lastLive));
            Path opened = copyOf(s, "opened-" + i); // an open adds a segment: the state itself stays as it is
            assertThat(LiveAfterReplay.payloadsById(opened, opts())).as("state after slice " + (i + 1)).isEqualTo(want);
            assertThat(LiveAfterReplay.payloadsById(opened, opts())).as("state after slice " + (i + 1) + ", opened again").isEqualTo(want);
        }
        // the last state: the segments with the copies, in order, each cut anywhere with the ones before it whole
        Path lastState = states.get(states.size() - 1);
        List<Path> copySegments = SegmentedLog.segmentFiles(lastState).stream()
                .filter(p -> !oldSegments.contains(p.getFileName().toString())).toList();
        assertThat(copySegments).as("the copies span a roll").hasSizeGreaterThanOrEqualTo(2);
        int n = 0;
        for (int k = 0; k < copySegments.size(); k++) {
            Path cutOne = copySegments.get(k);
            byte[] data = Files.readAllBytes(cutOne);
            ByteBuffer b = ByteBuffer.wrap(data);
            List<Integer> cuts = new ArrayList<>(List.of(-1)); // -1: the segment gone
            for (int pos = RecordFormat.HEADER_BYTES; pos < data.length; ) {
                pos += RecordFormat.FRAME_HEADER_BYTES + b.getInt(pos);
                cuts.add(pos);
                cuts.add(pos - 1);
            }
            for (int cut : cuts) {
                if (cut > data.length) {
                    continue;
                }
                Path s = copyOf(lastState, "cut-" + n++);
                for (Path later : copySegments.subList(k + 1, copySegments.size())) {
                    Files.delete(s.resolve(later.getFileName()));
                }
                Path f = s.resolve(cutOne.getFileName());
                if (cut < 0) {
                    Files.delete(f);
                } else {
                    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
                        ch.truncate(cut);
                    }
                }
                // the two acks were written together, after the first slice's copies, into the first segment with
                // copies: a cut there keeps both, the first, or none (a cut before them); past a roll, both are kept
                String what = "copies' segment " + (k + 1) + " of " + copySegments.size() + " cut at " + cut + " of "
                        + data.length;
                if (k == 0) {
                    assertThat(LiveAfterReplay.payloadsAfterCut(s, opts())).as(what)
                            .isIn(expected(Set.of()), expected(Set.of(1L)), expected(Set.of(1L, lastLive)));
                } else {
                    assertThat(LiveAfterReplay.payloadsAfterCut(s, opts())).as(what)
                            .isEqualTo(expected(Set.of(1L, lastLive)));
                }
            }
        }
        assertThat(n).isGreaterThan(20);
        // the run deleted oldest first, the crash after the k-th
        List<String> run = new ArrayList<>(oldSegments);
        for (int k = 1; k < run.size(); k++) {
            Path d = LiveAfterReplay.copySegments(live, tmp.resolve("deleted-" + k));
            for (String name : run.subList(k, run.size())) {
                Files.copy(lastState.resolve(name), d.resolve(name));
            }
            assertThat(LiveAfterReplay.payloadsById(d, opts())).as("the first " + k + " of the run deleted")
                    .isEqualTo(expected(Set.of(1L, lastLive)));
        }
    }

    /** A close while a relocation is in progress: its reader is closed, nothing is deleted, and nothing is lost. */
    @Test
    void closeDuringARelocation() throws Exception {
        AtomicReference<SegmentedLog> ref = new AtomicReference<>();
        AtomicReference<Thread> closer = new AtomicReference<>();
        AtomicBoolean waited = new AtomicBoolean();
        IntConsumer hook = slice -> {
            if (slice == 2) {
                Thread t = new Thread(() -> {
                    try {
                        ref.get().close();
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                closer.set(t);
                t.start();
                // close() has set its flag once it waits for this thread
                await().atMost(Duration.ofSeconds(30)).until(() -> t.getState() == Thread.State.WAITING);
                waited.set(true);
            }
        };
        SegmentedLog log = openWithHook(live, hook, ref);
        await().atMost(Duration.ofSeconds(30)).until(() -> closer.get() != null);
        closer.get().join(30_000);
        assertThat(closer.get().isAlive()).isFalse();
        assertThat(waited).isTrue();
        assertThat(log.stats().segmentsDeleted()).isZero();
        assertThat(names(live)).containsAll(oldSegments);
        assertThat(openFiles(live)).as("files of the log still open").isEmpty();
        assertThat(LiveAfterReplay.payloadsById(live, opts())).isEqualTo(expected(Set.of()));
        // a later open relocates the run to the end (the open of the replay above may have done it already)
        try (SegmentedLog again = SegmentedLog.open(live, opts(), r -> { })) {
            await().atMost(Duration.ofSeconds(30)).until(() -> java.util.Collections.disjoint(names(live),
                    oldSegments));
        }
        assertThat(names(live)).doesNotContainAnyElementsOf(oldSegments);
        assertThat(LiveAfterReplay.payloadsById(live, opts())).isEqualTo(expected(Set.of()));
    }

    /**
     * The fsync that ends a relocation (after its roll) fails: the log fails, the reader is closed, nothing of the run
     * is deleted, and the next open recovers every live message.
     */
    @Test
    void failedFsyncAtTheEndOfARelocation() throws Exception {
        // no fsync between slices under NEVER without appends, but for the roll: fsyncs fail once it is done
        failedFsyncDuringARelocation(log -> log.stats().segments() >= oldSegments.size() + 2);
    }

    /**
     * The fsync of the segment a relocation's copies filled, in its roll, fails: as at the end, nothing of the run is
     * deleted and nothing is lost.
     */
    @Test
    void failedFsyncInARelocationsRoll() throws Exception {
        failedFsyncDuringARelocation(log -> true); // from the first slice on: the roll's fsync is the first
    }

    private void failedFsyncDuringARelocation(java.util.function.Predicate<SegmentedLog> failFrom) throws Exception {
        AtomicBoolean failFsyncs = new AtomicBoolean();
        List<String> failed = new CopyOnWriteArrayList<>();
        SegmentedLog.Forcer forcer = (path, channel, metadata) -> {
            if (failFsyncs.get()) {
                failed.add(path.getFileName().toString());
                throw new IOException("injected fsync failure of " + path);
            }
            channel.force(metadata);
        };
        AtomicReference<SegmentedLog> ref = new AtomicReference<>();
        IntConsumer hook = slice -> {
            await().atMost(Duration.ofSeconds(30)).until(() -> ref.get() != null);
            if (failFrom.test(ref.get())) {
                failFsyncs.set(true);
            }
        };
        SegmentedLog log = SegmentedLog.open(live, opts().relocation(SLICE, hook), r -> { }, forcer);
        ref.set(log);
        try {
            await().atMost(Duration.ofSeconds(30)).until(() -> log.failure().isPresent());
            assertThat(log.failure().get()).hasMessageContaining("injected fsync failure");
            assertThat(failed).first().as("a segment with copies").matches(n -> !oldSegments.contains(n));
            assertThat(log.stats().segmentsDeleted()).isZero();
            assertThat(log.stats().messagesRelocated()).isGreaterThan(0);
            assertThat(openFiles(live).stream().filter(p -> oldSegments.contains(p.getFileName().toString())))
                    .as("old segments still open").isEmpty();
        } finally {
            log.close();
        }
        assertThat(names(live)).containsAll(oldSegments);
        assertThat(LiveAfterReplay.payloadsById(live, opts())).isEqualTo(expected(Set.of()));
    }

    private Path copyOf(Path state, String name) throws IOException {
        return LiveAfterReplay.copySegments(state, tmp.resolve(name));
    }

    /** The files under {@code d} this JVM holds open (Linux: /proc/self/fd; elsewhere none are found). */
    private static List<Path> openFiles(Path d) throws IOException {
        Path fds = Path.of("/proc/self/fd");
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(fds)) {
            return out;
        }
        Path real = d.toRealPath();
        try (Stream<Path> s = Files.list(fds)) {
            for (Path fd : s.toList()) {
                try {
                    Path target = Files.readSymbolicLink(fd);
                    if (target.startsWith(real) && target.getFileName().toString().endsWith(SegmentedLog.SUFFIX)) {
                        out.add(target);
                    }
                } catch (IOException | UnsupportedOperationException e) {
                    // closed meanwhile
                }
            }
        }
        return out;
    }
}
