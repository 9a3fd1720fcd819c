package dev.rill.netty.internal.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledHeapByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The decoder as a netty handler: incremental input, frame size limits, pre-auth cap, behaviour after an error. */
class FrameDecoderChannelTest {

    /** Records the largest buffer the pipeline asked for, to prove nothing is sized from a declared length. */
    static final class TrackingAllocator extends AbstractByteBufAllocator {
        int largestRequest;

        TrackingAllocator() {
            super(false);
        }

        @Override
        protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
            largestRequest = Math.max(largestRequest, initialCapacity);
            return new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity);
        }

        @Override
        protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
            largestRequest = Math.max(largestRequest, initialCapacity);
            return new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity);
        }

        @Override
        public boolean isDirectBufferPooled() {
            return false;
        }
    }

    private static EmbeddedChannel channel(FrameDecoder decoder, TrackingAllocator alloc) {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.config().setAllocator(alloc);
        ch.pipeline().addLast(decoder);
        return ch;
    }

    private static List<Frame> drain(EmbeddedChannel ch) {
        List<Frame> frames = new ArrayList<>();
        Object o;
        while ((o = ch.readInbound()) != null) {
            frames.add((Frame) o);
        }
        return frames;
    }

    @Test
    void byteAtATimeDecodesTheSameAsWholeFrames() {
        List<Frame> samples = SampleFrames.all();
        byte[] stream = SampleFrames.encodeAll(samples);

        EmbeddedChannel whole = new EmbeddedChannel(new FrameDecoder(Limits.DEFAULT_MAX_FRAME_SIZE));
        whole.writeInbound(Unpooled.wrappedBuffer(stream));
        assertThat(drain(whole)).containsExactlyElementsOf(samples);

        EmbeddedChannel bytewise = new EmbeddedChannel(new FrameDecoder(Limits.DEFAULT_MAX_FRAME_SIZE));
        List<Frame> decoded = new ArrayList<>();
        for (byte b : stream) {
            bytewise.writeInbound(Unpooled.wrappedBuffer(new byte[] {b}));
            decoded.addAll(drain(bytewise));
        }
        assertThat(decoded).containsExactlyElementsOf(samples);
        assertThat(whole.finishAndReleaseAll()).isFalse();
        assertThat(bytewise.finishAndReleaseAll()).isFalse();
    }

    @Test
    void randomChunksDecodeTheSameAsWholeFrames() {
        List<Frame> samples = SampleFrames.all();
        byte[] stream = SampleFrames.encodeAll(samples);
        Random random = new Random(42);
        for (int run = 0; run < 20; run++) {
            EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder(Limits.DEFAULT_MAX_FRAME_SIZE));
            List<Frame> decoded = new ArrayList<>();
            int pos = 0;
            while (pos < stream.length) {
                int n = Math.min(stream.length - pos, 1 + random.nextInt(700));
                ch.writeInbound(Unpooled.wrappedBuffer(stream, pos, n));
                decoded.addAll(drain(ch));
                pos += n;
            }
            assertThat(decoded).as("run %d", run).containsExactlyElementsOf(samples);
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void twoGibDeclaredWithFourBytesOfDataFailsAtOnceWithoutAllocatingIt() {
        TrackingAllocator alloc = new TrackingAllocator();
        EmbeddedChannel ch = channel(new FrameDecoder(Limits.DEFAULT_MAX_FRAME_SIZE), alloc);
        ByteBuf in = Unpooled.buffer().writeInt(0x80000000).writeByte(FrameType.SEND.code()).writeBytes(new byte[3]);
        assertThatThrownBy(() -> ch.writeInbound(in))
                .isInstanceOfSatisfying(ProtocolException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.FRAME_TOO_LARGE));
        assertThat(alloc.largestRequest).isLessThan(64 * 1024);
        ch.finishAndReleaseAll();
    }

    @Test
    void lengthFieldAloneIsEnoughToRefuse() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder(Limits.MIN_MAX_FRAME_SIZE));
        ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {0, 0}));
        assertThat(drain(ch)).isEmpty();
        assertThatThrownBy(() -> ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {0x04, 0x01})))
                .isInstanceOfSatisfying(ProtocolException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.FRAME_TOO_LARGE));
        ch.finishAndReleaseAll();
    }

    @Test
    void aLargeFrameWithinTheLimitIsBufferedOnlyAsItArrives() {
        TrackingAllocator alloc = new TrackingAllocator();
        EmbeddedChannel ch = channel(new FrameDecoder(Limits.DEFAULT_MAX_FRAME_SIZE), alloc);
        Frame big = new Frame.Deliver(1, 2, 3, 1, 4, 5, null, 0, Map.of(),
                SampleFrames.bytes(Limits.DEFAULT_MAX_FRAME_SIZE - 100));
        byte[] bytes = SampleFrames.encode(big);
        // a stalled sender: only the header and a little body arrived, in two pieces (so the decoder's
        // cumulation buffer is allocated): sized by what arrived, not by the declared 1 MiB
        ch.writeInbound(Unpooled.wrappedBuffer(bytes, 0, 64));
        ch.writeInbound(Unpooled.wrappedBuffer(bytes, 64, 1000));
        assertThat(drain(ch)).isEmpty();
        assertThat(alloc.largestRequest).isBetween(1064, 4096);
        // the rest arrives in 64 KiB pieces
        for (int pos = 1064; pos < bytes.length; pos += 65536) {
            ch.writeInbound(Unpooled.wrappedBuffer(bytes, pos, Math.min(65536, bytes.length - pos)));
        }
        assertThat(drain(ch)).containsExactly(big);
        ch.finishAndReleaseAll();
    }

    @Test
    void preAuthCapAppliesUntilAuthenticated() {
        FrameDecoder decoder = new FrameDecoder(Limits.DEFAULT_MAX_FRAME_SIZE, Limits.DEFAULT_PRE_AUTH_MAX_FRAME_SIZE);
        assertThat(decoder.currentLimit()).isEqualTo(Limits.DEFAULT_PRE_AUTH_MAX_FRAME_SIZE);
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        Frame hello = new Frame.Hello(List.of(1), "c");
        Frame auth = new Frame.Auth("t".repeat(Limits.MAX_TOKEN_BYTES));
        ch.writeInbound(Unpooled.wrappedBuffer(SampleFrames.encodeAll(List.of(hello, auth))));
        assertThat(drain(ch)).containsExactly(hello, auth);

        decoder.authenticated();
        assertThat(decoder.currentLimit()).isEqualTo(Limits.DEFAULT_MAX_FRAME_SIZE);
        Frame send = new Frame.Send(1, "q", List.of(new WireMessage(new byte[10_000], null, 0, 0, 0, null,
                Map.of())));
        ch.writeInbound(Unpooled.wrappedBuffer(SampleFrames.encode(send)));
        assertThat(drain(ch)).containsExactly(send);
        ch.finishAndReleaseAll();
    }

    @Test
    void frameAbovePreAuthCapIsRefusedBeforeAuthentication() {
        EmbeddedChannel ch = new EmbeddedChannel(
                new FrameDecoder(Limits.DEFAULT_MAX_FRAME_SIZE, Limits.DEFAULT_PRE_AUTH_MAX_FRAME_SIZE));
        Frame send = new Frame.Send(1, "q", List.of(new WireMessage(new byte[5000], null, 0, 0, 0, null, Map.of())));
        byte[] bytes = SampleFrames.encode(send);
        // refused from its first 4 bytes
        assertThatThrownBy(() -> ch.writeInbound(Unpooled.wrappedBuffer(bytes, 0, 4)))
                .isInstanceOfSatisfying(ProtocolException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.FRAME_TOO_LARGE));
        ch.finishAndReleaseAll();
    }

    @Test
    void preAuthCapExactlyAtTheLimitIsAccepted() {
        int cap = Limits.MIN_PRE_AUTH_FRAME_SIZE;
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder(Limits.DEFAULT_MAX_FRAME_SIZE, cap));
        // AUTH: length = 5 (type + id) + 2 (string length) + token
        Frame atCap = new Frame.Auth("x".repeat(cap - 7));
        assertThat(SampleFrames.encode(atCap)).hasSize(cap + 4);
        ch.writeInbound(Unpooled.wrappedBuffer(SampleFrames.encode(atCap)));
        assertThat(drain(ch)).containsExactly(atCap);
        Frame overCap = new Frame.Auth("x".repeat(cap - 6));
        assertThatThrownBy(() -> ch.writeInbound(Unpooled.wrappedBuffer(SampleFrames.encode(overCap))))
                .isInstanceOf(ProtocolException.class);
        ch.finishAndReleaseAll();
    }

    @Test
    void afterAnErrorTheRestOfTheStreamIsDiscarded() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder(Limits.DEFAULT_MAX_FRAME_SIZE));
        byte[] ping = SampleFrames.encode(new Frame.Ping(1));
        ByteBuf in = Unpooled.buffer().writeBytes(ping).writeBytes(new byte[] {0, 0, 0, 5, 0x7F, 0, 0, 0, 0})
                .writeBytes(ping);
        assertThatThrownBy(() -> ch.writeInbound(in))
                .isInstanceOfSatisfying(ProtocolException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.UNKNOWN_FRAME_TYPE));
        assertThat(drain(ch)).containsExactly(new Frame.Ping(1));
        // valid frames after the error are not decoded: the stream is no longer trusted
        ch.writeInbound(Unpooled.wrappedBuffer(ping));
        assertThat(drain(ch)).isEmpty();
        assertThat(in.refCnt()).isZero();
        ch.finishAndReleaseAll();
    }

    @Test
    void garbageLikeAnHttpRequestIsRefusedImmediately() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder(Limits.DEFAULT_MAX_FRAME_SIZE, 4096));
        byte[] http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        assertThatThrownBy(() -> ch.writeInbound(Unpooled.wrappedBuffer(http)))
                .isInstanceOfSatisfying(ProtocolException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.FRAME_TOO_LARGE));
        ch.finishAndReleaseAll();
    }

    @Test
    void constructorChecksItsLimits() {
        assertThatThrownBy(() -> new FrameDecoder(4)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new FrameDecoder(1000, 2000)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("preAuthMaxFrameSize");
        assertThatThrownBy(() -> Limits.checkMaxFrameSize("maxFrameSize", 10))
                .hasMessageContaining("maxFrameSize").hasMessageContaining("10");
        assertThat(Limits.checkMaxFrameSize("maxFrameSize", Limits.DEFAULT_MAX_FRAME_SIZE))
                .isEqualTo(Limits.DEFAULT_MAX_FRAME_SIZE);
    }
}
