package dev.rill.core.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/** Tests: what a log holds, found by opening it (and closing it again), and copies of its segment files. */
final class LiveAfterReplay {

    private LiveAfterReplay() {
    }

    /**
     * The live messages of the log in {@code dir}, for a log of one queue: a SEND (original or copy) makes its id
     * live with its payload, an ACK removes it. Checks that the open cut no torn tail.
     */
    static Map<Long, String> payloadsById(Path dir, LogOptions options) throws IOException {
        return replay(dir, options, false);
    }

    /** {@link #payloadsById}, for a log whose newest segment a crash may have cut (a torn tail, cut by the open). */
    static Map<Long, String> payloadsAfterCut(Path dir, LogOptions options) throws IOException {
        return replay(dir, options, true);
    }

    /**
     * Copies the segment files of the log in {@code from} into {@code to} (created): a state to open, for an open
     * adds a segment, or a crash state to build on.
     *
     * @return {@code to}
     */
    static Path copySegments(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        for (Path p : SegmentedLog.segmentFiles(from)) {
            Files.copy(p, to.resolve(p.getFileName()));
        }
        return to;
    }

    private static Map<Long, String> replay(Path dir, LogOptions options, boolean cut) throws IOException {
        Map<Long, String> msgs = new TreeMap<>();
        try (SegmentedLog log = SegmentedLog.open(dir, options, r -> {
            if (r instanceof LogRecord.Send s) {
                msgs.put(s.id(), new String(s.payload()));
            } else if (r instanceof LogRecord.Ack a) {
                msgs.remove(a.id());
            }
        })) {
            if (!cut) {
                assertThat(log.recovery().tornTail()).isEmpty();
            }
        }
        return msgs;
    }
}
