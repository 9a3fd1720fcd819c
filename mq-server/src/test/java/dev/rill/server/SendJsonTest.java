package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.netty.RillClient;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;

/**
 * {@code rill send --format json} against an in-process server: what {@code peek} and {@code consume --format json}
 * print, sent back, is the same messages; a line that is not a message ends the send with exit code 2 naming it.
 */
class SendJsonTest {

    private static final Duration T = Duration.ofSeconds(30);
    private static final AtomicInteger SEQ = new AtomicInteger();

    private static ReactiveBroker broker;
    private static RillServer server;
    private static String url;
    private static ReactiveBroker remote;

    @BeforeAll
    static void start() {
        broker = Rill.inMemory();
        server = RillServer.bindNow(ServerOptions.defaults().port(0).broker(broker).maxFrameSize(16 << 20), T);
        url = "rill://127.0.0.1:" + server.port();
        remote = RillClient.connect(URI.create(url)).block(T);
    }

    @AfterAll
    static void stop() {
        remote.close().block(T);
        server.disposeNow(T);
        broker.close().block(T);
    }

    private static String queue(String prefix) {
        return prefix + "-" + SEQ.incrementAndGet();
    }

    private static ReactiveQueue<byte[]> declare(String name) {
        return remote.queue(QueueSpec.named(name), Codec.bytes()).block(T);
    }

    private static Cli.Result rill(String stdin, String... args) {
        String[] all = new String[args.length + 2];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "--url";
        all[args.length + 1] = url;
        return Cli.runWithInput(stdin, all);
    }

    private static QueueStats stats(String name) {
        return broker.stats().block(T).stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }

    /** A message as the comparison sees it: everything send --format json sends. */
    private record Sent(String payloadBase64, String key, int priority, Map<String, String> headers) {
        static Sent of(Message<byte[]> m) {
            return new Sent(Base64.getEncoder().encodeToString(m.payload()), m.key(), m.priority(), m.headers());
        }
    }

    private static List<Sent> messages(String queue) {
        return declare(queue).peek(1000).map(Sent::of).collectList().block(T);
    }

    /** Every char U+0000..U+FFFF but the surrogates, then pairs of them (4-byte UTF-8). */
    private static String everyChar() {
        StringBuilder all = new StringBuilder();
        for (int c = 0; c <= 0xffff; c++) {
            if (!Character.isSurrogate((char) c)) {
                all.append((char) c);
            }
        }
        return all.append("\uD800\uDC00\uD83D\uDE00\uDBFF\uDFFF").toString();
    }

    @Test
    void whatPeekAndConsumePrintSendsBackAsTheSameMessages() {
        String q = queue("source");
        ReactiveQueue<byte[]> source = declare(q);
        String all = everyChar();
        String odd = "k \"q\" \\ / \u0000\u0001\u001f\u007f\u0080 caf\u00e9 \u2028\u2029 \uFEFF \uFFFF \uD83D\uDE00 {n}";
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("x-rill-dead-letter-reason", odd);
        headers.put(odd, "v\r\n\t\"\\");
        headers.put("{n}", "{n}");
        byte[] binary = new byte[4096];
        new Random(42).nextBytes(binary);
        for (int b = 0; b < 256; b++) {
            binary[b] = (byte) b;
        }
        List<OutboundMessage<byte[]>> sent = new ArrayList<>();
        sent.add(OutboundMessage.of(all.getBytes(StandardCharsets.UTF_8)).key(odd).priority(3).headers(headers));
        sent.add(OutboundMessage.of(binary).priority(9).header("content-type", "image/png"));
        sent.add(OutboundMessage.of(new byte[0]));
        sent.add(OutboundMessage.of("order {n}".getBytes(StandardCharsets.UTF_8)).key("{n}"));
        sent.add(OutboundMessage.of(new byte[] {(byte) 0xed, (byte) 0xa0, (byte) 0x80})); // a surrogate, as UTF-8
        // every char in a key, a header name and a header value too (each at most 1024 chars)
        for (int i = 0; i < all.length(); i += 1024) {
            String chunk = all.substring(i, Math.min(all.length(), i + 1024));
            if (Character.isHighSurrogate(chunk.charAt(chunk.length() - 1))) {
                chunk = chunk.substring(0, chunk.length() - 1);
            }
            sent.add(OutboundMessage.of(("chunk " + i).getBytes(StandardCharsets.UTF_8)).key(chunk)
                    .header(chunk, chunk));
        }
        source.sendMany(Flux.fromIterable(sent)).blockLast(T);
        List<Sent> original = messages(q);
        assertThat(original).hasSize(sent.size());

        Cli.Result peek = rill("", "peek", q, "--format", "json", "--max", "1000");
        assertThat(peek.code()).as(peek.toString()).isZero();
        assertThat(peek.out().lines()).hasSize(sent.size());
        String copy = queue("copy");
        Cli.Result send = rill(peek.out(), "send", copy, "--create", "--format", "json");
        assertThat(send.code()).as(send.toString()).isZero();
        assertThat(send.out()).contains("sent " + sent.size() + " message(s) to " + copy);
        assertThat(messages(copy)).containsExactlyElementsOf(original);
        // and peeked again, the lines are the same but for the queue, the ids and the times
        Cli.Result again = rill("", "peek", copy, "--format", "json", "--max", "1000");
        assertThat(strip(again.out())).isEqualTo(strip(peek.out()));

        // consume's lines have the delivery count too: ignored as well
        Cli.Result consumed = rill("", "consume", q, "--format", "json", "--count", String.valueOf(sent.size()));
        assertThat(consumed.code()).as(consumed.toString()).isZero();
        assertThat(consumed.out()).contains("\"delivery\":1");
        String copy2 = queue("copy");
        declare(copy2);
        Cli.Result send2 = rill(consumed.out(), "send", copy2, "--format", "json");
        assertThat(send2.code()).as(send2.toString()).isZero();
        assertThat(messages(copy2)).containsExactlyElementsOf(original);
        await().atMost(T).untilAsserted(() -> assertThat(stats(q).acked()).isEqualTo(sent.size()));
    }

