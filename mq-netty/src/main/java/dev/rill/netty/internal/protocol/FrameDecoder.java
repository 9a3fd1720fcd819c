package dev.rill.netty.internal.protocol;

import dev.rill.core.ExpiryAction;
import dev.rill.core.LeaseOutcome;
import dev.rill.core.Ordering;
import dev.rill.core.Overflow;
import dev.rill.core.QueueEvent;
import dev.rill.core.QueueStats;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns the inbound byte stream into {@link Frame}s, strictly: any deviation from {@code docs/protocol.md} is a
 * {@link ProtocolException} with an {@link ErrorCode}, never another exception.
 *
 * <p>Limits: a declared length above the limit in force fails as soon as the 4 length bytes are in, before any
 * buffering of the body (netty's cumulation only ever holds bytes that actually arrived); a count or length inside a
 * frame is checked against the bytes left in that frame before anything is allocated for it. Before
 * {@link #authenticated()} the limit is the smaller pre-authentication cap.
 *
 * <p>After the first error the decoder discards all further input (the stream can no longer be trusted); the
 * connection handler sends ERROR and closes. Decoded frames own their data: strings and byte array copies, never a
 * {@code ByteBuf}.
 *
 * <p>Not {@code @Sharable}: one instance per channel, used on its event loop.
 */
public final class FrameDecoder extends ByteToMessageDecoder {

    private static final int STATS_FIELDS = 14;

    private final int maxFrameSize;
    private int limit;
    private boolean failed;

    /**
     * Creates a decoder with a pre-authentication cap in force until {@link #authenticated()}.
     *
     * @param maxFrameSize the largest length field accepted once authenticated
     * @param preAuthMaxFrameSize the largest length field accepted before, at most {@code maxFrameSize}
     */
    public FrameDecoder(int maxFrameSize, int preAuthMaxFrameSize) {
        if (maxFrameSize < Limits.MIN_LENGTH) {
            throw new IllegalArgumentException("maxFrameSize must be >= " + Limits.MIN_LENGTH + ", was " + maxFrameSize);
        }
        if (preAuthMaxFrameSize < Limits.MIN_LENGTH || preAuthMaxFrameSize > maxFrameSize) {
            throw new IllegalArgumentException("preAuthMaxFrameSize must be " + Limits.MIN_LENGTH + ".." + maxFrameSize
                    + ", was " + preAuthMaxFrameSize);
        }
        this.maxFrameSize = maxFrameSize;
        this.limit = preAuthMaxFrameSize;
    }

    /**
     * Creates a decoder without a pre-authentication cap (e.g. the client's).
     *
     * @param maxFrameSize the largest length field accepted
     */
    public FrameDecoder(int maxFrameSize) {
        this(maxFrameSize, maxFrameSize);
    }

    /** Lifts the pre-authentication cap: from now on frames up to the maximum frame size are accepted. */
    public void authenticated() {
        limit = maxFrameSize;
    }

    /**
     * Sets the largest length field accepted from now on (the client: the maximum its server announced).
     *
     * @param bytes at least {@link Limits#MIN_LENGTH}, at most the maximum this decoder was created with
     */
    public void limit(int bytes) {
        if (bytes < Limits.MIN_LENGTH || bytes > maxFrameSize) {
            throw new IllegalArgumentException("limit must be " + Limits.MIN_LENGTH + ".." + maxFrameSize + ", was "
                    + bytes);
        }
        limit = bytes;
    }

    /** @return the largest length field accepted right now */
    public int currentLimit() {
        return limit;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (failed) {
            in.skipBytes(in.readableBytes());
            return;
        }
        try {
            Frame frame = decodeFrame(in, limit);
            if (frame != null) {
                out.add(frame);
            }
        } catch (ProtocolException e) {
            failed = true;
            in.skipBytes(in.readableBytes());
            throw e;
        } catch (OutOfMemoryError e) { // the frame's copies (a SEND's payloads) do not fit in the heap now
            throw outOfMemory(e, in);
        }
    }

    /**
     * A frame the JVM has no memory for now (its copies on the heap, or the buffer that gathers it): the frame is
     * refused with its size and the heap's, and the decoder stops as after any error (what follows cannot be framed
     * any more).
     */
    private ProtocolException outOfMemory(OutOfMemoryError e, ByteBuf in) {
        failed = true;
        String frame = "a frame";
        if (in != null && in.refCnt() > 0 && in.readableBytes() >= 4) {
            frame = "a frame of " + in.getUnsignedInt(in.readerIndex()) + " bytes";
            in.skipBytes(in.readableBytes());
        }
        return new ProtocolException(ErrorCode.FRAME_TOO_LARGE, "no memory to take " + frame + " now ("
                + e.getMessage() + "; the JVM's heap limit, -Xmx, is " + Runtime.getRuntime().maxMemory() / (1024 * 1024)
                + " MiB)");
    }

    /**
     * Reads as {@link ByteToMessageDecoder} does, but lets no {@link Throwable} escape to the transport: one that
     * does (an Error from a handler after this one whose netty fallback log failed too, out of memory) makes the
     * transport's read loop release the buffer this decoder has already released (IllegalReferenceCountException in
     * the event loop, the channel's exceptionCaught and input shutdown skipped: a connection left open, unanswered).
     * It goes to the next handlers' exceptionCaught instead, and if even that throws, the channel is closed. An
     * OutOfMemoryError (gathering a large frame) goes as the ProtocolException of {@code FRAME_TOO_LARGE} that says so.
     */
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            super.channelRead(ctx, msg);
        } catch (Throwable e) {
            try {
                // out of memory gathering a frame (the cumulation's growth): refused as one out of memory in decode
                ctx.fireExceptionCaught(e instanceof OutOfMemoryError oom ? outOfMemory(oom, internalBuffer()) : e);
            } catch (Throwable again) {
                ctx.close();
            }
        }
    }

    /**
     * Decodes one frame from the start of {@code in} if it is complete.
     *
     * @param in bytes from the stream; on success its reader index moves past the frame, otherwise it is unchanged
     * @param maxFrameSize the largest length field accepted
     * @return the frame, or null when more bytes are needed
     * @throws ProtocolException when the bytes are not a valid frame (detected as early as possible: a length above
     *     {@code maxFrameSize} or an unknown type fails before the body arrives)
     */
    public static Frame decodeFrame(ByteBuf in, int maxFrameSize) {
        int readable = in.readableBytes();
        if (readable < 4) {
            return null;
        }
        int start = in.readerIndex();
        long length = in.getUnsignedInt(start);
        if (length > maxFrameSize) {
            throw new ProtocolException(ErrorCode.FRAME_TOO_LARGE,
                    "declared frame length " + length + " exceeds the maximum " + maxFrameSize);
        }
        if (length < Limits.MIN_LENGTH) {
            throw new ProtocolException(ErrorCode.MALFORMED_FRAME,
                    "declared frame length " + length + " is below the minimum " + Limits.MIN_LENGTH);
        }
        if (readable >= 5) {
            int typeCode = in.getUnsignedByte(start + 4);
            if (FrameType.fromCode(typeCode) == null) {
                throw new ProtocolException(ErrorCode.UNKNOWN_FRAME_TYPE, "unknown frame type 0x"
                        + Integer.toHexString(typeCode));
            }
        }
        if (readable - 4 < length) {
            return null;
        }
        Frame frame = decodeBody(in.slice(start + 4, (int) length));
        in.skipBytes(4 + (int) length);
        return frame;
    }

    /**
     * Decodes a frame without its length field: type, id and body, which must fill {@code frame} exactly.
     *
     * @param frame exactly the bytes counted by the length field; read entirely
     * @return the frame
     * @throws ProtocolException when the bytes are not a valid frame
     */
    public static Frame decodeBody(ByteBuf frame) {
        need(frame, Limits.MIN_LENGTH, "frame header");
        int typeCode = frame.readUnsignedByte();
        FrameType type = FrameType.fromCode(typeCode);
        if (type == null) {
            throw new ProtocolException(ErrorCode.UNKNOWN_FRAME_TYPE, "unknown frame type 0x"
                    + Integer.toHexString(typeCode));
        }
        int id = frame.readInt();
        Frame result = readBody(type, id, frame);
        if (frame.isReadable()) {
            throw malformed(type + ": " + frame.readableBytes() + " trailing bytes");
        }
        return result;
    }

    private static Frame readBody(FrameType type, int id, ByteBuf in) {
        switch (type) {
            case HELLO: {
                noId(type, id);
                need(in, 4, "magic");
                int magic = in.readInt();
                if (magic != Limits.MAGIC) {
                    throw malformed("HELLO: bad magic 0x" + Integer.toHexString(magic) + ", expected 'RILL'");
                }
                int n = u8(in, "versions count");
                if (n < 1 || n > Limits.MAX_VERSIONS) {
                    throw malformed("HELLO: versions count must be 1.." + Limits.MAX_VERSIONS + ", was " + n);
                }
                need(in, 2L * n, "versions");
                List<Integer> versions = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    versions.add(in.readUnsignedShort());
                }
                return new Frame.Hello(versions, string(in, Limits.MAX_PEER_NAME_BYTES, "clientName"));
            }
            case HELLO_OK: {
                noId(type, id);
                int version = u16(in, "version");
                int maxFrameSize = u31(in, "maxFrameSize");
                if (maxFrameSize < Limits.MIN_LENGTH) {
                    throw malformed("HELLO_OK: maxFrameSize " + maxFrameSize + " is below " + Limits.MIN_LENGTH);
                }
                int heartbeat = u31(in, "heartbeatIntervalMillis");
                boolean authRequired = bool(in, "authRequired");
                int maxSubscriptions = u31(in, "maxSubscriptions");
                return new Frame.HelloOk(version, maxFrameSize, heartbeat, authRequired, maxSubscriptions,
                        string(in, Limits.MAX_PEER_NAME_BYTES, "serverName"));
            }
            case AUTH:
                noId(type, id);
                return new Frame.Auth(string(in, Limits.MAX_TOKEN_BYTES, "token"));
            case AUTH_OK:
                noId(type, id);
                return new Frame.AuthOk(string(in, Limits.MAX_PEER_NAME_BYTES, "principal"));
            case DECLARE:
                return spec(id, in);
            case DESCRIBE:
                return new Frame.Describe(id, name(in, "queue"));
            case DESCRIBE_OK:
                return new Frame.DescribeOk(spec(id, in));
            case RELEASE:
                return new Frame.Release(id, tags(in));
            case EXTEND_RESULT: {
                int n = count(in, 9, 1, "outcomes");
                List<LeaseOutcome> outcomes = new ArrayList<>(n);
                List<Long> deadlines = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    outcomes.add(enumValue(in, LEASE_OUTCOMES, "outcome"));
                    deadlines.add(i64(in, "deadline"));
                }
                return new Frame.ExtendResult(id, outcomes, deadlines);
            }
            case GOAWAY:
                noId(type, id);
                return new Frame.GoAway(nonNegativeLong(in, "drainMillis"),
                        string(in, Limits.MAX_TEXT_BYTES, "message"));
            case SEND_RECEIPTS:
                return new Frame.SendReceipts(id, receipts(in, true));
            default:
                return readOther(type, id, in);
        }
    }

    /**
     * The receipts of a SEND_RESULT, or of a SEND_RECEIPTS ({@code reasons}), where an ERROR receipt ends with its
     * reason; the count is checked against the smallest receipt (11 bytes) before the list is allocated.
     */
    private static List<SendReceipt> receipts(ByteBuf in, boolean reasons) {
        int n = count(in, 1 + 2 + 8, 1, "receipts");
        List<SendReceipt> receipts = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            SendStatus status = enumValue(in, SEND_STATUSES, "status");
            ErrorCode error = errorCode(in);
            long messageId = i64(in, "messageId");
            String reason = reasons && status == SendStatus.ERROR
                    ? string(in, Limits.MAX_REASON_BYTES, "reason") : null;
            receipts.add(new SendReceipt(status, error, messageId, reason));
        }
        return receipts;
    }

    private static Frame.Declare spec(int id, ByteBuf in) {
        String queue = name(in, "queue");
        long visibility = positiveLong(in, "visibilityTimeoutMillis");
        long dedup = positiveLong(in, "dedupWindowMillis");
        int capacity = u31(in, "capacity");
        if (capacity < 1) {
            throw malformed("DECLARE: capacity must be >= 1, was " + capacity);
        }
        long maxBytes = positiveLong(in, "maxBytes");
        int maxDeliveries = u31(in, "maxDeliveries");
        String dlq = optionalString(in, Limits.MAX_NAME_BYTES, "deadLetterQueue");
        boolean discard = bool(in, "discardDeadLetters");
        long ttl = nonNegativeLong(in, "messageTtlMillis");
        ExpiryAction expiry = enumValue(in, EXPIRY_ACTIONS, "expiryAction");
        Ordering ordering = enumValue(in, ORDERINGS, "ordering");
        Overflow overflow = enumValue(in, OVERFLOWS, "overflow");
        return new Frame.Declare(id, queue, visibility, dedup, capacity, maxBytes, maxDeliveries, dlq, discard,
                ttl, expiry, ordering, overflow);
    }

    private static Frame readOther(FrameType type, int id, ByteBuf in) {
        switch (type) {
            case DECLARE_OK:
                return new Frame.DeclareOk(id);
            case DELETE:
                return new Frame.Delete(id, name(in, "queue"));
            case PURGE:
                return new Frame.Purge(id, name(in, "queue"));
            case STATS:
                return new Frame.Stats(id, optionalString(in, Limits.MAX_NAME_BYTES, "queue"));
            case LIST:
                return new Frame.ListQueues(id);
            case MEMORY:
                return new Frame.Memory(id);
            case MEMORY_RESULT:
                return new Frame.MemoryResult(id, nonNegativeLong(in, "used"), nonNegativeLong(in, "budget"));
            case REDRIVE:
                return new Frame.Redrive(id, name(in, "deadLetterQueue"), positiveInt(in, "max"));
            case REDRIVE_TO:
                return new Frame.Redrive(id, name(in, "deadLetterQueue"), name(in, "target"), positiveInt(in, "max"));
            case PEEK:
                return new Frame.Peek(id, name(in, "queue"), positiveInt(in, "max"));
            case RESULT:
                return new Frame.Result(id, i64(in, "value"));
            case STATS_RESULT: {
                int n = count(in, 2 + 8 * STATS_FIELDS, 0, "stats");
                List<QueueStats> stats = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    String name = name(in, "name");
                    long[] v = new long[STATS_FIELDS];
                    for (int k = 0; k < STATS_FIELDS; k++) {
                        v[k] = i64(in, "stats field");
                    }
                    stats.add(new QueueStats(name, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10],
                            v[11], v[12], v[13]));
                }
                return new Frame.StatsResult(id, stats);
            }
            case LIST_RESULT: {
                int n = count(in, 2, 0, "queues");
                List<String> queues = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    queues.add(name(in, "queue"));
                }
                return new Frame.ListResult(id, queues);
            }
            case PEEK_RESULT: {
                int n = count(in, 8 + 1 + 1 + 8 + 2 + 4, 0, "messages");
                List<PeekedMessage> messages = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    long messageId = i64(in, "messageId");
                    String key = optionalString(in, Limits.MAX_FIELD_BYTES, "key");
                    int priority = u8(in, "priority");
                    long timestamp = i64(in, "timestamp");
                    Map<String, String> headers = headers(in);
                    messages.add(new PeekedMessage(messageId, key, priority, timestamp, headers, bytes(in, "payload")));
                }
                return new Frame.PeekResult(id, messages);
            }
            case SEND: {
                String queue = name(in, "queue");
                int overflowByte = u8(in, "overflow");
                if (overflowByte > OVERFLOWS.length) {
                    throw malformed("SEND: overflow " + overflowByte + " is not 0 (queue's), 1 (WAIT) or 2 (FAIL)");
                }
                Overflow sendOverflow = overflowByte == 0 ? null : OVERFLOWS[overflowByte - 1];
                int n = count(in, 4 + 1 + 1 + 8 + 8 + 1 + 2, 1, "messages");
                List<WireMessage> messages = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    byte[] payload = bytes(in, "payload");
                    String key = optionalString(in, Limits.MAX_FIELD_BYTES, "key");
                    int priority = u8(in, "priority");
                    long delay = nonNegativeLong(in, "delayMillis");
                    long ttl = nonNegativeLong(in, "ttlMillis");
                    String dedupId = optionalString(in, Limits.MAX_FIELD_BYTES, "dedupId");
                    messages.add(new WireMessage(payload, key, priority, delay, ttl, dedupId, headers(in)));
                }
                return new Frame.Send(id, queue, sendOverflow, messages);
            }
            case SEND_RESULT:
                return new Frame.SendResult(id, receipts(in, false));
            case SEND_CREDIT:
                noId(type, id);
                return new Frame.SendCredit(name(in, "queue"), positiveInt(in, "credit"));
            case SEND_CREDIT_BYTES: {
                noId(type, id);
                String queue = name(in, "queue");
                int credit = u31(in, "credit");
                long bytes = nonNegativeLong(in, "bytes");
                if (credit == 0 && bytes == 0) {
                    throw malformed("SEND_CREDIT_BYTES: credit and bytes are both 0");
                }
                return new Frame.SendCredit(queue, credit, bytes);
            }
            case SUBSCRIBE: {
                String queue = name(in, "queue");
                int prefetch = u31(in, "prefetch");
                int maxUnacked = u31(in, "maxUnacked");
                return new Frame.Subscribe(id, queue, prefetch, maxUnacked,
                        nonNegativeLong(in, "visibilityTimeoutMillis"));
            }
            case SUBSCRIBE_OK:
                return new Frame.SubscribeOk(id);
            case CREDIT:
                return new Frame.Credit(id, positiveInt(in, "credit"));
            case CANCEL_SEND:
                return new Frame.CancelSend(id);
            case SUBSCRIBE_EVENTS:
                return new Frame.SubscribeEvents(id, name(in, "queue"));
            case EVENT: {
                QueueEvent.Type eventType = enumValue(in, EVENT_TYPES, "eventType");
                long messageId = i64(in, "messageId");
                int deliveryCount = u31(in, "deliveryCount");
                String detail = optionalString(in, Limits.MAX_TEXT_BYTES, "detail");
                return new Frame.Event(id, eventType, messageId, deliveryCount, detail, i64(in, "timestamp"));
            }
            case DELIVER: {
                long tag = i64(in, "deliveryTag");
                long messageId = i64(in, "messageId");
                int deliveryCount = positiveInt(in, "deliveryCount");
                long deadline = i64(in, "deadline");
                long timestamp = i64(in, "timestamp");
                String key = optionalString(in, Limits.MAX_FIELD_BYTES, "key");
                int priority = u8(in, "priority");
                Map<String, String> headers = headers(in);
                return new Frame.Deliver(id, tag, messageId, deliveryCount, deadline, timestamp, key, priority, headers,
                        bytes(in, "payload"));
            }
            case UNSUBSCRIBE:
                return new Frame.Unsubscribe(id);
            case SUBSCRIPTION_END:
                return new Frame.SubscriptionEnd(id, errorCode(in), string(in, Limits.MAX_TEXT_BYTES, "message"));
            case ACK:
                return new Frame.Ack(id, tags(in));
            case NACK:
                return new Frame.Nack(id, nonNegativeLong(in, "delayMillis"), tags(in));
            case EXTEND:
                return new Frame.Extend(id, positiveLong(in, "durationMillis"), tags(in));
            case REJECT:
                return new Frame.Reject(id, string(in, Limits.MAX_TEXT_BYTES, "reason"), tags(in));
            case SETTLE_RESULT: {
                int n = count(in, 1, 1, "outcomes");
                List<LeaseOutcome> outcomes = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    outcomes.add(enumValue(in, LEASE_OUTCOMES, "outcome"));
                }
                return new Frame.SettleResult(id, outcomes);
            }
            case PING:
                return new Frame.Ping(id);
            case PONG:
                return new Frame.Pong(id);
            case ERROR:
                return new Frame.Error(id, errorCode(in), string(in, Limits.MAX_TEXT_BYTES, "message"));
            case CLOSE:
                noId(type, id);
                return new Frame.Close(errorCode(in), string(in, Limits.MAX_TEXT_BYTES, "reason"));
            default:
                throw new ProtocolException(ErrorCode.UNKNOWN_FRAME_TYPE, "unhandled frame type " + type);
        }
    }

    // values() copies its array on every call; these are read on every frame
    private static final LeaseOutcome[] LEASE_OUTCOMES = LeaseOutcome.values();
    private static final ExpiryAction[] EXPIRY_ACTIONS = ExpiryAction.values();
    private static final Ordering[] ORDERINGS = Ordering.values();
    private static final Overflow[] OVERFLOWS = Overflow.values();
    private static final SendStatus[] SEND_STATUSES = SendStatus.values();
    private static final QueueEvent.Type[] EVENT_TYPES = QueueEvent.Type.values();

    // ---- field readers: each checks the bytes left in the frame before reading --------------------------------

    private static ProtocolException malformed(String message) {
        return new ProtocolException(ErrorCode.MALFORMED_FRAME, message);
    }

    private static void need(ByteBuf in, long n, String field) {
        need(in, n, field, "");
    }

    /** {@code field + suffix} names the field; it is only built for the error (this runs for every field read). */
    private static void need(ByteBuf in, long n, String field, String suffix) {
        if (in.readableBytes() < n) {
            throw malformed("truncated frame: " + field + suffix + " needs " + n + " bytes, " + in.readableBytes()
                    + " left");
        }
    }

    private static void noId(FrameType type, int id) {
        if (id != 0) {
            throw malformed(type + ": id must be 0, was " + Integer.toUnsignedString(id));
        }
    }

    private static int u8(ByteBuf in, String field) {
        return u8(in, field, "");
    }

    private static int u8(ByteBuf in, String field, String suffix) {
        need(in, 1, field, suffix);
        return in.readUnsignedByte();
    }

    private static int u16(ByteBuf in, String field) {
        return u16(in, field, "");
    }

    private static int u16(ByteBuf in, String field, String suffix) {
        need(in, 2, field, suffix);
        return in.readUnsignedShort();
    }

    /** A u32 that must fit a Java int (0..2^31-1). */
    private static int u31(ByteBuf in, String field) {
        return u31(in, field, "");
    }

    private static int u31(ByteBuf in, String field, String suffix) {
        need(in, 4, field, suffix);
        int v = in.readInt();
        if (v < 0) {
            throw malformed(field + suffix + " must be 0.." + Integer.MAX_VALUE + ", was "
                    + Integer.toUnsignedString(v));
        }
        return v;
    }

    private static int positiveInt(ByteBuf in, String field) {
        int v = u31(in, field);
        if (v == 0) {
            throw malformed(field + " must be >= 1, was 0");
        }
        return v;
    }

    private static long i64(ByteBuf in, String field) {
        need(in, 8, field);
        return in.readLong();
    }

    private static long nonNegativeLong(ByteBuf in, String field) {
        long v = i64(in, field);
        if (v < 0) {
            throw malformed(field + " must be >= 0, was " + v);
        }
        return v;
    }

    private static long positiveLong(ByteBuf in, String field) {
        long v = i64(in, field);
        if (v <= 0) {
            throw malformed(field + " must be >= 1, was " + v);
        }
        return v;
    }

    private static boolean bool(ByteBuf in, String field) {
        return bool(in, field, "");
    }

    private static boolean bool(ByteBuf in, String field, String suffix) {
        int v = u8(in, field, suffix);
        if (v > 1) {
            throw malformed(field + suffix + " must be 0 or 1, was " + v);
        }
        return v == 1;
    }

    private static <E extends Enum<E>> E enumValue(ByteBuf in, E[] values, String field) {
        int v = u8(in, field);
        if (v >= values.length) {
            throw malformed(field + " must be 0.." + (values.length - 1) + ", was " + v);
        }
        return values[v];
    }

    private static ErrorCode errorCode(ByteBuf in) {
        int v = u16(in, "error code");
        ErrorCode code = ErrorCode.fromCode(v);
        if (code == null) {
            throw malformed("unknown error code " + v);
        }
        return code;
    }

    /** A u32 element count, checked against the bytes left given each element's minimum size. */
    private static int count(ByteBuf in, int minElementSize, int min, String field) {
        int n = u31(in, field, " count");
        if (n < min) {
            throw malformed(field + " count must be >= " + min + ", was " + n);
        }
        if ((long) n * minElementSize > in.readableBytes()) {
            throw malformed(field + " count " + n + " does not fit in the " + in.readableBytes()
                    + " bytes left of the frame");
        }
        return n;
    }

    private static String name(ByteBuf in, String field) {
        return string(in, Limits.MAX_NAME_BYTES, field);
    }

    private static String string(ByteBuf in, int maxBytes, String field) {
        int length = u16(in, field, " length");
        if (length > maxBytes) {
            throw new ProtocolException(ErrorCode.LIMIT_EXCEEDED,
                    field + " is " + length + " bytes, the limit is " + maxBytes);
        }
        need(in, length, field);
        byte[] bytes = new byte[length];
        in.readBytes(bytes);
        for (byte b : bytes) {
            if (b < 0) {
                return strictUtf8(bytes, field);
            }
        }
        return new String(bytes, StandardCharsets.ISO_8859_1); // all ASCII
    }

    private static String strictUtf8(byte[] bytes, String field) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new ProtocolException(ErrorCode.INVALID_UTF8, field + " is not well-formed UTF-8");
        }
    }

    private static String optionalString(ByteBuf in, int maxBytes, String field) {
        return bool(in, field, " present") ? string(in, maxBytes, field) : null;
    }

    private static byte[] bytes(ByteBuf in, String field) {
        int length = u31(in, field, " length");
        need(in, length, field);
        byte[] bytes = new byte[length];
        in.readBytes(bytes);
        return bytes;
    }

    private static Map<String, String> headers(ByteBuf in) {
        int n = u16(in, "headers count");
        if (n == 0) {
            return Map.of();
        }
        if (n > Limits.MAX_HEADERS) {
            throw new ProtocolException(ErrorCode.LIMIT_EXCEEDED,
                    "headers count " + n + " exceeds the limit " + Limits.MAX_HEADERS);
        }
        need(in, 4L * n, "headers");
        Map<String, String> headers = new HashMap<>(n * 2);
        for (int i = 0; i < n; i++) {
            String name = string(in, Limits.MAX_FIELD_BYTES, "header name");
            String value = string(in, Limits.MAX_FIELD_BYTES, "header value");
            if (headers.put(name, value) != null) {
                throw malformed("duplicate header '" + name + "'");
            }
        }
        return headers;
    }

    private static long[] tags(ByteBuf in) {
        int n = count(in, 8, 1, "tags");
        long[] tags = new long[n];
        for (int i = 0; i < n; i++) {
            tags[i] = in.readLong();
        }
        return tags;
    }
}
