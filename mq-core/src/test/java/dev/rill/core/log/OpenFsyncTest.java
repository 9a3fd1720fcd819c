package dev.rill.core.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What an open makes durable besides records, seen through the log's fsync seam (it records which files and
 * directories were forced, in order; it cannot simulate a power loss): the directories it creates for the log, and the
 * segment the previous run left newest.
 */
class OpenFsyncTest {

    @TempDir
    Path tmp;

    /** Records every fsync and passes it on; fails the one of {@code failing}, if set. */
    private static final class Recorder implements SegmentedLog.Forcer {
        final List<Path> forced = Collections.synchronizedList(new ArrayList<>());
        volatile Path failing;

        @Override
        public void force(Path path, java.nio.channels.FileChannel channel, boolean metadata) throws IOException {
            if (path.equals(failing)) {
                throw new IOException("injected I/O error");
            }
            forced.add(path);
            channel.force(metadata);
        }
    }

    private static LogRecord.Send send(long id) {
        return new LogRecord.Send("q", id, id, null, 0, Map.of(), new byte[] {(byte) id}, 0, 0, null, 0);
    }

    /**
     * The data directory and the directories above it that an open creates: each new directory's entry in its parent
     * must be durable before a record is confirmed, or a power loss takes the whole directory, confirmed records and
     * all. The directory holding each created level is fsynced, before the first segment is.
     */
    @Test
    void anOpenThatCreatesTheDataDirectoryFsyncsTheDirectoryHoldingEachLevelItCreated() throws Exception {
        Path a = tmp.resolve("a");
        Path b = a.resolve("b");
        Path dir = b.resolve("c");
        Recorder rec = new Recorder();
        Path firstSegment;
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> { }, rec)) {
            log.appendAndWait(send(1)).orTimeout(30, TimeUnit.SECONDS).join();
            firstSegment = SegmentedLog.segmentFiles(dir).get(0);
        }
        List<Path> forced = List.copyOf(rec.forced);
        assertThat(forced).contains(tmp, a, b, dir, firstSegment);
        assertThat(forced.indexOf(tmp)).isLessThan(forced.indexOf(firstSegment));
        assertThat(forced.indexOf(a)).isLessThan(forced.indexOf(firstSegment));
        assertThat(forced.indexOf(b)).isLessThan(forced.indexOf(firstSegment));

        // an open of the existing directory fsyncs its parent again (it may have been made by hand just before the
        // first start), and nothing above it
        Recorder again = new Recorder();
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> { }, again)) {
            assertThat(log.recovery().records()).isEqualTo(1);
        }
        assertThat(again.forced).contains(b).doesNotContain(a, tmp);
    }

    /**
     * A failing fsync of a directory the open created the data directory in is an I/O error like any other fsync's:
     * the open fails and says which directory, it does not start with a data directory a power loss could take away.
     */
    @Test
    void aFailingFsyncOfADirectoryHoldingACreatedLevelFailsTheOpen() throws Exception {
        Path a = tmp.resolve("a");
        Path dir = a.resolve("b").resolve("c");
        Recorder rec = new Recorder();
        rec.failing = a;
        assertThatThrownBy(() -> SegmentedLog.open(dir, LogOptions.defaults(), r -> { }, rec))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("fsync of directory " + a)
                .hasMessageContaining("injected I/O error")
                .hasMessageContaining(dir.toString());
        assertThat(SegmentedLog.segmentFiles(dir)).isEmpty(); // nothing was written into it
        rec.failing = tmp;
        assertThatThrownBy(() -> SegmentedLog.open(tmp.resolve("x").resolve("y"), LogOptions.defaults(), r -> { },
                rec)).isInstanceOf(IOException.class).hasMessageContaining("fsync of directory " + tmp);
        // the directory is free: the failed opens took no lock
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> { })) {
            log.appendAndWait(send(1)).orTimeout(30, TimeUnit.SECONDS).join();
        }
        assertThat(Files.isDirectory(dir)).isTrue();
    }

    /**
     * A roll fsyncs a segment before its successor gets a record; an open starts a new segment too, and the segment
     * the previous run left newest (whose end a process crash may have left in the page cache only) is fsynced before
     * the new one is created. Else a power loss later could leave a hole in what is then an older segment, and the
     * start would be refused.
     */
    @Test
    void anOpenFsyncsTheSegmentThePreviousRunLeftNewestBeforeStartingItsOwn() throws Exception {
        Path dir = tmp.resolve("log");
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults().fsync(FsyncPolicy.never()), r -> { })) {
            log.append(send(1));
            log.appendAndWait(send(2)).orTimeout(30, TimeUnit.SECONDS).join();
        }
        Path previous = SegmentedLog.segmentFiles(dir).get(0);
        Recorder rec = new Recorder();
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> { }, rec)) {
            assertThat(log.recovery().records()).isEqualTo(2);
        }
        List<Path> segments = SegmentedLog.segmentFiles(dir);
        assertThat(segments).hasSize(2);
        List<Path> forced = List.copyOf(rec.forced);
        assertThat(forced).contains(previous, segments.get(1));
        assertThat(forced.indexOf(previous)).isLessThan(forced.indexOf(segments.get(1)));
    }
}
