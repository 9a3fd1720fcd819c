package dev.rill.core.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/** Tests: what a log holds, found by opening it (and closing it again). */
final class LiveAfterReplay {

    private LiveAfterReplay() {
    }

    /**
     * The live messages of the log in {@code dir}, for a log of one queue: a SEND (original or copy) makes its id
     * live with its payload, an ACK removes it. Checks that the open cut no torn tail.
     */
    static Map<Long, String> payloadsById(Path dir, LogOptions options) throws IOException {
        Map<Long, String> msgs = new TreeMap<>();
        try (SegmentedLog log = SegmentedLog.open(dir, options, r -> {
            if (r instanceof LogRecord.Send s) {
                msgs.put(s.id(), new String(s.payload()));
            } else if (r instanceof LogRecord.Ack a) {
                msgs.remove(a.id());
            }
        })) {
            assertThat(log.recovery().tornTail()).isEmpty();
        }
        return msgs;
    }
}
