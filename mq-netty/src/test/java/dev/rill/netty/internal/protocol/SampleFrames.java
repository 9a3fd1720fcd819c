package dev.rill.netty.internal.protocol;

import dev.rill.core.ExpiryAction;
import dev.rill.core.LeaseOutcome;
import dev.rill.core.Ordering;
import dev.rill.core.Overflow;
import dev.rill.core.QueueEvent;
import dev.rill.core.QueueStats;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Valid frames of every type, with typical and edge values, plus encode/decode helpers for the tests. */
final class SampleFrames {

    private SampleFrames() {
    }

    static List<Frame> all() {
        List<Frame> frames = new ArrayList<>();
        frames.add(new Frame.Hello(List.of(1), "rill-java/0.1"));
        frames.add(new Frame.Hello(List.of(0, 1, 2, 0xFFFF), ""));
        frames.add(new Frame.HelloOk(1, Limits.DEFAULT_MAX_FRAME_SIZE, 15_000, true, 1024, "rill"));
        frames.add(new Frame.HelloOk(0xFFFF, Integer.MAX_VALUE, 0, false, 0, "ünïcødé ☃ 🚀"));
        frames.add(new Frame.Auth("s3cr3t-token"));
        frames.add(new Frame.AuthOk("alice"));
        frames.add(new Frame.Declare(7, "orders", 30_000, 300_000, 100_000, Long.MAX_VALUE, 0, null, false, 0,
                ExpiryAction.DROP, Ordering.FIFO, Overflow.WAIT));
        frames.add(new Frame.Declare(-1, "orders.v2:eu-1_x", 1, 1, Integer.MAX_VALUE, 1, 5, "orders.dlq", false,
                Long.MAX_VALUE, ExpiryAction.DEAD_LETTER, Ordering.KEY_ORDERED, Overflow.FAIL));
        frames.add(new Frame.Declare(8, "q", 10, 10, 1, 1 << 20, 3, null, true, 60_000, ExpiryAction.DROP,
                Ordering.FIFO, Overflow.WAIT));
        frames.add(new Frame.DeclareOk(7));
        frames.add(new Frame.Delete(9, "orders"));
        frames.add(new Frame.Purge(10, "orders"));
        frames.add(new Frame.Stats(11, "orders"));
        frames.add(new Frame.Stats(12, null));
        frames.add(new Frame.ListQueues(13));
        frames.add(new Frame.Redrive(14, "orders.dlq", Integer.MAX_VALUE));
        frames.add(new Frame.Peek(15, "orders", 1));
        frames.add(new Frame.Result(9, 1));
        frames.add(new Frame.Result(10, Long.MIN_VALUE));
        frames.add(new Frame.StatsResult(11, List.of()));
        frames.add(new Frame.StatsResult(12, List.of(
                new QueueStats("a", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14),
                new QueueStats("b", 0, 0, 0, 0, Integer.MAX_VALUE, Long.MAX_VALUE, 0, 0, 0, 0, 0, 0, 0, -1))));
        frames.add(new Frame.ListResult(13, List.of()));
        frames.add(new Frame.ListResult(13, List.of("a", "b", "orders.dlq")));
        frames.add(new Frame.PeekResult(15, List.of()));
        frames.add(new Frame.PeekResult(15, List.of(
                new PeekedMessage(1, null, 0, 1_700_000_000_000L, Map.of(), new byte[0]),
                new PeekedMessage(Long.MAX_VALUE, "k", 255, -5, Map.of("h", "v", "ü", "ñ"), bytes(300)))));
        frames.add(new Frame.Send(16, "orders", List.of(new WireMessage("hello".getBytes(), null, 0, 0, 0, null,
                Map.of()))));
        frames.add(new Frame.Send(17, "orders", List.of(
                new WireMessage(new byte[0], "key-1", 9, 5_000, 60_000, "dedup-1", Map.of("a", "b", "c", "")),
                new WireMessage(bytes(1000), "", 255, Long.MAX_VALUE, Long.MAX_VALUE, "", Map.of("", "x")),
                new WireMessage(bytes(1), "☃", 1, 0, 1, null, Map.of()))));
        frames.add(new Frame.SendResult(16, List.of(new SendReceipt(SendStatus.ENQUEUED, ErrorCode.NONE, 42))));
        frames.add(new Frame.SendResult(17, List.of(
                new SendReceipt(SendStatus.DUPLICATE, ErrorCode.NONE, 41),
                new SendReceipt(SendStatus.FULL, ErrorCode.NONE, 0),
                new SendReceipt(SendStatus.CLOSED, ErrorCode.NONE, 0),
                new SendReceipt(SendStatus.ERROR, ErrorCode.INVALID_ARGUMENT, 0))));
        frames.add(new Frame.Send(18, "orders", Overflow.WAIT, List.of(new WireMessage(bytes(3), null, 0, 0, 0, null,
                Map.of()))));
        frames.add(new Frame.Send(19, "orders", Overflow.FAIL, List.of(new WireMessage(bytes(3), null, 0, 0, 0, null,
                Map.of()))));
        frames.add(new Frame.SendResult(18, List.of(new SendReceipt(SendStatus.CANCELLED, ErrorCode.NONE, 0))));
        frames.add(new Frame.CancelSend(18));
        frames.add(new Frame.SendCredit("orders", 1024));
        frames.add(new Frame.SendCredit("q", Integer.MAX_VALUE));
        frames.add(new Frame.Subscribe(100, "orders", 0, 0, 0));
        frames.add(new Frame.Subscribe(Integer.MIN_VALUE, "orders", Integer.MAX_VALUE, 10, 30_000));
        frames.add(new Frame.SubscribeOk(100));
        frames.add(new Frame.Credit(100, 1));
        frames.add(new Frame.Credit(100, Integer.MAX_VALUE));
        frames.add(new Frame.Deliver(100, 1, 42, 1, 1_700_000_030_000L, 1_700_000_000_000L, null, 0, Map.of(),
                "hello".getBytes()));
        frames.add(new Frame.Deliver(100, -1L, Long.MIN_VALUE, Integer.MAX_VALUE, -1, 0, "key", 9,
                Map.of("x-rill-delivery-count", "3"), bytes(2000)));
        frames.add(new Frame.SubscribeEvents(101, "orders"));
        frames.add(new Frame.Event(101, QueueEvent.Type.ENQUEUED, 42, 0, null, 1_700_000_000_000L));
        frames.add(new Frame.Event(101, QueueEvent.Type.DEAD_LETTERED, Long.MAX_VALUE, Integer.MAX_VALUE,
                "max deliveries ☃", -1));
        frames.add(new Frame.Event(101, QueueEvent.Type.PURGED, 0, 0, "12", 0));
        frames.add(new Frame.SubscriptionEnd(101, ErrorCode.EVENTS_OVERFLOW, "4096 events behind"));
        frames.add(new Frame.Unsubscribe(100));
        frames.add(new Frame.SubscriptionEnd(100, ErrorCode.NONE, ""));
        frames.add(new Frame.SubscriptionEnd(100, ErrorCode.QUEUE_CLOSED, "queue 'orders' was deleted"));
        frames.add(new Frame.Ack(20, new long[] {1}));
        frames.add(new Frame.Ack(21, new long[] {1, 2, 3, Long.MAX_VALUE, -1}));
        frames.add(new Frame.Nack(22, 0, new long[] {4}));
        frames.add(new Frame.Nack(23, 5_000, new long[] {5, 6}));
        frames.add(new Frame.Extend(24, 30_000, new long[] {7}));
        frames.add(new Frame.Reject(25, "poison", new long[] {8, 9}));
        frames.add(new Frame.Reject(26, "", new long[] {10}));
        frames.add(new Frame.SettleResult(20, List.of(LeaseOutcome.OK)));
        frames.add(new Frame.SettleResult(21, List.of(LeaseOutcome.OK, LeaseOutcome.STALE, LeaseOutcome.OK)));
        frames.add(new Frame.Ping(0));
        frames.add(new Frame.Ping(123456));
        frames.add(new Frame.Pong(123456));
        frames.add(new Frame.Error(0, ErrorCode.UNSUPPORTED_VERSION,
                "unsupported protocol version(s) [7]; this server supports [1]"));
        frames.add(new Frame.Error(16, ErrorCode.QUEUE_NOT_FOUND, "no queue 'x'"));
        frames.add(new Frame.Close(ErrorCode.NONE, ""));
        frames.add(new Frame.Close(ErrorCode.SHUTTING_DOWN, "server stopping"));
        // protocol version 2 (appended: the saved fuzz seeds are numbered by position)
        frames.add(new Frame.Describe(30, "orders"));
        frames.add(new Frame.DescribeOk(new Frame.Declare(30, "orders", 30_000, 300_000, 100_000, Long.MAX_VALUE, 5,
                "orders.dlq", false, 0, ExpiryAction.DROP, Ordering.FIFO, Overflow.WAIT)));
        frames.add(new Frame.Release(31, new long[] {11, 12}));
        frames.add(new Frame.ExtendResult(24, List.of(LeaseOutcome.OK), List.of(1_700_000_030_000L)));
        frames.add(new Frame.ExtendResult(32, List.of(LeaseOutcome.OK, LeaseOutcome.STALE), List.of(Long.MAX_VALUE, 0L)));
        frames.add(new Frame.GoAway(20_000, "the server is shutting down"));
        frames.add(new Frame.GoAway(0, ""));
        // protocol version 3
        frames.add(new Frame.SendReceipts(16, List.of(new SendReceipt(SendStatus.ENQUEUED, ErrorCode.NONE, 42))));
        frames.add(new Frame.SendReceipts(17, List.of(
                new SendReceipt(SendStatus.ENQUEUED, ErrorCode.NONE, Long.MAX_VALUE),
                SendReceipt.refused(ErrorCode.INVALID_ARGUMENT, "queue 'ints': not an integer: 'x'"),
                new SendReceipt(SendStatus.DUPLICATE, ErrorCode.NONE, 41),
                new SendReceipt(SendStatus.FULL, ErrorCode.QUEUE_FULL, 0),
                new SendReceipt(SendStatus.CLOSED, ErrorCode.QUEUE_CLOSED, 0),
                new SendReceipt(SendStatus.ERROR, ErrorCode.INTERNAL_ERROR, 0),
                SendReceipt.refused(ErrorCode.FORBIDDEN, "ünïcødé ☃ 🚀"),
                new SendReceipt(SendStatus.CANCELLED, ErrorCode.NONE, 0))));
        frames.add(new Frame.SendReceipts(18, List.of(
                SendReceipt.refused(ErrorCode.INVALID_ARGUMENT, "r".repeat(Limits.MAX_REASON_BYTES)))));
        frames.add(new Frame.Redrive(19, "orders.dlq", "orders.parked", 1)); // REDRIVE_TO, version 4
        frames.add(new Frame.Memory(20)); // version 5
        frames.add(new Frame.MemoryResult(20, 1_229_056, 2L << 20));
        frames.add(new Frame.MemoryResult(21, Long.MAX_VALUE, 0)); // no budget
        // version 6: SEND_CREDIT_BYTES
        frames.add(new Frame.SendCredit("orders", 256, 4L << 20));
        frames.add(new Frame.SendCredit("q", 0, 1)); // bytes only
        frames.add(new Frame.SendCredit("q", 1, 0)); // a message only
        frames.add(new Frame.SendCredit("q", Integer.MAX_VALUE, Long.MAX_VALUE));
        return frames;
    }

