package dev.rill.core.log;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The records of the checked-in format-1 fixture ({@code src/test/resources/log-fixture}). Run {@link #main} to
 * re-create it only when adding a new fixture for a new format version: the old one must keep reading.
 */
final class LogFixture {

    private LogFixture() {
    }

    static List<LogRecord> records() {
        byte[] spec = "spec-v1".getBytes(StandardCharsets.UTF_8);
        return List.of(
                new LogRecord.Declare("orders", spec, 1),
                new LogRecord.Send("orders", 1, 1000, null, 0, Map.of(), "hello".getBytes(StandardCharsets.UTF_8),
                        0, 0, null, 0),
                new LogRecord.Send("orders", 2, 1001, "k1", 7, Map.of("h", "v"), new byte[] {0, 1, 2, (byte) 255},
                        5000, 90_000, "dedup-1", 301_001),
                new LogRecord.Delivered("orders", 1, 1),
                new LogRecord.Nack("orders", 1, 2500),
                new LogRecord.Delivered("orders", 1, 2),
                new LogRecord.DeadLetter("orders", 1, 2, "max deliveries reached (2)", true),
                new LogRecord.Declare("orders.dlq", spec, 1),
                new LogRecord.Accept("orders.dlq", 1, "orders", 1, 3000, 0, Map.of("rill-dead-letter-reason", "x")),
                new LogRecord.Delivered("orders", 2, 1),
                new LogRecord.Ack("orders", 2),
                new LogRecord.Drop("orders.dlq", 1),
                new LogRecord.Purge("orders"),
                new LogRecord.Delete("orders.dlq"));
    }

    /**
     * Writes the fixture into a directory.
     *
     * @param args the target directory
     * @throws Exception on I/O errors
     */
    public static void main(String[] args) throws Exception {
        try (SegmentedLog log = SegmentedLog.open(Path.of(args[0]), LogOptions.defaults(), r -> { })) {
            long last = 0;
            for (LogRecord r : records()) {
                last = log.append(r);
            }
            log.whenDurable(last).join();
        }
    }
}
