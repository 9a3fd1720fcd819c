package dev.rill.netty.internal.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Writes the seed corpus of {@link FrameDecoderFuzzTest}: one file per sample frame, a stream of all of them, and
 * malformed inputs. Not a test; run it by hand after changing the frame layouts (argument: the module directory),
 * then commit the files. Crash inputs found by fuzzing sit next to the seeds and are kept. The samples with two or
 * more headers (a SEND's and a PEEK_RESULT's) come out with their headers in another order on each run (the frame
 * records keep headers as {@code Map.copyOf}, whose order is seeded per JVM): their files change without their
 * layout changing, so commit them only when it did.
 */
final class FuzzCorpusWriter {

    private FuzzCorpusWriter() {
    }

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args.length > 0 ? args[0] : ".").resolve(
                "src/test/resources/dev/rill/netty/internal/protocol/FrameDecoderFuzzTestInputs/decode");
        Files.createDirectories(dir);
        List<Frame> samples = SampleFrames.all();
        for (int i = 0; i < samples.size(); i++) {
            Frame f = samples.get(i);
            byte[] bytes = SampleFrames.encode(f);
            if (bytes.length <= FrameDecoderFuzzTest.MAX_FRAME_SIZE) {
                write(dir, String.format(Locale.ROOT, "valid-%02d-%s", i, f.type()), bytes);
            }
        }
        write(dir, "valid-stream-handshake", SampleFrames.encodeAll(List.of(
                new Frame.Hello(List.of(1), "c"), new Frame.Auth("t"), new Frame.Declare(1, "q", 1000, 1000, 10,
                        Long.MAX_VALUE, 0, null, false, 0, dev.rill.core.ExpiryAction.DROP,
                        dev.rill.core.Ordering.FIFO, dev.rill.core.Overflow.WAIT),
                new Frame.Subscribe(2, "q", 0, 0, 0), new Frame.Credit(2, 10), new Frame.Ack(3, new long[] {1}))));
        write(dir, "bad-2gib-length", new byte[] {(byte) 0x80, 0, 0, 0, 0x20, 0, 0, 0});
        write(dir, "bad-unknown-type", new byte[] {0, 0, 0, 5, 0x7F, 0, 0, 0, 0});
        write(dir, "bad-short-length", new byte[] {0, 0, 0, 2, 0x50});
        write(dir, "bad-http", "GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        write(dir, "bad-trailing", raw(FrameType.PING, b -> b.writeByte(0)));
        write(dir, "bad-utf8", raw(FrameType.DELETE, b -> b.writeShort(2).writeByte(0xC0).writeByte(0xAF)));
        write(dir, "bad-negative-count", raw(FrameType.ACK, b -> b.writeInt(-1).writeLong(1)));
        write(dir, "bad-huge-count", raw(FrameType.SETTLE_RESULT, b -> b.writeInt(Integer.MAX_VALUE).writeByte(0)));
        write(dir, "bad-string-past-end", raw(FrameType.PURGE, b -> b.writeShort(500).writeByte('q')));
        write(dir, "bad-payload-length", raw(FrameType.SEND, b -> {
            b.writeShort(1).writeByte('q').writeByte(0).writeInt(1).writeInt(Integer.MAX_VALUE);
            b.writeZero(21);
        }));
        write(dir, "bad-magic", raw(FrameType.HELLO, b -> b.writeInt(0x48545450).writeByte(1).writeShort(1)
                .writeShort(0)));
        // SEND_RECEIPTS (version 3): an ERROR receipt's reason declared over its limit, and one running past the end
        write(dir, "bad-receipts-reason-over-limit", raw(FrameType.SEND_RECEIPTS, b -> b.writeInt(1).writeByte(4)
                .writeShort(21).writeLong(0).writeShort(Limits.MAX_REASON_BYTES + 1).writeByte('r')));
        write(dir, "bad-receipts-reason-past-end", raw(FrameType.SEND_RECEIPTS, b -> b.writeInt(1).writeByte(4)
                .writeShort(21).writeLong(0).writeShort(40).writeByte('r')));
    }

    private static byte[] raw(FrameType type, java.util.function.Consumer<ByteBuf> body) {
        ByteBuf b = Unpooled.buffer();
        b.writeInt(0).writeByte(type.code()).writeInt(type == FrameType.HELLO ? 0 : 1);
        body.accept(b);
        b.setInt(0, b.writerIndex() - 4);
        byte[] bytes = ByteBufUtil.getBytes(b);
        b.release();
        return bytes;
    }

    private static void write(Path dir, String name, byte[] bytes) throws IOException {
        Files.write(dir.resolve(name), bytes);
    }
}