    /** The lines without what the server gives each message. */
    private static List<String> strip(String lines) {
        return lines.lines().map(l -> l.replaceFirst("^\\{\"queue\":\"[^\"]*\",\"id\":\\d+,\"timestamp\":\"[^\"]*\",",
                "{")).toList();
    }

    @Test
    void messageArgumentsAreJsonObjectsTooAndTheOptionsThatTheLinesDoNotCarryApply() {
        String q = queue("args");
        declare(q);
        Cli.Result r = rill("", "send", q, "--format", "json", "--delay", "1h", "--dedup-id", "d-{n}", "--count", "3",
                "{\"payload\":\"a {n}\",\"key\":\"k\",\"priority\":2,\"headers\":{\"h\":\"v\"}}",
                "{\"encoding\":\"base64\",\"payload\":\"/w==\"}");
        assertThat(r.code()).as(r.toString()).isZero();
        assertThat(r.out()).contains("sent 3 message(s) to " + q);
        assertThat(stats(q).delayed()).isEqualTo(3);
        // --dedup-id d-{n}: the same three again are duplicates (a restore can be run again safely)
        Cli.Result again = rill("{\"payload\":\"x\"}\n{\"payload\":\"y\"}\n{\"payload\":\"z\"}\n{\"payload\":\"w\"}\n",
                "send", q, "--format", "json", "--dedup-id", "d-{n}");
        assertThat(again.code()).as(again.toString()).isZero();
        assertThat(again.out()).contains("sent 4 message(s) to " + q + " (3 duplicate(s) dropped)");
        assertThat(stats(q).delayed()).isEqualTo(3);
        assertThat(stats(q).ready()).isEqualTo(1);
        assertThat(declare(q).peek(5).map(m -> new String(m.payload(), StandardCharsets.UTF_8)).collectList().block(T))
                .containsExactly("w");

        // --key, --priority and --header would replace or merge with what each object says
        for (String[] option : List.of(new String[] {"--key", "k"}, new String[] {"--priority", "1"},
                new String[] {"-H", "a=b"})) {
            Cli.Result refused = rill("", "send", q, "--format", "json", option[0], option[1], "{\"payload\":\"x\"}");
            assertThat(refused.code()).as(refused.toString()).isEqualTo(ExitCodes.USAGE);
            assertThat(refused.err()).contains("rill send: --key, --priority and --header do not go with --format"
                    + " json: each JSON object gives its message's key, priority and headers");
        }
        Cli.Result bad = rill("", "send", q, "--format", "json", "{\"payload\":\"ok\"}", "{\"payload\":\"ok\"} {}");
        assertThat(bad.code()).as(bad.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(bad.err()).contains("rill send: MESSAGE 2 is not a message in JSON (--format json): text after the"
                + " JSON value: '{' at column 18");
        assertThat(stats(q).ready()).isEqualTo(1); // nothing of it was sent
    }

    /** Each line that is not a message: exit code 2 naming the line and the problem, the lines before it sent. */
    @Test
    void aLineThatIsNotAMessageEndsTheSendNamingItAndNothingAfterItIsSent() {
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("hello", "a JSON value expected, found 'h' at column 1");
        cases.put("", "an empty line, no JSON value");
        cases.put("[{\"payload\":\"a\"}]", "not a JSON object but an array");
        cases.put("{\"payload\":\"a\"} x", "text after the JSON value: 'x' at column 17");
        cases.put("{\"payload\":\"a\"", "',' or '}' after a field expected, found the end of the line at column 15");
        cases.put("{\"encoding\":\"hex\",\"payload\":\"00\"}", "\"encoding\" is \"hex\": text or base64");
        cases.put("{\"encoding\":\"base64\",\"payload\":\"%%%\"}", "\"payload\" is not base64 (\"encoding\":\"base64\"):"
                + " Illegal base64 character 25");
        cases.put("{\"payload\":\"a\\ud800\"}", "\\uD800 at column 14 is half a surrogate pair (a high surrogate"
                + " without a low one after it): the string has no UTF-8 form");
        cases.put("{\"payload\":\"\\udfff\"}", "\\uDFFF at column 13 is half a surrogate pair (a low surrogate without"
                + " a high one before it): the string has no UTF-8 form");
        cases.put("{\"payload\":\"a\",\"payload\":\"b\"}", "\"payload\" is given twice in one object, at column 16");
        cases.put("{\"payload\":\"a\",\"headers\":{\"h\":\"1\",\"h\":\"2\"}}", "\"h\" is given twice in one object, at"
                + " column 35");
        cases.put("{\"payload\":\"a\",\"priority\":\"4\"}", "\"priority\" must be an integer from 0 to 9, was a string");
        cases.put("{\"payload\":\"a\",\"priority\":12}", "\"priority\" must be an integer from 0 to 9, was 12");
        cases.put("{\"payload\":true}", "\"payload\" must be a string, was a boolean");
        cases.put("{\"payload\":\"a\",\"headers\":{\"h\":null}}", "header \"h\" must be a string, was null");
        cases.put("{\"payload\":\"a\",\"key\":\"\"}", "key must be 1..1024 characters, was 0");
        cases.put("{\"payload\":\"a\",\"prio\":1}", "unknown field \"prio\"");
        cases.put("{\"key\":\"k\"}", "no \"payload\"");
        cases.put("{\"payload\":\"a\tb\"}", "a control character (U+0009) not escaped in a string (JSON writes it"
                + " \\u0009) at column 14");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            String q = queue("bad");
            declare(q);
            Cli.Result r = rill("{\"payload\":\"first\"}\r\n" + c.getKey() + "\n{\"payload\":\"third\"}\n", "send", q,
                    "--format", "json");
            assertThat(r.code()).as(c.getKey() + ": " + r).isEqualTo(ExitCodes.USAGE);
            assertThat(r.err()).as(c.getKey()).contains("rill send: line 2 of standard input is not a message in JSON"
                    + " (--format json): " + c.getValue())
                    .contains("; the 1 message(s) before it were sent to " + q + ", none after it");
            assertThat(messages(q)).extracting(Sent::payloadBase64).as(c.getKey())
                    .containsExactly(Base64.getEncoder().encodeToString("first".getBytes(StandardCharsets.UTF_8)));
        }
        // a bad first line: nothing sent, the error alone
        String q = queue("bad");
        declare(q);
        Cli.Result first = rill("{\"payload\":1}\n", "send", q, "--format", "json");
        assertThat(first.code()).as(first.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(first.err()).isEqualTo("rill send: line 1 of standard input is not a message in JSON (--format"
                + " json): \"payload\" must be a string, was 1" + System.lineSeparator());
        assertThat(stats(q).ready()).isZero();
    }

    /** With many lines sent ahead of their answers, the count of those sent before the bad one is still exact. */
    @Test
    void aBadLineAfterAThousandGoodOnesSaysAThousandWereSent() {
        String q = queue("many");
        declare(q);
        StringBuilder input = new StringBuilder();
        for (int i = 1; i <= 1000; i++) {
            input.append("{\"payload\":\"m").append(i).append("\",\"priority\":").append(i % 10).append("}\n");
        }
        input.append("{\"payload\":\"m1001\",\"encoding\":\"utf-8\"}\n{\"payload\":\"m1002\"}\n");
        Cli.Result r = rill(input.toString(), "send", q, "--format", "json");
        assertThat(r.code()).as(r.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(r.err()).contains("line 1001 of standard input is not a message in JSON (--format json):"
                + " \"encoding\" is \"utf-8\": text or base64; the 1000 message(s) before it were sent to " + q
                + ", none after it");
        assertThat(stats(q).ready()).isEqualTo(1000);
    }
}
