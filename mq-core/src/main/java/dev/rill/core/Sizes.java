package dev.rill.core;

import java.nio.ByteBuffer;

/**
 * Payload sizes for byte limits and statistics: array length for {@code byte[]}, remaining bytes for
 * {@link ByteBuffer}, two bytes per char for {@link CharSequence}, 0 for other types (which then count only
 * towards the message capacity). Pure and O(1), so it may run under the queue lock.
 */
final class Sizes {
    private Sizes() {
    }

    static long of(Object p) {
        Class<?> c = p.getClass(); // exact-class checks first: an interface instanceof scans a class's secondary supers
        if (c == byte[].class) {
            return ((byte[]) p).length;
        }
        if (c == String.class) {
            return 2L * ((String) p).length();
        }
        if (p instanceof ByteBuffer bb) {
            return bb.remaining();
        }
        if (p instanceof CharSequence cs) {
            return 2L * cs.length();
        }
        return 0;
    }
}
