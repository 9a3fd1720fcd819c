package dev.rill.netty.internal.protocol;

import dev.rill.core.LeaseOutcome;
import dev.rill.core.QueueStats;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import java.util.List;
import java.util.Map;

/**
 * Writes {@link Frame}s in the wire format of {@code docs/protocol.md}.
 *
 * <p>As a pipeline handler it encodes every outbound {@code Frame} and refuses (failing the write's promise with a
 * {@link ProtocolException} of code {@link ErrorCode#FRAME_TOO_LARGE}) a frame above the peer's maximum frame size;
 * {@link #encode(Frame, ByteBuf)} is the same without a size limit. A field beyond its limit in {@link Limits} is
 * {@link IllegalArgumentException}, and nothing is left in the output buffer. In the pipeline any refusal reaches the
 * handlers as a {@link FrameRefusedException} naming the frame, so the connection handler can fail that frame's one
 * operation (the stream stays consistent: the frame left no byte behind) instead of losing the connection.
 *
 * <p>Frames written with a void promise between two flushes are encoded into one buffer, handed down on the flush
 * (or once it holds {@value #PASS_DOWN_BYTES} bytes, so what waits here stays small against the channel's
 * writability limits): one buffer and one outbound-buffer entry per event-loop tick instead of one per frame. A
 * write with a real promise hands the buffer down at once with that promise (it also carries the frames before it,
 * in order). Anything that is not a {@code Frame} passes through after the frames before it.
 *
 * <p>Not {@code @Sharable}: one instance per channel, used on its event loop.
 */
public final class FrameEncoder extends ChannelOutboundHandlerAdapter {

    /** Coalesced bytes handed down without waiting for the flush. */
    static final int PASS_DOWN_BYTES = 64 * 1024;
    private static final int MIN_BUFFER = 1024;

    private volatile int maxFrameSize;
    private ByteBuf pending;

    /**
     * Creates an encoder.
     *
     * @param maxFrameSize the largest length field the peer accepts
     */
    public FrameEncoder(int maxFrameSize) {
        this.maxFrameSize = checkPositive(maxFrameSize);
    }

    /**
     * Changes the peer's limit, e.g. once HELLO_OK announced it.
     *
     * @param maxFrameSize the largest length field the peer accepts
     */
    public void maxFrameSize(int maxFrameSize) {
        this.maxFrameSize = checkPositive(maxFrameSize);
    }

    /** @return the largest length field the peer accepts */
    public int maxFrameSize() {
        return maxFrameSize;
    }

    private static int checkPositive(int maxFrameSize) {
        if (maxFrameSize < Limits.MIN_LENGTH) {
            throw new IllegalArgumentException("maxFrameSize must be >= " + Limits.MIN_LENGTH + ", was " + maxFrameSize);
        }
        return maxFrameSize;
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (!(msg instanceof Frame frame)) {
            passDown(ctx);
            ctx.write(msg, promise);
            return;
        }
        ByteBuf out = pending;
        if (out == null) {
            out = ctx.alloc().ioBuffer(Math.max(MIN_BUFFER, sizeHint(frame)));
            pending = out;
        } else {
            out.ensureWritable(sizeHint(frame));
        }
        try {
            encode(frame, out, maxFrameSize); // all or nothing: a refused frame leaves out as it was
        } catch (RuntimeException e) {
            if (!out.isReadable()) {
                pending = null;
                out.release();
            }
            throw new FrameRefusedException(frame, e); // the receiver fails that frame's operation, not the link
        }
        if (!promise.isVoid() || out.readableBytes() >= PASS_DOWN_BYTES) {
            pending = null;
            ctx.write(out, promise);
        }
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        passDown(ctx);
        ctx.flush();
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) throws Exception {
        discard(); // like unflushed writes, frames never flushed are dropped when the channel closes
        super.close(ctx, promise);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        discard();
    }

    private void passDown(ChannelHandlerContext ctx) {
        ByteBuf out = pending;
        if (out != null) {
            pending = null;
            ctx.write(out, ctx.voidPromise());
        }
    }

    private void discard() {
        ByteBuf out = pending;
        if (out != null) {
            pending = null;
            out.release();
        }
    }

    /** Roughly the encoded size of a frame, so the buffer is allocated once rather than grown copy by copy. */
    private static int sizeHint(Frame frame) {
        if (frame instanceof Frame.Deliver d) {
            return 64 + d.payload().length;
        }
        if (frame instanceof Frame.Send f) {
            int n = 32;
            for (WireMessage m : f.messages()) {
                n += 40 + m.payload().length;
            }
            return n;
        }
        return 64;
    }

