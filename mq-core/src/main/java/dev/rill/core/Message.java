package dev.rill.core;

import java.util.Map;
import java.util.Objects;

/**
 * A message as held by a queue: id, payload, key, priority, headers and the time it was enqueued.
 *
 * <p>Immutable. Ids are positive, unique within a queue and increase with send order. A dead-lettered
 * message keeps payload and headers and gains the {@code x-rill-*} headers named by the constants below.
 *
 * @param <T> the payload type
 */
public final class Message<T> {

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
        this.id = id;
        this.payload = Objects.requireNonNull(payload, "payload");
        this.key = key;
        this.priority = priority;
        this.headers = Objects.requireNonNull(headers, "headers");
        this.timestamp = timestamp;
    }

    /** @return the id within its queue */
    public long id() {
        return id;
    }

    /** @return the payload */
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

    @Override
    public String toString() {
        return "Message{id=" + id + ", payload=" + payload + (key != null ? ", key=" + key : "")
                + (priority != 0 ? ", priority=" + priority : "") + (!headers.isEmpty() ? ", headers=" + headers : "")
                + "}";
    }
}
