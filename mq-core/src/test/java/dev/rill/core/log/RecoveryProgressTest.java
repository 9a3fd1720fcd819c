package dev.rill.core.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.logging.Handler;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A start that replays a large log says so: {@link RecoveryListener} is told when recovery starts (segments, bytes),
 * how far it got at most every 5 seconds (after a segment, or within a big one every 16 MiB), and what it found at
 * the end. Time comes from the options' clock, which these tests step by hand: no test waits for real time.
 */
class RecoveryProgressTest {

    @TempDir
    Path dir;

    /** Every call a listener got, as text, with what the replay had seen by then. */
    private static final class Recorder implements RecoveryListener {
        final List<String> calls = new ArrayList<>();
        final List<RecoveryProgress> progress = new ArrayList<>();
        final List<Long> replayedAtProgress = new ArrayList<>();
        final AtomicLong replayed;
        RecoveryReport report;

        Recorder(AtomicLong replayed) {
            this.replayed = replayed;
        }

        @Override
        public void started(Path d, int segments, long bytes) {
            calls.add("started " + d.getFileName() + " " + segments + " " + bytes);
        }

        @Override
        public void progress(RecoveryProgress p) {
            calls.add("progress " + p.segmentsDone());
            progress.add(p);
            replayedAtProgress.add(replayed.get());
        }

        @Override
        public void finished(RecoveryReport r) {
            calls.add("finished");
            report = r;
        }
    }

    /** A clock that moves {@code step} seconds each time it is read. */
    private static LongSupplier stepping(long stepSeconds) {
        AtomicLong now = new AtomicLong(TimeUnit.DAYS.toNanos(3)); // nothing special about 0
        return () -> now.getAndAdd(TimeUnit.SECONDS.toNanos(stepSeconds));
    }

    private static LogRecord.Send message(String queue, long id, int bytes) {
        byte[] payload = new byte[bytes];
        payload[0] = (byte) id;
        return new LogRecord.Send(queue, id, id, null, 0, Map.of(), payload, 0, 0, null, 0);
    }

    /** Writes {@code records} with small segments and returns the segment files' sizes, oldest first. */
    private List<Long> fill(LogOptions options, List<LogRecord> records) throws IOException {
        try (SegmentedLog log = SegmentedLog.open(dir, options.recoveryListener(RecoveryListener.none()), r -> { })) {
            long seq = 0;
            for (LogRecord r : records) {
                seq = log.append(r);
            }
            log.whenDurable(seq).orTimeout(30, TimeUnit.SECONDS).join();
        }
        List<Long> sizes = new ArrayList<>();
        for (Path p : SegmentedLog.segmentFiles(dir)) {
            sizes.add(Files.size(p));
        }
        return sizes;
    }

    @Test
    void aLogOfSeveralSegmentsReportsItsStartProgressEveryFiveSecondsAndWhatItFound() throws IOException {
        List<LogRecord> records = new ArrayList<>();
        records.add(new LogRecord.Declare("orders", "spec".getBytes(StandardCharsets.UTF_8), 1));
        records.add(new LogRecord.Declare("audit", "spec".getBytes(StandardCharsets.UTF_8), 1));
        for (long id = 1; id <= 240; id++) {
            records.add(message(id % 3 == 0 ? "audit" : "orders", id, 200));
            if (id % 4 == 0) {
                records.add(new LogRecord.Ack(id % 3 == 0 ? "audit" : "orders", id));
            }
        }
        List<Long> sizes = fill(LogOptions.defaults().segmentBytes(4096), records);
        int segments = sizes.size();
        assertThat(segments).isGreaterThanOrEqualTo(11);
        long total = sizes.stream().mapToLong(Long::longValue).sum();

        AtomicLong replayed = new AtomicLong();
        Recorder recorder = new Recorder(replayed);
        // read at the open's start, after each segment, and at the end: 1 s apart
        LogOptions options = LogOptions.defaults().segmentBytes(4096).recoveryListener(recorder)
                .nanoClock(stepping(1));
        try (SegmentedLog log = SegmentedLog.open(dir, options, r -> replayed.incrementAndGet())) {
            List<String> expected = new ArrayList<>();
            expected.add("started " + dir.getFileName() + " " + segments + " " + total);
            for (int done = 5; done <= segments; done += 5) {
                expected.add("progress " + done);
            }
            expected.add("finished");
            assertThat(recorder.calls).containsExactlyElementsOf(expected);
            for (int i = 0; i < recorder.progress.size(); i++) {
                RecoveryProgress p = recorder.progress.get(i);
                int done = 5 * (i + 1);
                assertThat(p.segments()).isEqualTo(segments);
                assertThat(p.bytes()).isEqualTo(total);
                assertThat(p.bytesDone()).isEqualTo(sizes.subList(0, done).stream().mapToLong(Long::longValue).sum());
                assertThat(p.records()).isEqualTo(recorder.replayedAtProgress.get(i));
                assertThat(p.millis()).isEqualTo(done * 1000L);
            }
            RecoveryReport report = log.recovery();
            assertThat(recorder.report).isSameAs(report);
            assertThat(report.segments()).isEqualTo(segments);
            assertThat(report.bytes()).isEqualTo(total);
            assertThat(report.records()).isEqualTo(replayed.get());
            assertThat(report.queues()).isEqualTo(2);
            assertThat(report.liveMessages()).isEqualTo(180); // 240 sent, every 4th acked
            assertThat(report.millis()).isEqualTo((segments + 1) * 1000L);
            assertThat(report.tornTail()).isEmpty();
        }
    }