    /**
     * Appends one frame to {@code out}.
     *
     * @param frame the frame
     * @param out the buffer written at its writer index
     * @throws IllegalArgumentException when a field is beyond its limit; {@code out} is left as it was
     */
    public static void encode(Frame frame, ByteBuf out) {
        encode(frame, out, Integer.MAX_VALUE);
    }

    /**
     * Appends one frame to {@code out}, refusing one whose length field would exceed {@code maxFrameSize}.
     *
     * @param frame the frame
     * @param out the buffer written at its writer index
     * @param maxFrameSize the largest length field allowed
     * @throws ProtocolException with {@link ErrorCode#FRAME_TOO_LARGE} when the frame is too large; {@code out} is
     *     left as it was
     * @throws IllegalArgumentException when a field is beyond its limit; {@code out} is left as it was
     */
    public static void encode(Frame frame, ByteBuf out, int maxFrameSize) {
        int start = out.writerIndex();
        boolean done = false;
        try {
            out.writeInt(0); // length, patched below
            out.writeByte(frame.type().code());
            out.writeInt(frame.streamId());
            writeBody(frame, out);
            int length = out.writerIndex() - start - 4;
            if (length > maxFrameSize) {
                throw new ProtocolException(ErrorCode.FRAME_TOO_LARGE,
                        frame.type() + " frame of " + length + " bytes exceeds the peer's maximum " + maxFrameSize);
            }
            out.setInt(start, length);
            done = true;
        } finally {
            if (!done) {
                out.writerIndex(start);
            }
        }
    }

    /**
     * The exact number of bytes a message takes inside a SEND frame, to split batches below the maximum frame size.
     * It checks the message the way {@link #encode} will, so a message that cannot be sent fails here, alone, rather
     * than failing the write of the whole batch.
     *
     * @param m the message
     * @return its encoded size
     * @throws IllegalArgumentException when a field is beyond its limit or a string is not valid Unicode
     */
    public static int encodedSize(WireMessage m) {
        checkPriority(m.priority());
        check(m.delayMillis() >= 0, "delayMillis", m.delayMillis());
        check(m.ttlMillis() >= 0, "ttlMillis", m.ttlMillis());
        check(m.headers().size() <= Limits.MAX_HEADERS, "headers", m.headers().size());
        int size = 4 + m.payload().length + 1 + 1 + 8 + 8 + 1 + 2;
        if (m.key() != null) {
            size += 2 + checkedLength(m.key(), Limits.MAX_FIELD_BYTES, "key");
        }
        if (m.dedupId() != null) {
            size += 2 + checkedLength(m.dedupId(), Limits.MAX_FIELD_BYTES, "dedupId");
        }
        if (!m.headers().isEmpty()) { // no entry set and iterator for the usual message without headers
            for (Map.Entry<String, String> h : m.headers().entrySet()) {
                size += 4 + checkedLength(h.getKey(), Limits.MAX_FIELD_BYTES, "header name")
                        + checkedLength(h.getValue(), Limits.MAX_FIELD_BYTES, "header value");
            }
        }
        return size;
    }

    /**
     * The number of bytes a message takes inside a PEEK_RESULT frame, to answer a PEEK below the maximum frame size:
     * its DELIVER's length without the type, the id, the tag, the delivery count and the deadline (25 bytes).
     *
     * @param m the message
     * @return its encoded size
     * @throws IllegalArgumentException when its key or a header is beyond its limit or not valid Unicode
     */
    public static long encodedSize(PeekedMessage m) {
        return deliverLength(m.key(), m.headers(), m.payload().length) - (1 + 4 + 8 + 4 + 8);
    }

