package dev.rill.core;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Objects;

/**
 * A message as held by a queue: id, payload, key, priority, headers and the time it was enqueued.
 *
 * <p>Immutable. Ids are positive, unique within a queue and increase with send order. A dead-lettered
 * message keeps payload and headers and gains the {@code x-rill-*} headers named by the constants below.
 *
 * <p>A message that arrived as bytes (from a remote server, or through a view with another codec than its queue's)
 * is decoded when {@link #payload()} is first called ({@link #decodedOnUse}), so a payload that its codec cannot
 * decode fails there, in the code that handles the message, while its id, key and headers stay readable.
 *
 * @param <T> the payload type
 */
public sealed class Message<T> permits DecodedOnUse {

    /** Header a dead-lettered message gains: why it was dead-lettered. */
    public static final String HEADER_DEAD_LETTER_REASON = "x-rill-dead-letter-reason";
    /** Header a dead-lettered message gains: the queue it came from. */
    public static final String HEADER_SOURCE_QUEUE = "x-rill-source-queue";
    /** Header a dead-lettered message gains: its delivery count in the source queue. */
    public static final String HEADER_DELIVERY_COUNT = "x-rill-delivery-count";
    /** Header a dead-lettered message gains: its id in the source queue. */
    public static final String HEADER_ORIGINAL_ID = "x-rill-original-id";

    private final long id;
    private final T payload;
    private final String key;
    private final int priority;
    private final Map<String, String> headers;
    private final long timestamp;

    /**
     * Creates a message. Used by queue implementations; applications receive messages, they do not build them.
     *
     * @param id the id within its queue
     * @param payload the payload
     * @param key the ordering key, or null
     * @param priority 0..9
     * @param headers immutable headers
     * @param timestamp when it was enqueued, epoch millis of the queue's clock
     */
    public Message(long id, T payload, String key, int priority, Map<String, String> headers, long timestamp) {
        this(id, view(Objects.requireNonNull(payload, "payload")), key, priority, headers, timestamp, true);
    }

    /** For a payload that is already a {@link #view}: a {@link Lease}'s. */
    Message(long id, T payload, String key, int priority, Map<String, String> headers, long timestamp,
            boolean viewed) {
        this.id = id;
        this.payload = Objects.requireNonNull(payload, "payload");
        this.key = key;
        this.priority = priority;
        this.headers = Objects.requireNonNull(headers, "headers");
        this.timestamp = timestamp;
    }

    /**
     * What a queue hands out for a payload it holds: the payload itself, except that a {@link ByteBuffer} is handed out
     * as a {@link ByteBuffer#duplicate() duplicate} (the same bytes, a position and limit of its own), so a consumer
     * that reads it in place leaves the held buffer as it was sent: a redelivery reads it whole again, and the bytes
     * the queue counted for it ({@link QueueSpec#maxBytes(long)}, the broker's memory budget: its remaining bytes) are
     * the bytes it gives back when the message goes.
     */
    @SuppressWarnings("unchecked")
    static <T> T view(T payload) {
        return payload instanceof ByteBuffer b ? (T) b.duplicate() : payload;
    }

    /** For {@link DecodedOnUse}: no payload object of its own. */
    Message(long id, String key, int priority, Map<String, String> headers, long timestamp) {
        this.id = id;
        this.payload = null;
        this.key = key;
        this.priority = priority;
        this.headers = Objects.requireNonNull(headers, "headers");
        this.timestamp = timestamp;
    }

    /**
     * Creates a message whose payload is decoded from {@code bytes} with {@code codec} on the first call of
     * {@link #payload()}. Used by transports and views that convert payloads; applications receive messages, they
     * do not build them.
     *
     * @param id the id within its queue
     * @param bytes the encoded payload (kept, not copied)
     * @param codec decodes it
     * @param key the ordering key, or null
     * @param priority 0..9
     * @param headers immutable headers
     * @param timestamp when it was enqueued, epoch millis of the queue's clock
     * @param <T> the payload type
     * @return the message
     */
    public static <T> Message<T> decodedOnUse(long id, byte[] bytes, Codec<T> codec, String key, int priority,
            Map<String, String> headers, long timestamp) {
        return new DecodedOnUse<>(id, bytes, codec, key, priority, headers, timestamp);
    }

    /** @return the id within its queue */
    public long id() {
        return id;
    }

    /**
     * Returns the payload.
     *
     * @return the payload
     * @throws IllegalArgumentException for a message {@linkplain #decodedOnUse decoded on use} whose bytes its
     *     codec cannot decode (the message names the id and the codec's error); each call tries again
     */
    public T payload() {
        return payload;
    }

    /** @return the ordering key, or null */
    public String key() {
        return key;
    }

    /** @return the priority, 0..9 */
    public int priority() {
        return priority;
    }

    /** @return the headers, immutable */
    public Map<String, String> headers() {
        return headers;
    }

    /** @return when the message was enqueued (the queue's clock, millis) */
    public long timestamp() {
        return timestamp;
    }

    /** The payload for {@link #toString()}: never decodes (a failure must not break logging). */
    String payloadText() {
        return String.valueOf(payload);
    }

    @Override
    public String toString() {
        return "Message{id=" + id + ", payload=" + payloadText() + (key != null ? ", key=" + key : "")
                + (priority != 0 ? ", priority=" + priority : "") + (!headers.isEmpty() ? ", headers=" + headers : "")
                + "}";
    }
}