    static byte[] bytes(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + 7);
        }
        return b;
    }

    static byte[] encode(Frame frame) {
        ByteBuf buf = Unpooled.buffer();
        try {
            FrameEncoder.encode(frame, buf);
            return ByteBufUtil.getBytes(buf);
        } finally {
            buf.release();
        }
    }

    static byte[] encodeAll(List<Frame> frames) {
        ByteBuf buf = Unpooled.buffer();
        try {
            for (Frame f : frames) {
                FrameEncoder.encode(f, buf);
            }
            return ByteBufUtil.getBytes(buf);
        } finally {
            buf.release();
        }
    }

    /** Decodes exactly one frame that must fill {@code bytes}. */
    static Frame decode(byte[] bytes) {
        return decode(bytes, Limits.DEFAULT_MAX_FRAME_SIZE);
    }

    static Frame decode(byte[] bytes, int maxFrameSize) {
        ByteBuf buf = Unpooled.wrappedBuffer(bytes);
        Frame frame = FrameDecoder.decodeFrame(buf, maxFrameSize);
        if (frame == null) {
            throw new AssertionError("incomplete frame: " + bytes.length + " bytes");
        }
        if (buf.isReadable()) {
            throw new AssertionError(buf.readableBytes() + " bytes left after the frame");
        }
        return frame;
    }
}
