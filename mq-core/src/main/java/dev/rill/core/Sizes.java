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

    static final int BYTES = 0;
    static final int STRING = 1;
    static final int BUFFER = 2;
    static final int CHARS = 3;
    static final int NONE = 4;

    /**
     * How a class is sized, decided once per class: {@code instanceof} on an interface scans the class's secondary
     * supertypes on every call when the answer is no ({@code repne scas} on JDK 17, tens of nanoseconds), and
     * sizing runs twice per message (send and ack).
     */
    private static final ClassValue<Integer> KIND = new ClassValue<>() {
        @Override
        protected Integer computeValue(Class<?> type) {
            if (type == byte[].class) {
                return BYTES;
            }
            if (type == String.class) {
                return STRING;
            }
            if (ByteBuffer.class.isAssignableFrom(type)) {
                return BUFFER;
            }
            return CharSequence.class.isAssignableFrom(type) ? CHARS : NONE;
        }
    };

    /** A class and its kind: a one-entry cache a queue keeps for its payload type (immutable, so safe to race on). */
    record Cached(Class<?> type, int kind) {
    }

    static final Cached NOTHING_CACHED = new Cached(Void.class, NONE);

    static int kind(Class<?> type) {
        return KIND.get(type);
    }

    /**
     * @return whether a payload of this kind keeps its size: an array's length and a {@code String}'s do not change,
     *     and other types are sized 0; a {@code ByteBuffer}'s remaining bytes and a {@code CharSequence}'s length
     *     (a {@code StringBuilder}) may
     */
    static boolean fixed(int kind) {
        return kind != BUFFER && kind != CHARS;
    }

    static long of(Object p, int kind) {
        return switch (kind) {
            case BYTES -> ((byte[]) p).length;
            case STRING -> 2L * ((String) p).length();
            case BUFFER -> ((ByteBuffer) p).remaining();
            case CHARS -> 2L * ((CharSequence) p).length();
            default -> 0;
        };
    }
}
