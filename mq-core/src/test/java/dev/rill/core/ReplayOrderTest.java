package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.log.LogOptions;
import dev.rill.core.log.LogRecord;
import dev.rill.core.log.SegmentedLog;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A recovered queue comes back in id order with each message's last state, whatever order its SENDs have in the log:
 * relocated copies (a SEND of an older id, after newer ones, replacing the original when both are replayed), dead
 * letters arriving, most messages acked (the replay's bookkeeping of arrival order is compacted on the way), a purge
 * in the middle. Checked against a simple model of the same records.
 */
class ReplayOrderTest {

    @TempDir
    Path dir;

    private static LogRecord.Send send(String q, long id) {
        return new LogRecord.Send(q, id, id, null, 0, Map.of(), ("m" + id).getBytes(), 0, 0, null, 0);
    }

    @Test
    void queuesComeBackInIdOrderWhateverTheOrderOfTheirSends() throws Exception {
        QueueSpec spec = QueueSpec.named("q").deadLetterQueue("q.dlq");
        TreeMap<Long, Integer> expected = new TreeMap<>(); // id -> delivery count
        TreeMap<Long, String> expectedDlq = new TreeMap<>(); // id -> payload
        Random rnd = new Random(42);
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> { })) {
            log.append(new LogRecord.Declare("q.dlq", SpecFormat.encode(QueueSpec.named("q.dlq")), 1));
            log.append(new LogRecord.Declare("q", SpecFormat.encode(spec), 1));
            long next = 1;
            long dlqNext = 1;
            for (int round = 0; round < 40; round++) {
                List<Long> ids = new ArrayList<>();
                for (int i = 0; i < 500; i++) {
                    long id = next++;
                    log.append(send("q", id));
                    expected.put(id, 0);
                    ids.add(id);
                }
                // most of them acked, some delivered, a few dead-lettered
                for (long id : ids) {
                    int roll = rnd.nextInt(100);
                    if (roll < 85) {
                        log.append(new LogRecord.Ack("q", id));
                        expected.remove(id);
                    } else if (roll < 95) {
                        int count = expected.get(id) + 1;
                        log.append(new LogRecord.Delivered("q", id, count));
                        expected.put(id, count);
                    } else if (roll < 97) {
                        log.append(new LogRecord.DeadLetter("q", id, expected.get(id), "bad", true));
                        long to = dlqNext++;
                        log.append(new LogRecord.Accept("q.dlq", to, "q", id, 7, 0, Map.of("x", "y")));
                        expected.remove(id);
                        expectedDlq.put(to, "m" + id);
                    }
                }
                // relocated copies of a few live older ones: after newer SENDs, replacing their originals
                for (long id : expected.headMap(next - 400).keySet().stream().limit(3).toList()) {
                    log.append(send("q", id));
                    int count = expected.get(id);
                    if (count != 0) {
                        log.append(new LogRecord.Delivered("q", id, count));
                    }
                }
                if (round == 20) {
                    log.append(new LogRecord.Purge("q"));
                    expected.clear();
                }
            }
            log.whenDurable(log.lastSeq()).join();
        }
        try (DurableBroker b = DurableBroker.open(dir, DurabilityOptions.defaults())) {
            MessageQueue<String> q = b.declare(spec, Codec.utf8());
            MessageQueue<String> dlq = b.declare(QueueSpec.named("q.dlq"), Codec.utf8());
            List<Long> ids = new ArrayList<>();
            Map<Long, Integer> counts = new TreeMap<>();
            for (Lease<String> l : q.receive(1_000_000, 0)) {
                ids.add(l.message().id());
                counts.put(l.message().id(), l.deliveryCount() - 1); // this receive counted one more
                assertThat(l.message().payload()).isEqualTo("m" + l.message().id());
            }
            assertThat(expected).hasSizeGreaterThan(1000);
            assertThat(ids).containsExactlyElementsOf(expected.keySet());
            assertThat(counts).isEqualTo(expected);
            List<Long> dlqIds = new ArrayList<>();
            for (Lease<String> l : dlq.receive(1_000_000, 0)) {
                dlqIds.add(l.message().id());
                assertThat(l.message().payload()).isEqualTo(expectedDlq.get(l.message().id()));
            }
            assertThat(dlqIds).containsExactlyElementsOf(expectedDlq.keySet());
        }
    }
}
