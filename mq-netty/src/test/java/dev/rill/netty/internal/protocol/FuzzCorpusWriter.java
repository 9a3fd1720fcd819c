package dev.rill.netty.internal.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes the seed corpus of {@link FrameDecoderFuzzTest}: one file per sample frame, a stream of all of them, and
 * malformed inputs. Not a test; run it by hand after changing the frame layouts (argument: the module directory),
 * then commit the files; {@code FuzzCorpusWriterTest} checks that the committed seeds are what it writes. Crash
 * inputs found by fuzzing sit next to the seeds and are kept.
 *
 * <p>The output is the same on every run: the header entries of a sample (a SEND's, a PEEK_RESULT's) are written in
 * key order ({@link #encodeSorted}). The frame records keep headers as {@code Map.copyOf}, whose iteration order (the
 * order the encoder writes them in) is seeded per JVM, so before the two seeds with two or more headers came out
 * different on each run without their layout changing. The product's encoder is left as it is: header order means
 * nothing on the wire, and sorting would cost every message.
 */
final class FuzzCorpusWriter {

    private FuzzCorpusWriter() {
    }

    /** The directory of the seeds, under the module directory. */
    static final String DIR = "src/test/resources/dev/rill/netty/internal/protocol/FrameDecoderFuzzTestInputs/decode";

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args.length > 0 ? args[0] : ".").resolve(DIR);
        Files.createDirectories(dir);
        for (Map.Entry<String, byte[]> seed : seeds().entrySet()) {
            Files.write(dir.resolve(seed.getKey()), seed.getValue());
        }
    }

    /** @return the seeds this writer writes, by file name, in the order written */
    static Map<String, byte[]> seeds() {
        Map<String, byte[]> seeds = new LinkedHashMap<>();
        List<Frame> samples = SampleFrames.all();
        for (int i = 0; i < samples.size(); i++) {
            Frame f = samples.get(i);
            byte[] bytes = encodeSorted(f);
            if (bytes.length <= FrameDecoderFuzzTest.MAX_FRAME_SIZE) {
                seeds.put(String.format(Locale.ROOT, "valid-%02d-%s", i, f.type()), bytes);
            }
        }
        seeds.put("valid-stream-handshake", SampleFrames.encodeAll(List.of(
                new Frame.Hello(List.of(1), "c"), new Frame.Auth("t"), new Frame.Declare(1, "q", 1000, 1000, 10,
                        Long.MAX_VALUE, 0, null, false, 0, dev.rill.core.ExpiryAction.DROP,
                        dev.rill.core.Ordering.FIFO, dev.rill.core.Overflow.WAIT),
                new Frame.Subscribe(2, "q", 0, 0, 0), new Frame.Credit(2, 10), new Frame.Ack(3, new long[] {1}))));
        seeds.put("bad-2gib-length", new byte[] {(byte) 0x80, 0, 0, 0, 0x20, 0, 0, 0});
        seeds.put("bad-unknown-type", new byte[] {0, 0, 0, 5, 0x7F, 0, 0, 0, 0});
        seeds.put("bad-short-length", new byte[] {0, 0, 0, 2, 0x50});
        seeds.put("bad-http", "GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        seeds.put("bad-trailing", raw(FrameType.PING, b -> b.writeByte(0)));
        seeds.put("bad-utf8", raw(FrameType.DELETE, b -> b.writeShort(2).writeByte(0xC0).writeByte(0xAF)));
        seeds.put("bad-negative-count", raw(FrameType.ACK, b -> b.writeInt(-1).writeLong(1)));
        seeds.put("bad-huge-count", raw(FrameType.SETTLE_RESULT, b -> b.writeInt(Integer.MAX_VALUE).writeByte(0)));
        seeds.put("bad-string-past-end", raw(FrameType.PURGE, b -> b.writeShort(500).writeByte('q')));
        seeds.put("bad-payload-length", raw(FrameType.SEND, b -> {
            b.writeShort(1).writeByte('q').writeByte(0).writeInt(1).writeInt(Integer.MAX_VALUE);
            b.writeZero(21);
        }));
        seeds.put("bad-magic", raw(FrameType.HELLO, b -> b.writeInt(0x48545450).writeByte(1).writeShort(1)
                .writeShort(0)));
        // SEND_RECEIPTS (version 3): an ERROR receipt's reason declared over its limit, and one running past the end
        seeds.put("bad-receipts-reason-over-limit", raw(FrameType.SEND_RECEIPTS, b -> b.writeInt(1).writeByte(4)
                .writeShort(21).writeLong(0).writeShort(Limits.MAX_REASON_BYTES + 1).writeByte('r')));
        seeds.put("bad-receipts-reason-past-end", raw(FrameType.SEND_RECEIPTS, b -> b.writeInt(1).writeByte(4)
                .writeShort(21).writeLong(0).writeShort(40).writeByte('r')));
        return seeds;
    }

    /**
     * @return {@code f} encoded with the entries of each of its header maps in key order, whatever order this JVM's
     *     maps iterate in: the same frame (it decodes to an equal one), the same bytes on every run
     */
    static byte[] encodeSorted(Frame f) {
        byte[] bytes = SampleFrames.encode(f);
        for (Map<String, String> h : headerMaps(f)) {
            if (h.size() > 1) {
                replace(bytes, headerBlock(h), headerBlock(new TreeMap<>(h)));
            }
        }
        if (!SampleFrames.decode(bytes).equals(f)) {
            throw new IllegalStateException("the header entries of " + f.type() + " could not be put in key order");
        }
        return bytes;
    }

    /** @return the header maps of a frame, in the order they are encoded */
    private static List<Map<String, String>> headerMaps(Frame f) {
        if (f instanceof Frame.Send s) {
            return s.messages().stream().map(WireMessage::headers).toList();
        }
        if (f instanceof Frame.PeekResult p) {
            return p.messages().stream().map(PeekedMessage::headers).toList();
        }
        if (f instanceof Frame.Deliver d) {
            return List.of(d.headers());
        }
        return List.of();
    }

    /** @return the entries of {@code headers} in its iteration order, as the encoder writes each (two strings) */
    private static byte[] headerBlock(Map<String, String> headers) {
        ByteBuf b = Unpooled.buffer();
        for (Map.Entry<String, String> h : headers.entrySet()) {
            for (String s : List.of(h.getKey(), h.getValue())) {
                byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
                b.writeShort(utf8.length).writeBytes(utf8);
            }
        }
        byte[] bytes = ByteBufUtil.getBytes(b);
        b.release();
        return bytes;
    }

    /** Overwrites the first occurrence of {@code what} in {@code bytes} with {@code with}, as long. */
    private static void replace(byte[] bytes, byte[] what, byte[] with) {
        for (int at = 0; at + what.length <= bytes.length; at++) {
            if (Arrays.equals(bytes, at, at + what.length, what, 0, what.length)) {
                System.arraycopy(with, 0, bytes, at, with.length);
                return;
            }
        }
        throw new IllegalStateException("header entries not found in the encoded frame");
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
}
