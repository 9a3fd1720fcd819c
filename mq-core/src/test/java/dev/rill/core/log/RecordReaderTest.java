package dev.rill.core.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/**
 * Recovery's {@link RecordFormat.Reader} decodes exactly what {@link RecordFormat#decode} does, a queue name named
 * again by the next record as the same String (not decoded again), also with more names than its cache has slots
 * (names that collide are decoded again, never mixed up), and checks CRCs as a fresh {@link CRC32C} would.
 */
class RecordReaderTest {

    private static List<LogRecord> records(int names) {
        List<LogRecord> out = new ArrayList<>();
        for (int round = 0; round < 3; round++) {
            for (int q = 0; q < names; q++) {
                String name = "queue-" + q + (q % 7 == 0 ? "-é✓" : "");
                long id = round * 1000L + q;
                out.add(new LogRecord.Declare(name, new byte[] {1, 2}, id));
                out.add(new LogRecord.Send(name, id, 5, q % 2 == 0 ? null : "k" + q, q % 10,
                        q % 3 == 0 ? Map.of() : Map.of("h", "v" + q, "x-" + q, ""), new byte[q % 50], 0, 9,
                        q % 5 == 0 ? "d" + q : null, 11));
                out.add(new LogRecord.Delivered(name, id, round + 1));
                out.add(new LogRecord.Nack(name, id, 77));
                out.add(new LogRecord.DeadLetter(name, id, 2, "why " + q, q % 2 == 0));
                out.add(new LogRecord.Accept("dlq-" + (q % 3), id, name, id, 4, 0, Map.of("r", "s")));
                out.add(new LogRecord.Ack(name, id));
                out.add(new LogRecord.Drop(name, id));
                out.add(new LogRecord.Purge(name));
                out.add(new LogRecord.Delete(name));
            }
        }
        return out;
    }

    /** Frames each record, then checks and decodes the body as recovery does. */
    private static void readsBack(int names) {
        RecordFormat.Reader reader = new RecordFormat.Reader();
        RecordFormat.Out out = new RecordFormat.Out(64);
        LogRecord previous = null;
        int same = 0;
        long seq = 0;
        for (LogRecord r : records(names)) {
            out.reset();
            out.frame(++seq, r);
            ByteBuffer frame = ByteBuffer.wrap(out.buf, 0, out.pos);
            int len = frame.getInt(0);
            int crc = frame.getInt(8);
            ByteBuffer body = ByteBuffer.wrap(out.buf, RecordFormat.FRAME_HEADER_BYTES, len).slice();
            assertThat(reader.crcOk(body, len, crc)).isTrue();
            assertThat(reader.crcOk(body, len, crc ^ 1)).isFalse();
            assertThat(body.getLong()).isEqualTo(seq);
            LogRecord plain = RecordFormat.decode(body.duplicate());
            LogRecord cached = reader.decode(body);
            assertThat(cached).isEqualTo(plain).isEqualTo(r);
            if (previous != null && previous.queue().equals(cached.queue())) {
                assertThat(cached.queue()).isSameAs(previous.queue()); // not decoded again
                same++;
            }
            previous = cached;
        }
        assertThat(same).isGreaterThan(names * 10);
    }

    @Test
    void fewNamesAreDecodedOnce() {
        readsBack(16);
    }

    @Test
    void moreNamesThanSlotsStillDecodeRight() {
        readsBack(2_000);
    }
}
