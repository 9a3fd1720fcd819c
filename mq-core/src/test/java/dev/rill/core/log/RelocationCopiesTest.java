package dev.rill.core.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Relocation decodes only the SENDs of the messages it copies and passes over every other record by its type (a SEND
 * by its queue and id): the copies it writes are exactly those of the messages live in the relocated segments, with
 * every field, delivery count, ready time and arrival header, whatever else those segments hold (every kind of
 * record, dead messages of every way to die), and the log opens again with exactly those messages.
 *
 * <p>Session 1 writes the segments; a dedup window open until {@link #T1} keeps the oldest, so nothing is relocated.
 * Session 2 opens at {@code T1}, appends nothing, and the idle writer relocates.
 */
class RelocationCopiesTest {

    private static final long T0 = 7_000_000L;
    private static final long T1 = T0 + 60_000;
    private static final long DAY = Duration.ofDays(1).toMillis();

    @TempDir
    Path dir;

    private final AtomicLong clock = new AtomicLong(T0);

    private LogOptions options() {
        return LogOptions.defaults().fsync(FsyncPolicy.never()).segmentBytes(8192).clock(clock::get)
                .recoveryListener(RecoveryListener.none());
    }

    private static byte[] bytes(String s) {
        return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Every record of one segment file with its sequence number, in file order. */
    private static List<Map.Entry<Long, LogRecord>> records(Path segment) throws Exception {
        ByteBuffer file = ByteBuffer.wrap(Files.readAllBytes(segment));
        List<Map.Entry<Long, LogRecord>> out = new ArrayList<>();
        for (int at = RecordFormat.HEADER_BYTES; at < file.limit(); ) {
            int len = file.getInt(at);
            ByteBuffer body = file.slice(at + RecordFormat.FRAME_HEADER_BYTES, len);
            out.add(Map.entry(body.getLong(0), RecordFormat.decode(body.position(8))));
            at += RecordFormat.FRAME_HEADER_BYTES + len;
        }
        return out;
    }

    @Test
    void theCopiesAreThoseOfTheLiveMessagesExactlyWhateverElseTheSegmentsHold() throws Exception {
        byte[] spec = {1};
        LogRecord.Send timed = new LogRecord.Send("q", 1, T0, "k1", 3, Map.of("h", "v"), bytes("one"), T0 + DAY,
                T0 + 2 * DAY, "d-1", T1); // its dedup window keeps the first segment through session 1
        LogRecord.Send plain = new LogRecord.Send("q", 2, T0 + 1, null, 0, Map.of(), bytes("two"), 0, 0, null, 0);
        LogRecord.Send poison = new LogRecord.Send("q", 3, T0 + 2, "k3", 1, Map.of("a", "b"), bytes("three"), 0, 0,
                null, 0);
        Map<String, String> arrival = Map.of("x-reason", "bad", "x-source", "q");
        List<Path> old;
        try (SegmentedLog log = SegmentedLog.open(dir, options(), r -> { })) {
            for (String q : List.of("q", "q.dlq", "p", "gone")) {
                log.append(new LogRecord.Declare(q, spec, 1));
            }
            log.append(timed);
            log.append(new LogRecord.Delivered("q", 1, 1));
            log.append(new LogRecord.Nack("q", 1, T0 + 5_000));
            log.append(new LogRecord.Delivered("q", 1, 2));
            log.append(new LogRecord.Nack("q", 1, T0 + 9_000));
            log.append(plain);
            log.append(poison);
            log.append(new LogRecord.Delivered("q", 3, 1));
            log.append(new LogRecord.DeadLetter("q", 3, 1, "bad", true));
            log.append(new LogRecord.Accept("q.dlq", 1, "q", 3, T0 + 10, T0 + DAY, arrival));
            log.append(new LogRecord.Delivered("q.dlq", 1, 1));
            log.append(new LogRecord.Send("q", 4, T0, null, 0, Map.of(), bytes("acked"), 0, 0, null, 0));
            log.append(new LogRecord.Ack("q", 4));
            log.append(new LogRecord.Send("q", 5, T0, null, 0, Map.of(), bytes("expired"), 0, 0, null, 0));
            log.append(new LogRecord.Drop("q", 5));
            log.append(new LogRecord.Send("q", 6, T0, null, 0, Map.of(), bytes("rejected"), 0, 0, null, 0));
            log.append(new LogRecord.DeadLetter("q", 6, 1, "no dead-letter queue", false));
            log.append(new LogRecord.Send("p", 1, T0, null, 0, Map.of(), bytes("purged"), 0, 0, null, 0));
            log.append(new LogRecord.Purge("p"));
            log.append(new LogRecord.Send("gone", 1, T0, null, 0, Map.of(), bytes("deleted"), 0, 0, null, 0));
            log.append(new LogRecord.Delete("gone"));
            long last = 0;
            for (long id = 7; id < 400; id++) { // ~4 more segments of sent-and-acked messages
                log.append(new LogRecord.Send("q", id, T0, null, 0, Map.of("n", "" + id), bytes("c" + id), 0, 0,
                        null, 0));
                last = log.append(new LogRecord.Ack("q", id));
            }
            log.whenDurable(last).get(30, TimeUnit.SECONDS);
            assertThat(log.stats().messagesRelocated()).isZero();
            old = SegmentedLog.segmentFiles(dir);
            assertThat(old).hasSizeGreaterThanOrEqualTo(3);
        }
        clock.set(T1);
        Path copies;
        try (SegmentedLog log = SegmentedLog.open(dir, options(), r -> { })) {
            await().atMost(Duration.ofSeconds(30)).until(() -> old.stream().noneMatch(Files::exists));
            assertThat(log.stats().messagesRelocated()).isEqualTo(3);
            copies = SegmentedLog.segmentFiles(dir).get(0);
        }
        List<LogRecord> copied = new ArrayList<>();
        for (Map.Entry<Long, LogRecord> e : records(copies)) {
            assertThat(e.getKey()).isZero(); // nothing was appended in session 2
            if (!(e.getValue() instanceof LogRecord.Declare || e.getValue() instanceof LogRecord.Delete)) {
                copied.add(e.getValue());
            }
        }
        assertThat(copied).containsExactly(
                new LogRecord.Send("q", 1, T0, "k1", 3, Map.of("h", "v"), bytes("one"), T0 + DAY, T0 + 2 * DAY, null,
                        0),
                new LogRecord.Delivered("q", 1, 2),
                new LogRecord.Nack("q", 1, T0 + 9_000),
                plain,
                new LogRecord.Send("q.dlq", 1, T0 + 10, "k3", 1, arrival, bytes("three"), 0, T0 + DAY, null, 0),
                new LogRecord.Delivered("q.dlq", 1, 1));

        Map<String, LogRecord.Send> live = new LinkedHashMap<>();
        try (SegmentedLog log = SegmentedLog.open(dir, options(), r -> {
            if (r instanceof LogRecord.Send s) {
                live.put(s.queue() + "/" + s.id(), s);
            } else if (r instanceof LogRecord.Ack a) {
                live.remove(a.queue() + "/" + a.id());
            }
        })) {
            assertThat(log.recovery().tornTail()).isEmpty();
            assertThat(log.recovery().liveMessages()).isEqualTo(3);
        }
        assertThat(live.keySet()).containsExactly("q/1", "q/2", "q.dlq/1");
    }
}
