package dev.rill.netty.internal.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * Fuzzes {@link FrameDecoder} with arbitrary bytes.
 *
 * <p>In a normal test run (regression mode) this replays the saved inputs in
 * {@code src/test/resources/dev/rill/netty/internal/protocol/FrameDecoderFuzzTestInputs/decode/}: valid frames of
 * every type, malformed ones, and any crash inputs found earlier. {@code JAZZER_FUZZ=1} fuzzes for real (see
 * {@code docs/protocol.md}, "Fuzzing").
 *
 * <p>Properties: decoding fails with nothing but {@link ProtocolException}; a decoded frame re-encodes and decodes to
 * an equal frame; feeding the input to a {@link FrameDecoder} handler one byte at a time yields the same frames and
 * the same error as decoding the whole input at once.
 */
class FrameDecoderFuzzTest {

    /** Small enough that FRAME_TOO_LARGE is reachable by the fuzzer, large enough for every sample. */
    static final int MAX_FRAME_SIZE = 16 * 1024;
    static final int PRE_AUTH_CAP = 512;

    /** What decoding a whole input gave: the frames, then an error code or null (the input ended cleanly). */
    record Outcome(List<Frame> frames, ErrorCode error) {
    }

    @FuzzTest(maxDuration = "3m")
    void decode(byte[] input) {
        // the first byte picks the cap, so the pre-auth path is fuzzed too
        int limit = input.length > 0 && (input[0] & 1) == 1 ? PRE_AUTH_CAP : MAX_FRAME_SIZE;
        Outcome whole = decodeWhole(input, limit);
        for (Frame frame : whole.frames()) {
            ByteBuf out = Unpooled.buffer();
            FrameEncoder.encode(frame, out); // an IllegalArgumentException here is a finding too
            Frame again = FrameDecoder.decodeFrame(out, Integer.MAX_VALUE);
            assertThat(again).isEqualTo(frame);
            assertThat(out.isReadable()).isFalse();
            out.release();
        }
        assertThat(decodeByteAtATime(input, limit)).isEqualTo(whole);
    }

    static Outcome decodeWhole(byte[] input, int limit) {
        ByteBuf in = Unpooled.wrappedBuffer(input);
        List<Frame> frames = new ArrayList<>();
        try {
            Frame frame;
            while ((frame = FrameDecoder.decodeFrame(in, limit)) != null) {
                frames.add(frame);
            }
            return new Outcome(frames, null);
        } catch (ProtocolException e) {
            return new Outcome(frames, e.code());
        }
    }

    static Outcome decodeByteAtATime(byte[] input, int limit) {
        FrameDecoder decoder = limit == PRE_AUTH_CAP ? new FrameDecoder(MAX_FRAME_SIZE, PRE_AUTH_CAP)
                : new FrameDecoder(MAX_FRAME_SIZE);
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        List<Frame> frames = new ArrayList<>();
        ErrorCode error = null;
        try {
            for (byte b : input) {
                try {
                    ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {b}));
                } catch (ProtocolException e) {
                    error = e.code();
                }
                Object o;
                while ((o = ch.readInbound()) != null) {
                    frames.add((Frame) o);
                }
                if (error != null) {
                    break;
                }
            }
        } finally {
            ch.finishAndReleaseAll();
        }
        return new Outcome(frames, error);
    }
}
