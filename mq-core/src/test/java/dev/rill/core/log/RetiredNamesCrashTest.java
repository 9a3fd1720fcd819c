package dev.rill.core.log;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.DurableBroker;
import dev.rill.core.MessageQueue;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A segment starts with the next id of each deleted name as a DECLARE with no spec followed by a DELETE of the name. A
 * crash that cuts the segment between the two (while it was being started, before its fsync) must not bring the name
 * back as a queue: the DECLARE with no spec is read on its own. The crash state is made by cutting a real segment
 * right after that DECLARE.
 */
class RetiredNamesCrashTest {

    @TempDir
    Path dir;

    private final AtomicLong clock = new AtomicLong(1_000_000);

    private DurabilityOptions opts() {
        return DurabilityOptions.defaults().clock(clock::get);
    }

    private static void sync(DurableBroker b) {
        b.whenDurable(b.lastSeq()).orTimeout(30, TimeUnit.SECONDS).join();
    }

    @Test
    void aSegmentCutBetweenADeletedNamesDeclareAndDeleteDoesNotBringTheNameBack() throws Exception {
        try (DurableBroker b = DurableBroker.open(dir, opts())) {
            MessageQueue<String> gone = b.declare(QueueSpec.named("gone"), Codec.utf8());
            for (int i = 0; i < 3; i++) {
                gone.send(OutboundMessage.of("m" + i), clock.get()); // ids 1..3
            }
            assertThat(b.broker().delete("gone", clock.get())).isTrue();
            b.declare(QueueSpec.named("keep"), Codec.utf8()).send(OutboundMessage.of("kept"), clock.get());
            sync(b);
        }
        try (DurableBroker b = DurableBroker.open(dir, opts())) {
            sync(b); // this open's segment starts with "keep" and the next id of "gone"
        }
        List<Path> files = SegmentedLog.segmentFiles(dir);
        Path newest = files.get(files.size() - 1);
        ByteBuffer content = ByteBuffer.wrap(Files.readAllBytes(newest));
        int pos = RecordFormat.HEADER_BYTES;
        int cut = -1;
        while (pos < content.limit()) {
            int len = content.getInt(pos);
            ByteBuffer body = ByteBuffer.wrap(content.array(), pos + RecordFormat.FRAME_HEADER_BYTES + 8, len - 8)
                    .slice();
            pos += RecordFormat.FRAME_HEADER_BYTES + len;
            if (RecordFormat.decode(body) instanceof LogRecord.Declare d && d.queue().equals("gone")) {
                assertThat(d.spec()).isEmpty();
                assertThat(d.nextId()).isEqualTo(4);
                cut = pos;
            }
        }
        assertThat(cut).as("the next id of 'gone' at the start of the newest segment").isPositive();
        try (FileChannel ch = FileChannel.open(newest, StandardOpenOption.WRITE)) {
            ch.truncate(cut); // its DELETE, and whatever followed, cut off
        }
        for (int open = 0; open < 2; open++) { // the second open reads what the first one's segment started with
            try (DurableBroker b = DurableBroker.open(dir, opts().declareRecoveredWith(Codec.utf8()))) {
                assertThat(b.recoveredQueues()).as("open %d", open).isEmpty();
                assertThat(b.broker().list()).as("open %d", open).containsExactly("keep");
            }
        }
        try (DurableBroker b = DurableBroker.open(dir, opts())) {
            MessageQueue<String> gone = b.declare(QueueSpec.named("gone"), Codec.utf8());
            assertThat(gone.send(OutboundMessage.of("again"), clock.get()).messageId()).isEqualTo(4);
        }
    }
}
