package dev.rill.netty.internal.protocol;

/** Wire limits: frame sizes and per-field maxima enforced by {@link FrameDecoder} and {@link FrameEncoder}. */
public final class Limits {

    /** The newest protocol version, chosen when both sides speak it. */
    public static final int PROTOCOL_VERSION = 6;
    /**
     * The protocol versions the client offers: 6, and 2 to 5 so that it still works with servers of earlier
     * releases (SEND_CREDIT in messages only before 6, without the broker's memory before 5, without redrive to a
     * target before 4, without the reasons of refused messages before 3). Not 1: the client relies on version 2's
     * frames.
     */
    public static final java.util.List<Integer> CLIENT_VERSIONS = java.util.List.of(2, 3, 4, 5, 6);
    /** The protocol versions a server accepts: a client gets no frame newer than the version chosen. */
    public static final java.util.List<Integer> SUPPORTED_VERSIONS = java.util.List.of(1, 2, 3, 4, 5, 6);
    /** The first version with REDRIVE_TO. */
    public static final int REDRIVE_TO_VERSION = 4;
    /** The first version with MEMORY. */
    public static final int MEMORY_VERSION = 5;
    /**
     * The first version whose producer credit counts bytes as well as messages (SEND_CREDIT_BYTES): a message is sent
     * only while the queue's byte credit is above 0, and takes {@link FrameEncoder#encodedSize(WireMessage)} of it.
     */
    public static final int BYTE_CREDIT_VERSION = 6;
    /** The four magic bytes at the start of HELLO's body: ASCII {@code RILL}. */
    public static final int MAGIC = 0x52494C4C;
    /** Bytes before the body: u32 length, u8 type, u32 id. */
    public static final int HEADER_SIZE = 9;
    /** Smallest valid value of the length field (type + id, empty body). */
    public static final int MIN_LENGTH = 5;
    /** Default maximum frame size (value of the length field): 1 MiB. */
    public static final int DEFAULT_MAX_FRAME_SIZE = 1 << 20;
    /** Default maximum frame size before authentication completes: 4 KiB. */
    public static final int DEFAULT_PRE_AUTH_MAX_FRAME_SIZE = 4096;
    /** Smallest configurable maximum frame size. */
    public static final int MIN_MAX_FRAME_SIZE = 1024;
    /** Largest configurable maximum frame size: 256 MiB. */
    public static final int MAX_MAX_FRAME_SIZE = 1 << 28;
    /**
     * How far a frame the server sends may exceed the maximum frame size it announced: a message that fit its SEND
     * (the server's bound on what it accepts) comes back in a DELIVER with delivery fields SEND has not (up to 12
     * bytes more), and from a dead-letter queue with its dead-letter headers (a reason of up to 1024 characters, the
     * source queue, count and original id: at most about 4.5 KiB). Clients accept the announced maximum plus this.
     */
    public static final int DELIVERY_HEADROOM = 8192;
    /** Smallest configurable pre-authentication cap. */
    public static final int MIN_PRE_AUTH_FRAME_SIZE = 256;

    /** Queue names (UTF-8 bytes). */
    public static final int MAX_NAME_BYTES = 1024;
    /** Client, server and principal names. */
    public static final int MAX_PEER_NAME_BYTES = 256;
    /** Tokens. */
    public static final int MAX_TOKEN_BYTES = 2048;
    /** Message keys, dedup ids, header names and values. */
    public static final int MAX_FIELD_BYTES = 4096;
    /** Error messages, close and reject reasons. */
    public static final int MAX_TEXT_BYTES = 8192;
    /**
     * Why a message was refused (SEND_RECEIPTS, version 3): small enough that a frame with one receipt of the
     * longest reason (9 + 11 + 2 + 1000 bytes) fits the smallest maximum frame size, so an answer can always be split
     * into frames below the maximum.
     */
    public static final int MAX_REASON_BYTES = 1000;
    /** Headers per message. */
    public static final int MAX_HEADERS = 256;
    /** Versions offered in HELLO. */
    public static final int MAX_VERSIONS = 16;
    /** Highest priority value accepted on the wire (the core accepts 0..9). */
    public static final int MAX_PRIORITY = 255;

    private Limits() {
    }

    /**
     * Checks a configured maximum frame size.
     *
     * @param field the option's name, for the message
     * @param value the value
     * @return the value
     * @throws IllegalArgumentException when outside {@link #MIN_MAX_FRAME_SIZE}..{@link #MAX_MAX_FRAME_SIZE}
     */
    public static int checkMaxFrameSize(String field, int value) {
        if (value < MIN_MAX_FRAME_SIZE || value > MAX_MAX_FRAME_SIZE) {
            throw new IllegalArgumentException(field + " must be " + MIN_MAX_FRAME_SIZE + ".." + MAX_MAX_FRAME_SIZE
                    + " bytes, was " + value);
        }
        return value;
    }
}
