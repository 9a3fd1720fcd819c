package dev.rill.core.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Write-behind: under {@code NEVER} (and {@code INTERVAL} with an interval far away) the syncer fsyncs the active
 * segment in the background once {@link SegmentedLog#FLUSH_BEHIND_BYTES} were written since the last fsync, so that
 * a segment roll, which fsyncs the outgoing segment on the writer thread while every append waits, finds little left
 * to write. Seen through the log's fsync seam: the syncer's fsync is held until the test lets it go, and appends go
 * on being written and confirmed meanwhile; a roll does not close the segment under it.
 */
class WriteBehindTest {

    private static final int PAYLOAD = 64 << 10;

    @TempDir
    Path tmp;

    /** Holds the syncer's first fsync of a segment until {@link #release}; counts who forced what. */
    private static final class HeldForcer implements SegmentedLog.Forcer {
        final CountDownLatch syncerForcing = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final CountDownLatch writerForcedHeldSegment = new CountDownLatch(1);
        final AtomicInteger syncerForces = new AtomicInteger();
        final AtomicReference<Path> held = new AtomicReference<>();
        final AtomicReference<FileChannel> heldChannel = new AtomicReference<>();
        final List<String> problems = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void force(Path path, FileChannel channel, boolean metadata) throws IOException {
            boolean segment = path.getFileName().toString().endsWith(SegmentedLog.SUFFIX);
            if (segment && Thread.currentThread().getName().startsWith("rill-log-syncer-")) {
                syncerForces.incrementAndGet();
                if (held.compareAndSet(null, path)) {
                    heldChannel.set(channel);
                    syncerForcing.countDown();
                    try {
                        if (!release.await(60, TimeUnit.SECONDS)) {
                            problems.add("never released");
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IOException(e);
                    }
                    if (!channel.isOpen()) {
                        problems.add("the segment was closed under the syncer's fsync");
                    }
                }
            }
            channel.force(metadata);
            if (segment && path.equals(held.get())
                    && Thread.currentThread().getName().startsWith("rill-log-writer-")) {
                writerForcedHeldSegment.countDown();
            }
        }
    }

    private static LogRecord.Send send(long id) {
        return new LogRecord.Send("q", id, id, null, 0, Map.of(), new byte[PAYLOAD], 0, 0, null, 0);
    }

    /** Appends sends {@code from..to} and waits until each is confirmed. */
    private static void appendConfirmed(SegmentedLog log, long from, long to) {
        long last = 0;
        for (long id = from; id <= to; id++) {
            last = log.append(send(id));
        }
        log.whenDurable(last).orTimeout(30, TimeUnit.SECONDS).join();
    }

    @Test
    void underNeverTheSyncerFsyncsInTheBackgroundOncePastTheBoundAndConfirmationsDoNotWaitForIt() throws Exception {
        backgroundFsyncPastTheBound(FsyncPolicy.never());
    }

    @Test
    void underALongIntervalTheSyncerFsyncsInTheBackgroundOncePastTheBoundBeforeTheInterval() throws Exception {
        backgroundFsyncPastTheBound(FsyncPolicy.interval(Duration.ofHours(1)));
    }

    private void backgroundFsyncPastTheBound(FsyncPolicy policy) throws Exception {
        Path dir = tmp.resolve("log");
        HeldForcer forcer = new HeldForcer();
        long below = SegmentedLog.FLUSH_BEHIND_BYTES / PAYLOAD - 4; // with their frames, still under the bound
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults().fsync(policy), r -> { }, forcer)) {
            appendConfirmed(log, 1, below);
            assertThat(forcer.syncerForces).as("no fsync by the syncer under the bound").hasValue(0);

            appendConfirmed(log, below + 1, below + 8); // past it
            assertThat(forcer.syncerForcing.await(30, TimeUnit.SECONDS)).as("the syncer fsyncs").isTrue();
            assertThat(forcer.held.get()).isEqualTo(SegmentedLog.segmentFiles(dir).get(0));

            // while that fsync is held, appends are written and confirmed all the same
            appendConfirmed(log, below + 9, below + 20);
            assertThat(log.durableSeq()).isEqualTo(below + 20);

            forcer.release.countDown();
            await().atMost(Duration.ofSeconds(30)).until(() -> log.stats().fsyncs() >= 2); // open's, the syncer's
            assertThat(log.failure()).isEmpty();
        }
        assertThat(forcer.problems).isEmpty();
        List<LogRecord> replayed = new ArrayList<>();
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), replayed::add)) {
            assertThat(replayed).hasSize((int) below + 20);
        }
    }

    /**
     * A roll while the syncer's fsync of the outgoing segment runs: the writer fsyncs that segment itself (it must be
     * on disk before the next one exists) and goes on with the next segment without waiting for the syncer's fsync;
     * the channel stays open under that fsync (a closed one would fail it, and the log) and the syncer closes it when
     * its fsync ends.
     */
    @Test
    void aRollDoesNotWaitForTheSyncersFsyncNorCloseTheSegmentUnderIt() throws Exception {
        Path dir = tmp.resolve("roll-log");
        HeldForcer forcer = new HeldForcer();
        long segmentBytes = 2 * SegmentedLog.FLUSH_BEHIND_BYTES;
        LogOptions options = LogOptions.defaults().fsync(FsyncPolicy.never()).segmentBytes(segmentBytes);
        long past = segmentBytes / PAYLOAD + 8;
        try (SegmentedLog log = SegmentedLog.open(dir, options, r -> { }, forcer)) {
            try {
                rollWhileTheSyncerForces(log, dir, forcer, past);
            } finally {
                forcer.release.countDown(); // a failed assertion must not leave the syncer held (close waits for it)
            }
        }
        assertThat(forcer.problems).isEmpty();
        List<LogRecord> replayed = new ArrayList<>();
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), replayed::add)) {
            assertThat(replayed).hasSize((int) past);
        }
    }

    private static void rollWhileTheSyncerForces(SegmentedLog log, Path dir, HeldForcer forcer, long past)
            throws Exception {
        appendConfirmed(log, 1, SegmentedLog.FLUSH_BEHIND_BYTES / PAYLOAD + 8);
        assertThat(forcer.syncerForcing.await(30, TimeUnit.SECONDS)).as("the syncer fsyncs").isTrue();

        long last = 0;
        for (long id = SegmentedLog.FLUSH_BEHIND_BYTES / PAYLOAD + 9; id <= past; id++) {
            last = log.append(send(id)); // the last ones go to the next segment
        }
        // the records past the roll are written to the next segment and confirmed while the syncer's fsync is held
        log.whenDurable(last).orTimeout(30, TimeUnit.SECONDS).join();
        assertThat(forcer.writerForcedHeldSegment.getCount()).as("the roll fsynced the outgoing segment").isZero();
        assertThat(SegmentedLog.segmentFiles(dir)).hasSize(2);
        assertThat(forcer.heldChannel.get().isOpen()).as("not closed under the syncer's fsync").isTrue();

        forcer.release.countDown();
        await().atMost(Duration.ofSeconds(30)).until(() -> !forcer.heldChannel.get().isOpen()); // closed after it
        assertThat(log.failure()).isEmpty();
    }
}
