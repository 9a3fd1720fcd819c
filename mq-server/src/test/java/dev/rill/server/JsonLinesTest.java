package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The JSON lines of {@code --format json}, written by hand, read back by Jackson. */
class JsonLinesTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** Every char there is, one by one: control characters, quotes, U+2028/9, lone and paired surrogate halves. */
    @Test
    void everyCharReadsBackAsItselfAndTheLineIsPrintableAscii() {
        StringBuilder all = new StringBuilder();
        for (int c = 0; c <= 0xffff; c++) {
            all.append((char) c);
        }
        all.append("\uD83D\uDE00 a\u2028b\u2029c \"q\" \\ /"); // a pair (U+1F600) and the rest again in context
        String quoted = JsonLines.string(all.toString());
        assertThat(quoted.chars()).allMatch(c -> c >= 0x20 && c < 0x7f);
        assertThat(JSON.readTree(quoted).stringValue()).isEqualTo(all.toString());
        for (String s : new String[] {"", "\u0000", "\u001f", "\u007f", "\u2028", "\uD800", "\uDFFF", "\"", "\\",
            "\r\n", "\uD83D\uDE00"}) {
            assertThat(JSON.readTree(JsonLines.string(s)).stringValue()).as("%s", JsonLines.string(s)).isEqualTo(s);
        }
        assertThat(JsonLines.string("a\"b\\c\n\u2028\u00e9")).isEqualTo("\"a\\\"b\\\\c\\n\\u2028\\u00e9\"");
    }

    @Test
    void aMessageIsOneObjectWithItsHeadersAndItsPayloadAsTextOrBase64() {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("x-rill-dead-letter-reason", "bad data = \"late\"\nsecond line");
        headers.put("a", "");
        String text = "line 1\nline 2\r\n\ttab \u2028 \uD83D\uDE00 caf\u00e9";
        Message<byte[]> m = new Message<>(17, text.getBytes(StandardCharsets.UTF_8), "k 1", 3, headers, 1_000L);
        String line = JsonLines.message("orders", m, 2);
        assertThat(line).doesNotContain("\n").doesNotContain("\r");
        JsonNode n = JSON.readTree(line);
        assertThat(n.get("queue").stringValue()).isEqualTo("orders");
        assertThat(n.get("id").asLong()).isEqualTo(17);
        assertThat(n.get("delivery").asInt()).isEqualTo(2);
        assertThat(n.get("timestamp").stringValue()).isEqualTo("1970-01-01T00:00:01Z");
        assertThat(n.get("key").stringValue()).isEqualTo("k 1");
        assertThat(n.get("priority").asInt()).isEqualTo(3);
        assertThat(n.get("headers").size()).isEqualTo(2);
        assertThat(n.get("headers").get("x-rill-dead-letter-reason").stringValue())
                .isEqualTo("bad data = \"late\"\nsecond line");
        assertThat(n.get("headers").get("a").stringValue()).isEmpty();
        assertThat(n.get("encoding").stringValue()).isEqualTo("text");
        assertThat(n.get("payload").stringValue()).isEqualTo(text);

        byte[] binary = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, (byte) 0xff};
        JsonNode b = JSON.readTree(JsonLines.message("imgs", new Message<>(1, binary, null, 0, Map.of(), 0L), null));
        assertThat(b.has("delivery")).isFalse(); // peek: nothing was delivered
        assertThat(b.get("key").isNull()).isTrue();
        assertThat(b.get("headers").size()).isZero();
        assertThat(b.get("encoding").stringValue()).isEqualTo("base64");
        assertThat(Base64.getDecoder().decode(b.get("payload").stringValue())).isEqualTo(binary);
    }

    /** send --format json reads back what consume and peek write: payload bytes, key, priority, headers. */
    @Test
    void aWrittenMessageReadsBackAsTheSameMessage() {
        StringBuilder all = new StringBuilder();
        for (int c = 0; c <= 0xffff; c++) {
            if (!Character.isSurrogate((char) c)) {
                all.append((char) c);
            }
        }
        all.append("\uD83D\uDE00\uDBFF\uDFFF");
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("x-rill-dead-letter-reason", "bad \"data\"\\\n\u0000\u001f\u007f caf\u00e9 \u2028 \uD83D\uDE00");
        headers.put("na\tme \"q\"", "v");
        byte[] text = all.toString().getBytes(StandardCharsets.UTF_8);
        byte[] binary = new byte[512];
        for (int i = 0; i < binary.length; i++) {
            binary[i] = (byte) (i * 7);
        }
        for (byte[] payload : new byte[][] {text, binary, new byte[0]}) {
            Message<byte[]> m = new Message<>(17, payload, "k \"1\" \\ \u0001 \u00e9\uD83D\uDE00", 7, headers, 1_000L);
            for (Integer delivery : new Integer[] {null, 3}) {
                OutboundMessage<byte[]> read = JsonLines.read(JsonLines.message("orders", m, delivery));
                assertThat(read.payload()).isEqualTo(payload);
                assertThat(read.key()).isEqualTo(m.key());
                assertThat(read.priority()).isEqualTo(7);
                assertThat(read.headers()).isEqualTo(headers);
                assertThat(read.delay()).isZero();
                assertThat(read.dedupId()).isNull();
            }
        }
        OutboundMessage<byte[]> least = JsonLines.read("{\"payload\":\"hi {n}\"}");
        assertThat(least.payload()).isEqualTo("hi {n}".getBytes(StandardCharsets.UTF_8));
        assertThat(least.key()).isNull();
        assertThat(least.priority()).isZero();
        assertThat(least.headers()).isEmpty();
        OutboundMessage<byte[]> spaced = JsonLines.read(" { \"key\" : null , \"headers\" : { } , \"encoding\" :"
                + " \"base64\" , \"payload\" : \"aGk\\u003d\" , \"priority\" : 9 } ");
        assertThat(spaced.payload()).isEqualTo("hi".getBytes(StandardCharsets.UTF_8));
        assertThat(spaced.priority()).isEqualTo(9);
    }

    @Test
    void aLineThatIsNotAMessageIsRefusedSayingWhy() {
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("[{\"payload\":\"a\"}]", "not a JSON object but an array");
        cases.put("\"a\"", "not a JSON object but a string");
        cases.put("{}", "no \"payload\"");
        cases.put("{\"payload\":null}", "\"payload\" must be a string, was null");
        cases.put("{\"payload\":12}", "\"payload\" must be a string, was 12");
        cases.put("{\"payload\":\"a\",\"encoding\":\"hex\"}", "\"encoding\" is \"hex\": text or base64");
        cases.put("{\"payload\":\"a\",\"encoding\":\"Base64\"}", "\"encoding\" is \"Base64\": text or base64");
        cases.put("{\"payload\":\"a\",\"encoding\":null}", "\"encoding\" must be a string, was null");
        cases.put("{\"encoding\":\"base64\",\"payload\":\"%%%\"}", "\"payload\" is not base64"
                + " (\"encoding\":\"base64\"): Illegal base64 character 25");
        cases.put("{\"encoding\":\"base64\",\"payload\":\"aGk=\\n\"}", "\"payload\" is not base64"
                + " (\"encoding\":\"base64\"): Input byte array has incorrect ending byte at 4");
        // decoded from the line's bytes: the error is the payload's, not the line's (where the decoder stopped)
        cases.put("{\"encoding\":\"base64\",\"payload\":\"aGk=aGk=\"}", "\"payload\" is not base64"
                + " (\"encoding\":\"base64\"): " + base64Error("aGk=aGk="));
        cases.put("{\"encoding\":\"base64\",\"payload\":\"aGk\u00e9\"}", "\"payload\" is not base64"
                + " (\"encoding\":\"base64\"): it holds a character beyond ASCII");
        cases.put("{\"payload\":\"a\uD800\"}", "\\uD800 at column 14 is half a surrogate pair (a high surrogate"
                + " without a low one after it): the string has no UTF-8 form");
        cases.put("{\"payload\":\"a\",\"priority\":\"4\"}", "\"priority\" must be an integer from 0 to 9, was a"
                + " string");
        cases.put("{\"payload\":\"a\",\"priority\":10}", "\"priority\" must be an integer from 0 to 9, was 10");
        cases.put("{\"payload\":\"a\",\"priority\":-1}", "\"priority\" must be an integer from 0 to 9, was -1");
        cases.put("{\"payload\":\"a\",\"priority\":4.0}", "\"priority\" must be an integer from 0 to 9, was 4.0");
        cases.put("{\"payload\":\"a\",\"priority\":null}", "\"priority\" must be an integer from 0 to 9, was null");
        cases.put("{\"payload\":\"a\",\"key\":5}", "\"key\" must be a string, was 5");
        cases.put("{\"payload\":\"a\",\"key\":\"\"}", "key must be 1..1024 characters, was 0");
        cases.put("{\"payload\":\"a\",\"headers\":[]}", "\"headers\" must be an object, was an array");
        cases.put("{\"payload\":\"a\",\"headers\":null}", "\"headers\" must be an object, was null");
        cases.put("{\"payload\":\"a\",\"headers\":{\"h\":1}}", "header \"h\" must be a string, was 1");
        cases.put("{\"payload\":\"a\",\"headers\":{\"h\":\"\"}}", "header value must be 1..1024 characters, was 0");
        cases.put("{\"payload\":\"a\",\"headers\":{\"h\":\"1\",\"h\":\"2\"}}", "\"h\" is given twice in one"
                + " object, at column 35");
        cases.put("{\"payload\":\"a\",\"id\":\"17\"}", "\"id\" must be an integer, was a string");
        cases.put("{\"payload\":\"a\",\"delivery\":1.5}", "\"delivery\" must be an integer, was 1.5");
        cases.put("{\"payload\":\"a\",\"queue\":1}", "\"queue\" must be a string, was 1");
        cases.put("{\"payload\":\"a\",\"timestamp\":0}", "\"timestamp\" must be a string, was 0");
        cases.put("{\"payload\":\"a\",\"prio\":1}", "unknown field \"prio\" (a message has payload, encoding, key,"
                + " priority and headers; queue, id, delivery and timestamp are ignored)");
        cases.put("{\"payload\":\"a\",\"dedupId\":\"x\"}", "unknown field \"dedupId\" (a message has payload,"
                + " encoding, key, priority and headers; queue, id, delivery and timestamp are ignored)");
        org.assertj.core.api.SoftAssertions.assertSoftly(soft -> cases.forEach((text, message) -> soft
                .assertThatThrownBy(() -> JsonLines.read(text)).as(text)
                .isInstanceOf(IllegalArgumentException.class).hasMessage(message)));
    }

    private static String base64Error(String payload) {
        try {
            Base64.getDecoder().decode(payload);
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
        throw new AssertionError(payload + " is base64");
    }

    @Test
    void theTextFormatsQuoteAKeyOrHeaderThatIsNotOneWord() {
        assertThat(ConsumeCommand.word("plain-value_1.2")).isEqualTo("plain-value_1.2");
        assertThat(ConsumeCommand.word("caf\u00e9")).isEqualTo("caf\u00e9");
        assertThat(ConsumeCommand.word("bad data")).isEqualTo("\"bad data\"");
        assertThat(ConsumeCommand.word("a=b")).isEqualTo("\"a=b\"");
        assertThat(ConsumeCommand.word("two\nlines")).isEqualTo("\"two\\nlines\"");
        assertThat(ConsumeCommand.word("nbsp\u00a0")).isEqualTo("\"nbsp\\u00a0\"");
        assertThat(ConsumeCommand.word("")).isEqualTo("\"\"");
    }
}
