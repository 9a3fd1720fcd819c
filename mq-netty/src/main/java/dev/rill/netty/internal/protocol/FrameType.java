package dev.rill.netty.internal.protocol;

/** Frame types and their wire value (the u8 after the length); layouts are in {@code docs/protocol.md}. */
public enum FrameType {
    /** Client → server: magic, protocol versions, client name. */
    HELLO(0x01),
    /** Server → client: chosen version and server limits. */
    HELLO_OK(0x02),
    /** Client → server: token. */
    AUTH(0x03),
    /** Server → client: authenticated. */
    AUTH_OK(0x04),
    /** Declare a queue. */
    DECLARE(0x10),
    /** The queue exists with the declared spec. */
    DECLARE_OK(0x11),
    /** Delete a queue; answered by RESULT (1 deleted, 0 not found). */
    DELETE(0x12),
    /** Purge a queue; answered by RESULT (messages removed). */
    PURGE(0x13),
    /** Stats of one queue or all; answered by STATS_RESULT. */
    STATS(0x14),
    /** Queue names; answered by LIST_RESULT. */
    LIST(0x15),
    /** Redrive a dead-letter queue; answered by RESULT (messages moved). */
    REDRIVE(0x16),
    /** Browse ready messages; answered by PEEK_RESULT. */
    PEEK(0x17),
    /** A numeric admin result. */
    RESULT(0x18),
    /** Queue stats. */
    STATS_RESULT(0x19),
    /** Queue names. */
    LIST_RESULT(0x1A),
    /** Peeked messages. */
    PEEK_RESULT(0x1B),
    /** A queue's spec, without creating it (passive declare); answered by DESCRIBE_OK. Version 2. */
    DESCRIBE(0x1C),
    /** The spec of an existing queue. Version 2. */
    DESCRIBE_OK(0x1D),
    /** Move dead letters to one target queue; answered by RESULT (messages moved). Version 4. */
    REDRIVE_TO(0x1E),
    /** A batch of messages to enqueue. */
    SEND(0x20),
    /** One outcome per message of a SEND. */
    SEND_RESULT(0x21),
    /** Server → client: more messages may be sent to a queue. */
    SEND_CREDIT(0x22),
    CANCEL_SEND(0x23),
    /** One outcome per message of a SEND, as SEND_RESULT, with the reason of each refused message. Version 3. */
    SEND_RECEIPTS(0x24),
    /**
     * Server → client: more messages and more bytes may be sent to a queue (SEND_CREDIT with a byte allowance).
     * Version 6.
     */
    SEND_CREDIT_BYTES(0x25),
    /** Open a subscription. */
    SUBSCRIBE(0x30),
    /** The subscription is open. */
    SUBSCRIBE_OK(0x31),
    /** Client → server: the subscription may receive n more deliveries. */
    CREDIT(0x32),
    /** Server → client: one leased message. */
    DELIVER(0x33),
    /** Close a subscription. */
    UNSUBSCRIBE(0x34),
    /** Server → client: no more DELIVER frames for this subscription. */
    SUBSCRIPTION_END(0x35),
    SUBSCRIBE_EVENTS(0x36),
    EVENT(0x37),
    /** Acknowledge (delete) deliveries. */
    ACK(0x40),
    /** Release deliveries, optionally after a delay. */
    NACK(0x41),
    /** Push the lease deadline of deliveries out. */
    EXTEND(0x42),
    /** Dead-letter (or drop) deliveries, never retried. */
    REJECT(0x43),
    /** One outcome per delivery tag of an ACK, NACK, REJECT or RELEASE (and of EXTEND in version 1). */
    SETTLE_RESULT(0x44),
    /** Give deliveries back without counting them (never reached the application). Version 2. */
    RELEASE(0x45),
    /** One outcome and new lease deadline per delivery tag of an EXTEND. Version 2. */
    EXTEND_RESULT(0x46),
    /** Liveness probe. */
    PING(0x50),
    /** Answer to PING. */
    PONG(0x51),
    /** An error, about one request or subscription or the whole connection. */
    ERROR(0x52),
    /** Orderly close. */
    CLOSE(0x53),
    /** Server → client: the server is shutting down and drains this connection. Version 2. */
    GOAWAY(0x54),
    /** The broker's memory (bytes held and budget); answered by MEMORY_RESULT. Version 5. */
    MEMORY(0x60),
    /** The broker's memory. Version 5. */
    MEMORY_RESULT(0x61);

    private static final FrameType[] BY_CODE = new FrameType[256];

    static {
        for (FrameType t : values()) {
            BY_CODE[t.code] = t;
        }
    }

    private final int code;

    FrameType(int code) {
        this.code = code;
    }

    /** @return the wire value (u8) */
    public int code() {
        return code;
    }

    /**
     * Looks up a wire value.
     *
     * @param code 0..255
     * @return the type, or null when unknown
     */
    public static FrameType fromCode(int code) {
        return code >= 0 && code < 256 ? BY_CODE[code] : null;
    }
}
