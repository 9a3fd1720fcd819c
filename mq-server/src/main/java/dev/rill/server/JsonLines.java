package dev.rill.server;

import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
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
 *
 * <p>{@code rill send --format json} reads such lines back ({@link #read(byte[])}, through the strict
 * {@link JsonReader}, from the line's bytes): it sends the payload as its {@code encoding} says, with the key, priority and headers, and
 * ignores {@code queue}, {@code id}, {@code delivery} and {@code timestamp}, which the server gives each message it
 * stores (its queue is send's, its id the next of that queue, its delivery count 0, its timestamp the send's).
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
     * Reads a message written by {@link #message(String, Message, Integer)} (or by hand, or by a script), strictly:
     * one JSON object whose {@code payload} (a string) is required; {@code encoding} is {@code "text"} (the default:
     * the payload is the message's text, sent as UTF-8) or {@code "base64"} (standard base64 of its bytes);
     * {@code key} is a string or null (none, the default); {@code priority} an integer 0..9 (default 0);
     * {@code headers} an object of strings (default none). {@code queue} and {@code timestamp} (strings), {@code id}
     * and {@code delivery} (integers) are checked and ignored; any other field is an error.
     *
     * <p>The payload is made from the line's bytes, not from a {@code String} of them: a text payload is its bytes in
     * the line with its escapes unescaped, a base64 one is decoded from them.
     *
     * @param line the JSON text of one message, in UTF-8
     * @return the message with its payload's bytes, key, priority and headers (no delay, no dedup id)
     * @throws IllegalArgumentException what is wrong with it, e.g. {@code "encoding" is "hex": text or base64}
     */
    static OutboundMessage<byte[]> read(byte[] line) {
        Object value = JsonReader.read(line, Set.of("payload"));
        if (!(value instanceof Map<?, ?> fields)) {
            throw new IllegalArgumentException("not a JSON object but " + JsonReader.kind(value));
        }
        JsonReader.Span payload = null;
        String encoding = "text";
        String key = null;
        int priority = OutboundMessage.MIN_PRIORITY;
        Map<String, String> headers = Map.of();
        for (Map.Entry<?, ?> field : fields.entrySet()) {
            String name = (String) field.getKey();
            Object v = field.getValue();
            switch (name) {
                case "payload" -> {
                    if (!(v instanceof JsonReader.Span s)) {
                        throw new IllegalArgumentException("\"payload\" must be a string, was " + shown(v));
                    }
                    payload = s;
                }
                case "encoding" -> {
                    encoding = text(name, v);
                    if (!encoding.equals("text") && !encoding.equals("base64")) {
                        throw new IllegalArgumentException("\"encoding\" is " + string(encoding) + ": text or"
                                + " base64");
                    }
                }
                case "key" -> key = v == null ? null : text(name, v);
                case "priority" -> priority = priority(v);
                case "headers" -> headers = headers(v);
                case "queue", "timestamp" -> text(name, v);
                case "id", "delivery" -> {
                    if (!(v instanceof JsonReader.Number n && n.isInteger())) {
                        throw new IllegalArgumentException(string(name) + " must be an integer, was " + shown(v));
                    }
                }
                default -> throw new IllegalArgumentException("unknown field " + string(name) + " (a message has"
                        + " payload, encoding, key, priority and headers; queue, id, delivery and timestamp are"
                        + " ignored)");
            }
        }
        if (payload == null) {
            throw new IllegalArgumentException("no \"payload\"");
        }
        // no String of it: a long payload is held once in the line, once as bytes
        byte[] bytes = encoding.equals("text") ? payload.utf8() : base64(payload);
        OutboundMessage<byte[]> m = OutboundMessage.of(bytes).priority(priority).headers(headers);
        return key == null ? m : m.key(key); // "key must be 1..1024 characters, was 0"
    }

    /**
     * Reads a message given as a {@code String} (a command-line argument), as {@link #read(byte[])} does its UTF-8.
     *
     * @param text the JSON text of one message
     * @return the message
     * @throws IllegalArgumentException what is wrong with it, also half a surrogate pair in it (no UTF-8 form)
     */
    static OutboundMessage<byte[]> read(String text) {
        return read(JsonReader.utf8(text));
    }

    /** @return the bytes a base64 payload stands for, decoded from the line's bytes */
    private static byte[] base64(JsonReader.Span payload) {
        ByteBuffer decoded;
        try {
            decoded = Base64.getDecoder().decode(payload.bytes());
        } catch (IllegalArgumentException e) {
            // again, on the payload's bytes alone: the decoder said where it stopped in the whole line
            byte[] text = payload.utf8();
            for (byte b : text) {
                if (b < 0) { // the decoder names a byte beyond ASCII as a negative number ("character -3d")
                    throw notBase64("it holds a character beyond ASCII");
                }
            }
            try {
                Base64.getDecoder().decode(text);
            } catch (IllegalArgumentException again) {
                throw notBase64(again.getMessage());
            }
            throw notBase64(e.getMessage());
        }
        byte[] bytes = decoded.array();
        return decoded.arrayOffset() == 0 && decoded.position() == 0 && decoded.remaining() == bytes.length ? bytes
                : Arrays.copyOfRange(bytes, decoded.arrayOffset() + decoded.position(),
                        decoded.arrayOffset() + decoded.limit());
    }

    private static IllegalArgumentException notBase64(String why) {
        return new IllegalArgumentException("\"payload\" is not base64 (\"encoding\":\"base64\"): " + why);
    }

    private static String text(String name, Object v) {
        if (!(v instanceof String s)) {
            throw new IllegalArgumentException(string(name) + " must be a string, was " + shown(v));
        }
        return s;
    }

    private static int priority(Object v) {
        if (v instanceof JsonReader.Number n && n.isInteger() && n.text().length() <= 2) {
            int p = Integer.parseInt(n.text());
            if (p >= OutboundMessage.MIN_PRIORITY && p <= OutboundMessage.MAX_PRIORITY) {
                return p;
            }
        }
        throw new IllegalArgumentException("\"priority\" must be an integer from " + OutboundMessage.MIN_PRIORITY
                + " to " + OutboundMessage.MAX_PRIORITY + ", was " + shown(v));
    }

    private static Map<String, String> headers(Object v) {
        if (!(v instanceof Map<?, ?> given)) {
            throw new IllegalArgumentException("\"headers\" must be an object, was " + shown(v));
        }
        Map<String, String> headers = new LinkedHashMap<>();
        for (Map.Entry<?, ?> h : given.entrySet()) {
            String name = (String) h.getKey();
            if (!(h.getValue() instanceof String value)) {
                throw new IllegalArgumentException("header " + string(name) + " must be a string, was "
                        + shown(h.getValue()));
            }
            headers.put(name, value);
        }
        return headers;
    }

    /** @return a number as written, else the kind of value ({@code a string}, {@code null}) */
    private static String shown(Object v) {
        return v instanceof JsonReader.Number n && n.text().length() <= 30 ? n.text() : JsonReader.kind(v);
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
