package dev.rill.server;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A strict reader of one JSON value (RFC 8259), for {@code rill send --format json} (the command line has no JSON
 * library at run time). Anything that is not exactly one JSON value is refused, with what is wrong and where:
 * trailing text, a field name twice in one object, an escape of half a surrogate pair without its other half (its
 * text could not be written as UTF-8), a control character not escaped, a bad escape, number or literal, whitespace
 * other than space, tab, CR and LF. No extension is taken: no comments, single quotes, trailing commas, NaN,
 * leading {@code +} or zeros.
 *
 * <p>Values: an object is a {@code Map<String, Object>} in its fields' order, an array a {@code List<Object>}, a
 * string a {@code String} (or a {@link Span}, see {@link #read(String, Set)}), a number a {@link Number} (its text
 * as written), {@code true}/{@code false} a {@code Boolean}, {@code null} Java's null.
 */
final class JsonReader {

    /** Objects and arrays nested deeper than this are refused (rather than a stack overflow on {@code [[[[...}). */
    static final int MAX_DEPTH = 64;

    /**
     * A JSON number, kept as written.
     *
     * @param text the number's text, e.g. {@code 3}, {@code -1.5e3}
     */
    record Number(String text) {
        /** @return whether it is written as an integer: no fraction, no exponent */
        boolean isInteger() {
            return text.indexOf('.') < 0 && text.indexOf('e') < 0 && text.indexOf('E') < 0;
        }
    }

    /**
     * A string of the text, checked but not copied out of it: its characters are made only when asked for, as a
     * {@code String} or straight as their UTF-8 bytes, so a long payload is not held as a {@code String} as well as
     * in the line and as bytes (a line at {@code send}'s limit, a sixteenth of the heap, went out of memory under
     * {@code -Xmx64m} that way).
     */
    static final class Span {
        private final String text;
        private final int quote;

        private Span(String text, int quote) {
            this.text = text;
            this.quote = quote;
        }

        /** @return the string's characters */
        @Override
        public String toString() {
            JsonReader r = new JsonReader(text, Set.of());
            r.pos = quote;
            return r.string(true);
        }

        /** @return the string's characters in UTF-8 (exact: a string read holds no half of a surrogate pair) */
        byte[] utf8() {
            JsonReader r = new JsonReader(text, Set.of());
            r.pos = quote;
            byte[] out = new byte[r.utf8(null)];
            r.pos = quote;
            r.utf8(out);
            return out;
        }
    }

    private final String text;
    private final Set<String> spans;
    private int pos;

    private JsonReader(String text, Set<String> spans) {
        this.text = text;
        this.spans = spans;
    }

    /**
     * Reads a text that holds exactly one JSON value (whitespace around it allowed).
     *
     * @param text the text
     * @return the value (see the class comment)
     * @throws IllegalArgumentException what is wrong and at which column (1 is the first character), e.g.
     *     {@code "key" is given twice in one object, at column 40}
     */
    static Object read(String text) {
        return read(text, Set.of());
    }

    /**
     * Reads a text that holds exactly one JSON value, leaving some strings in it ({@link Span}).
     *
     * @param text the text
     * @param spans the fields of the outermost object whose strings are returned as {@link Span}s
     * @return the value (see the class comment)
     * @throws IllegalArgumentException what is wrong and at which column, as {@link #read(String)}
     */
    static Object read(String text, Set<String> spans) {
        JsonReader r = new JsonReader(text, spans);
        r.whitespace();
        if (r.pos == text.length()) {
            throw new IllegalArgumentException(text.isEmpty() ? "an empty line, no JSON value"
                    : "only whitespace, no JSON value");
        }
        Object value = r.value(0);
        r.whitespace();
        if (r.pos < text.length()) {
            throw r.error("text after the JSON value: " + r.describe(r.pos));
        }
        return value;
    }

    /** @return what kind of JSON value this is, for messages: {@code a string}, {@code null}, ... */
    static String kind(Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof String || value instanceof Span) {
            return "a string";
        }
        if (value instanceof Number) {
            return "a number";
        }
        if (value instanceof Boolean) {
            return "a boolean";
        }
        return value instanceof Map ? "an object" : "an array";
    }

    private Object value(int depth) {
        char c = text.charAt(pos);
        switch (c) {
            case '{':
                return object(depth + 1);
            case '[':
                return array(depth + 1);
            case '"':
                return string();
            case 't':
                return literal("true", Boolean.TRUE);
            case 'f':
                return literal("false", Boolean.FALSE);
            case 'n':
                return literal("null", null);
            default:
                if (c == '-' || c >= '0' && c <= '9') {
                    return number();
                }
                throw error("a JSON value expected, found " + describe(pos));
        }
    }

    private Map<String, Object> object(int depth) {
        Map<String, Object> fields = new LinkedHashMap<>();
        if (open(depth, '}')) {
            return fields;
        }
        do {
            if (peek() != '"') {
                throw error("a field name (a string) expected, found " + describe(pos));
            }
            int at = pos;
            String name = string();
            whitespace();
            expect(':', "':' after the field name");
            whitespace();
            if (pos == text.length()) {
                throw error("a JSON value expected, found the end of the line");
            }
            Object value;
            if (depth == 1 && peek() == '"' && spans.contains(name)) {
                value = new Span(text, pos);
                string(false);
            } else {
                value = value(depth);
            }
            if (fields.containsKey(name)) {
                throw new IllegalArgumentException(JsonLines.string(name) + " is given twice in one object, at"
                        + " column " + (at + 1));
            }
            fields.put(name, value);
        } while (next('}', "',' or '}' after a field"));
        return fields;
    }

    private List<Object> array(int depth) {
        List<Object> items = new ArrayList<>();
        if (open(depth, ']')) {
            return items;
        }
        do {
            if (pos == text.length()) {
                throw error("a JSON value expected, found the end of the line");
            }
            items.add(value(depth));
        } while (next(']', "',' or ']' after an array item"));
        return items;
    }

    /**
     * Steps into an object or array ({@code pos} at its opening character).
     *
     * @return whether it is empty: its closing character came next, and was read
     */
    private boolean open(int depth, char close) {
        if (depth > MAX_DEPTH) {
            throw error("objects and arrays nested deeper than " + MAX_DEPTH + " levels");
        }
        pos++;
        whitespace();
        if (peek() == close) {
            pos++;
            return true;
        }
        return false;
    }

    /**
     * Reads what follows an item of an object or array.
     *
     * @return true after a comma (another item follows), false after the closing character
     */
    private boolean next(char close, String what) {
        whitespace();
        if (peek() == ',') {
            pos++;
            whitespace();
            return true;
        }
        expect(close, what);
        return false;
    }

    /**
     * Reads a string. Its text is valid UTF-16: a high surrogate (escaped or not) must be followed at once by a low
     * one, and a low one preceded by a high one, else the string has no UTF-8 form.
     */
    private String string() {
        return string(true);
    }

    /**
     * Reads a string, checking it whole.
     *
     * @param build whether to make its {@code String}; if not, null is returned ({@link Span})
     */
    private String string(boolean build) {
        int start = ++pos; // after the opening quote
        // the common case, a string without escapes: one copy of it
        int end = start;
        while (end < text.length()) {
            char c = text.charAt(end);
            if (c == '"' || c == '\\' || c < 0x20 || Character.isSurrogate(c)) {
                break;
            }
            end++;
        }
        if (end < text.length() && text.charAt(end) == '"') {
            pos = end + 1;
            return build ? text.substring(start, end) : null;
        }
        // the string's characters are at most its length in the line: the builder is never grown (copied)
        StringBuilder b = build ? new StringBuilder(rawLength(end) + (end - start)).append(text, start, end) : null;
        pos = end;
        int highAt = -1; // where a high surrogate waiting for its low one is
        char high = 0;
        while (true) {
            if (pos == text.length()) {
                throw error("the end of the line inside a string (no closing '\"')");
            }
            int at = pos;
            char c = text.charAt(pos++);
            if (c == '"') {
                if (highAt >= 0) {
                    throw loneHigh(high, highAt);
                }
                return build ? b.toString() : null;
            }
            if (c < 0x20) {
                pos = at;
                throw error("a control character (" + describe(at) + ") not escaped in a string (JSON writes it \\u"
                        + hex(c) + ")");
            }
            if (c == '\\') {
                c = escape(at);
            }
            if (highAt >= 0 && !Character.isLowSurrogate(c)) {
                throw loneHigh(high, highAt);
            }
            if (Character.isLowSurrogate(c) && highAt < 0) {
                throw new IllegalArgumentException("\\u" + hex(c) + " at column " + (at + 1) + " is half a surrogate"
                        + " pair (a low surrogate without a high one before it): the string has no UTF-8 form");
            }
            highAt = Character.isHighSurrogate(c) ? at : -1;
            high = c;
            if (build) {
                b.append(c);
            }
        }
    }

    /**
     * Writes the UTF-8 bytes of the string whose opening quote is at {@code pos}, read (and checked) before.
     *
     * @param out where to write them, or null to count them only
     * @return how many bytes they are
     */
    private int utf8(byte[] out) {
        pos++; // the opening quote
        int n = 0;
        while (true) {
            char c = text.charAt(pos++);
            if (c == '"') {
                return n;
            }
            int cp = c == '\\' ? escape(pos - 1) : c;
            if (Character.isHighSurrogate((char) cp)) { // its low one follows: checked when it was read
                char low = text.charAt(pos++);
                cp = Character.toCodePoint((char) cp, low == '\\' ? escape(pos - 1) : low);
            }
            int bytes = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            if (out != null) {
                if (bytes == 1) {
                    out[n] = (byte) cp;
                } else {
                    int shift = 6 * (bytes - 1);
                    out[n] = (byte) ((0xF00 >> bytes) | cp >> shift); // 110xxxxx, 1110xxxx, 11110xxx
                    for (int i = 1; i < bytes; i++) {
                        shift -= 6;
                        out[n + i] = (byte) (0x80 | cp >> shift & 0x3F);
                    }
                }
            }
            n += bytes;
        }
    }

    /** @return how many characters there are from {@code from} up to the string's closing quote (or the end) */
    private int rawLength(int from) {
        int i = from;
        while (i < text.length()) {
            char c = text.charAt(i);
            if (c == '"') {
                break;
            }
            i += c == '\\' ? 2 : 1;
        }
        return Math.min(i, text.length()) - from;
    }

    private IllegalArgumentException loneHigh(char high, int at) {
        return new IllegalArgumentException("\\u" + hex(high) + " at column " + (at + 1) + " is half a surrogate pair"
                + " (a high surrogate without a low one after it): the string has no UTF-8 form");
    }

    /** Reads the escape whose backslash is at {@code at}; {@code pos} is after the backslash. */
    private char escape(int at) {
        if (pos == text.length()) {
            throw error("the end of the line inside a string (no closing '\"')");
        }
        char e = text.charAt(pos++);
        switch (e) {
            case '"':
            case '\\':
            case '/':
                return e;
            case 'b':
                return '\b';
            case 'f':
                return '\f';
            case 'n':
                return '\n';
            case 'r':
                return '\r';
            case 't':
                return '\t';
            case 'u':
                int v = 0;
                for (int i = 0; i < 4; i++) {
                    int d = pos < text.length() ? hexDigit(text.charAt(pos)) : -1;
                    if (d < 0) {
                        pos = at;
                        throw error("a bad escape: \\u takes four hex digits, found " + JsonLines.string(
                                text.substring(at, Math.min(text.length(), at + 6))));
                    }
                    v = v << 4 | d;
                    pos++;
                }
                return (char) v;
            default:
                pos = at;
                throw error("a bad escape, \\" + (e >= 0x20 && e < 0x7f ? String.valueOf(e) : "U+" + hex(e))
                        + " (JSON has \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
        }
    }

    private static int hexDigit(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }

    /** {@code -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?} */
    private Number number() {
        int start = pos;
        if (peek() == '-') {
            pos++;
        }
        if (peek() == '0') {
            pos++;
            if (isDigit(peek())) {
                throw badNumber(start, "a leading zero");
            }
        } else if (!digits()) {
            throw badNumber(start, "no digit");
        }
        if (peek() == '.') {
            pos++;
            if (!digits()) {
                throw badNumber(start, "no digit after '.'");
            }
        }
        if (peek() == 'e' || peek() == 'E') {
            pos++;
            if (peek() == '+' || peek() == '-') {
                pos++;
            }
            if (!digits()) {
                throw badNumber(start, "no digit in the exponent");
            }
        }
        return new Number(text.substring(start, pos));
    }

    private boolean digits() {
        int start = pos;
        while (isDigit(peek())) {
            pos++;
        }
        return pos > start;
    }

    private static boolean isDigit(int c) {
        return c >= '0' && c <= '9';
    }

    private IllegalArgumentException badNumber(int start, String why) {
        int end = pos;
        while (end < text.length() && end - start < 20 && "+-.eE0123456789".indexOf(text.charAt(end)) >= 0) {
            end++;
        }
        pos = start;
        return error("a bad number, " + text.substring(start, end) + " (" + why + ")");
    }

    private Object literal(String word, Object value) {
        if (!text.startsWith(word, pos)) {
            throw new IllegalArgumentException("a JSON value expected, found " + describe(pos) + " at column "
                    + (pos + 1) + " (true, false and null are lower case, strings are in double quotes)");
        }
        pos += word.length();
        return value;
    }

    private void expect(char c, String what) {
        if (peek() != c) {
            throw error(what + " expected, found " + describe(pos));
        }
        pos++;
    }

    /** @return the character at {@code pos}, or -1 at the end of the line */
    private int peek() {
        return pos < text.length() ? text.charAt(pos) : -1;
    }

    /** Skips JSON's whitespace: space, tab, LF, CR (nothing else). */
    private void whitespace() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            pos++;
        }
    }

    /** @return the character at {@code at} for a message: {@code 'x'}, {@code U+00A0}, or the end of the line */
    private String describe(int at) {
        if (at >= text.length()) {
            return "the end of the line";
        }
        char c = text.charAt(at);
        return c > 0x20 && c < 0x7f ? "'" + c + "'" : "U+" + hex(c);
    }

    private static String hex(char c) {
        return String.format(Locale.ROOT, "%04X", (int) c);
    }

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException(what + " at column " + (pos + 1));
    }
}
