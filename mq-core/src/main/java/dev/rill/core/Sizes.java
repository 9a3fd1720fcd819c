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

    /**
     * Whether a class is a {@link CharSequence}, decided once per class: {@code instanceof} on an interface scans
     * the class's secondary supertypes on every call when the answer is no ({@code repne scas} on JDK 17, tens of
     * nanoseconds), and this runs twice per message (send and ack).
     */
    private static final ClassValue<Boolean> CHAR_SEQUENCE = new ClassValue<>() {
        @Override
        protected Boolean computeValue(Class<?> type) {
            return CharSequence.class.isAssignableFrom(type);
        }
    };

    static long of(Object p) {
        Class<?> c = p.getClass(); // exact-class checks first
        if (c == byte[].class) {
            return ((byte[]) p).length;
        }
        if (c == String.class) {
            return 2L * ((String) p).length();
        }
        if (p instanceof ByteBuffer bb) { // a class: a constant-time check
            return bb.remaining();
        }
        if (CHAR_SEQUENCE.get(c)) {
            return 2L * ((CharSequence) p).length();
        }
        return 0;
    }
}
