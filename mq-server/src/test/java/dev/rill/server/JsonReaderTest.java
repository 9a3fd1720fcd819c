package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The strict JSON reader of {@code send --format json}: what JSON is, read as Jackson reads it; the rest refused. */
class JsonReaderTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** Reads a text as its UTF-8 bytes, as {@code send} reads a line or a MESSAGE. */
    private static Object read(String text) {
        return JsonReader.read(JsonReader.utf8(text));
    }

    @Test
    void readsEveryKindOfValueAsJacksonDoes() {
        String text = " {\"s\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u00C9\",\"n\":[0,-1,12.5e-3,1E+2,-0.0],"
                + "\"t\":true,\"f\":false,\"z\":null,\"o\":{},\"a\":[],\"nest\":{\"x\":[{\"y\":[]}]},"
                + "\"raw\":\"caf\u00e9 \u2028 \uD83D\uDE00 \u007f\"}\t\r\n";
        Object v = read(text);
        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("s", "a\"b\\c/d\b\f\n\r\t\u00e9\u00c9");
        expected.put("n", List.of(new JsonReader.Number("0"), new JsonReader.Number("-1"),
                new JsonReader.Number("12.5e-3"), new JsonReader.Number("1E+2"), new JsonReader.Number("-0.0")));
        expected.put("t", true);
        expected.put("f", false);
        expected.put("z", null);
        expected.put("o", Map.of());
        expected.put("a", List.of());
        expected.put("nest", Map.of("x", List.of(Map.of("y", List.of()))));
        expected.put("raw", "caf\u00e9 \u2028 \uD83D\uDE00 \u007f");
        assertThat(v).isEqualTo(expected);
        assertThat(new java.util.ArrayList<Object>(((Map<?, ?>) v).keySet())).containsExactly("s", "n", "t", "f", "z",
                "o", "a", "nest", "raw");
        JsonNode jackson = JSON.readTree(text);
        assertThat(jackson.get("s").stringValue()).isEqualTo(expected.get("s"));
        assertThat(jackson.get("raw").stringValue()).isEqualTo(expected.get("raw"));
        assertThat(((JsonReader.Number) ((List<?>) expected.get("n")).get(0)).isInteger()).isTrue();
        assertThat(new JsonReader.Number("12.5e-3").isInteger()).isFalse();
        assertThat(new JsonReader.Number("1E+2").isInteger()).isFalse();
        assertThat(read("\"x\"")).isEqualTo("x");
        assertThat(read("7")).isEqualTo(new JsonReader.Number("7"));
        assertThat(read("null")).isNull();
    }

    /** Every char as the writer escapes it, and every char that JSON may hold unescaped, written as it is. */
    @Test
    void everyCharReadsBackAsTheWriterWroteIt() {
        for (int c = 0; c <= 0xffff; c++) {
            if (Character.isSurrogate((char) c)) {
                continue;
            }
            String s = "a" + (char) c + "b";
            assertThat(read(JsonLines.string(s))).as("U+%04X", c).isEqualTo(s);
            if (c >= 0x20 && c != '"' && c != '\\') {
                assertThat(read("\"" + s + "\"")).as("raw U+%04X", c).isEqualTo(s);
            }
        }
        StringBuilder all = new StringBuilder();
        for (int c = 0; c <= 0xffff; c++) {
            if (!Character.isSurrogate((char) c)) {
                all.append((char) c);
            }
        }
        all.append("\uD800\uDC00\uDBFF\uDFFF\uD83D\uDE00");
        String everyChar = all.toString();
        // a payload (a span of the line) as UTF-8 bytes straight from the line: escaped as the writer does, and raw
        // (but for the control characters, each written \t here)
        String raw = everyChar.replace("\\", "\\\\").replace("\"", "\\\"").replaceAll("[\\x00-\\x1f]", "\\\\t");
        Map<String, String> lines = Map.of(JsonLines.string(everyChar), everyChar,
                "\"" + raw + "\"", everyChar.replaceAll("[\\x00-\\x1f]", "\t"));
        lines.forEach((string, expected) -> {
            Map<?, ?> fields = (Map<?, ?>) JsonReader.read(JsonReader.utf8("{\"payload\":" + string + "}"),
                    java.util.Set.of("payload"));
            JsonReader.Span span = (JsonReader.Span) fields.get("payload");
            assertThat(span.toString()).isEqualTo(expected);
            assertThat(span.utf8()).isEqualTo(expected.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        });
        String pair = "\uD800\uDC00 \uDBFF\uDFFF \uD83D\uDE00";
        assertThat(read(JsonLines.string(pair))).isEqualTo(pair);
        assertThat(read("\"" + pair + "\"")).isEqualTo(pair);
        // the other half raw: a text with half a pair has no UTF-8 form (JsonReader reads UTF-8), so is refused
        assertThatThrownBy(() -> read("\"\\ud83d\uDE00\"")).hasMessage("\\uDE00 at column 8 is half a surrogate"
                + " pair (a low surrogate without a high one before it): the string has no UTF-8 form");
    }

    @Test
    void whatIsNotExactlyOneJsonValueIsRefusedSayingWhatAndWhere() {
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("", "an empty line, no JSON value");
        cases.put("  ", "only whitespace, no JSON value");
        cases.put("hello", "a JSON value expected, found 'h' at column 1");
        cases.put("{\"a\":1} x", "text after the JSON value: 'x' at column 9");
        cases.put("{\"a\":1}{\"a\":2}", "text after the JSON value: '{' at column 8");
        cases.put("{\"a\":1,}", "a field name (a string) expected, found '}' at column 8");
        cases.put("{'a':1}", "a field name (a string) expected, found ''' at column 2");
        cases.put("{a:1}", "a field name (a string) expected, found 'a' at column 2");
        cases.put("{\"a\" 1}", "':' after the field name expected, found '1' at column 6");
        cases.put("{\"a\":1 \"b\":2}", "',' or '}' after a field expected, found '\"' at column 8");
        cases.put("{\"a\":", "a JSON value expected, found the end of the line at column 6");
        cases.put("{\"a\":1", "',' or '}' after a field expected, found the end of the line at column 7");
        cases.put("[1,]", "a JSON value expected, found ']' at column 4");
        cases.put("[1 2]", "',' or ']' after an array item expected, found '2' at column 4");
        cases.put("{\"a\":1,\"b\":{\"c\":2,\"c\":3}}", "\"c\" is given twice in one object, at column 19");
        cases.put("{\"a\":1,\"a\":1}", "\"a\" is given twice in one object, at column 8");
        cases.put("\"abc", "the end of the line inside a string (no closing '\"') at column 5");
        cases.put("\"a\\", "the end of the line inside a string (no closing '\"') at column 4");
        cases.put("\"a\tb\"", "a control character (U+0009) not escaped in a string (JSON writes it \\u0009) at column 3");
        cases.put("\"a\nb\"", "a control character (U+000A) not escaped in a string (JSON writes it \\u000A) at column 3");
        cases.put("\"\\x\"", "a bad escape, \\x (JSON has \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX) at column 2");
        cases.put("\"\\u12\"", "a bad escape: \\u takes four hex digits, found \"\\\\u12\\\"\" at column 2");
        cases.put("\"\\u00g0\"", "a bad escape: \\u takes four hex digits, found \"\\\\u00g0\" at column 2");
        // Character.digit takes fullwidth digits: JSON does not
        cases.put("\"\\u\uFF10\uFF10\uFF10\uFF10\"", "a bad escape: \\u takes four hex digits, found \"\\\\u\\uff10\\uff10\\uff10\\uff10\" at column 2");
        cases.put("\"\\ud800\"", "\\uD800 at column 2 is half a surrogate pair (a high surrogate without a low one after"
                + " it): the string has no UTF-8 form");
        cases.put("\"a\\ud800b\"", "\\uD800 at column 3 is half a surrogate pair (a high surrogate without a low one"
                + " after it): the string has no UTF-8 form");
        cases.put("\"\\ud800\\ud800\\udc00\"", "\\uD800 at column 2 is half a surrogate pair (a high surrogate"
                + " without a low one after it): the string has no UTF-8 form");
        cases.put("\"\\udc00\"", "\\uDC00 at column 2 is half a surrogate pair (a low surrogate without a high one"
                + " before it): the string has no UTF-8 form");
        cases.put("\"\\ud83d\\ude00\\ude00\"", "\\uDE00 at column 14 is half a surrogate pair (a low surrogate"
                + " without a high one before it): the string has no UTF-8 form");
        cases.put("\"\uDC00\"", "\\uDC00 at column 2 is half a surrogate pair (a low surrogate without a high one"
                + " before it): the string has no UTF-8 form");
        cases.put("\"\uD800\"", "\\uD800 at column 2 is half a surrogate pair (a high surrogate without a low one after"
                + " it): the string has no UTF-8 form");
        cases.put("01", "a bad number, 01 (a leading zero) at column 1");
        cases.put("-", "a bad number, - (no digit) at column 1");
        cases.put("+1", "a JSON value expected, found '+' at column 1");
        cases.put("1.", "a bad number, 1. (no digit after '.') at column 1");
        cases.put(".5", "a JSON value expected, found '.' at column 1");
        cases.put("1e", "a bad number, 1e (no digit in the exponent) at column 1");
        cases.put("NaN", "a JSON value expected, found 'N' at column 1");
        cases.put("True", "a JSON value expected, found 'T' at column 1");
        cases.put("nul", "a JSON value expected, found 'n' at column 1 (true, false and null are lower case, strings"
                + " are in double quotes)");
        cases.put("nullx", "text after the JSON value: 'x' at column 5");
        cases.put("\uFEFF{}", "a JSON value expected, found U+FEFF at column 1");
        cases.put("{}\u00a0", "text after the JSON value: U+00A0 at column 3");
        cases.put("{} // comment", "text after the JSON value: '/' at column 4");
        // a column counts characters, not the line's bytes; a character beyond ASCII is named as such
        cases.put("{\"caf\u00e9\":1,}", "a field name (a string) expected, found '}' at column 11");
        cases.put("\u00e9", "a JSON value expected, found U+00E9 at column 1");
        cases.put("[\"\u4e2d\uD83D\uDE00\",\uD83D\uDE00]", "a JSON value expected, found U+1F600 at column 7");
        cases.put("\"\u4e2d\\u\uD83D\uDE00123\"", "a bad escape: \\u takes four hex digits, found"
                + " \"\\\\u\\ud83d\\ude00123\" at column 3");
        cases.put("\"\u4e2d\\\u00e9\"", "a bad escape, \\U+00E9 (JSON has \\\" \\\\ \\/ \\b \\f \\n \\r \\t"
                + " \\uXXXX) at column 3");
        cases.put("[".repeat(65) + "]".repeat(65), "objects and arrays nested deeper than 64 levels at column 65");
        org.assertj.core.api.SoftAssertions.assertSoftly(soft -> cases.forEach((text, message) -> soft
                .assertThatThrownBy(() -> read(text)).as(JsonLines.string(text))
                .isInstanceOf(IllegalArgumentException.class).hasMessage(message)));
        // 64 levels are read
        assertThat(read("[".repeat(64) + "]".repeat(64))).isInstanceOf(List.class);
        // a line that deep is no stack overflow
        assertThatThrownBy(() -> read("[".repeat(100_000))).hasMessageContaining("nested deeper than 64");
    }

    /** Jackson, told to be as strict, refuses what the reader refuses (nothing refused is JSON after all). */
    @Test
    void jacksonAgreesThatTheRefusedTextsAreNotJson() {
        JsonMapper strict = JsonMapper.builder()
                .enable(tools.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .enable(tools.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();
        for (String text : List.of("{\"a\":1} x", "{\"a\":1,}", "{'a':1}", "{\"a\":1,\"a\":2}", "\"a\tb\"", "\"\\x\"",
                "01", "1.", "NaN", "nul", "\uFEFF{}")) {
            assertThatThrownBy(() -> strict.readTree(text)).as(text).isInstanceOf(Exception.class);
            assertThatThrownBy(() -> read(text)).as(text).isInstanceOf(IllegalArgumentException.class);
        }
    }
}
