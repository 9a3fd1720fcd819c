package dev.rill.netty.internal.protocol;

import static dev.rill.netty.internal.protocol.SampleFrames.decode;
import static dev.rill.netty.internal.protocol.SampleFrames.encode;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.ExpiryAction;
import dev.rill.core.Ordering;
import dev.rill.core.Overflow;
import dev.rill.core.QueueSpec;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class FrameCodecTest {

    static List<Frame> samples() {
        return SampleFrames.all();
    }

    @Test
    void samplesCoverEveryFrameType() {
        Set<FrameType> covered = samples().stream().map(Frame::type).collect(Collectors.toSet());
        assertThat(covered).containsExactlyInAnyOrderElementsOf(EnumSet.allOf(FrameType.class));
    }

    @ParameterizedTest
    @MethodSource("samples")
    void roundTripsEveryFrame(Frame frame) {
        byte[] bytes = encode(frame);
        Frame decoded = decode(bytes);
        assertThat(decoded).isEqualTo(frame).hasSameHashCodeAs(frame);
        assertThat(decoded.type()).isEqualTo(frame.type());
        assertThat(decoded.streamId()).isEqualTo(frame.streamId());
        // canonical: re-encoding gives the same bytes (headers maps may iterate in another order, so compare
        // through a second decode for frames with headers)
        assertThat(decode(encode(decoded))).isEqualTo(frame);
    }

    @ParameterizedTest
    @MethodSource("samples")
    void headerCarriesLengthTypeAndId(Frame frame) {
        byte[] bytes = encode(frame);
        ByteBuf buf = Unpooled.wrappedBuffer(bytes);
        assertThat(buf.getUnsignedInt(0)).isEqualTo(bytes.length - 4L);
        assertThat(buf.getUnsignedByte(4)).isEqualTo((short) frame.type().code());
        assertThat(buf.getInt(5)).isEqualTo(frame.streamId());
    }

    @ParameterizedTest
    @MethodSource("samples")
    void everyStrictPrefixIsIncompleteNotAnError(Frame frame) {
        byte[] bytes = encode(frame);
        for (int n = 0; n < bytes.length; n++) {
            ByteBuf prefix = Unpooled.wrappedBuffer(bytes, 0, n);
            assertThat(FrameDecoder.decodeFrame(prefix, Limits.DEFAULT_MAX_FRAME_SIZE)).as("prefix %d", n).isNull();
            assertThat(prefix.readerIndex()).isZero();
        }
    }

    @Test
    void pingIsTheMinimalFrame() {
        assertThat(encode(new Frame.Ping(0x01020304)))
                .containsExactly(0, 0, 0, 5, 0x50, 1, 2, 3, 4);
    }

    @Test
    void helloStartsWithMagic() {
        byte[] bytes = encode(new Frame.Hello(List.of(1), "c"));
        assertThat(new String(bytes, 9, 4, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("RILL");
    }

    @Test
    void stringsAtTheirLimitsRoundTrip() {
        String name = "n".repeat(Limits.MAX_NAME_BYTES);
        String field = "é".repeat(Limits.MAX_FIELD_BYTES / 2); // 2 UTF-8 bytes each
        String text = "t".repeat(Limits.MAX_TEXT_BYTES);
        Frame send = new Frame.Send(1, name, List.of(new WireMessage(new byte[0], field, 0, 0, 0, field,
                Map.of(field, field))));
        assertThat(decode(encode(send))).isEqualTo(send);
        Frame error = new Frame.Error(1, ErrorCode.INTERNAL_ERROR, text);
        assertThat(decode(encode(error))).isEqualTo(error);
        Frame auth = new Frame.Auth("x".repeat(Limits.MAX_TOKEN_BYTES));
        assertThat(decode(encode(auth))).isEqualTo(auth);
    }

    @Test
    void maxHeadersRoundTrip() {
        Map<String, String> headers = new java.util.HashMap<>();
        for (int i = 0; i < Limits.MAX_HEADERS; i++) {
            headers.put("h" + i, "v" + i);
        }
        Frame deliver = new Frame.Deliver(1, 2, 3, 4, 5, 6, null, 0, headers, new byte[] {1});
        assertThat(decode(encode(deliver))).isEqualTo(deliver);
    }

    @Test
    void encoderRefusesFieldsBeyondTheirLimitsAndLeavesTheBufferUntouched() {
        ByteBuf buf = Unpooled.buffer();
        buf.writeByte(0xAA);
        List<Frame> bad = List.of(
                new Frame.Delete(1, "n".repeat(Limits.MAX_NAME_BYTES + 1)),
                new Frame.Auth("x".repeat(Limits.MAX_TOKEN_BYTES + 1)),
                new Frame.Hello(List.of(), "c"),
                new Frame.Hello(List.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17), "c"),
                new Frame.Hello(List.of(0x10000), "c"),
                new Frame.Credit(1, 0),
                new Frame.SendCredit("q", -1),
                new Frame.SendCredit("q", 0, 0),
                new Frame.SendCredit("q", -1, 1),
                new Frame.Ack(1, new long[0]),
                new Frame.Extend(1, 0, new long[] {1}),
                new Frame.Nack(1, -1, new long[] {1}),
                new Frame.Send(1, "q", List.of()),
                new Frame.Send(1, "q", List.of(new WireMessage(new byte[0], null, 256, 0, 0, null, Map.of()))),
                new Frame.Send(1, "q", List.of(new WireMessage(new byte[0], null, 0, -1, 0, null, Map.of()))),
                new Frame.Deliver(1, 1, 1, 0, 0, 0, null, 0, Map.of(), new byte[0]),
                new Frame.Redrive(1, "dlq", 0),
                new Frame.Redrive(1, "dlq", "target", 0),
                new Frame.Peek(1, "q", 0),
                new Frame.Subscribe(1, "q", -1, 0, 0),
                new Frame.SendResult(1, List.of()),
                new Frame.SendReceipts(1, List.of()),
                new Frame.SendReceipts(1, List.of(new SendReceipt(SendStatus.ERROR, ErrorCode.INVALID_ARGUMENT, 0,
                        "r".repeat(Limits.MAX_REASON_BYTES + 1)))),
                new Frame.SendReceipts(1, List.of(new SendReceipt(SendStatus.ERROR, ErrorCode.INVALID_ARGUMENT, 0,
                        "unpaired \uD800"))),
                new Frame.SettleResult(1, List.of()),
                new Frame.Declare(1, "q", 0, 1, 1, 1, 0, null, false, 0, ExpiryAction.DROP, Ordering.FIFO,
                        Overflow.WAIT));
        for (Frame f : bad) {
            assertThatThrownBy(() -> FrameEncoder.encode(f, buf)).as(f.toString())
                    .isInstanceOf(IllegalArgumentException.class);
            assertThat(buf.writerIndex()).as(f.toString()).isEqualTo(1);
        }
        buf.release();
    }

    @Test
    void encoderRefusesUnpairedSurrogatesInsteadOfAlteringThem() {
        // found by FrameEncoderFuzzTest: netty writes an unpaired surrogate as '?', so the peer got another value
        for (String bad : List.of("\uD800", "a\uDC00b", "x\uD83D", "\uDE80\uD83D")) {
            ByteBuf buf = Unpooled.buffer();
            assertThatThrownBy(() -> FrameEncoder.encode(new Frame.Delete(1, bad), buf))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unpaired surrogate");
            assertThat(buf.writerIndex()).isZero();
            buf.release();
        }
        Frame pair = new Frame.Delete(1, "rocket \uD83D\uDE80");
        assertThat(decode(encode(pair))).isEqualTo(pair);
        assertThat(encode(pair)).hasSize(Limits.HEADER_SIZE + 2 + 7 + 4);
    }

    @Test
    void encoderRefusesFramesAbovePeerMaximum() {
        Frame big = new Frame.Send(1, "q", List.of(new WireMessage(new byte[2000], null, 0, 0, 0, null, Map.of())));
        int length = encode(big).length - 4;
        ByteBuf buf = Unpooled.buffer();
        assertThatThrownBy(() -> FrameEncoder.encode(big, buf, length - 1))
                .isInstanceOfSatisfying(ProtocolException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.FRAME_TOO_LARGE));
        assertThat(buf.writerIndex()).isZero();
        FrameEncoder.encode(big, buf, length);
        assertThat(buf.readableBytes()).isEqualTo(length + 4);
        buf.release();
    }

    @Test
    void encoderHandlerWritesTheSameBytesAndFailsOversizedWrites() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameEncoder(Limits.MIN_MAX_FRAME_SIZE));
        Frame small = new Frame.Credit(3, 10);
        assertThat(ch.writeOutbound(small)).isTrue();
        ByteBuf out = ch.readOutbound();
        assertThat(io.netty.buffer.ByteBufUtil.getBytes(out)).isEqualTo(encode(small));
        out.release();
        Frame big = new Frame.Send(1, "q", List.of(new WireMessage(new byte[2000], null, 0, 0, 0, null, Map.of())));
        var future = ch.writeOneOutbound(big);
        ch.flushOutbound();
        assertThat(future.isSuccess()).isFalse();
        assertThat(future.cause()).hasRootCauseInstanceOf(ProtocolException.class);
        assertThat((Object) ch.readOutbound()).isNull();
        ch.finishAndReleaseAll();
    }

    @Test
    void encodedSizeOfMessagesIsExact() {
        List<WireMessage> messages = List.of(
                new WireMessage(new byte[0], null, 0, 0, 0, null, Map.of()),
                new WireMessage(SampleFrames.bytes(77), "këy", 3, 1, 2, "dédup", Map.of("a", "☃", "bb", ""))) ;
        Frame send = new Frame.Send(1, "orders", messages);
        int expected = FrameEncoder.sendOverhead("orders");
        for (WireMessage m : messages) {
            expected += FrameEncoder.encodedSize(m);
        }
        assertThat(encode(send)).hasSize(expected);
    }

    @Test
    void encodedSizeRefusesWhatEncodeWouldRefuse() {
        List<WireMessage> bad = List.of(
                new WireMessage(new byte[0], "\uD800", 0, 0, 0, null, Map.of()),
                new WireMessage(new byte[0], null, 0, 0, 0, "d".repeat(Limits.MAX_FIELD_BYTES + 1), Map.of()),
                new WireMessage(new byte[0], null, 0, 0, 0, null, Map.of("h", "\uDC00")),
                new WireMessage(new byte[0], null, 10_000, 0, 0, null, Map.of()),
                new WireMessage(new byte[0], null, 0, -5, 0, null, Map.of()),
                new WireMessage(new byte[0], null, 0, 0, -5, null, Map.of()));
        for (WireMessage m : bad) {
            assertThatThrownBy(() -> FrameEncoder.encodedSize(m)).as(m.toString())
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> encode(new Frame.Send(1, "q", List.of(m)))).as(m.toString())
                    .isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> FrameEncoder.sendOverhead("q\uD800")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void sendReceiptsCarryAReasonAfterAnErrorReceiptOnly() {
        Frame f = new Frame.SendReceipts(7, List.of(
                new SendReceipt(SendStatus.ENQUEUED, ErrorCode.NONE, 0x0102030405060708L),
                SendReceipt.refused(ErrorCode.INVALID_ARGUMENT, "bad ☃")));
        ByteBuf body = Unpooled.wrappedBuffer(encode(f)).skipBytes(Limits.HEADER_SIZE);
        assertThat(body.readInt()).isEqualTo(2);
        assertThat(body.readUnsignedByte()).isEqualTo((short) SendStatus.ENQUEUED.ordinal());
        assertThat(body.readUnsignedShort()).isZero();
        assertThat(body.readLong()).isEqualTo(0x0102030405060708L); // and no reason
        assertThat(body.readUnsignedByte()).isEqualTo((short) SendStatus.ERROR.ordinal());
        assertThat(body.readUnsignedShort()).isEqualTo(ErrorCode.INVALID_ARGUMENT.code());
        assertThat(body.readLong()).isZero();
        assertThat(body.readUnsignedShort()).isEqualTo(7); // "bad " and a 3-byte snowman
        assertThat(body.readCharSequence(7, java.nio.charset.StandardCharsets.UTF_8).toString()).isEqualTo("bad ☃");
        assertThat(body.isReadable()).isFalse();
        assertThat(decode(encode(f))).isEqualTo(f);

        // an ERROR without a reason is sent with an empty one and read back as none
        Frame none = new Frame.SendReceipts(8, List.of(new SendReceipt(SendStatus.ERROR, ErrorCode.INTERNAL_ERROR, 0)));
        assertThat(encode(none)).hasSize(Limits.HEADER_SIZE + 4 + 11 + 2);
        assertThat(decode(encode(none))).isEqualTo(none);
        assertThat(new SendReceipt(SendStatus.ERROR, ErrorCode.INTERNAL_ERROR, 0, "")).isEqualTo(
                new SendReceipt(SendStatus.ERROR, ErrorCode.INTERNAL_ERROR, 0));
        assertThatThrownBy(() -> new SendReceipt(SendStatus.FULL, ErrorCode.QUEUE_FULL, 0, "full"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("only an ERROR");
    }

    @Test
    void sendResultKeepsItsLayoutAndDropsReasons() {
        SendReceipt refused = SendReceipt.refused(ErrorCode.INVALID_ARGUMENT, "not an integer");
        Frame.SendResult f = new Frame.SendResult(3, List.of(refused));
        assertThat(f.receipts()).containsExactly(refused.withoutReason());
        assertThat(encode(f)).isEqualTo(encode(new Frame.SendResult(3, List.of(
                new SendReceipt(SendStatus.ERROR, ErrorCode.INVALID_ARGUMENT, 0)))))
                .containsExactly(0, 0, 0, 20, 0x21, 0, 0, 0, 3, 0, 0, 0, 1, 4, 0, 21, 0, 0, 0, 0, 0, 0, 0, 0);
    }

    @Test
    void refusedCutsALongReasonAfterTheLastWholeCharacterThatFits() {
        int max = Limits.MAX_REASON_BYTES;
        String ascii = "x".repeat(5 * max);
        assertThat(SendReceipt.refused(ErrorCode.INVALID_ARGUMENT, ascii).reason()).isEqualTo("x".repeat(max));
        // 2-, 3- and 4-byte characters (the last a surrogate pair) straddling the limit: the whole character goes
        for (String c : List.of("é", "☃", "\uD83D\uDE80")) {
            int size = c.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
            // 997 bytes left after "abc": no whole number of 2-, 3- or 4-byte characters fills them
            String text = "abc" + c.repeat(max);
            String reason = SendReceipt.refused(ErrorCode.INVALID_ARGUMENT, text).reason();
            assertThat(reason).as(c).isEqualTo("abc" + c.repeat((max - 3) / size));
            assertThat(reason.getBytes(java.nio.charset.StandardCharsets.UTF_8).length).as(c)
                    .isLessThanOrEqualTo(max).isGreaterThan(max - size);
            Frame f = new Frame.SendReceipts(1, List.of(SendReceipt.refused(ErrorCode.INVALID_ARGUMENT, text)));
            assertThat(decode(encode(f))).isEqualTo(f);
        }
        // a character that ends exactly at the limit is kept
        String exact = "x".repeat(max % 4) + "\uD83D\uDE80".repeat(max / 4);
        assertThat(SendReceipt.refused(ErrorCode.INVALID_ARGUMENT, exact + "z").reason()).isEqualTo(exact);
        // text that fits is kept as it is; an unpaired surrogate (no UTF-8 form) becomes U+FFFD, also past a cut
        String fits = "refused ☃";
        assertThat(SendReceipt.refused(ErrorCode.FORBIDDEN, fits).reason()).isSameAs(fits);
        assertThat(SendReceipt.refused(ErrorCode.FORBIDDEN, "a\uD800b\uDC00").reason()).isEqualTo("a\uFFFDb\uFFFD");
        assertThat(FrameEncoder.fitUtf8("\uDC00" + "x".repeat(max), max)).hasSize(max - 2).startsWith("\uFFFDx");
        assertThat(FrameEncoder.fitUtf8("", 0)).isEmpty();
    }

    @Test
    void encodedSizeOfReceiptsIsExactAndOneAlwaysFitsTheSmallestFrame() {
        List<SendReceipt> receipts = List.of(
                new SendReceipt(SendStatus.ENQUEUED, ErrorCode.NONE, 1),
                new SendReceipt(SendStatus.ERROR, ErrorCode.INTERNAL_ERROR, 0),
                SendReceipt.refused(ErrorCode.INVALID_ARGUMENT, "dé☃\uD83D\uDE80"),
                new SendReceipt(SendStatus.FULL, ErrorCode.QUEUE_FULL, 0));
        int length = FrameEncoder.RECEIPTS_BASE_LENGTH;
        for (SendReceipt r : receipts) {
            length += FrameEncoder.encodedSize(r);
        }
        assertThat(encode(new Frame.SendReceipts(1, receipts))).hasSize(4 + length);
        SendReceipt longest = SendReceipt.refused(ErrorCode.INVALID_ARGUMENT, "é".repeat(Limits.MAX_REASON_BYTES));
        assertThat(FrameEncoder.RECEIPTS_BASE_LENGTH + FrameEncoder.encodedSize(longest))
                .isLessThanOrEqualTo(Limits.MIN_MAX_FRAME_SIZE);
        assertThatThrownBy(() -> FrameEncoder.encodedSize(new SendReceipt(SendStatus.ERROR, ErrorCode.INTERNAL_ERROR,
                0, "r".repeat(Limits.MAX_REASON_BYTES + 1)))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void encodedSizeOfPeekedMessagesIsExact() {
        List<PeekedMessage> peeked = List.of(
                new PeekedMessage(1, null, 0, 5, Map.of(), new byte[0]),
                new PeekedMessage(2, "k\u00e9y", 9, 6, Map.of("a", "\u2603", "\uD83D\uDE80", "b"), new byte[100]),
                new PeekedMessage(3, "\uD83D\uDE00".repeat(10), 3, 7, Map.of("x-rill-dead-letter-reason",
                        "\u20ac".repeat(1024)), new byte[7]));
        int length = FrameEncoder.PEEK_RESULT_BASE_LENGTH;
        for (PeekedMessage m : peeked) {
            length += FrameEncoder.encodedSize(m);
        }
        assertThat(encode(new Frame.PeekResult(1, peeked))).hasSize(4 + length);
    }

    @Test
    void declareCarriesEveryQueueSpecField() {
        List<QueueSpec> specs = List.of(
                QueueSpec.named("plain"),
                QueueSpec.named("full").visibilityTimeout(Duration.ofSeconds(7)).dedupWindow(Duration.ofMinutes(1))
                        .capacity(5).maxBytes(1000).maxDeliveries(3).deadLetterQueue("full.dlq")
                        .messageTtl(Duration.ofHours(1)).onExpiry(ExpiryAction.DEAD_LETTER)
                        .ordering(Ordering.KEY_ORDERED).overflow(Overflow.FAIL),
                QueueSpec.named("discarding").maxDeliveries(2).discardDeadLetters().unbounded());
        for (QueueSpec spec : specs) {
            Frame.Declare frame = Frame.Declare.of(5, spec);
            Frame.Declare decoded = (Frame.Declare) decode(encode(frame));
            assertThat(decoded).isEqualTo(frame);
            assertThat(decoded.toSpec()).isEqualTo(spec);
            assertThat(decoded.toSpec().differences(spec)).isEmpty();
        }
    }

    @Test
    void declareToSpecAppliesTheSpecRules() {
        Frame.Declare badName = new Frame.Declare(1, "no spaces", 1, 1, 1, Long.MAX_VALUE, 0, null, false, 0,
                ExpiryAction.DROP, Ordering.FIFO, Overflow.WAIT);
        assertThatThrownBy(badName::toSpec).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("name");
        Frame.Declare both = new Frame.Declare(1, "q", 1, 1, 1, Long.MAX_VALUE, 1, "d", true, 0,
                ExpiryAction.DROP, Ordering.FIFO, Overflow.WAIT);
        assertThatThrownBy(both::toSpec).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("exclusive");
    }

    @Test
    void wireEnumCodesMatchTheDocumentation() {
        // docs/protocol.md lists these values; the encoder writes ordinals
        assertThat(ExpiryAction.DROP.ordinal()).isZero();
        assertThat(ExpiryAction.DEAD_LETTER.ordinal()).isEqualTo(1);
        assertThat(Ordering.FIFO.ordinal()).isZero();
        assertThat(Ordering.KEY_ORDERED.ordinal()).isEqualTo(1);
        assertThat(Overflow.WAIT.ordinal()).isZero();
        assertThat(Overflow.FAIL.ordinal()).isEqualTo(1);
        assertThat(dev.rill.core.LeaseOutcome.OK.ordinal()).isZero();
        assertThat(dev.rill.core.LeaseOutcome.STALE.ordinal()).isEqualTo(1);
        assertThat(SendStatus.values()).extracting(Enum::name)
                .containsExactly("ENQUEUED", "DUPLICATE", "FULL", "CLOSED", "ERROR", "CANCELLED");
        assertThat(dev.rill.core.QueueEvent.Type.values()).extracting(Enum::name)
                .containsExactly("ENQUEUED", "DEDUPLICATED", "LEASED", "ACKED", "NACKED", "EXTENDED", "EXPIRED",
                        "DEAD_LETTERED", "TTL_EXPIRED", "RELEASED", "REDRIVEN", "PURGED");
        assertThat(FrameType.fromCode(0x33)).isEqualTo(FrameType.DELIVER);
        for (ErrorCode c : ErrorCode.values()) {
            assertThat(ErrorCode.fromCode(c.code())).isEqualTo(c);
        }
    }

    @Test
    void authTokenIsNeverPrinted() {
        assertThat(new Frame.Auth("hunter2").toString()).doesNotContain("hunter2");
    }
}
