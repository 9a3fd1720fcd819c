package dev.rill.core;

import java.util.Map;
import java.util.Objects;

/**
 * A {@link Message} whose payload is decoded from bytes on the first call of {@link #payload()}
 * ({@link Message#decodedOnUse}). A decode that fails throws at that call, wrapped in an
 * {@link IllegalArgumentException} that names the message, and is tried again at the next call.
 */
final class DecodedOnUse<T> extends Message<T> {

    private final byte[] bytes;
    private final Codec<T> codec;
    /** The decoded payload once a decode succeeded (two racing calls both decode; either result is kept). */
    private volatile T decoded;

    DecodedOnUse(long id, byte[] bytes, Codec<T> codec, String key, int priority, Map<String, String> headers,
            long timestamp) {
        super(id, key, priority, headers, timestamp);
        this.bytes = Objects.requireNonNull(bytes, "bytes");
        this.codec = Objects.requireNonNull(codec, "codec");
    }

    @Override
    public T payload() {
        T p = decoded;
        if (p != null) {
            return p;
        }
        try {
            p = codec.decode(bytes);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("message " + id() + ": its codec cannot decode its payload of "
                    + bytes.length + (bytes.length == 1 ? " byte: " : " bytes: ") + e.getMessage(), e);
        }
        if (p == null) {
            throw new IllegalArgumentException("message " + id() + ": its codec decoded its payload of " + bytes.length
                    + (bytes.length == 1 ? " byte" : " bytes") + " to null");
        }
        decoded = p;
        return p;
    }

    @Override
    String payloadText() {
        T p = decoded;
        return p != null ? String.valueOf(p) : "<" + bytes.length + " bytes, not decoded yet>";
    }
}
