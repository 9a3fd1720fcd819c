package dev.rill.core;

import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.function.Function;

/**
 * Turns payloads into bytes and back, for brokers that store or transmit them (durable and remote brokers).
 * In-memory brokers keep payload objects as they are and never call the codec.
 *
 * @param <T> the payload type
 */
public interface Codec<T> {

    /**
     * Encodes a payload.
     *
     * @param payload the payload
     * @return its bytes (the caller may keep the array)
     */
    byte[] encode(T payload);

    /**
     * Decodes a payload.
     *
     * @param bytes bytes from {@link #encode(Object)}
     * @return the payload
     * @throws IllegalArgumentException if the bytes are not a valid encoding
     */
    T decode(byte[] bytes);

    /** @return a codec for UTF-8 strings */
    static Codec<String> utf8() {
        return of(s -> s.getBytes(StandardCharsets.UTF_8), b -> new String(b, StandardCharsets.UTF_8));
    }

    /** @return the identity codec for byte arrays */
    static Codec<byte[]> bytes() {
        return of(b -> b, b -> b);
    }

    /**
     * Builds a codec from two functions.
     *
     * @param encoder payload to bytes
     * @param decoder bytes to payload
     * @param <T> the payload type
     * @return the codec
     */
    static <T> Codec<T> of(Function<? super T, byte[]> encoder, Function<byte[], ? extends T> decoder) {
        Objects.requireNonNull(encoder, "encoder");
        Objects.requireNonNull(decoder, "decoder");
        return new Codec<>() {
            @Override
            public byte[] encode(T payload) {
                return encoder.apply(payload);
            }

            @Override
            public T decode(byte[] bytes) {
                return decoder.apply(bytes);
            }
        };
    }
}