    /** A segment far bigger than the default (up to 1 GiB) still reports within itself, every 16 MiB read. */
    @Test
    void withinABigSegmentProgressIsCheckedEverySixteenMebibytes() throws IOException {
        List<LogRecord> records = new ArrayList<>();
        for (long id = 1; id <= 40; id++) {
            records.add(message("big", id, 1 << 20));
        }
        List<Long> sizes = fill(LogOptions.defaults(), records);
        assertThat(sizes).hasSize(1);
        Recorder recorder = new Recorder(new AtomicLong());
        LogOptions options = LogOptions.defaults().recoveryListener(recorder).nanoClock(stepping(5));
        try (SegmentedLog log = SegmentedLog.open(dir, options, r -> { })) {
            assertThat(recorder.progress).hasSize(3); // after 16 and 32 MiB, then at the segment's end
            assertThat(recorder.progress.get(0).segmentsDone()).isZero();
            assertThat(recorder.progress.get(0).bytesDone()).isBetween(16L << 20, 17L << 20);
            assertThat(recorder.progress.get(1).bytesDone()).isBetween(32L << 20, 33L << 20);
            assertThat(recorder.progress.get(2).segmentsDone()).isEqualTo(1);
            assertThat(recorder.progress.get(2).bytesDone()).isEqualTo(sizes.get(0));
            assertThat(log.recovery().records()).isEqualTo(40);
        }
    }

    @Test
    void anEmptyLogIsReportedWithoutProgress() throws IOException {
        Recorder recorder = new Recorder(new AtomicLong());
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults().recoveryListener(recorder)
                .nanoClock(stepping(60)), r -> { })) {
            assertThat(recorder.calls).containsExactly("started " + dir.getFileName() + " 0 0", "finished");
            assertThat(log.recovery().segments()).isZero();
        }
    }

    @Test
    void aListenerThatThrowsFailsTheOpenAndReleasesTheDirectory() throws IOException {
        fill(LogOptions.defaults(), List.of(message("q", 1, 10)));
        RecoveryListener failing = new RecoveryListener() {
            @Override
            public void finished(RecoveryReport report) {
                throw new IllegalStateException("listener broke");
            }
        };
        assertThatThrownBy(() -> SegmentedLog.open(dir, LogOptions.defaults().recoveryListener(failing), r -> { }))
                .isInstanceOf(IllegalStateException.class).hasMessage("listener broke");
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> { })) {
            assertThat(log.recovery().records()).isEqualTo(1);
        }
    }

    @Test
    void linesSayWhatEachCallTells() {
        List<String> lines = new ArrayList<>();
        RecoveryListener l = RecoveryListener.lines(lines::add);
        Path d = Path.of("/var/lib/rill");
        l.started(d, 12, 768L << 20);
        l.progress(new RecoveryProgress(5, 12, 320L << 20, 768L << 20, 1_234_567, 2_500));
        l.finished(new RecoveryReport(12, 2_345_678, 2_345_678, Optional.empty(), 5_400, 768L << 20, 3, 120_000));
        l.finished(new RecoveryReport(1, 1, 1, Optional.of(new RecoveryReport.TornTail(d.resolve("00000000000000000001.log"),
                100, 40, 0, d.resolve("00000000000000000001.log.cut-20260101T000000Z"))), 0, 140, 1, 1));
        assertThat(lines).containsExactly(
                "recovering 12 segments, 768.0 MiB in /var/lib/rill",
                "recovered 5/12 segments, 320.0/768.0 MiB, 1,234,567 records (134.2 MB/s)",
                "recovered 2,345,678 records from 12 segments (768.0 MiB) in 5.4 s (149.1 MB/s): 3 queues, "
                        + "120,000 live messages",
                "recovered 1 record from 1 segment (0.0 MiB) in 0.0 s: 1 queue, 1 live message; cut 40 bytes of an "
                        + "unsynced tail off /var/lib/rill/00000000000000000001.log (saved to "
                        + "/var/lib/rill/00000000000000000001.log.cut-20260101T000000Z)");
        lines.clear();
        l.started(d, 0, 0);
        l.finished(new RecoveryReport(0, 0, 0, Optional.empty(), 3, 0, 0, 0));
        assertThat(lines).as("a new data directory: nothing to say").isEmpty();
    }

    /** The default listener logs a log of 64 MiB or more at INFO, a smaller one (every test's) at DEBUG. */
    @Test
    void theLoggingListenerSpeaksUpForALogOfASegmentOrMore() {
        Logger jul = Logger.getLogger(SegmentedLog.class.getName());
        List<java.util.logging.LogRecord> got = new ArrayList<>();
        Handler h = new Handler() {
            @Override
            public void publish(java.util.logging.LogRecord r) {
                got.add(r);
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        java.util.logging.Level before = jul.getLevel();
        jul.setLevel(java.util.logging.Level.ALL);
        jul.addHandler(h);
        try {
            RecoveryListener.logging().started(dir, 1, (64L << 20) - 1);
            RecoveryListener.logging().started(dir, 2, 64L << 20);
        } finally {
            jul.removeHandler(h);
            jul.setLevel(before);
        }
        assertThat(got).extracting(r -> r.getLevel().getName() + " " + r.getMessage()).containsExactly(
                "FINE log: recovering 1 segment, 64.0 MiB in " + dir,
                "INFO log: recovering 2 segments, 64.0 MiB in " + dir);
    }
}
