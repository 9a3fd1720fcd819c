package dev.rill.netty.internal.protocol;

/**
 * Error codes carried by ERROR, CLOSE and SUBSCRIPTION_END frames and by {@link ProtocolException}; the numeric
 * values are the wire encoding (u16) and are listed in {@code docs/protocol.md}.
 */
public enum ErrorCode {
    /** No error (CLOSE and SUBSCRIPTION_END only: a normal end). */
    NONE(0),
    /** A frame that is valid on its own but not allowed in the connection's current state. */
    PROTOCOL_ERROR(1),
    /** A frame's declared length is above the maximum frame size in force. */
    FRAME_TOO_LARGE(2),
    /** An unknown frame type byte. */
    UNKNOWN_FRAME_TYPE(3),
    /** A frame whose body does not match its layout: truncated, trailing bytes, bad count, bad enum value, bad magic. */
    MALFORMED_FRAME(4),
    /** A string field that is not well-formed UTF-8. */
    INVALID_UTF8(5),
    /** A field longer or larger than its documented limit. */
    LIMIT_EXCEEDED(6),
    /** None of the client's protocol versions is supported; the message names the supported ones. */
    UNSUPPORTED_VERSION(7),
    /** The handshake (HELLO, AUTH) did not complete in time. */
    HANDSHAKE_TIMEOUT(8),
    /** Nothing was received within the idle timeout (no PING answered). */
    IDLE_TIMEOUT(9),
    /** Bad or missing token. */
    AUTH_FAILED(10),
    /** The token does not grant the right needed (send, receive, manage) on this queue. */
    FORBIDDEN(11),
    /** The server is at its connection limit. */
    TOO_MANY_CONNECTIONS(12),
    /** The server is shutting down. */
    SHUTTING_DOWN(13),
    /** The peer does not read what it is sent (its outbound buffer stays full). */
    SLOW_CONSUMER(14),
    /** No such queue. */
    QUEUE_NOT_FOUND(20),
    /** An argument was refused (invalid spec, spec differing from the existing queue's, bad value). */
    INVALID_ARGUMENT(21),
    /** The queue was closed or deleted. */
    QUEUE_CLOSED(22),
    /** The queue is full (used by requests other than SEND, whose per-message status says FULL). */
    QUEUE_FULL(23),
    /** A request or subscription id that is already in use on this connection. */
    DUPLICATE_ID(24),
    /** The connection already has the maximum number of subscriptions. */
    TOO_MANY_SUBSCRIPTIONS(25),
    /** A SEND carried more messages than the queue's outstanding SEND_CREDIT. */
    SEND_CREDIT_EXCEEDED(26),
    /** A CREDIT, ACK or UNSUBSCRIBE for a subscription id that is not open. */
    UNKNOWN_SUBSCRIPTION(27),
    /** An events subscriber fell further behind than the server buffers (the events stream ends with it). */
    EVENTS_OVERFLOW(28),
    /** An unexpected failure inside the server. */
    INTERNAL_ERROR(50);

    private static final ErrorCode[] BY_CODE = new ErrorCode[51];

    static {
        for (ErrorCode c : values()) {
            BY_CODE[c.code] = c;
        }
    }

    private final int code;

    ErrorCode(int code) {
        this.code = code;
    }

    /** @return the wire value (u16) */
    public int code() {
        return code;
    }

    /**
     * Looks up a wire value.
     *
     * @param code the u16 value read from a frame
     * @return the code, or null when the value is not assigned
     */
    public static ErrorCode fromCode(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
