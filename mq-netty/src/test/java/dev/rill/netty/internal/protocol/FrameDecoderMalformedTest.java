package dev.rill.netty.internal.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;

/** Every kind of malformed input gives a {@link ProtocolException} with the documented code, never another error. */
class FrameDecoderMalformedTest {

    private static final int MAX = Limits.DEFAULT_MAX_FRAME_SIZE;

    /** A frame with a correct length field around the given type, id and body. */
    private static byte[] raw(FrameType type, int id, Consumer<ByteBuf> body) {
        return raw(type.code(), id, body);
    }

    private static byte[] raw(int type, int id, Consumer<ByteBuf> body) {
        ByteBuf b = Unpooled.buffer();
        b.writeInt(0);
        b.writeByte(type);
        b.writeInt(id);
        body.accept(b);
        b.setInt(0, b.writerIndex() - 4);
        byte[] bytes = ByteBufUtil.getBytes(b);
        b.release();
        return bytes;
    }

    private static void str(ByteBuf b, String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        b.writeShort(bytes.length);
        b.writeBytes(bytes);
    }

    private static AbstractThrowableAssert<?, ?> assertDecodeFails(byte[] bytes, ErrorCode code) {
        return assertThatThrownBy(() -> FrameDecoder.decodeFrame(Unpooled.wrappedBuffer(bytes), MAX))
                .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.code()).isEqualTo(code));
    }

    private static byte[] append(byte[] bytes, int... extra) {
        byte[] out = java.util.Arrays.copyOf(bytes, bytes.length + extra.length);
        for (int i = 0; i < extra.length; i++) {
            out[bytes.length + i] = (byte) extra[i];
        }
        // fix the length field
        Unpooled.wrappedBuffer(out).setInt(0, out.length - 4);
        return out;
    }

    private static byte[] truncate(byte[] bytes, int drop) {
        byte[] out = java.util.Arrays.copyOf(bytes, bytes.length - drop);
        Unpooled.wrappedBuffer(out).setInt(0, out.length - 4);
        return out;
    }

    @Test
    void unknownTypeFailsAsSoonAsTheTypeByteArrives() {
        for (int type : new int[] {0x00, 0x05, 0x1F, 0x7F, 0xFF}) {
            // only length + type: the body never needs to arrive
            byte[] head = {0, 0, 0, 100, (byte) type};
            assertDecodeFails(head, ErrorCode.UNKNOWN_FRAME_TYPE).hasMessageContaining(Integer.toHexString(type));
        }
    }

    @Test
    void lengthBelowHeaderIsMalformed() {
        for (int len = 0; len < Limits.MIN_LENGTH; len++) {
            assertDecodeFails(new byte[] {0, 0, 0, (byte) len}, ErrorCode.MALFORMED_FRAME);
        }
    }

    @Test
    void declaredLengthAboveMaximumFailsFromTheLengthFieldAlone() {
        assertDecodeFails(new byte[] {(byte) 0x80, 0, 0, 0}, ErrorCode.FRAME_TOO_LARGE)
                .hasMessageContaining("2147483648");
        assertDecodeFails(new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF}, ErrorCode.FRAME_TOO_LARGE)
                .hasMessageContaining("4294967295");
        ByteBuf b = Unpooled.buffer().writeInt(MAX + 1);
        assertThatThrownBy(() -> FrameDecoder.decodeFrame(b, MAX)).isInstanceOf(ProtocolException.class);
        // exactly the maximum is fine (just incomplete)
        assertThat(FrameDecoder.decodeFrame(Unpooled.buffer().writeInt(MAX), MAX)).isNull();
    }

    @Test
    void truncatedBodiesAreMalformed() {
        for (Frame f : SampleFrames.all()) {
            byte[] bytes = SampleFrames.encode(f);
            if (bytes.length > Limits.HEADER_SIZE) {
                assertDecodeFails(truncate(bytes, 1), ErrorCode.MALFORMED_FRAME).as(f.toString());
            }
        }
    }

    @Test
    void trailingBytesAreMalformed() {
        for (Frame f : SampleFrames.all()) {
            assertDecodeFails(append(SampleFrames.encode(f), 0), ErrorCode.MALFORMED_FRAME)
                    .as(f.toString()).hasMessageContaining("trailing");
        }
    }

    @Test
    void stringLengthBeyondTheFrameIsMalformed() {
        byte[] bytes = raw(FrameType.DELETE, 1, b -> {
            b.writeShort(100);
            b.writeBytes(new byte[] {'a', 'b', 'c'});
        });
        assertDecodeFails(bytes, ErrorCode.MALFORMED_FRAME).hasMessageContaining("truncated");
    }

    @Test
    void stringAboveItsLimitIsLimitExceeded() {
        assertDecodeFails(raw(FrameType.DELETE, 1, b -> str(b, "n".repeat(Limits.MAX_NAME_BYTES + 1))),
                ErrorCode.LIMIT_EXCEEDED).hasMessageContaining("queue");
        assertDecodeFails(raw(FrameType.AUTH, 0, b -> str(b, "t".repeat(Limits.MAX_TOKEN_BYTES + 1))),
                ErrorCode.LIMIT_EXCEEDED).hasMessageContaining("token");
        // the limit is checked before the (absent) bytes are needed
        assertDecodeFails(raw(FrameType.ERROR, 1, b -> {
            b.writeShort(ErrorCode.INTERNAL_ERROR.code());
            b.writeShort(0xFFFF);
        }), ErrorCode.LIMIT_EXCEEDED);
    }

    @Test
    void invalidUtf8IsRejected() {
        int[][] bad = {
            {0xC3, 0x28}, // bad continuation
            {0xC0, 0xAF}, // overlong '/'
            {0xED, 0xA0, 0x80}, // encoded surrogate
            {0xF8, 0x88, 0x80, 0x80, 0x80}, // 5-byte form
            {0xE2, 0x82}, // truncated sequence
            {0x80}, // lone continuation
        };
        for (int[] seq : bad) {
            byte[] bytes = raw(FrameType.DELETE, 1, b -> {
                b.writeShort(seq.length);
                for (int x : seq) {
                    b.writeByte(x);
                }
            });
            assertDecodeFails(bytes, ErrorCode.INVALID_UTF8);
        }
    }

    @Test
    void negativeOrOversizedCountsAreRejectedBeforeAllocating() {
        // tag count 2^32-1 (negative as int)
        assertDecodeFails(raw(FrameType.ACK, 1, b -> b.writeInt(-1)), ErrorCode.MALFORMED_FRAME);
        // tag count far larger than the frame: must not allocate a long[Integer.MAX_VALUE]
        assertDecodeFails(raw(FrameType.ACK, 1, b -> {
            b.writeInt(Integer.MAX_VALUE);
            b.writeLong(1);
        }), ErrorCode.MALFORMED_FRAME).hasMessageContaining("does not fit");
        assertDecodeFails(raw(FrameType.ACK, 1, b -> b.writeInt(0)), ErrorCode.MALFORMED_FRAME);
        assertDecodeFails(raw(FrameType.SEND, 1, b -> {
            str(b, "q");
            b.writeByte(0); // overflow: the queue's
            b.writeInt(1_000_000);
        }), ErrorCode.MALFORMED_FRAME);
        assertDecodeFails(raw(FrameType.STATS_RESULT, 1, b -> b.writeInt(Integer.MAX_VALUE)),
                ErrorCode.MALFORMED_FRAME);
        assertDecodeFails(raw(FrameType.LIST_RESULT, 1, b -> b.writeInt(-5)), ErrorCode.MALFORMED_FRAME);
        assertDecodeFails(raw(FrameType.SETTLE_RESULT, 1, b -> b.writeInt(0)), ErrorCode.MALFORMED_FRAME);
    }

    @Test
    void payloadLengthNegativeOrBeyondTheFrameIsMalformed() {
        for (int len : new int[] {-1, Integer.MIN_VALUE, Integer.MAX_VALUE, 5}) {
            byte[] bytes = raw(FrameType.SEND, 1, b -> {
                str(b, "q");
                b.writeByte(0); // overflow: the queue's
                b.writeInt(1);
                b.writeInt(len);
                b.writeBytes(new byte[21]); // the rest of a message's minimum size, but not len payload bytes
            });
            assertDecodeFails(bytes, ErrorCode.MALFORMED_FRAME);
        }
    }

    @Test
    void headerCountAboveLimitOrDuplicatesAreRejected() {
        assertDecodeFails(raw(FrameType.DELIVER, 1, b -> {
            b.writeLong(1).writeLong(1).writeInt(1).writeLong(0).writeLong(0).writeByte(0).writeByte(0);
            b.writeShort(Limits.MAX_HEADERS + 1);
        }), ErrorCode.LIMIT_EXCEEDED);
        assertDecodeFails(raw(FrameType.DELIVER, 1, b -> {
            b.writeLong(1).writeLong(1).writeInt(1).writeLong(0).writeLong(0).writeByte(0).writeByte(0);
            b.writeShort(2);
            str(b, "h");
            str(b, "1");
            str(b, "h");
            str(b, "2");
            b.writeInt(0);
        }), ErrorCode.MALFORMED_FRAME).hasMessageContaining("duplicate header");
    }

    @Test
    void helloNeedsMagicAndOneToSixteenVersions() {
        assertDecodeFails(raw(FrameType.HELLO, 0, b -> {
            b.writeBytes("HTTP".getBytes(StandardCharsets.US_ASCII));
            b.writeByte(1).writeShort(1);
            str(b, "c");
        }), ErrorCode.MALFORMED_FRAME).hasMessageContaining("magic");
        for (int n : new int[] {0, Limits.MAX_VERSIONS + 1}) {
            assertDecodeFails(raw(FrameType.HELLO, 0, b -> {
                b.writeInt(Limits.MAGIC).writeByte(n);
                for (int i = 0; i < n; i++) {
                    b.writeShort(1);
                }
                str(b, "c");
            }), ErrorCode.MALFORMED_FRAME).hasMessageContaining("versions");
        }
    }

    @Test
    void connectionFramesMustCarryIdZero() {
        for (Frame f : List.of(new Frame.Hello(List.of(1), "c"), new Frame.Auth("t"), new Frame.AuthOk("p"),
                new Frame.HelloOk(1, 5000, 0, false, 1, "s"), new Frame.SendCredit("q", 1),
                new Frame.SendCredit("q", 1, 1),
                new Frame.Close(ErrorCode.NONE, ""))) {
            byte[] bytes = SampleFrames.encode(f);
            bytes[8] = 1; // id = 1
            assertDecodeFails(bytes, ErrorCode.MALFORMED_FRAME).hasMessageContaining("id must be 0");
        }
    }

    @Test
    void outOfRangeValuesAreMalformed() {
        // boolean 2
        assertDecodeFails(raw(FrameType.STATS, 1, b -> b.writeByte(2)), ErrorCode.MALFORMED_FRAME);
        // unknown error code
        assertDecodeFails(raw(FrameType.ERROR, 1, b -> {
            b.writeShort(999);
            str(b, "x");
        }), ErrorCode.MALFORMED_FRAME).hasMessageContaining("error code");
        // credit 0 and above 2^31-1
        assertDecodeFails(raw(FrameType.CREDIT, 1, b -> b.writeInt(0)), ErrorCode.MALFORMED_FRAME);
        assertDecodeFails(raw(FrameType.CREDIT, 1, b -> b.writeInt(0x80000000)), ErrorCode.MALFORMED_FRAME);
        // SEND_CREDIT_BYTES (version 6): credit above 2^31-1, bytes below 0, nothing granted
        assertDecodeFails(raw(FrameType.SEND_CREDIT_BYTES, 0, b -> {
            str(b, "q");
            b.writeInt(0x80000000).writeLong(1);
        }), ErrorCode.MALFORMED_FRAME).hasMessageContaining("credit");
        assertDecodeFails(raw(FrameType.SEND_CREDIT_BYTES, 0, b -> {
            str(b, "q");
            b.writeInt(1).writeLong(-1);
        }), ErrorCode.MALFORMED_FRAME).hasMessageContaining("bytes");
        assertDecodeFails(raw(FrameType.SEND_CREDIT_BYTES, 0, b -> {
            str(b, "q");
            b.writeInt(0).writeLong(0);
        }), ErrorCode.MALFORMED_FRAME).hasMessageContaining("both 0");
        // negative nack delay, zero extend duration
        assertDecodeFails(raw(FrameType.NACK, 1, b -> b.writeLong(-1).writeInt(1).writeLong(1)),
                ErrorCode.MALFORMED_FRAME);
        assertDecodeFails(raw(FrameType.EXTEND, 1, b -> b.writeLong(0).writeInt(1).writeLong(1)),
                ErrorCode.MALFORMED_FRAME);
        // settle outcome 2, send status 6, SEND overflow 3, event type 12
        assertDecodeFails(raw(FrameType.SETTLE_RESULT, 1, b -> b.writeInt(1).writeByte(2)),
                ErrorCode.MALFORMED_FRAME);
        assertDecodeFails(raw(FrameType.SEND_RESULT, 1, b -> b.writeInt(1).writeByte(6).writeShort(0).writeLong(0)),
                ErrorCode.MALFORMED_FRAME);
        assertDecodeFails(raw(FrameType.SEND, 1, b -> {
            str(b, "q");
            b.writeByte(3);
            b.writeInt(1).writeInt(0).writeByte(0).writeByte(0).writeLong(0).writeLong(0).writeByte(0).writeShort(0);
        }), ErrorCode.MALFORMED_FRAME).hasMessageContaining("overflow");
        assertDecodeFails(raw(FrameType.EVENT, 1, b -> b.writeByte(12).writeLong(1).writeInt(0).writeByte(0)
                .writeLong(0)), ErrorCode.MALFORMED_FRAME);
        // HELLO_OK max frame size below a header
        assertDecodeFails(raw(FrameType.HELLO_OK, 0, b -> {
            b.writeShort(1).writeInt(4).writeInt(0).writeByte(0).writeInt(1);
            str(b, "s");
        }), ErrorCode.MALFORMED_FRAME);
    }

    @Test
    void sendReceiptsReasonsAreBoundedAndBelongToErrorReceiptsOnly() {
        // an ERROR receipt whose reason is missing, or cut short
        assertDecodeFails(raw(FrameType.SEND_RECEIPTS, 1, b -> b.writeInt(1).writeByte(4).writeShort(21).writeLong(0)),
                ErrorCode.MALFORMED_FRAME).hasMessageContaining("truncated").hasMessageContaining("reason");
        assertDecodeFails(raw(FrameType.SEND_RECEIPTS, 1, b -> {
            b.writeInt(1).writeByte(4).writeShort(21).writeLong(0);
            b.writeShort(10).writeBytes(new byte[] {'a', 'b'});
        }), ErrorCode.MALFORMED_FRAME).hasMessageContaining("truncated");
        // a declared reason length over the limit fails before its bytes are needed
        assertDecodeFails(raw(FrameType.SEND_RECEIPTS, 1, b -> {
            b.writeInt(1).writeByte(4).writeShort(21).writeLong(0);
            b.writeShort(Limits.MAX_REASON_BYTES + 1);
        }), ErrorCode.LIMIT_EXCEEDED).hasMessageContaining("reason");
        assertDecodeFails(raw(FrameType.SEND_RECEIPTS, 1, b -> {
            b.writeInt(1).writeByte(4).writeShort(21).writeLong(0);
            b.writeShort(2).writeByte(0xC0).writeByte(0xAF);
        }), ErrorCode.INVALID_UTF8);
        // no reason after a receipt of another status: text there is trailing bytes, or a bad next receipt
        assertDecodeFails(raw(FrameType.SEND_RECEIPTS, 1, b -> {
            b.writeInt(1).writeByte(0).writeShort(0).writeLong(42);
            str(b, "x");
        }), ErrorCode.MALFORMED_FRAME).hasMessageContaining("trailing");
        assertDecodeFails(raw(FrameType.SEND_RECEIPTS, 1, b -> {
            b.writeInt(2).writeByte(2).writeShort(23).writeLong(0);
            str(b, "reason of FULL");
            b.writeByte(0).writeShort(0).writeLong(1);
        }), ErrorCode.MALFORMED_FRAME);
        // counts: at least one, and checked against the smallest receipt before allocating
        assertDecodeFails(raw(FrameType.SEND_RECEIPTS, 1, b -> b.writeInt(0)), ErrorCode.MALFORMED_FRAME);
        assertDecodeFails(raw(FrameType.SEND_RECEIPTS, 1, b -> b.writeInt(Integer.MAX_VALUE).writeLong(0)),
                ErrorCode.MALFORMED_FRAME).hasMessageContaining("does not fit");
        assertDecodeFails(raw(FrameType.SEND_RECEIPTS, 1, b -> b.writeInt(-1)), ErrorCode.MALFORMED_FRAME);
        // status and error code ranges, as in SEND_RESULT
        assertDecodeFails(raw(FrameType.SEND_RECEIPTS, 1, b -> b.writeInt(1).writeByte(6).writeShort(0).writeLong(0)),
                ErrorCode.MALFORMED_FRAME).hasMessageContaining("status");
        assertDecodeFails(raw(FrameType.SEND_RECEIPTS, 1, b -> {
            b.writeInt(1).writeByte(4).writeShort(999).writeLong(0);
            str(b, "x");
        }), ErrorCode.MALFORMED_FRAME).hasMessageContaining("error code");
        // hand-built bytes at the limit decode
        assertThat(SampleFrames.decode(raw(FrameType.SEND_RECEIPTS, 5, b -> {
            b.writeInt(1).writeByte(4).writeShort(11).writeLong(0);
            str(b, "é".repeat(Limits.MAX_REASON_BYTES / 2));
        }))).isEqualTo(new Frame.SendReceipts(5, List.of(new SendReceipt(SendStatus.ERROR, ErrorCode.FORBIDDEN, 0,
                "é".repeat(Limits.MAX_REASON_BYTES / 2)))));
    }

    @Test
    void declareFieldsAreRangeChecked() {
        Frame.Declare ok = (Frame.Declare) SampleFrames.all().stream()
                .filter(f -> f instanceof Frame.Declare).findFirst().orElseThrow();
        byte[] valid = SampleFrames.encode(ok);
        assertThat(SampleFrames.decode(valid)).isEqualTo(ok);
        int bodyStart = Limits.HEADER_SIZE + 2 + ok.queue().length();
        // visibility timeout (first i64) zero
        byte[] zeroVisibility = valid.clone();
        Unpooled.wrappedBuffer(zeroVisibility).setLong(bodyStart, 0);
        assertDecodeFails(zeroVisibility, ErrorCode.MALFORMED_FRAME).hasMessageContaining("visibilityTimeoutMillis");
        // capacity 0
        byte[] zeroCapacity = valid.clone();
        Unpooled.wrappedBuffer(zeroCapacity).setInt(bodyStart + 16, 0);
        assertDecodeFails(zeroCapacity, ErrorCode.MALFORMED_FRAME).hasMessageContaining("capacity");
        // ordering (second to last byte) 2
        byte[] badOrdering = valid.clone();
        badOrdering[badOrdering.length - 2] = 2;
        assertDecodeFails(badOrdering, ErrorCode.MALFORMED_FRAME).hasMessageContaining("ordering");
    }

    @Test
    void onlyProtocolExceptionsForSingleByteCorruptions() {
        // flip every byte of every sample to a few values: either a valid frame, incomplete, or ProtocolException
        int[] values = {0x00, 0x01, 0x7F, 0x80, 0xFF};
        for (Frame f : SampleFrames.all()) {
            byte[] bytes = SampleFrames.encode(f);
            for (int i = 0; i < bytes.length; i++) {
                for (int v : values) {
                    byte[] corrupted = bytes.clone();
                    corrupted[i] = (byte) v;
                    try {
                        Frame decoded = FrameDecoder.decodeFrame(Unpooled.wrappedBuffer(corrupted), MAX);
                        if (decoded != null) {
                            assertThat(SampleFrames.decode(SampleFrames.encode(decoded))).isEqualTo(decoded);
                        }
                    } catch (ProtocolException expected) {
                        assertThat(expected.code()).isNotNull();
                    }
                }
            }
        }
    }

    @Test
    void validFramesStillDecodeAfterHandBuiltBodies() {
        // sanity check of the raw() helper against the encoder
        byte[] viaRaw = raw(FrameType.SEND_CREDIT, 0, b -> {
            str(b, "q");
            b.writeInt(3);
        });
        assertThat(viaRaw).isEqualTo(SampleFrames.encode(new Frame.SendCredit("q", 3)));
        byte[] bytesViaRaw = raw(FrameType.SEND_CREDIT_BYTES, 0, b -> {
            str(b, "q");
            b.writeInt(3).writeLong(1L << 20);
        });
        assertThat(bytesViaRaw).as("SEND_CREDIT_BYTES: queue, u32 credit, u64 bytes")
                .isEqualTo(SampleFrames.encode(new Frame.SendCredit("q", 3, 1L << 20)));
        assertThat(SampleFrames.decode(raw(FrameType.SEND, 2, b -> {
            str(b, "q");
            b.writeByte(0); // overflow: the queue's
            b.writeInt(1);
            b.writeInt(1).writeByte(7); // payload
            b.writeByte(0).writeByte(0).writeLong(0).writeLong(0).writeByte(0).writeShort(0);
        }))).isEqualTo(new Frame.Send(2, "q", List.of(new WireMessage(new byte[] {7}, null, 0, 0, 0, null,
                Map.of()))));
    }
}