    /**
     * The length field of the DELIVER frame of a message, checking its strings the way {@link #encode} will: the
     * server asks before delivering a message its own JVM stored (never through a SEND), which may be too large for
     * any frame a client accepts or carry text with no UTF-8 form.
     *
     * @param key the message's key, or null
     * @param headers its headers
     * @param payloadLength its payload's length
     * @return the DELIVER's length field
     * @throws IllegalArgumentException when the key or a header is beyond its limit or not valid Unicode
     */
    public static long deliverLength(String key, Map<String, String> headers, int payloadLength) {
        check(headers.size() <= Limits.MAX_HEADERS, "headers", headers.size());
        long length = 1 + 4 + 8 + 8 + 4 + 8 + 8 + 1 + 1 + 2 + 4 + (long) payloadLength;
        if (key != null) {
            length += 2 + checkedLength(key, Limits.MAX_FIELD_BYTES, "key");
        }
        for (Map.Entry<String, String> h : headers.entrySet()) {
            length += 4 + checkedLength(h.getKey(), Limits.MAX_FIELD_BYTES, "header name")
                    + checkedLength(h.getValue(), Limits.MAX_FIELD_BYTES, "header value");
        }
        return length;
    }

    /** The length field of a PEEK_RESULT frame without its messages (type, id and count). */
    public static final int PEEK_RESULT_BASE_LENGTH = 1 + 4 + 4;

    /**
     * The encoded size of a SEND frame's header and fixed fields (everything but its messages), including the
     * 4-byte length field.
     *
     * @param queue the queue name
     * @return the size
     * @throws IllegalArgumentException when the name is beyond its limit or not valid Unicode
     */
    public static int sendOverhead(String queue) {
        return Limits.HEADER_SIZE + 2 + checkedLength(queue, Limits.MAX_NAME_BYTES, "queue") + 1 + 4;
    }

    /**
     * The length field of a SEND_RECEIPTS frame without its receipts (type, id and count): with the receipts'
     * {@link #encodedSize(SendReceipt)} it tells whether an answer fits the maximum frame size.
     */
    public static final int RECEIPTS_BASE_LENGTH = 1 + 4 + 4;

    /**
     * The exact number of bytes a receipt takes inside a SEND_RECEIPTS frame (version 3), to split an answer below
     * the maximum frame size. It checks the reason the way {@link #encode} will.
     *
     * @param r the receipt
     * @return its encoded size: 11 bytes, and 2 plus the reason's UTF-8 length for an ERROR
     * @throws IllegalArgumentException when the reason is beyond {@link Limits#MAX_REASON_BYTES} or not valid
     *     Unicode ({@link SendReceipt#refused} makes any text fit)
     */
    public static int encodedSize(SendReceipt r) {
        int size = 1 + 2 + 8;
        if (r.status() == SendStatus.ERROR) {
            size += 2 + (r.reason() == null ? 0 : checkedLength(r.reason(), Limits.MAX_REASON_BYTES, "reason"));
        }
        return size;
    }

