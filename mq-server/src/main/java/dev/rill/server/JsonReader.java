package dev.rill.server;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
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
 * <p>It reads the UTF-8 bytes of the text, as {@link InputLines} hands a line on, not a {@code String} of it: a
 * {@code String} took two bytes a character as soon as one was beyond U+00FF, and a line at {@code send}'s limit
 * (a sixteenth of the heap) holding one ran {@code -Xmx32m} out of memory. The bytes must be UTF-8 ({@link InputLines}
 * checks a line, {@link #utf8(String)} encodes a text); a string's characters beyond ASCII are taken as their bytes.
 * A column in an error counts characters (code points), 1 the first.
 *
 * <p>Values: an object is a {@code Map<String, Object>} in its fields' order, an array a {@code List<Object>}, a
 * string a {@code String} (or a {@link Span}, see {@link #read(byte[], Set)}), a number a {@link Number} (its text
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
     * {@code String} or straight as their UTF-8 bytes, so a long payload is held once in the line and once as the
     * message's bytes, not also as a {@code String}.
     */
    static final class Span {
        private final byte[] text;
        private final int start;
        private final int end;
        private final boolean escaped;

        /**
         * @param start where its characters start, after the opening quote
         * @param end where its closing quote is
         * @param escaped whether it holds an escape
         */
        private Span(byte[] text, int start, int end, boolean escaped) {
            this.text = text;
            this.start = start;
            this.end = end;
            this.escaped = escaped;
        }

        /** @return the string's characters */
        @Override
        public String toString() {
            return escaped ? new String(utf8(), StandardCharsets.UTF_8)
                    : new String(text, start, end - start, StandardCharsets.UTF_8);
        }

        /** @return the string's characters in UTF-8 (exact: a string read holds no half of a surrogate pair) */
        byte[] utf8() {
            if (!escaped) {
                return Arrays.copyOfRange(text, start, end); // the line's own bytes
            }
            JsonReader r = new JsonReader(text, Set.of());
            byte[] out = new byte[r.unescape(start, end, null)];
            r.unescape(start, end, out);
            return out;
        }

        /** @return the string's UTF-8 bytes: the line's own, not copied, when it holds no escape */
        ByteBuffer bytes() {
            return escaped ? ByteBuffer.wrap(utf8()) : ByteBuffer.wrap(text, start, end - start);
        }
    }

    private final byte[] text;
    private final Set<String> spans;
    private int pos;

    private JsonReader(byte[] text, Set<String> spans) {
        this.text = text;
        this.spans = spans;
    }

    /**
     * Reads a text that holds exactly one JSON value (whitespace around it allowed).
     *
     * @param text the text's UTF-8 bytes
     * @return the value (see the class comment)
     * @throws IllegalArgumentException what is wrong and at which column (1 is the first character), e.g.
     *     {@code "key" is given twice in one object, at column 40}
     */
    static Object read(byte[] text) {
        return read(text, Set.of());
    }

    /**
     * Reads a text that holds exactly one JSON value, leaving some strings in it ({@link Span}).
     *
     * @param text the text's UTF-8 bytes
     * @param spans the fields of the outermost object whose strings are returned as {@link Span}s
     * @return the value (see the class comment)
     * @throws IllegalArgumentException what is wrong and at which column, as {@link #read(byte[])}
     */
    static Object read(byte[] text, Set<String> spans) {
        JsonReader r = new JsonReader(text, spans);
        r.whitespace();
        if (r.pos == text.length) {
            throw new IllegalArgumentException(text.length == 0 ? "an empty line, no JSON value"
                    : "only whitespace, no JSON value");
        }
        Object value = r.value(0);
        r.whitespace();
        if (r.pos < text.length) {
            throw r.error("text after the JSON value: " + r.describe(r.pos));
        }
        return value;
    }

    /**
     * The UTF-8 of a text given as a {@code String} (a command-line argument), for {@link #read(byte[])}.
     *
     * @param text the text
     * @return its UTF-8 bytes
     * @throws IllegalArgumentException when it holds half a surrogate pair, which has no UTF-8 form
     *     ({@link String#getBytes} writes {@code ?} for it: a payload sent would not be the one given)
     */
    static byte[] utf8(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
            } else if (Character.isHighSurrogate(c)) {
                throw loneHigh(c, text.codePointCount(0, i) + 1);
            } else if (Character.isLowSurrogate(c)) {
                throw loneLow(c, text.codePointCount(0, i) + 1);
            }
        }
        return text.getBytes(StandardCharsets.UTF_8);
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
        int c = peek();
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
            if (pos == text.length) {
                throw error("a JSON value expected, found the end of the line");
            }
            Object value = depth == 1 && peek() == '"' && spans.contains(name) ? span() : value(depth);
            if (fields.containsKey(name)) {
                throw new IllegalArgumentException(JsonLines.string(name) + " is given twice in one object, at"
                        + " column " + column(at));
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
            if (pos == text.length) {
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

    /** Reads a string ({@code pos} at its opening quote) as a {@code String}. */
    private String string() {
        return span().toString();
    }

    /**
     * Reads a string ({@code pos} at its opening quote), checking it whole, without copying its characters. Its text
     * is valid UTF-16: an escaped high surrogate must be followed at once by an escaped low one, and an escaped low
     * one preceded by a high one, else the string has no UTF-8 form (a character beyond ASCII written as its UTF-8
     * bytes is never half a pair).
     */
    private Span span() {
        int start = ++pos; // after the opening quote
        boolean escaped = false;
        int highAt = -1; // where a high surrogate waiting for its low one is
        char high = 0;
        while (true) {
            if (pos == text.length) {
                throw error("the end of the line inside a string (no closing '\"')");
            }
            int at = pos;
            int b = text[pos++] & 0xff;
            if (b == '"') {
                if (highAt >= 0) {
                    throw loneHigh(high, column(highAt));
                }
                return new Span(text, start, at, escaped);
            }
            if (b < 0x20) {
                pos = at;
                throw error("a control character (" + describe(at) + ") not escaped in a string (JSON writes it \\u"
                        + hex(b) + ")");
            }
            if (b != '\\') {
                if (highAt >= 0) {
                    throw loneHigh(high, column(highAt));
                }
                continue; // a character as it is, or a byte of one beyond ASCII
            }
            escaped = true;
            char c = escape(at);
            if (highAt >= 0 && !Character.isLowSurrogate(c)) {
                throw loneHigh(high, column(highAt));
            }
            if (Character.isLowSurrogate(c) && highAt < 0) {
                throw loneLow(c, column(at));
            }
            highAt = Character.isHighSurrogate(c) ? at : -1;
            high = c;
        }
    }

    /**
     * Writes the UTF-8 bytes of a string's characters, read (and checked) before: its bytes but for its escapes,
     * which are written as the characters they stand for.
     *
     * @param from where its characters start
     * @param to where its closing quote is
     * @param out where to write them, or null to count them only
     * @return how many bytes they are
     */
    private int unescape(int from, int to, byte[] out) {
        int n = 0;
        pos = from;
        while (pos < to) {
            if (text[pos] != '\\') {
                int run = pos;
                while (run < to && text[run] != '\\') {
                    run++;
                }
                if (out != null) {
                    System.arraycopy(text, pos, out, n, run - pos);
                }
                n += run - pos;
                pos = run;
                continue;
            }
            int cp = escape(pos++);
            if (Character.isHighSurrogate((char) cp)) { // its escaped low one follows: checked when it was read
                cp = Character.toCodePoint((char) cp, escape(pos++));
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
        return n;
    }

    private static IllegalArgumentException loneHigh(char high, int column) {
        return new IllegalArgumentException("\\u" + hex(high) + " at column " + column + " is half a surrogate pair"
                + " (a high surrogate without a low one after it): the string has no UTF-8 form");
    }

    private static IllegalArgumentException loneLow(char low, int column) {
        return new IllegalArgumentException("\\u" + hex(low) + " at column " + column + " is half a surrogate pair"
                + " (a low surrogate without a high one before it): the string has no UTF-8 form");
    }

    /**
     * Reads the escape whose backslash is at {@code at}.
     *
     * @param at where the backslash is; {@code pos} is after it on entry, after the escape on return
     */
    private char escape(int at) {
        pos = at + 1;
        if (pos == text.length) {
            throw error("the end of the line inside a string (no closing '\"')");
        }
        int e = text[pos] & 0xff;
        switch (e) {
            case '"':
            case '\\':
            case '/':
                pos++;
                return (char) e;
            case 'b':
                pos++;
                return '\b';
            case 'f':
                pos++;
                return '\f';
            case 'n':
                pos++;
                return '\n';
            case 'r':
                pos++;
                return '\r';
            case 't':
                pos++;
                return '\t';
            case 'u':
                pos++;
                int v = 0;
                for (int i = 0; i < 4; i++) {
                    int d = pos < text.length ? hexDigit(text[pos]) : -1;
                    if (d < 0) {
                        pos = at;
                        throw error("a bad escape: \\u takes four hex digits, found " + JsonLines.string(
                                chars(at, 6)));
                    }
                    v = v << 4 | d;
                    pos++;
                }
                return (char) v;
            default:
                int c = codePoint(pos);
                pos = at;
                throw error("a bad escape, \\" + (c >= 0x20 && c < 0x7f ? String.valueOf((char) c) : "U+" + hex(c))
                        + " (JSON has \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
        }
    }

    private static int hexDigit(byte c) {
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
        return new Number(new String(text, start, pos - start, StandardCharsets.US_ASCII));
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
        while (end < text.length && end - start < 20 && "+-.eE0123456789".indexOf(text[end]) >= 0) {
            end++;
        }
        pos = start;
        return error("a bad number, " + new String(text, start, end - start, StandardCharsets.US_ASCII) + " (" + why
                + ")");
    }

    private Object literal(String word, Object value) {
        if (!startsWith(word)) {
            throw new IllegalArgumentException("a JSON value expected, found " + describe(pos) + " at column "
                    + column(pos) + " (true, false and null are lower case, strings are in double quotes)");
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
        return pos < text.length ? text[pos] & 0xff : -1;
    }

    /** Skips JSON's whitespace: space, tab, LF, CR (nothing else). */
    private void whitespace() {
        while (pos < text.length) {
            byte c = text[pos];
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            pos++;
        }
    }

    /** @return the character at {@code at} for a message: {@code 'x'}, {@code U+00A0}, or the end of the line */
    private String describe(int at) {
        if (at >= text.length) {
            return "the end of the line";
        }
        int c = codePoint(at);
        return c > 0x20 && c < 0x7f ? "'" + (char) c + "'" : "U+" + hex(c);
    }

    private static String hex(int c) {
        return String.format(Locale.ROOT, "%04X", c);
    }

    private boolean startsWith(String word) {
        if (pos + word.length() > text.length) {
            return false;
        }
        for (int i = 0; i < word.length(); i++) {
            if (text[pos + i] != word.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    /** @return the character (code point) whose UTF-8 bytes start at {@code at} */
    private int codePoint(int at) {
        int b = text[at] & 0xff;
        if (b < 0x80) {
            return b;
        }
        int more = b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : 1;
        int c = b & 0x3f >> more;
        for (int i = 1; i <= more && at + i < text.length; i++) {
            c = c << 6 | text[at + i] & 0x3f;
        }
        return c;
    }

    /** @return the text of the {@code n} characters from {@code at} (fewer at the end of the line) */
    private String chars(int at, int n) {
        int end = at;
        for (int i = 0; i < n && end < text.length; i++) {
            end++;
            while (end < text.length && (text[end] & 0xc0) == 0x80) { // a continuation byte of the character
                end++;
            }
        }
        return new String(text, at, end - at, StandardCharsets.UTF_8);
    }

    /** @return the column of the character at {@code at}: the characters before it, plus 1 */
    private int column(int at) {
        int column = 1;
        for (int i = 0; i < at; i++) {
            if ((text[i] & 0xc0) != 0x80) { // not a continuation byte: a character starts here
                column++;
            }
        }
        return column;
    }

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException(what + " at column " + column(pos));
    }
}
