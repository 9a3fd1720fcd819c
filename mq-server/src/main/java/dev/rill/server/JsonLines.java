package dev.rill.server;

import dev.rill.core.Message;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import java.util.TreeMap;

/**
 * The messages of {@code rill consume --format json} and {@code rill peek --format json}: one JSON object per line
 * (JSON Lines), written by hand (the command line has no JSON library).
 *
 * <p>One message:
 * <pre>{@code
 * {"queue":"orders","id":17,"delivery":2,"timestamp":"2026-01-31T12:00:00.123Z","key":null,"priority":0,
 *  "headers":{"source":"cli"},"encoding":"text","payload":"hello"}
 * }</pre>
 * (on one line). {@code delivery} (the delivery count, 1 on the first delivery) is in {@code consume}'s lines only:
 * {@code peek} leases nothing. {@code key} is null when the message has none; {@code headers} is an object, empty
 * when there are none, its names in order. {@code encoding} says what {@code payload} holds: {@code "text"}, the
 * payload's UTF-8 text as a JSON string, or {@code "base64"}, its bytes in standard base64 when they are not UTF-8
 * text.
 *
 * <p>Strings are escaped so that the line is plain ASCII: {@code "} and {@code \} as {@code \"} and {@code \\},
 * every character outside U+0020..U+007E (control characters, line breaks, U+2028 and U+2029, each half of a
 * surrogate pair) as {@code \}{@code uXXXX}. The output is then exact whatever the charset of standard output, holds
 * no line break of its own, and every JSON parser reads it back to the same text.
 */
final class JsonLines {

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private JsonLines() {
    }

    /**
     * One message as a JSON object.
     *
     * @param queue the queue it came from
     * @param m the message
     * @param deliveryCount its delivery count, or null when it was not delivered (peek)
     * @return the object, on one line, without a line break
     */
    static String message(String queue, Message<byte[]> m, Integer deliveryCount) {
        StringBuilder b = new StringBuilder(64 + m.payload().length * 2);
        b.append("{\"queue\":");
        string(b, queue);
        b.append(",\"id\":").append(m.id());
        if (deliveryCount != null) {
            b.append(",\"delivery\":").append(deliveryCount.intValue());
        }
        b.append(",\"timestamp\":");
        string(b, Instant.ofEpochMilli(m.timestamp()).toString());
        b.append(",\"key\":");
        if (m.key() == null) {
            b.append("null");
        } else {
            string(b, m.key());
        }
        b.append(",\"priority\":").append(m.priority()).append(",\"headers\":{");
        boolean first = true;
        for (Map.Entry<String, String> e : new TreeMap<>(m.headers()).entrySet()) {
            if (!first) {
                b.append(',');
            }
            first = false;
            string(b, e.getKey());
            b.append(':');
            string(b, e.getValue());
        }
        b.append('}');
        String text = PayloadFormat.utf8(m.payload());
        if (text != null) {
            b.append(",\"encoding\":\"text\",\"payload\":");
            string(b, text);
        } else {
            b.append(",\"encoding\":\"base64\",\"payload\":\"")
                    .append(Base64.getEncoder().encodeToString(m.payload())).append('"');
        }
        return b.append('}').toString();
    }

    /**
     * Appends a JSON string: quoted, in plain ASCII (see the class comment).
     *
     * @param b where to append
     * @param s the text
     */
    static void string(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> {
                    if (c >= 0x20 && c < 0x7f) {
                        b.append(c);
                    } else {
                        b.append("\\u").append(HEX[c >> 12 & 0xf]).append(HEX[c >> 8 & 0xf]).append(HEX[c >> 4 & 0xf])
                                .append(HEX[c & 0xf]);
                    }
                }
            }
        }
        b.append('"');
    }

    /**
     * A JSON string (see {@link #string(StringBuilder, String)}).
     *
     * @param s the text
     * @return it quoted and escaped
     */
    static String string(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2);
        string(b, s);
        return b.toString();
    }
}
