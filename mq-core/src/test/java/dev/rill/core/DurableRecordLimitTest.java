package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.log.LogRecord;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A message whose SEND record would be bigger than the log reads back is refused before anything is stored, as an
 * unencodable payload is. It used to be stored and confirmed, and the next open refused the whole log ("bad frame
 * length before the end of the log"): an in-JVM sender has no frame-size limit in front of the broker.
 */
class DurableRecordLimitTest {

    @TempDir
    Path dir;

    @Test
    void aMessageTooBigForALogRecordIsRefusedAndNothingIsStored() throws Exception {
        long clock = 1_000;
        long overhead = LogRecord.Send.storedBytes("big", "k", java.util.Map.of(), 0, null);
        byte[] tooBig = new byte[(int) (LogRecord.Send.MAX_STORED_BYTES - overhead + 1)];
        try (DurableBroker b = DurableBroker.open(dir, DurabilityOptions.defaults())) {
            MessageQueue<byte[]> q = b.declare(QueueSpec.named("big"), Codec.bytes());
            long before = b.lastSeq();
            assertThatThrownBy(() -> q.send(OutboundMessage.of(tooBig).key("k"), clock))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("queue 'big'")
                    .hasMessageContaining("would take " + (LogRecord.Send.MAX_STORED_BYTES + 1) + " bytes in the log")
                    .hasMessageContaining("it was not stored");
            assertThatThrownBy(() -> q.sendAll(List.of(OutboundMessage.of(new byte[] {1}), OutboundMessage.of(tooBig)
                    .key("k")), clock)).isInstanceOf(IllegalArgumentException.class);
            assertThat(q.size()).isZero();
            assertThat(b.lastSeq()).isEqualTo(before);
            q.send(OutboundMessage.of(new byte[] {7}), clock);
            b.whenDurable(b.lastSeq()).get(30, TimeUnit.SECONDS);
            assertThat(b.failure()).isEmpty();
        }
        try (DurableBroker b = DurableBroker.open(dir, DurabilityOptions.defaults())) {
            MessageQueue<byte[]> q = b.declare(QueueSpec.named("big"), Codec.bytes());
            assertThat(q.peek(10)).extracting(m -> m.payload()[0]).containsExactly((byte) 7);
        }
    }
}