    /**
     * Makes text fit a string field: unpaired surrogates (which have no UTF-8 form) become U+FFFD, and the text is cut
     * after the last whole character whose UTF-8 form fits {@code maxBytes} (never inside a character or a surrogate
     * pair). For text the sender did not choose, such as an exception's message; values that must arrive as they
     * were are refused by {@link #encode} instead.
     *
     * @param s the text
     * @param maxBytes the field's limit
     * @return {@code s} itself when it fits as it is, otherwise the fitted text
     */
    public static String fitUtf8(String s, int maxBytes) {
        int n = s.length();
        int bytes = 0;
        StringBuilder fixed = null; // the text so far, once a surrogate was replaced
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            int chars = 1;
            int length;
            boolean unpaired = false;
            if (c < 0x80) {
                length = 1;
            } else if (c < 0x800) {
                length = 2;
            } else if (!Character.isSurrogate(c)) {
                length = 3;
            } else if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                length = 4;
                chars = 2;
            } else {
                length = 3; // U+FFFD
                unpaired = true;
            }
            if (bytes + length > maxBytes) {
                return fixed != null ? fixed.toString() : s.substring(0, i);
            }
            bytes += length;
            if (unpaired && fixed == null) {
                fixed = new StringBuilder(n).append(s, 0, i);
            }
            if (unpaired) {
                fixed.append('\uFFFD');
            } else if (fixed != null) {
                fixed.append(s, i, i + chars);
            }
            i += chars - 1;
        }
        return fixed != null ? fixed.toString() : s;
    }

    private static void writeBody(Frame frame, ByteBuf out) {
        switch (frame.type()) {
            case HELLO -> {
                Frame.Hello f = (Frame.Hello) frame;
                List<Integer> versions = f.versions();
                check(!versions.isEmpty() && versions.size() <= Limits.MAX_VERSIONS, "versions", versions.size());
                out.writeInt(Limits.MAGIC);
                out.writeByte(versions.size());
                for (int v : versions) {
                    check(v >= 0 && v <= 0xFFFF, "version", v);
                    out.writeShort(v);
                }
                writeString(out, f.clientName(), Limits.MAX_PEER_NAME_BYTES, "clientName");
            }
            case HELLO_OK -> {
                Frame.HelloOk f = (Frame.HelloOk) frame;
                check(f.version() >= 0 && f.version() <= 0xFFFF, "version", f.version());
                check(f.maxFrameSize() >= Limits.MIN_LENGTH, "maxFrameSize", f.maxFrameSize());
                check(f.heartbeatIntervalMillis() >= 0, "heartbeatIntervalMillis", f.heartbeatIntervalMillis());
                check(f.maxSubscriptions() >= 0, "maxSubscriptions", f.maxSubscriptions());
                out.writeShort(f.version());
                out.writeInt(f.maxFrameSize());
                out.writeInt(f.heartbeatIntervalMillis());
                out.writeBoolean(f.authRequired());
                out.writeInt(f.maxSubscriptions());
                writeString(out, f.serverName(), Limits.MAX_PEER_NAME_BYTES, "serverName");
            }
            case AUTH -> writeString(out, ((Frame.Auth) frame).token(), Limits.MAX_TOKEN_BYTES, "token");
            case AUTH_OK -> writeString(out, ((Frame.AuthOk) frame).principal(), Limits.MAX_PEER_NAME_BYTES,
                    "principal");
            case DECLARE -> writeSpec(out, (Frame.Declare) frame);
            case DESCRIBE_OK -> {
                Frame.DescribeOk f = (Frame.DescribeOk) frame;
                writeSpec(out, f.spec());
            }
            case DESCRIBE -> writeString(out, ((Frame.Describe) frame).queue(), Limits.MAX_NAME_BYTES, "queue");
            case RELEASE -> writeTags(out, ((Frame.Release) frame).tags());
            case EXTEND_RESULT -> {
                Frame.ExtendResult f = (Frame.ExtendResult) frame;
                check(!f.outcomes().isEmpty(), "outcomes", 0);
                out.writeInt(f.outcomes().size());
                for (int i = 0; i < f.outcomes().size(); i++) {
                    out.writeByte(f.outcomes().get(i).ordinal());
                    out.writeLong(f.deadlines().get(i));
                }
            }
            case GOAWAY -> {
                Frame.GoAway f = (Frame.GoAway) frame;
                check(f.drainMillis() >= 0, "drainMillis", f.drainMillis());
                out.writeLong(f.drainMillis());
                writeString(out, f.message(), Limits.MAX_TEXT_BYTES, "message");
            }
            case SEND_RECEIPTS -> writeReceipts(out, ((Frame.SendReceipts) frame).receipts(), true);
            default -> writeOther(frame, out);
        }
    }

    /** SEND_RESULT's receipts, or SEND_RECEIPTS' ({@code reasons}: an ERROR receipt ends with its reason). */
    private static void writeReceipts(ByteBuf out, List<SendReceipt> receipts, boolean reasons) {
        check(!receipts.isEmpty(), "receipts", 0);
        out.writeInt(receipts.size());
        for (SendReceipt r : receipts) {
            out.writeByte(r.status().ordinal());
            out.writeShort(r.error().code());
            out.writeLong(r.messageId());
            if (reasons && r.status() == SendStatus.ERROR) {
                writeString(out, r.reason() == null ? "" : r.reason(), Limits.MAX_REASON_BYTES, "reason");
            }
        }
    }

    private static void writeSpec(ByteBuf out, Frame.Declare f) {
        check(f.visibilityTimeoutMillis() > 0, "visibilityTimeoutMillis", f.visibilityTimeoutMillis());
        check(f.dedupWindowMillis() > 0, "dedupWindowMillis", f.dedupWindowMillis());
        check(f.capacity() > 0, "capacity", f.capacity());
        check(f.maxBytes() > 0, "maxBytes", f.maxBytes());
        check(f.maxDeliveries() >= 0, "maxDeliveries", f.maxDeliveries());
        check(f.messageTtlMillis() >= 0, "messageTtlMillis", f.messageTtlMillis());
        writeString(out, f.queue(), Limits.MAX_NAME_BYTES, "queue");
        out.writeLong(f.visibilityTimeoutMillis());
        out.writeLong(f.dedupWindowMillis());
        out.writeInt(f.capacity());
        out.writeLong(f.maxBytes());
        out.writeInt(f.maxDeliveries());
        writeOptionalString(out, f.deadLetterQueue(), Limits.MAX_NAME_BYTES, "deadLetterQueue");
        out.writeBoolean(f.discardDeadLetters());
        out.writeLong(f.messageTtlMillis());
        out.writeByte(f.expiryAction().ordinal());
        out.writeByte(f.ordering().ordinal());
        out.writeByte(f.overflow().ordinal());
    }

    private static void writeOther(Frame frame, ByteBuf out) {
        switch (frame.type()) {
            case DECLARE_OK, LIST, SUBSCRIBE_OK, UNSUBSCRIBE, PING, PONG, MEMORY -> {
                // header only
            }
            case MEMORY_RESULT -> {
                Frame.MemoryResult f = (Frame.MemoryResult) frame;
                check(f.used() >= 0, "used", f.used());
                check(f.budget() >= 0, "budget", f.budget());
                out.writeLong(f.used());
                out.writeLong(f.budget());
            }
            case DELETE -> writeString(out, ((Frame.Delete) frame).queue(), Limits.MAX_NAME_BYTES, "queue");
            case PURGE -> writeString(out, ((Frame.Purge) frame).queue(), Limits.MAX_NAME_BYTES, "queue");
            case STATS -> writeOptionalString(out, ((Frame.Stats) frame).queue(), Limits.MAX_NAME_BYTES, "queue");
            case REDRIVE, REDRIVE_TO -> {
                Frame.Redrive f = (Frame.Redrive) frame;
                check(f.max() > 0, "max", f.max());
                writeString(out, f.deadLetterQueue(), Limits.MAX_NAME_BYTES, "deadLetterQueue");
                if (f.target() != null) {
                    writeString(out, f.target(), Limits.MAX_NAME_BYTES, "target");
                }
                out.writeInt(f.max());
            }
            case PEEK -> {
                Frame.Peek f = (Frame.Peek) frame;
                check(f.max() > 0, "max", f.max());
                writeString(out, f.queue(), Limits.MAX_NAME_BYTES, "queue");
                out.writeInt(f.max());
            }
            case RESULT -> out.writeLong(((Frame.Result) frame).value());
            case STATS_RESULT -> {
                List<QueueStats> stats = ((Frame.StatsResult) frame).stats();
                out.writeInt(stats.size());
                for (QueueStats s : stats) {
                    writeString(out, s.name(), Limits.MAX_NAME_BYTES, "name");
                    out.writeLong(s.ready());
                    out.writeLong(s.inFlight());
                    out.writeLong(s.delayed());
                    out.writeLong(s.bytes());
                    out.writeLong(s.capacity());
                    out.writeLong(s.sent());
                    out.writeLong(s.duplicates());
                    out.writeLong(s.delivered());
                    out.writeLong(s.acked());
                    out.writeLong(s.nacked());
                    out.writeLong(s.expiredLeases());
                    out.writeLong(s.deadLettered());
                    out.writeLong(s.expired());
                    out.writeLong(s.purged());
                }
            }
            case LIST_RESULT -> {
                List<String> queues = ((Frame.ListResult) frame).queues();
                out.writeInt(queues.size());
                for (String q : queues) {
                    writeString(out, q, Limits.MAX_NAME_BYTES, "queue");
                }
            }
            case PEEK_RESULT -> {
                List<PeekedMessage> messages = ((Frame.PeekResult) frame).messages();
                out.writeInt(messages.size());
                for (PeekedMessage m : messages) {
                    checkPriority(m.priority());
                    out.writeLong(m.messageId());
                    writeOptionalString(out, m.key(), Limits.MAX_FIELD_BYTES, "key");
                    out.writeByte(m.priority());
                    out.writeLong(m.timestamp());
                    writeHeaders(out, m.headers());
                    writeBytes(out, m.payload());
                }
            }
            case SEND -> {
                Frame.Send f = (Frame.Send) frame;
                check(!f.messages().isEmpty(), "messages", 0);
                writeString(out, f.queue(), Limits.MAX_NAME_BYTES, "queue");
                out.writeByte(f.overflow() == null ? 0 : 1 + f.overflow().ordinal());
                out.writeInt(f.messages().size());
                for (WireMessage m : f.messages()) {
                    checkPriority(m.priority());
                    check(m.delayMillis() >= 0, "delayMillis", m.delayMillis());
                    check(m.ttlMillis() >= 0, "ttlMillis", m.ttlMillis());
                    writeBytes(out, m.payload());
                    writeOptionalString(out, m.key(), Limits.MAX_FIELD_BYTES, "key");
                    out.writeByte(m.priority());
                    out.writeLong(m.delayMillis());
                    out.writeLong(m.ttlMillis());
                    writeOptionalString(out, m.dedupId(), Limits.MAX_FIELD_BYTES, "dedupId");
                    writeHeaders(out, m.headers());
                }
            }
            case SEND_RESULT -> writeReceipts(out, ((Frame.SendResult) frame).receipts(), false);
            case SEND_CREDIT -> {
                Frame.SendCredit f = (Frame.SendCredit) frame;
                check(f.credit() > 0, "credit", f.credit());
                writeString(out, f.queue(), Limits.MAX_NAME_BYTES, "queue");
                out.writeInt(f.credit());
            }
            case SEND_CREDIT_BYTES -> {
                Frame.SendCredit f = (Frame.SendCredit) frame;
                check(f.credit() >= 0, "credit", f.credit());
                check(f.credit() > 0 || f.bytes() > 0, "bytes", f.bytes());
                writeString(out, f.queue(), Limits.MAX_NAME_BYTES, "queue");
                out.writeInt(f.credit());
                out.writeLong(f.bytes());
            }
            case SUBSCRIBE -> {
                Frame.Subscribe f = (Frame.Subscribe) frame;
                check(f.prefetch() >= 0, "prefetch", f.prefetch());
                check(f.maxUnacked() >= 0, "maxUnacked", f.maxUnacked());
                check(f.visibilityTimeoutMillis() >= 0, "visibilityTimeoutMillis", f.visibilityTimeoutMillis());
                writeString(out, f.queue(), Limits.MAX_NAME_BYTES, "queue");
                out.writeInt(f.prefetch());
                out.writeInt(f.maxUnacked());
                out.writeLong(f.visibilityTimeoutMillis());
            }
            case CANCEL_SEND -> {
                // header only
            }
            case SUBSCRIBE_EVENTS ->
                writeString(out, ((Frame.SubscribeEvents) frame).queue(), Limits.MAX_NAME_BYTES, "queue");
            case EVENT -> {
                Frame.Event f = (Frame.Event) frame;
                check(f.deliveryCount() >= 0, "deliveryCount", f.deliveryCount());
                out.writeByte(f.eventType().ordinal());
                out.writeLong(f.messageId());
                out.writeInt(f.deliveryCount());
                writeOptionalString(out, f.detail(), Limits.MAX_TEXT_BYTES, "detail");
                out.writeLong(f.timestamp());
            }
            case CREDIT -> {
                Frame.Credit f = (Frame.Credit) frame;
                check(f.credit() > 0, "credit", f.credit());
                out.writeInt(f.credit());
            }
            case DELIVER -> {
                Frame.Deliver f = (Frame.Deliver) frame;
                check(f.deliveryCount() > 0, "deliveryCount", f.deliveryCount());
                checkPriority(f.priority());
                out.writeLong(f.deliveryTag());
                out.writeLong(f.messageId());
                out.writeInt(f.deliveryCount());
                out.writeLong(f.deadline());
                out.writeLong(f.timestamp());
                writeOptionalString(out, f.key(), Limits.MAX_FIELD_BYTES, "key");
                out.writeByte(f.priority());
                writeHeaders(out, f.headers());
                writeBytes(out, f.payload());
            }
            case SUBSCRIPTION_END -> {
                Frame.SubscriptionEnd f = (Frame.SubscriptionEnd) frame;
                out.writeShort(f.code().code());
                writeString(out, f.message(), Limits.MAX_TEXT_BYTES, "message");
            }
            case ACK -> writeTags(out, ((Frame.Ack) frame).tags());
            case NACK -> {
                Frame.Nack f = (Frame.Nack) frame;
                check(f.delayMillis() >= 0, "delayMillis", f.delayMillis());
                out.writeLong(f.delayMillis());
                writeTags(out, f.tags());
            }
            case EXTEND -> {
                Frame.Extend f = (Frame.Extend) frame;
                check(f.durationMillis() > 0, "durationMillis", f.durationMillis());
                out.writeLong(f.durationMillis());
                writeTags(out, f.tags());
            }
            case REJECT -> {
                Frame.Reject f = (Frame.Reject) frame;
                writeString(out, f.reason(), Limits.MAX_TEXT_BYTES, "reason");
                writeTags(out, f.tags());
            }
            case SETTLE_RESULT -> {
                List<LeaseOutcome> outcomes = ((Frame.SettleResult) frame).outcomes();
                check(!outcomes.isEmpty(), "outcomes", 0);
                out.writeInt(outcomes.size());
                for (LeaseOutcome o : outcomes) {
                    out.writeByte(o.ordinal());
                }
            }
            case ERROR -> {
                Frame.Error f = (Frame.Error) frame;
                out.writeShort(f.code().code());
                writeString(out, f.message(), Limits.MAX_TEXT_BYTES, "message");
            }
            case CLOSE -> {
                Frame.Close f = (Frame.Close) frame;
                out.writeShort(f.code().code());
                writeString(out, f.reason(), Limits.MAX_TEXT_BYTES, "reason");
            }
            default -> throw new IllegalStateException("unhandled frame type " + frame.type());
        }
    }

    private static void check(boolean ok, String field, long value) {
        if (!ok) {
            throw new IllegalArgumentException(field + " out of range for the wire: " + value);
        }
    }

    private static void checkPriority(int priority) {
        check(priority >= 0 && priority <= Limits.MAX_PRIORITY, "priority", priority);
    }

    /**
     * Checks that a string fits a field of the wire, so a caller can refuse a value up front (failing its own
     * operation) rather than have the encoder refuse the frame.
     *
     * @param s the value
     * @param maxBytes the field's limit in UTF-8 bytes (e.g. {@link Limits#MAX_NAME_BYTES})
     * @param field the name the error gives the value
     * @return {@code s}
     * @throws IllegalArgumentException naming {@code field} and the limit when {@code s} is longer than
     *     {@code maxBytes} in UTF-8 or has an unpaired surrogate (no UTF-8 form)
     */
    public static String checkUtf8(String s, int maxBytes, String field) {
        checkedLength(s, maxBytes, field);
        return s;
    }

    private static int checkedLength(String s, int maxBytes, String field) {
        int length = utf8Length(s, field);
        if (length > maxBytes) {
            throw new IllegalArgumentException(field + " is " + length + " UTF-8 bytes, the limit is " + maxBytes);
        }
        return length;
    }

    private static void writeString(ByteBuf out, String s, int maxBytes, String field) {
        int length = checkedLength(s, maxBytes, field);
        out.writeShort(length);
        int written = ByteBufUtil.writeUtf8(out, s);
        if (written != length) {
            throw new IllegalStateException(field + ": wrote " + written + " UTF-8 bytes, expected " + length);
        }
    }

    /**
     * The UTF-8 length of a string that must be well-formed UTF-16: an unpaired surrogate has no UTF-8 form, and
     * writing it as '?' (what netty does) would change the value on the way; so it is refused.
     */
    private static int utf8Length(String s, String field) {
        int n = s.length();
        int length = n;
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                continue;
            }
            if (c < 0x800) {
                length += 1;
            } else if (!Character.isSurrogate(c)) {
                length += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                length += 2; // 4 bytes for the 2 chars
                i++;
            } else {
                throw new IllegalArgumentException(field + " has an unpaired surrogate at index " + i
                        + ": not valid Unicode, cannot be sent as UTF-8");
            }
        }
        return length;
    }

    private static void writeOptionalString(ByteBuf out, String s, int maxBytes, String field) {
        if (s == null) {
            out.writeByte(0);
        } else {
            out.writeByte(1);
            writeString(out, s, maxBytes, field);
        }
    }

    private static void writeBytes(ByteBuf out, byte[] bytes) {
        out.writeInt(bytes.length);
        out.writeBytes(bytes);
    }

    private static void writeHeaders(ByteBuf out, Map<String, String> headers) {
        check(headers.size() <= Limits.MAX_HEADERS, "headers", headers.size());
        out.writeShort(headers.size());
        for (Map.Entry<String, String> h : headers.entrySet()) {
            writeString(out, h.getKey(), Limits.MAX_FIELD_BYTES, "header name");
            writeString(out, h.getValue(), Limits.MAX_FIELD_BYTES, "header value");
        }
    }

    private static void writeTags(ByteBuf out, long[] tags) {
        check(tags.length > 0, "tags", 0);
        out.writeInt(tags.length);
        for (long t : tags) {
            out.writeLong(t);
        }
    }
}
