package dev.rill.netty.internal.protocol;

import java.util.Arrays;
import java.util.Map;
import java.util.Objects;

/**
 * One message of a PEEK_RESULT frame: a ready message seen without leasing it.
 *
 * <p>The record owns {@code payload} (see {@link WireMessage}).
 *
 * @param messageId the id within its queue
 * @param key the ordering key, or null
 * @param priority 0..255
 * @param timestamp when it was enqueued, epoch millis of the server's queue clock
 * @param headers headers, never null
 * @param payload the encoded payload
 */
public record PeekedMessage(long messageId, String key, int priority, long timestamp, Map<String, String> headers,
        byte[] payload) {

    /** Checks for nulls and copies the headers. */
    public PeekedMessage {
        headers = Map.copyOf(headers);
        Objects.requireNonNull(payload, "payload");
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PeekedMessage m && messageId == m.messageId && Objects.equals(key, m.key)
                && priority == m.priority && timestamp == m.timestamp && headers.equals(m.headers)
                && Arrays.equals(payload, m.payload);
    }

    @Override
    public int hashCode() {
        return Objects.hash(messageId, key, priority, timestamp, headers, Arrays.hashCode(payload));
    }

    @Override
    public String toString() {
        return "PeekedMessage[id=" + messageId + ", key=" + key + ", priority=" + priority + ", timestamp=" + timestamp
                + ", headers=" + headers + ", " + payload.length + " bytes]";
    }
}
