package dev.rill.core;

import java.util.Objects;
import java.util.function.Function;

/**
 * Turns payloads into bytes and back, for brokers that store or transmit them (durable and remote brokers).
 *
 * <p>An in-memory broker keeps each queue's payloads as objects of the codec the queue was first declared with, and
 * calls no codec for views declared with that same codec instance. A view declared with another codec instance
 * (a remote client's, served by {@code RillServer}, uses {@link #bytes()}) converts through bytes: its payloads are
 * encoded with its own codec and decoded with the queue's, and back. Keep one codec instance per payload type; the
 * built-in {@link #utf8()} and {@link #bytes()} return the same instance on every call.
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

    /** @return the codec for UTF-8 strings (the same instance on every call) */
    static Codec<String> utf8() {
        return BuiltInCodecs.UTF8;
    }

    /** @return the identity codec for byte arrays (the same instance on every call) */
    static Codec<byte[]> bytes() {
        return BuiltInCodecs.BYTES;
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
