package dev.rill.netty.internal.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.rill.core.ExpiryAction;
import dev.rill.core.Ordering;
import dev.rill.core.Overflow;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Fuzzes {@link FrameEncoder} with frames built from arbitrary field values (any chars, including unpaired
 * surrogates; any numbers, including out-of-range ones).
 *
 * <p>Property: the encoder either refuses the frame with {@link IllegalArgumentException}, leaving the buffer as it
 * was, or writes bytes that {@link FrameDecoder} decodes to an equal frame; it never writes something the decoder
 * rejects, nor a frame that decodes to different values. Regression mode replays
 * {@code FrameEncoderFuzzTestInputs/encodeThenDecode/}.
 */
class FrameEncoderFuzzTest {

    @FuzzTest(maxDuration = "2m")
    void encodeThenDecode(FuzzedDataProvider data) {
        Frame frame = frame(data);
        ByteBuf out = Unpooled.buffer();
        out.writeByte(0x5A);
        try {
            FrameEncoder.encode(frame, out);
        } catch (IllegalArgumentException refused) {
            assertThat(out.writerIndex()).isEqualTo(1);
            out.release();
            return;
        }
        out.skipBytes(1);
        Frame decoded = FrameDecoder.decodeFrame(out, Integer.MAX_VALUE);
        assertThat(decoded).isEqualTo(frame);
        assertThat(out.isReadable()).isFalse();
        out.release();
    }

    private static Frame frame(FuzzedDataProvider data) {
        switch (data.consumeInt(0, 7)) {
            case 0:
                return new Frame.Send(data.consumeInt(), string(data), messages(data));
            case 1:
                return new Frame.Deliver(data.consumeInt(), data.consumeLong(), data.consumeLong(), data.consumeInt(),
                        data.consumeLong(), data.consumeLong(), nullableString(data), data.consumeInt(-2, 257),
                        headers(data), data.consumeBytes(64));
            case 2:
                return new Frame.Declare(data.consumeInt(), string(data), data.consumeLong(), data.consumeLong(),
                        data.consumeInt(), data.consumeLong(), data.consumeInt(), nullableString(data),
                        data.consumeBoolean(), data.consumeLong(), data.pickValue(ExpiryAction.values()),
                        data.pickValue(Ordering.values()), data.pickValue(Overflow.values()));
            case 3:
                return new Frame.Error(data.consumeInt(), data.pickValue(ErrorCode.values()), string(data));
            case 4:
                return new Frame.Reject(data.consumeInt(), string(data), tags(data));
            case 5: {
                int n = data.consumeInt(0, 18);
                List<Integer> versions = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    versions.add(data.consumeInt(-1, 0x10000));
                }
                return new Frame.Hello(versions, string(data));
            }
            case 6:
                return new Frame.Subscribe(data.consumeInt(), string(data), data.consumeInt(), data.consumeInt(),
                        data.consumeLong());
            default:
                // frames added later share the last case, so saved inputs that pick an earlier one still build it
                if (data.consumeBoolean()) {
                    return new Frame.SendReceipts(data.consumeInt(), receipts(data));
                }
                return new Frame.Nack(data.consumeInt(), data.consumeLong(), tags(data));
        }
    }

    /** Receipts of any status and error code; ERROR ones with any reason, at times one made to fit. */
    private static List<SendReceipt> receipts(FuzzedDataProvider data) {
        int n = data.consumeInt(0, 3);
        List<SendReceipt> receipts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            SendStatus status = data.pickValue(SendStatus.values());
            ErrorCode error = data.pickValue(ErrorCode.values());
            if (status != SendStatus.ERROR) {
                receipts.add(new SendReceipt(status, error, data.consumeLong()));
            } else if (data.consumeBoolean()) {
                receipts.add(SendReceipt.refused(error, string(data)));
            } else {
                receipts.add(new SendReceipt(status, error, data.consumeLong(), nullableString(data)));
            }
        }
        return receipts;
    }

    private static List<WireMessage> messages(FuzzedDataProvider data) {
        int n = data.consumeInt(0, 3);
        List<WireMessage> messages = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            messages.add(new WireMessage(data.consumeBytes(32), nullableString(data), data.consumeInt(-2, 257),
                    data.consumeLong(), data.consumeLong(), nullableString(data), headers(data)));
        }
        return messages;
    }

    private static Map<String, String> headers(FuzzedDataProvider data) {
        int n = data.consumeInt(0, 3);
        Map<String, String> headers = new HashMap<>();
        for (int i = 0; i < n; i++) {
            headers.put(string(data), string(data));
        }
        return headers;
    }

    private static long[] tags(FuzzedDataProvider data) {
        long[] tags = new long[data.consumeInt(0, 4)];
        for (int i = 0; i < tags.length; i++) {
            tags[i] = data.consumeLong();
        }
        return tags;
    }

    private static String nullableString(FuzzedDataProvider data) {
        return data.consumeBoolean() ? null : string(data);
    }

    /** Any UTF-16 chars, including unpaired surrogates; sometimes long enough to pass a limit. */
    private static String string(FuzzedDataProvider data) {
        int length = data.consumeBoolean() ? data.consumeInt(0, 8) : data.consumeInt(0, 3000);
        StringBuilder sb = new StringBuilder(length);
        char fill = data.consumeChar();
        for (int i = 0; i < length; i++) {
            sb.append(data.remainingBytes() >= 2 ? data.consumeChar() : fill);
        }
        return sb.toString();
    }
}
