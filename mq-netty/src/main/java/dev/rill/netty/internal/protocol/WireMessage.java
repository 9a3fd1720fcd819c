package dev.rill.netty.internal.protocol;

import java.util.Arrays;
import java.util.Map;
import java.util.Objects;

/**
 * One message of a SEND frame.
 *
 * <p>The record owns {@code payload}: callers hand over an array they no longer modify (the decoder passes a fresh
 * copy) and must not modify the array returned by {@link #payload()}.
 *
 * @param payload the encoded payload
 * @param key the ordering key, or null
 * @param priority 0..255 on the wire (the core accepts 0..9)
 * @param delayMillis delay before the message becomes ready, 0 for none
 * @param ttlMillis time to live, 0 for none
 * @param dedupId deduplication id, or null
 * @param headers headers, never null
 */
public record WireMessage(byte[] payload, String key, int priority, long delayMillis, long ttlMillis, String dedupId,
        Map<String, String> headers) {

    /** Checks for nulls and copies the headers. */
    public WireMessage {
        Objects.requireNonNull(payload, "payload");
        headers = Map.copyOf(headers);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof WireMessage m && Arrays.equals(payload, m.payload) && Objects.equals(key, m.key)
                && priority == m.priority && delayMillis == m.delayMillis && ttlMillis == m.ttlMillis
                && Objects.equals(dedupId, m.dedupId) && headers.equals(m.headers);
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(payload), key, priority, delayMillis, ttlMillis, dedupId, headers);
    }

    @Override
    public String toString() {
        return "WireMessage[" + payload.length + " bytes, key=" + key + ", priority=" + priority + ", delayMillis="
                + delayMillis + ", ttlMillis=" + ttlMillis + ", dedupId=" + dedupId + ", headers=" + headers + "]";
    }
}
