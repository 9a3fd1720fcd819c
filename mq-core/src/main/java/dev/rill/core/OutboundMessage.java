package dev.rill.core;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A message to send: a payload plus optional key, priority, delay, time to live, dedup id and headers.
 *
 * <p>Immutable: every option method returns a new instance. Payloads are kept as they are (no copy); send
 * immutable payloads or do not change them after sending.
 *
 * @param <T> the payload type
 */
public final class OutboundMessage<T> {

    /** Lowest priority. */
    public static final int MIN_PRIORITY = 0;
    /** Highest priority. */
    public static final int MAX_PRIORITY = 9;
    /** Longest accepted key, dedup id, header name or header value, in characters. */
    public static final int MAX_STRING_LENGTH = 1024;

    private final T payload;
    private final String key;
    private final int priority;
    private final Duration delay;
    private final Duration ttl;
    private final String dedupId;
    private final Map<String, String> headers;

    private OutboundMessage(T payload, String key, int priority, Duration delay, Duration ttl, String dedupId,
            Map<String, String> headers) {
        this.payload = payload;
        this.key = key;
        this.priority = priority;
        this.delay = delay;
        this.ttl = ttl;
        this.dedupId = dedupId;
        this.headers = headers;
    }

    /**
     * Starts a message with priority 0, no key, no delay, no TTL, no dedup id and no headers.
     *
     * @param payload the payload, not null
     * @param <T> the payload type
     * @return a new message
     */
    public static <T> OutboundMessage<T> of(T payload) {
        return new OutboundMessage<>(Objects.requireNonNull(payload, "payload"), null, 0, Duration.ZERO, null, null,
                Map.of());
    }

    private static String checkString(String field, String value) {
        Objects.requireNonNull(value, field);
        if (value.isEmpty() || value.length() > MAX_STRING_LENGTH) {
            throw new IllegalArgumentException(field + " must be 1.." + MAX_STRING_LENGTH + " characters, was "
                    + value.length());
        }
        return value;
    }

    /**
     * Sets the ordering key (see {@link Ordering#KEY_ORDERED}).
     *
     * @param key 1..1024 characters; default none
     * @return a new message
     */
    public OutboundMessage<T> key(String key) {
        return new OutboundMessage<>(payload, checkString("key", key), priority, delay, ttl, dedupId, headers);
    }

    /**
     * Sets the priority: higher is delivered first, FIFO within a priority.
     *
     * @param priority 0..9; default 0
     * @return a new message
     */
    public OutboundMessage<T> priority(int priority) {
        if (priority < MIN_PRIORITY || priority > MAX_PRIORITY) {
            throw new IllegalArgumentException("priority must be " + MIN_PRIORITY + ".." + MAX_PRIORITY + ", was "
                    + priority);
        }
        return new OutboundMessage<>(payload, key, priority, delay, ttl, dedupId, headers);
    }

    /**
     * Keeps the message invisible for a while after its send.
     *
     * @param delay zero or positive, at most 365 days; default zero
     * @return a new message
     */
    public OutboundMessage<T> delay(Duration delay) {
        Objects.requireNonNull(delay, "delay");
        if (delay.isNegative() || delay.compareTo(Duration.ofDays(365)) > 0) {
            throw new IllegalArgumentException("delay must be 0..365 days, was " + delay);
        }
        return new OutboundMessage<>(payload, key, priority, delay, ttl, dedupId, headers);
    }

    /**
     * Sets a time to live counted from the send; the message is dropped or dead-lettered (per
     * {@link QueueSpec#onExpiry(ExpiryAction)}) if not acknowledged by then.
     *
     * @param ttl positive; default none (the queue's {@link QueueSpec#messageTtl(Duration)} applies)
     * @return a new message
     */
    public OutboundMessage<T> ttl(Duration ttl) {
        Objects.requireNonNull(ttl, "ttl");
        if (ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException("ttl must be positive, was " + ttl);
        }
        return new OutboundMessage<>(payload, key, priority, delay, ttl, dedupId, headers);
    }

    /**
     * Sets a deduplication id: a second send with the same id within the queue's dedup window is not
     * enqueued and reports the first message's id.
     *
     * @param dedupId 1..1024 characters; default none
     * @return a new message
     */
    public OutboundMessage<T> dedupId(String dedupId) {
        return new OutboundMessage<>(payload, key, priority, delay, ttl, checkString("dedupId", dedupId), headers);
    }

    /**
     * Adds or replaces one header.
     *
     * @param name 1..1024 characters
     * @param value 1..1024 characters
     * @return a new message
     */
    public OutboundMessage<T> header(String name, String value) {
        Map<String, String> copy = new HashMap<>(headers);
        copy.put(checkString("header name", name), checkString("header value", value));
        return new OutboundMessage<>(payload, key, priority, delay, ttl, dedupId, Map.copyOf(copy));
    }

    /**
     * Replaces all headers.
     *
     * @param headers names and values, each 1..1024 characters
     * @return a new message
     */
    public OutboundMessage<T> headers(Map<String, String> headers) {
        Objects.requireNonNull(headers, "headers");
        headers.forEach((k, v) -> {
            checkString("header name", k);
            checkString("header value", v);
        });
        return new OutboundMessage<>(payload, key, priority, delay, ttl, dedupId, Map.copyOf(headers));
    }

    /**
     * Returns a message with another payload and the same options.
     *
     * @param newPayload the payload
     * @param <R> its type
     * @return a new message
     */
    public <R> OutboundMessage<R> withPayload(R newPayload) {
        return new OutboundMessage<>(Objects.requireNonNull(newPayload, "payload"), key, priority, delay, ttl, dedupId,
                headers);
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

    /** @return the delay, zero when none */
    public Duration delay() {
        return delay;
    }

    /** @return the time to live, or null */
    public Duration ttl() {
        return ttl;
    }

    /** @return the dedup id, or null */
    public String dedupId() {
        return dedupId;
    }

    /** @return the headers, an immutable map */
    public Map<String, String> headers() {
        return headers;
    }

    @Override
    public String toString() {
        return "OutboundMessage{payload=" + payload + (key != null ? ", key=" + key : "")
                + (priority != 0 ? ", priority=" + priority : "") + (!delay.isZero() ? ", delay=" + delay : "")
                + (ttl != null ? ", ttl=" + ttl : "") + (dedupId != null ? ", dedupId=" + dedupId : "")
                + (!headers.isEmpty() ? ", headers=" + headers : "") + "}";
    }
}
