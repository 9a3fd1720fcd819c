package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Message;
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
