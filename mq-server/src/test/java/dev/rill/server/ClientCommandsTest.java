package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.netty.Permission;
import dev.rill.netty.Permissions;
import dev.rill.netty.ClientOptions;
import dev.rill.netty.RillClient;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;

/** Every client command against an in-process server on 127.0.0.1 (OS-chosen port), with tokens. */
class ClientCommandsTest {

    private static final Duration T = Duration.ofSeconds(10);
    private static final String ADMIN = "admin-token";
    private static final String PRODUCER = "producer-token";
    private static final AtomicInteger SEQ = new AtomicInteger();

    private static ReactiveBroker broker;
    private static RillServer server;
    private static String url;
    /** Sets up and checks queues over the wire: the served broker itself holds the server's byte[] payloads. */
    private static ReactiveBroker remote;

    @BeforeAll
    static void start() {
        broker = Rill.inMemory();
        server = RillServer.bindNow(ServerOptions.defaults().port(0).broker(broker)
                .token(ADMIN, Permissions.all())
                .token(PRODUCER, Permissions.none().allow("prod*", Permission.SEND)), T);
        url = "rill://127.0.0.1:" + server.port();
        remote = RillClient.connect(URI.create(url), ClientOptions.defaults().token(ADMIN)).block(T);
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

    private static Cli.Result admin(String command, String... args) {
        String[] all = new String[args.length + 5];
        all[0] = command;
        all[1] = "--url";
        all[2] = url;
        all[3] = "--token";
        all[4] = ADMIN;
        System.arraycopy(args, 0, all, 5, args.length);
        return Cli.run(all);
    }

    private static ReactiveQueue<String> declare(QueueSpec spec) {
        return remote.queue(spec, Codec.utf8()).block(T);
    }

    private static QueueStats stats(String name) {
        return broker.stats().block(T).stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void sendFromArgumentsWithCountKeyAndPriority() {
        String q = queue("orders");
        Cli.Result r = admin("send", q, "--create", "--count", "5", "--key", "k{n}", "--priority", "3", "order {n}");
        assertThat(r.code()).as(r.toString()).isZero();
        assertThat(r.out()).contains("sent 5 message(s) to " + q);
        List<Message<String>> peeked = declare(QueueSpec.named(q)).peek(10).collectList().block(T);
        assertThat(peeked).extracting(Message::payload)
                .containsExactly("order 1", "order 2", "order 3", "order 4", "order 5");
        assertThat(peeked).extracting(Message::key).containsExactly("k1", "k2", "k3", "k4", "k5");
        assertThat(peeked).extracting(Message::priority).containsOnly(3);
    }

    @Test
    void sendReadsStandardInputLinesAndDeduplicates() {
        String q = queue("lines");
        declare(QueueSpec.named(q));
        Cli.Result r = Cli.runWithInput("alpha\nbeta\ngamma\n", "send", q, "--url", url, "--token", ADMIN);
        assertThat(r.code()).as(r.toString()).isZero();
        assertThat(r.out()).contains("sent 3 message(s)");
        Cli.Result dup = admin("send", q, "--dedup-id", "same", "one", "two");
        assertThat(dup.code()).as(dup.toString()).isZero();
        assertThat(dup.out()).contains("sent 2 message(s)").contains("1 duplicate(s) dropped");
        assertThat(stats(q).ready()).isEqualTo(4);
    }

    @Test
    void sendWithRateAndDelay() {
        String q = queue("paced");
        declare(QueueSpec.named(q));
        Cli.Result r = admin("send", q, "--count", "20", "--rate", "200", "--delay", "1h", "m{n}");
        assertThat(r.code()).as(r.toString()).isZero();
        QueueStats s = stats(q);
        assertThat(s.delayed()).isEqualTo(20);
        assertThat(s.ready()).isZero();
    }

    @Test
    void aPacedSendFromStandardInputSendsEachLineAsItComes() throws Exception {
        String q = queue("tail");
        declare(QueueSpec.named(q));
        PipedOutputStream typed = new PipedOutputStream();
        PipedInputStream stdin = new PipedInputStream(typed);
        CompletableFuture<Cli.Result> send = CompletableFuture.supplyAsync(() -> Cli.run(stdin, p -> { }, "send", q,
                "--url", url, "--token", ADMIN, "--rate", "1000"));
        typed.write("first\n".getBytes(StandardCharsets.UTF_8));
        typed.flush();
        // above 100/s the lines went in bursts (of 10 at 1000/s): the first line waited for nine more
        await().atMost(Duration.ofSeconds(20)).until(() -> stats(q).ready() == 1);
        typed.write("second\n".getBytes(StandardCharsets.UTF_8));
        typed.close();
        Cli.Result r = send.get(30, TimeUnit.SECONDS);
        assertThat(r.code()).as(r.toString()).isZero();
        assertThat(r.out()).contains("sent 2 message(s)");
        assertThat(declare(QueueSpec.named(q)).peek(5).map(Message::payload).collectList().block(T))
                .containsExactly("first", "second");
    }

    @Test
    void consumeAcksPrintsAndStopsAfterCount() {
        String q = queue("work");
        ReactiveQueue<String> rq = declare(QueueSpec.named(q));
        rq.sendMany(reactor.core.publisher.Flux.range(1, 5).map(i -> OutboundMessage.of("job " + i))).blockLast(T);
        Cli.Result r = admin("consume", q, "--count", "3");
        assertThat(r.code()).as(r.toString()).isZero();
        assertThat(r.out().lines().toList()).containsExactly("job 1", "job 2", "job 3");
        QueueStats s = stats(q);
        assertThat(s.acked()).isEqualTo(3);
        assertThat(s.ready()).isEqualTo(2);
        assertThat(s.inFlight()).isZero();
    }

    @Test
    void consumeNackGivesBackAndIdleStops() {
        String q = queue("retry");
        ReactiveQueue<String> rq = declare(QueueSpec.named(q));
        rq.send(OutboundMessage.of("again")).block(T);
        Cli.Result r = admin("consume", q, "--nack", "--nack-delay", "1h", "--idle", "300ms", "--verbose");
        assertThat(r.code()).as(r.toString()).isZero();
        assertThat(r.out()).contains("delivery=1").contains("again").contains("# 1 message(s) nacked");
        QueueStats s = stats(q);
        assertThat(s.nacked()).isEqualTo(1);
        assertThat(s.delayed()).isEqualTo(1);
    }

    @Test
    void consumeRejectDeadLettersAndPeekShowsTheReasonWithoutLeasing() {
        String q = queue("pay");
        String dlq = q + ".dlq";
        ReactiveQueue<String> rq = declare(QueueSpec.named(q).maxDeliveries(2).deadLetterQueue(dlq));
        rq.send(OutboundMessage.of("bad card")).block(T);
        Cli.Result r = admin("consume", q, "--reject", "fraud suspected", "--count", "1");
        assertThat(r.code()).as(r.toString()).isZero();
        Cli.Result peek = admin("peek", dlq);
        assertThat(peek.code()).as(peek.toString()).isZero();
        assertThat(peek.out()).contains("bad card").contains(Message.HEADER_DEAD_LETTER_REASON + "=\"fraud suspected\"")
                .contains(Message.HEADER_SOURCE_QUEUE + "=" + q).contains("# 1 message(s) shown, none leased");
        Cli.Result again = admin("peek", dlq, "--max", "5");
        assertThat(again.out()).contains("bad card");
        QueueStats s = stats(dlq);
        assertThat(s.ready()).isEqualTo(1);
        assertThat(s.delivered()).isZero();
    }

    @Test
    void aConsumeCutOffByTheServerGoingAwaySaysHowManyMessagesItAckedAndHowManyPrintedMayComeAgain() {
        RillServer own = RillServer.bindNow(ServerOptions.defaults().port(0), T);
        try {
            ReactiveQueue<String> q = own.broker().queue(QueueSpec.named("cut"), Codec.utf8()).block(T);
            for (String m : List.of("m1", "m2", "m3")) {
                q.send(OutboundMessage.of(m)).block(T);
            }
            // standard output that stops the server once the second message is printed, before it is acked
            java.io.StringWriter printed = new java.io.StringWriter() {
                @Override
                public void write(String str, int off, int len) {
                    super.write(str, off, len);
                    if (toString().contains("m2") && own.connectionCount() > 0) {
                        own.disposeNow(T);
                    }
                }
            };
            Cli.Result r = Cli.run(java.io.InputStream.nullInputStream(), printed, p -> { }, "consume", "cut",
                    "--url", "rill://127.0.0.1:" + own.port(), "--count", "3", "--timeout", "3s");
            // the ack of m2 fails: the lease is over or the connection is lost, as the server's close goes
            assertThat(r.code()).as(r.toString()).isIn(ExitCodes.FAILED, ExitCodes.UNAVAILABLE);
            assertThat(r.out()).isEqualTo("m1\nm2\n");
            // it said why the ack failed, that m1 had been acked, and that m2, printed, was not: it may come again
            assertThat(r.err()).as(r.toString()).contains("(after 2 message(s) printed, 1 of them acked; the last 1"
                    + " printed may be delivered again)");
        } finally {
            own.disposeNow(T);
        }
    }

    @Test
    void consumeRejectIsRefusedOnAQueueWithoutADeadLetterQueueRatherThanDroppingWhatItPrints() {
        String q = queue("nodlq");
        ReactiveQueue<String> rq = declare(QueueSpec.named(q));
        rq.send(OutboundMessage.of("keep me")).block(T);
        Cli.Result r = admin("consume", q, "--reject", "bad data", "--count", "1");
        assertThat(r.code()).as(r.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(r.err()).contains("--reject: queue '" + q + "' has no dead-letter queue, so a rejected message"
                + " would be dropped");
        // it printed the message and dropped it: the queue had nowhere to put it
        assertThat(stats(q).ready()).isEqualTo(1);
        assertThat(stats(q).delivered()).isZero();
    }

    @Test
    void binaryPayloadsAreNeverPrintedLossilyNorAckedAndGoThroughBase64Exactly() {
        String q = queue("bin");
        ReactiveQueue<byte[]> bytes = remote.queue(QueueSpec.named(q), Codec.bytes()).block(T);
        byte[] image = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, (byte) 0xff};
        bytes.send(OutboundMessage.of("first".getBytes(StandardCharsets.UTF_8))).block(T);
        bytes.send(OutboundMessage.of(image)).block(T);
        bytes.send(OutboundMessage.of("third".getBytes(StandardCharsets.UTF_8))).block(T);

        // peek as text: the binary one is named, not shown with its bytes replaced
        Cli.Result peek = admin("peek", q);
        assertThat(peek.code()).as(peek.toString()).isZero();
        assertThat(peek.out()).contains("\tfirst").contains("\t<10 bytes, not UTF-8 text>").contains("\tthird")
                .contains("# 3 message(s) shown, none leased; 1 not shown as text (--format json or base64 shows them)")
                .doesNotContain("\uFFFD");

        // consume as text: it stops at the binary one without printing or acking it (it printed "\uFFFDPNG..." and
        // acked it: the only copy of the bytes was deleted)
        Cli.Result text = admin("consume", q, "--count", "3");
        assertThat(text.code()).as(text.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(text.out().lines().toList()).containsExactly("first");
        assertThat(text.err()).contains("is not UTF-8 text (10 bytes): not printed and not settled")
                .contains("--format json or base64").contains("stopped after 1 message(s) acked");
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            QueueStats s = stats(q);
            assertThat(s.acked()).isEqualTo(1);
            assertThat(s.ready()).isEqualTo(2);
        });

        // base64 round trip: consume prints it exactly, send takes it back, the bytes are the same
        Cli.Result b64 = admin("consume", q, "--count", "1", "--format", "base64");
        assertThat(b64.code()).as(b64.toString()).isZero();
        String line = b64.out().strip();
        assertThat(java.util.Base64.getDecoder().decode(line)).isEqualTo(image);
        String copy = queue("bin-copy");
        remote.queue(QueueSpec.named(copy), Codec.bytes()).block(T);
        Cli.Result fromArgs = admin("send", copy, "--format", "base64", line);
        assertThat(fromArgs.code()).as(fromArgs.toString()).isZero();
        Cli.Result fromInput = Cli.runWithInput(line + "\n" + "dGhpcmQ=\n", "send", copy, "--format", "BASE64",
                "--url", url, "--token", ADMIN);
        assertThat(fromInput.code()).as(fromInput.toString()).isZero();
        assertThat(remote.queue(QueueSpec.named(copy), Codec.bytes()).block(T).peek(5).map(Message::payload)
                .collectList().block(T)).containsExactly(image, image, "third".getBytes(StandardCharsets.UTF_8));
        Cli.Result peek64 = admin("peek", copy, "--format", "base64");
        assertThat(peek64.out()).contains("\t" + line).doesNotContain("not UTF-8");
    }

    /**
     * A payload with line breaks printed as several lines, which read back (rill send, a script) as several messages,
     * and the ack had deleted the one message they came from; a header value with a space read as two fields.
     */
    @Test
    void textOutputNeverSplitsAPayloadOverLinesNorAHeaderValueOverFields() {
        String q = queue("lines");
        ReactiveQueue<String> rq = declare(QueueSpec.named(q));
        rq.send(OutboundMessage.of("one")).block(T);
        rq.send(OutboundMessage.of("{\n  \"pretty\": true\n}").header("reason", "bad data").key("k 1")).block(T);
        rq.send(OutboundMessage.of("ends with CR\r")).block(T);

        Cli.Result peek = admin("peek", q);
        assertThat(peek.code()).as(peek.toString()).isZero();
        assertThat(peek.out().lines().toList()).hasSize(4);
        assertThat(peek.out()).contains(" key=\"k 1\" reason=\"bad data\"\t<20 bytes, text with a line break>")
                .contains("\t<13 bytes, text with a line break>")
                .contains("# 3 message(s) shown, none leased; 2 not shown as text (--format json or base64 shows them)");

        Cli.Result text = admin("consume", q, "--count", "3");
        assertThat(text.code()).as(text.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(text.out().lines().toList()).containsExactly("one");
        assertThat(text.err()).contains("is text with a line break (20 bytes): not printed and not settled")
                .contains("stopped after 1 message(s) acked");
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            QueueStats s = stats(q);
            assertThat(s.acked()).isEqualTo(1);
            assertThat(s.ready()).isEqualTo(2);
        });
    }

    @Test
    void consumeAndPeekFormatJsonWriteEachMessageWholeOnOneLineThatParsesBack() {
        String q = queue("json");
        ReactiveQueue<byte[]> bytes = remote.queue(QueueSpec.named(q), Codec.bytes()).block(T);
        String pretty = "{\n  \"pretty\": \"caf\u00e9 \u2028 \uD83D\uDE00\"\n}\r\n";
        byte[] image = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, (byte) 0xff};
        bytes.send(OutboundMessage.of(pretty.getBytes(StandardCharsets.UTF_8)).header("reason", "bad data = \"x\"")
                .key("k 1").priority(4)).block(T);
        bytes.send(OutboundMessage.of(image)).block(T);
        bytes.send(OutboundMessage.of(new byte[0])).block(T);
        tools.jackson.databind.json.JsonMapper json = tools.jackson.databind.json.JsonMapper.builder().build();

        Cli.Result peek = admin("peek", q, "--format", "json");
        assertThat(peek.code()).as(peek.toString()).isZero();
        // standard output holds the JSON lines only: the count goes to standard error
        assertThat(peek.err()).contains("# 3 message(s) shown, none leased");
        List<tools.jackson.databind.JsonNode> peeked = peek.out().lines().map(json::readTree).toList();
        assertThat(peeked).hasSize(3);

        Cli.Result consumed = admin("consume", q, "--count", "3", "--format", "json", "--verbose");
        assertThat(consumed.code()).as(consumed.toString()).isZero();
        assertThat(consumed.err()).contains("# 3 message(s) acked");
        List<tools.jackson.databind.JsonNode> lines = consumed.out().lines().map(json::readTree).toList();
        assertThat(lines).hasSize(3);
        for (List<tools.jackson.databind.JsonNode> nodes : List.of(peeked, lines)) {
            tools.jackson.databind.JsonNode first = nodes.get(0);
            assertThat(first.get("queue").stringValue()).isEqualTo(q);
            assertThat(first.get("key").stringValue()).isEqualTo("k 1");
            assertThat(first.get("priority").asInt()).isEqualTo(4);
            assertThat(first.get("headers").get("reason").stringValue()).isEqualTo("bad data = \"x\"");
            assertThat(first.get("encoding").stringValue()).isEqualTo("text");
            assertThat(first.get("payload").stringValue()).isEqualTo(pretty);
            assertThat(nodes.get(1).get("encoding").stringValue()).isEqualTo("base64");
            assertThat(java.util.Base64.getDecoder().decode(nodes.get(1).get("payload").stringValue()))
                    .isEqualTo(image);
            assertThat(nodes.get(1).get("key").isNull()).isTrue();
            assertThat(nodes.get(2).get("payload").stringValue()).isEmpty();
            assertThat(nodes.get(2).get("encoding").stringValue()).isEqualTo("text");
            assertThat(nodes).extracting(n -> n.get("id").asLong()).doesNotHaveDuplicates();
        }
        assertThat(lines).extracting(n -> n.get("delivery").asInt()).containsOnly(1);
        assertThat(peeked).allMatch(n -> !n.has("delivery"));
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(stats(q).acked()).isEqualTo(3));
        // send --format json reads these lines back: SendJsonTest
    }

    @Test
    void sendRefusesInputThatIsNotBase64NamingWhereAndSendingNothingAfterIt() {
        String q = queue("b64");
        declare(QueueSpec.named(q));
        Cli.Result arg = admin("send", q, "--format", "base64", "aGk=", "not base64!");
        assertThat(arg.code()).as(arg.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(arg.err()).contains("MESSAGE 2 is not base64 (--format base64)");
        Cli.Result lines = Cli.runWithInput("aGk=\n%%%\naGk=\n", "send", q, "--format", "base64", "--url", url,
                "--token", ADMIN);
        assertThat(lines.code()).as(lines.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(lines.err()).contains("line 2 of standard input is not base64 (--format base64)")
                .contains("the 1 message(s) before it were sent to " + q + ", none after it");
        assertThat(declare(QueueSpec.named(q)).peek(5).map(Message::payload).collectList().block(T))
                .containsExactly("hi");
        Cli.Result bad = admin("consume", q, "--format", "hex");
        assertThat(bad.code()).as(bad.toString()).isEqualTo(ExitCodes.USAGE);
        // in the words of the help and the docs, lower case (was "expected one of [TEXT, BASE64, JSON]")
        for (String cmd : List.of("consume", "peek", "send")) {
            Cli.Result yaml = cmd.equals("send") ? admin(cmd, q, "--format", "yaml", "x")
                    : admin(cmd, q, "--format", "yaml");
            assertThat(yaml.code()).as(yaml.toString()).isEqualTo(ExitCodes.USAGE);
            assertThat(yaml.err()).as(cmd).contains("rill " + cmd + ": Invalid value for option '--format': 'yaml' is"
                    + " not a format: text, base64 or json").doesNotContain("TEXT");
        }
        Cli.Result upper = admin("peek", q, "--format", "BASE64"); // still read in any case
        assertThat(upper.code()).as(upper.toString()).isZero();
        assertThat(upper.out()).contains("aGk="); // "hi"
    }

    @Test
    void consumePrintSettlesNothing() {
        String q = queue("look");
        declare(QueueSpec.named(q)).send(OutboundMessage.of("x")).block(T);
        Cli.Result r = admin("consume", q, "--print", "--count", "1", "--max-unacked", "1");
        assertThat(r.code()).as(r.toString()).isZero();
        assertThat(r.out()).isEqualTo("x" + System.lineSeparator());
        // not settled: the command's connection closing released the lease, so the message is ready again
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            QueueStats s = stats(q);
            assertThat(s.ready()).isEqualTo(1);
            assertThat(s.delivered()).isEqualTo(1);
            assertThat(s.acked()).isZero();
            assertThat(s.deadLettered()).isZero();
        });
    }

    @Test
    void consumeNeverAcksWhatItCouldNotPrintNorLeasesAMessageBeforePrintingTheOneItHolds() {
        String q = queue("piped");
        ReactiveQueue<String> rq = declare(QueueSpec.named(q));
        rq.sendMany(reactor.core.publisher.Flux.just("a", "b", "c").map(OutboundMessage::of)).blockLast(T);
        // rill consume q | head -1: after the first line nothing can be written; the rest was acked unread
        Cli.Result r = Cli.run(java.io.InputStream.nullInputStream(), new Cli.BrokenAfterOneLine(), p -> { },
                "consume", q, "--url", url, "--token", ADMIN, "--count", "3");
        assertThat(r.code()).as(r.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(r.out()).isEqualTo("a" + System.lineSeparator());
        assertThat(r.err()).contains("cannot write to standard output (closed?): stopped after 1 message(s) acked");
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            QueueStats s = stats(q);
            assertThat(s.acked()).isEqualTo(1);
            assertThat(s.inFlight()).isZero();
            assertThat(s.ready()).isEqualTo(2);
            // b was leased once (it could not be printed); c never: the next is asked for only after a settle
            assertThat(s.delivered()).isEqualTo(2);
        });
    }

    @Test
    void consumeWithPrefetchPrintsAndAcksEveryMessageOnceInOrder() {
        String q = queue("drain");
        ReactiveQueue<String> rq = declare(QueueSpec.named(q));
        rq.sendMany(reactor.core.publisher.Flux.range(1, 2000).map(i -> OutboundMessage.of("m" + i))).blockLast(T);
        Cli.Result r = admin("consume", q, "--prefetch", "256", "--idle", "1s", "--verbose");
        assertThat(r.code()).as(r.toString()).isZero();
        List<String> lines = r.out().lines().toList();
        assertThat(lines).hasSize(2001).last().isEqualTo("# 2000 message(s) acked");
        assertThat(lines.subList(0, 2000)).extracting(l -> l.substring(l.indexOf('\t') + 1))
                .containsExactlyElementsOf(java.util.stream.IntStream.rangeClosed(1, 2000).mapToObj(i -> "m" + i)
                        .toList());
        QueueStats s = stats(q);
        assertThat(s.acked()).isEqualTo(2000);
        assertThat(s.delivered()).isEqualTo(2000);
        assertThat(s.ready() + s.inFlight()).isZero();
    }

    @Test
    void consumeGivesBackWhatItLeasedAheadUncountedWhenItStops() {
        String q = queue("ahead");
        ReactiveQueue<String> rq = declare(QueueSpec.named(q));
        rq.sendMany(reactor.core.publisher.Flux.range(1, 20).map(i -> OutboundMessage.of("m" + i))).blockLast(T);
        // up to 10 leased ahead; standard output closes after the first line, so m2 is not printed and the
        // command stops with the ones after it leased and not printed
        Cli.Result r = Cli.run(java.io.InputStream.nullInputStream(), new Cli.BrokenAfterOneLine(), p -> { },
                "consume", q, "--url", url, "--token", ADMIN, "--prefetch", "10");
        assertThat(r.code()).as(r.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(r.out()).isEqualTo("m1" + System.lineSeparator());
        assertThat(r.err()).contains("stopped after 1 message(s) acked");
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            QueueStats s = stats(q);
            assertThat(s.acked()).isEqualTo(1);
            assertThat(s.inFlight()).isZero();
            assertThat(s.ready()).isEqualTo(19);
        });
        // m2 was taken to be printed: its delivery counts (it comes back with the connection's close, as before);
        // the ones leased ahead were released, not left to the closing connection, so their next delivery is their
        // first (a nack on close made it their second)
        Cli.Result next = admin("consume", q, "--count", "19", "--verbose");
        assertThat(next.code()).as(next.toString()).isZero();
        List<String> lines = next.out().lines().limit(19).toList();
        assertThat(lines).filteredOn(l -> l.endsWith("\tm2")).singleElement().asString().contains(" delivery=2");
        assertThat(lines).filteredOn(l -> !l.endsWith("\tm2")).hasSize(18)
                .allSatisfy(l -> assertThat(l).contains(" delivery=1"));
    }

    @Test
    void consumeEndsAtARefusedAckAlsoWhileItWaitsForTheNextMessage() throws Exception {
        String q = queue("stale");
        ReactiveQueue<String> rq = declare(QueueSpec.named(q));
        rq.send(OutboundMessage.of("a")).block(T);
        // the queue is purged once its message is printed: that message's lease is stale, its ack refused, and no
        // other message ever comes (--count 2). Acks sent without waiting for their answers must still end the command
        // (it waited for the next message for ever)
        java.io.StringWriter printed = new java.io.StringWriter() {
            private boolean purged;

            @Override
            public void flush() { // the command flushes each line it printed before it settles the message
                super.flush();
                if (!purged && toString().contains("\n")) {
                    purged = true;
                    rq.purge().block(T);
                }
            }
        };
        Cli.Result r = CompletableFuture.supplyAsync(() -> Cli.run(java.io.InputStream.nullInputStream(), printed,
                p -> { }, "consume", q, "--url", url, "--token", ADMIN, "--count", "2")).get(30, TimeUnit.SECONDS);
        assertThat(r.code()).as(r.toString()).isNotZero();
        assertThat(r.out()).as(r + " " + stats(q)).isEqualTo("a" + System.lineSeparator());
        assertThat(r.err()).contains("(after 1 message(s) printed, 0 of them acked; the last 1 printed may be delivered"
                + " again)");
        assertThat(stats(q).acked()).isZero();
    }

    @Test
    void consumePrintEndsAtMaxUnackedInsteadOfWaitingForever() throws Exception {
        String q = queue("held");
        declare(QueueSpec.named(q)).sendMany(reactor.core.publisher.Flux.just("x", "y", "z")
                .map(OutboundMessage::of)).blockLast(T);
        // --print holds what it printed: with --max-unacked 2 the third never came and the command waited forever
        Cli.Result r = CompletableFuture.supplyAsync(() -> admin("consume", q, "--print", "--max-unacked", "2"))
                .get(30, TimeUnit.SECONDS);
        assertThat(r.code()).as(r.toString()).isZero();
        assertThat(r.out().lines().toList()).containsExactly("x", "y");
    }

    @Test
    void sendFromStandardInputRefusesBytesThatAreNotUtf8NamingTheLineAndWhatWasSent() {
        String q = queue("binary");
        declare(QueueSpec.named(q));
        byte[] input = {'o', 'k', '1', '\r', '\n', (byte) 0xff, (byte) 0xfe, ' ', 'x', '\n', 'o', 'k', '3', '\n'};
        Cli.Result r = Cli.runWithInput(input, "send", q, "--url", url, "--token", ADMIN);
        // was: "sent 3 message(s)", the bad bytes replaced by U+FFFD
        assertThat(r.code()).as(r.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(r.err()).contains("line 2 of standard input is not UTF-8 text")
                .contains("the 1 message(s) before it were sent to " + q + ", none after it");
        assertThat(declare(QueueSpec.named(q)).peek(5).map(Message::payload).collectList().block(T))
                .containsExactly("ok1");
    }

    @Test
    void aSendThatFailsMidwaySaysHowManyWereSent() {
        String q = queue("partial");
        declare(QueueSpec.named(q));
        String big = "b".repeat(2 * 1024 * 1024); // above the server's frame size
        Cli.Result r = Cli.runWithInput("a1\na2\n" + big + "\nc\n", "send", q, "--url", url, "--token", ADMIN);
        assertThat(r.code()).as(r.toString()).isEqualTo(ExitCodes.REFUSED);
        assertThat(r.err()).contains("exceeds the server's maximum frame size")
                .contains("; the 2 message(s) before it were sent to " + q + ", none after it");
        assertThat(declare(QueueSpec.named(q)).peek(5).map(Message::payload).collectList().block(T))
                .containsExactly("a1", "a2");
        // one message that fails: the error alone
        Cli.Result one = admin("send", q, big);
        assertThat(one.code()).as(one.toString()).isEqualTo(ExitCodes.REFUSED);
        assertThat(one.err()).doesNotContain("were sent");
    }

    @Test
    void aSendToAFullQueueEndsAfterTheTimeoutSayingTheQueueIsFull() {
        String q = queue("full");
        ReactiveQueue<String> full = declare(QueueSpec.named(q).capacity(3));
        full.send(OutboundMessage.of("first")).block(T);
        // it waited for room in silence, however long, whatever --timeout said
        Cli.Result r = CompletableFuture.supplyAsync(() -> admin("send", q, "--timeout", "500ms", "a", "b", "c", "d"))
                .orTimeout(20, TimeUnit.SECONDS).join();
        assertThat(r.code()).as(r.toString()).isEqualTo(ExitCodes.REFUSED);
        assertThat(r.err()).contains("queue '" + q + "' is full (3 of 3 messages): no room for the next message"
                + " within 500ms (--timeout); the 2 message(s) before it were sent to " + q + ", none after it");
        assertThat(full.peek(10).map(Message::payload).collectList().block(T)).containsExactly("first", "a", "b");
    }

    @Test
    void sendCreateMaxBytesBoundsTheNewQueueByItsPayloads() {
        String q = queue("bytes");
        Cli.Result r = CompletableFuture.supplyAsync(() -> admin("send", q, "--create", "--max-bytes", "1KiB",
                "--timeout", "500ms", "a".repeat(600), "b".repeat(600))).orTimeout(20, TimeUnit.SECONDS).join();
        assertThat(r.code()).as(r.toString()).isEqualTo(ExitCodes.REFUSED);
        assertThat(r.err()).contains("queue '" + q + "' is full (600 of 1024 bytes): no room for the next message"
                + " within 500ms (--timeout); the 1 message(s) before it were sent to " + q + ", none after it");
        assertThat(remote.lookup(q, Codec.utf8()).block(T).spec().maxBytes()).hasValue(1024);
        assertThat(stats(q).size()).isEqualTo(1);
        Cli.Result bad = admin("send", queue("bytes2"), "--create", "--max-bytes", "0", "x");
        assertThat(bad.code()).as(bad.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(bad.err()).contains("--max-bytes must be >= 1, was 0");
        Cli.Result noCreate = admin("send", q, "--max-bytes", "1KiB", "x");
        assertThat(noCreate.err()).as(noCreate.toString()).contains("--max-bytes describe a queue to create");
    }

    @Test
    void statsPrintsATable() {
        String q = queue("tab");
        declare(QueueSpec.named(q)).send(OutboundMessage.of("x")).block(T);
        Cli.Result r = admin("stats", q);
        assertThat(r.code()).as(r.toString()).isZero();
        List<String> lines = r.out().lines().toList();
        assertThat(lines).hasSize(2);
        assertThat(lines.get(0)).startsWith("QUEUE").contains("READY", "IN_FLIGHT", "ACKED", "DEAD_LETTERED");
        assertThat(lines.get(1).split("\\s+")).startsWith(q, "1", "0", "0", "1");
        Cli.Result all = admin("stats");
        assertThat(all.code()).isZero();
        assertThat(all.out()).contains(q);
        Cli.Result unknown = admin("stats", q, "no-such-queue");
        assertThat(unknown.code()).as(unknown.toString()).isEqualTo(ExitCodes.UNKNOWN_QUEUE);
        assertThat(unknown.err()).contains("unknown queue 'no-such-queue'");
    }

    @Test
    void purgeAndRedrive() {
        String q = queue("drive");
        String dlq = q + ".dlq";
        ReactiveQueue<String> rq = declare(QueueSpec.named(q).maxDeliveries(1).deadLetterQueue(dlq));
        rq.send(OutboundMessage.of("a")).block(T);
        rq.send(OutboundMessage.of("b")).block(T);
        rq.receive().take(2).flatMap(d -> d.reject("no")).blockLast(T);
        assertThat(stats(dlq).ready()).isEqualTo(2);

        Cli.Result redrive = admin("redrive", dlq, "--max", "1");
        assertThat(redrive.code()).as(redrive.toString()).isZero();
        assertThat(redrive.out()).contains("moved 1 message(s) from " + dlq);
        assertThat(stats(q).ready()).isEqualTo(1);
        assertThat(stats(dlq).ready()).isEqualTo(1);

        // a queue's own messages carry no source: redrive says so and points at --to, which moves them anywhere
        Cli.Result noSource = admin("redrive", q);
        assertThat(noSource.code()).as(noSource.toString()).isEqualTo(ExitCodes.REFUSED);
        assertThat(noSource.err()).contains("no x-rill-source-queue header").contains("--to");
        Cli.Result to = admin("redrive", dlq, "--to", q);
        assertThat(to.code()).as(to.toString()).isZero();
        assertThat(to.out()).contains("moved 1 message(s) from " + dlq + " to " + q);
        assertThat(stats(q).ready()).isEqualTo(2);
        assertThat(stats(dlq).ready()).isZero();
        Cli.Result nowhere = admin("redrive", dlq, "--to", q + ".nowhere");
        assertThat(nowhere.code()).as(nowhere.toString()).isEqualTo(ExitCodes.UNKNOWN_QUEUE);
        assertThat(nowhere.err()).contains("unknown queue '" + q + ".nowhere'");

        Cli.Result purge = admin("purge", q);
        assertThat(purge.code()).as(purge.toString()).isZero();
        assertThat(purge.out()).contains("purged 2 message(s) from " + q);
        assertThat(stats(q).size()).isZero();
    }

    @Test
    void aRedriveStoppedByAFullQueueSaysHowManyMessagesItLeft() {
        String q = queue("small");
        String dlq = q + ".dlq";
        ReactiveQueue<String> rq = declare(QueueSpec.named(q).capacity(2).maxDeliveries(1).deadLetterQueue(dlq));
        rq.send(OutboundMessage.of("a")).block(T);
        rq.send(OutboundMessage.of("b")).block(T);
        rq.receive().take(2).flatMap(d -> d.reject("no")).blockLast(T);
        rq.send(OutboundMessage.of("c")).block(T);
        rq.send(OutboundMessage.of("d")).block(T);
        Cli.Result full = admin("redrive", dlq);
        assertThat(full.code()).as(full.toString()).isZero();
        // "moved 0 message(s) ..." alone, with both still in the dead-letter queue
        assertThat(full.out()).contains("moved 0 message(s) from " + dlq + " back to their source queue(s); stopped"
                + " at a full receiving queue: 2 message(s) left in " + dlq);
        String parking = queue("parking");
        declare(QueueSpec.named(parking));
        Cli.Result one = admin("redrive", dlq, "--to", parking, "--max", "1");
        assertThat(one.code()).as(one.toString()).isZero();
        assertThat(one.out()).contains("moved 1 message(s)").doesNotContain("stopped"); // --max reached
    }

    @Test
    void unknownQueueExitsFive() {
        for (String cmd : List.of("consume", "peek", "send", "purge", "stats")) {
            Cli.Result r = cmd.equals("send") ? admin(cmd, "no-such-queue", "x") : admin(cmd, "no-such-queue");
            assertThat(r.code()).as(cmd + ": " + r).isEqualTo(ExitCodes.UNKNOWN_QUEUE);
            // every command names the server and how to find the queues (purge said only "purging ...: unknown
            // queue 'no-such-queue'")
            assertThat(r.err()).as(cmd).contains("unknown queue 'no-such-queue' on " + url
                    + " ('rill stats' lists the queues; rill send --create creates it)");
        }
        Cli.Result redrive = admin("redrive", "no-such-dlq");
        assertThat(redrive.code()).as(redrive.toString()).isEqualTo(ExitCodes.UNKNOWN_QUEUE);
        assertThat(redrive.err()).contains("unknown queue 'no-such-dlq' on " + url + " ('rill stats' lists the queues");
    }

    @Test
    void commandsUseAnExistingQueueAsItIsWithoutItsSettings() {
        String q = queue("strict");
        declare(QueueSpec.named(q).maxDeliveries(4).deadLetterQueue(q + ".dlq").visibilityTimeout(
                Duration.ofMinutes(2)));
        for (List<String> cmd : List.of(List.of("send", q, "one", "two"), List.of("peek", q),
                List.of("consume", q, "--count", "1"), List.of("consume", q, "--nack", "--count", "1"),
                List.of("stats", q), List.of("purge", q), List.of("peek", q + ".dlq"))) {
            Cli.Result r = admin(cmd.get(0), cmd.subList(1, cmd.size()).toArray(String[]::new));
            assertThat(r.code()).as(cmd + ": " + r).isZero();
        }
        // settings only describe a queue to create: without --create they are a usage error, with it and an
        // existing queue of other settings they are refused rather than silently ignored
        Cli.Result noCreate = admin("send", q, "--max-deliveries", "4", "x");
        assertThat(noCreate.code()).as(noCreate.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(noCreate.err()).contains("go with --create");
        Cli.Result other = admin("send", q, "--create", "--capacity", "7", "x");
        assertThat(other.code()).as(other.toString()).isEqualTo(ExitCodes.REFUSED);
        // each setting that differs, in the options' words (it printed QueueSpec's toString(), Java's words)
        assertThat(other.err()).contains("queue '" + q + "' exists with other settings: it has --visibility-timeout"
                + " 2m, not 30s; it has --max-deliveries 4, not none; it has --dead-letter-queue " + q + ".dlq, not"
                + " none; it has --capacity 100000, not 7; drop the settings to use it as it is")
                .doesNotContain("QueueSpec");
        Cli.Result same = admin("send", q, "--create", "--max-deliveries", "4", "--dead-letter-queue", q + ".dlq",
                "--visibility-timeout", "2m", "x");
        assertThat(same.code()).as(same.toString()).isZero();
        Cli.Result gone = admin("consume", q, "--max-deliveries", "4");
        assertThat(gone.code()).as("consume takes no queue settings: " + gone).isEqualTo(ExitCodes.USAGE);
        // it said "maxDeliveries=4 needs deadLetterQueue(name) or discardDeadLetters()", the API's words
        Cli.Result noDlq = admin("send", queue("nodlq"), "--create", "--max-deliveries", "4", "x");
        assertThat(noDlq.code()).as(noDlq.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(noDlq.err()).contains("--max-deliveries needs --dead-letter-queue").doesNotContain("(name)");
    }

    @Test
    void badTokenAndMissingRightExitFour() {
        String q = queue("secure");
        declare(QueueSpec.named(q));
        Cli.Result bad = Cli.run("stats", "--url", url, "--token", "wrong");
        assertThat(bad.code()).as(bad.toString()).isEqualTo(ExitCodes.DENIED);
        assertThat(bad.err()).contains("authentication failed");
        Cli.Result none = Cli.run("stats", "--url", url);
        assertThat(none.code()).as(none.toString()).isEqualTo(ExitCodes.DENIED);
        Cli.Result forbidden = Cli.run("purge", q, "--url", url, "--token", PRODUCER);
        assertThat(forbidden.code()).as(forbidden.toString()).isEqualTo(ExitCodes.DENIED);
        assertThat(forbidden.err()).contains("permission denied");
    }

    @Test
    void badUrlExitsTwoAndUnreachableServerExitsThree() throws Exception {
        for (String bad : List.of("http://127.0.0.1:1", "rill://", "not a url", "rill://host:1/path",
                "rill://127.0.0.1:99999", "rill://127.0.0.1:0", "rill://127.0.0.1:1#orders")) {
            Cli.Result r = Cli.run("stats", "--url", bad);
            assertThat(r.code()).as(bad + ": " + r).isEqualTo(ExitCodes.USAGE);
            assertThat(r.err()).contains("--url");
        }
        // the client's own check, which names the part it would otherwise ignore
        assertThat(Cli.run("stats", "--url", "rill://host:1/orders").err()).contains("has a path ('/orders')");
        assertThat(Cli.run("stats", "--url", "rill://127.0.0.1:1#orders").err()).contains("has a fragment");
        // "Illegal character in scheme name" (the address read as a scheme), or "the scheme 'localhost' is ..."
        assertThat(Cli.run("stats", "--url", "127.0.0.1:7400").err())
                .contains("--url: '127.0.0.1:7400' has no scheme: write rill://127.0.0.1:7400 (rills:// for TLS)");
        assertThat(Cli.run("stats", "--url", "localhost:7400").err()).contains("write rill://localhost:7400");
        int freePort;
        try (ServerSocket s = new ServerSocket(0)) {
            freePort = s.getLocalPort();
        }
        Cli.Result r = Cli.run("stats", "--url", "rill://127.0.0.1:" + freePort, "--timeout", "3s");
        assertThat(r.code()).as(r.toString()).isEqualTo(ExitCodes.UNAVAILABLE);
        // Netty's native words were "finishConnect(..) failed with error(-111): Connection refused: /127.0.0.1:PORT"
        assertThat(r.err()).contains("cannot connect to rill://127.0.0.1:" + freePort + ": connection refused (no server"
                + " listens at that address and port?)").doesNotContain("finishConnect");
    }

    /** A server that accepts and never answers: the handshake's timeout in milliseconds, not ISO-8601 (PT0.3S). */
    @Test
    void aSilentServerEndsTheCommandWithTheTimeoutInMilliseconds() throws Exception {
        try (ServerSocket silent = new ServerSocket(0)) { // the kernel accepts; nobody reads or writes
            Cli.Result r = Cli.run("stats", "--url", "rill://127.0.0.1:" + silent.getLocalPort(), "--timeout", "300ms");
            assertThat(r.code()).as(r.toString()).isEqualTo(ExitCodes.UNAVAILABLE);
            assertThat(r.err()).as(r.toString()).contains("did not complete within 300 ms").doesNotContain("PT0");
        }
    }

    @Test
    void badOptionValuesExitTwoWithAClearMessage() {
        String q = queue("opts");
        declare(QueueSpec.named(q));
        record Case(String message, String... args) { }
        List<Case> cases = List.of(
                new Case("--priority", "send", q, "--url", url, "--priority", "12", "x"),
                new Case("--count must be >= 1, was -1", "send", q, "--url", url, "--count", "-1", "x"),
                // zero, as peek --max 0 and redrive --max 0: refused (it did nothing and exited 0, which a script
                // cannot tell from success; many tools read 0 as "no limit")
                new Case("--count must be >= 1, was 0 (leave --count out to send each MESSAGE or line once)", "send",
                        q, "--url", url, "--count", "0", "x"),
                new Case("--count must be >= 1, was 0 (leave --count out for no limit)", "consume", q, "--url", url,
                        "--count", "0"),
                new Case("--max must be >= 1, was 0", "peek", q, "--url", url, "--max", "0"),
                new Case("--rate", "send", q, "--url", url, "--rate", "0", "x"),
                new Case("--rate must be a positive number, was Infinity", "send", q, "--url", url, "--token",
                        ADMIN, "--rate", "Infinity", "x"),
                new Case("not a duration", "send", q, "--url", url, "--delay", "soon", "x"),
                new Case("'99999999999999h' is too long", "stats", "--url", url, "--timeout", "99999999999999h"),
                new Case("'PT-1S' is negative", "consume", q, "--url", url, "--idle", "PT-1S"),
                new Case("'PT-1S' is negative", "consume", q, "--url", url, "--nack", "--nack-delay", "PT-1S"),
                new Case("--max", "peek", q, "--url", url, "--max", "0"),
                new Case("--max", "redrive", q, "--url", url, "--max", "0"),
                new Case("Unknown option", "stats", "--url", url, "--frobnicate"),
                new Case("--count must be >= 1, was -2", "consume", q, "--url", url, "--count", "-2"),
                new Case("mutually exclusive", "consume", q, "--url", url, "--ack", "--nack"),
                new Case("Missing required parameter", "peek"),
                new Case("a command is required"),
                new Case("name must be", "send", "bad/name", "--url", url, "x"),
                // durations in the words the options take, not ISO-8601 (was PT0S, PT0.0005S)
                new Case("--timeout must be positive, was 0s", "stats", "--url", url, "--timeout", "0"),
                new Case("--idle must be positive, was 0s", "consume", q, "--url", url, "--idle", "0s"),
                new Case("--prefetch must be 1..10000, was 0", "consume", q, "--url", url, "--prefetch", "0"),
                new Case("--prefetch must be 1..10000, was 10001", "consume", q, "--url", url, "--prefetch",
                        "10001"),
                new Case("--visibility-timeout must be at least 1ms, was 0s", "send", queue("opts-new"), "--create",
                        "--url", url, "--visibility-timeout", "0s", "x"),
                // below 1 ms the client could not encode it: the connection ended ("connection ... lost")
                new Case("--visibility-timeout must be at least 1ms, was 0.5ms", "send", queue("opts-new"),
                        "--create", "--url", url, "--visibility-timeout", "0.5ms", "x"),
                new Case("--visibility-timeout must be at least 1ms, was 0.5ms", "consume", q, "--url", url,
                        "--visibility-timeout", "0.5ms"));
        for (Case c : cases) {
            Cli.Result r = Cli.run(c.args());
            assertThat(r.code()).as(String.join(" ", c.args()) + ": " + r).isEqualTo(ExitCodes.USAGE);
            assertThat(r.err()).as(String.join(" ", c.args())).contains(c.message());
        }
    }

    @Test
    void everyCommandHasHelpWithTheExitCodes() {
        for (String cmd : List.of("serve", "send", "consume", "peek", "stats", "purge", "redrive", "bench", "demo")) {
            Cli.Result r = Cli.run(cmd, "--help");
            assertThat(r.code()).as(cmd).isZero();
            assertThat(r.out()).as(cmd).contains("Usage: rill " + cmd).contains("Exit codes:")
                    .contains("unknown queue");
            // each help page lists -V, --version, which printed nothing (exit 0) but on the root command
            Cli.Result v = Cli.run(cmd, "--version");
            assertThat(v.code()).as(cmd).isZero();
            assertThat(v.out()).as(cmd).startsWith("rill ");
        }
        assertThat(Cli.run("--version").out()).startsWith("rill ");
    }

    /** What the help pages said differed from what the commands do. */
    @Test
    void helpPagesSayWhatTheCommandsDo() {
        String consume = Cli.run("consume", "--help").out().replaceAll("\\s+", " ");
        // exit 1 for a payload --format text cannot print (the help named only a closed standard output)
        assertThat(consume).contains("consume: standard output closed, or a payload that --format text cannot print")
                .contains("Print id, delivery count, key, priority and headers");
        String send = Cli.run("send", "--help").out().replaceAll("\\s+", " ");
        assertThat(send).contains("send: standard input closed, or a line of it not UTF-8 text, not base64, not a"
                + " message in JSON or too long").contains("a line is at most a sixteenth of the JVM's heap")
                // it said json was consume's and peek's output only
                .contains("or json (each MESSAGE or line is one JSON object as consume and peek --format json write"
                        + " them; its payload, text or base64 as its encoding says, key, priority and headers are sent"
                        + " exactly");
        // without --metrics-port there is no endpoint: the help gave no default
        assertThat(Cli.run("serve", "--help").out().replaceAll("\\s+", " "))
                .contains("--metrics-port=PORT Serve Prometheus metrics").contains("Default: no metrics endpoint.");
        // the server answers a peek with the messages that fit one frame
        assertThat(Cli.run("peek", "--help").out().replaceAll("\\s+", " "))
                .contains("fewer when they do not fit one answer of the server's --max-frame-size");
    }

    /**
     * Help pages read as sentences: no option followed by its own name as a word ("send --messages messages",
     * "--consumers consumers"), no word twice in a row, no URL cut in two by the wrapping ("rill:" at a line's end,
     * "//127.0.0.1:7400" on the next), no ISO-8601 duration (PT30S).
     */
    @Test
    void helpPagesHaveNoDoubledWordsNoCutUrlsAndNoIsoDurations() {
        java.util.regex.Pattern doubled = java.util.regex.Pattern.compile("(?:--)?\\b([a-z][a-z-]+)\\b\\s+\\1\\b");
        for (String cmd : List.of("", "serve", "send", "consume", "peek", "stats", "purge", "redrive", "bench",
                "demo")) {
            String help = cmd.isEmpty() ? Cli.run("--help").out() : Cli.run(cmd, "--help").out();
            String text = help.replaceAll("\\s+", " ");
            java.util.regex.Matcher m = doubled.matcher(text);
            java.util.List<String> found = new java.util.ArrayList<>();
            while (m.find()) {
                found.add(m.group());
            }
            assertThat(found).as("rill " + cmd + " --help").isEmpty();
            assertThat(help).as(cmd).doesNotContainPattern("rill:\\s*\\n\\s*//").doesNotContainPattern("\\bPT\\d");
        }
        assertThat(Cli.run("bench", "--help").out()).contains("Default: rill://127.0.0.1:7400 (or $RILL_URL).");
    }

    // rill send --format json: what peek and consume --format json print, sent back, is the same messages; a line that
    // is not a message ends the send with exit code 2 naming it

    private static ReactiveQueue<byte[]> bytesQueue(String name) {
        return remote.queue(QueueSpec.named(name), Codec.bytes()).block(T);
    }

    private static Cli.Result rill(String stdin, String... args) {
        String[] all = new String[args.length + 4];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "--url";
        all[args.length + 1] = url;
        all[args.length + 2] = "--token";
        all[args.length + 3] = ADMIN;
        return Cli.runWithInput(stdin, all);
    }

    /** A message as the comparison sees it: everything send --format json sends. */
    private record Sent(String payloadBase64, String key, int priority, Map<String, String> headers) {
        static Sent of(Message<byte[]> m) {
            return new Sent(Base64.getEncoder().encodeToString(m.payload()), m.key(), m.priority(), m.headers());
        }
    }

    private static List<Sent> messages(String queue) {
        return bytesQueue(queue).peek(1000).map(Sent::of).collectList().block(T);
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
        ReactiveQueue<byte[]> source = bytesQueue(q);
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
        bytesQueue(copy2);
        Cli.Result send2 = rill(consumed.out(), "send", copy2, "--format", "json");
        assertThat(send2.code()).as(send2.toString()).isZero();
        assertThat(messages(copy2)).containsExactlyElementsOf(original);
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(stats(q).acked()).isEqualTo(sent.size()));
    }

    /** The lines without what the server gives each message. */
    private static List<String> strip(String lines) {
        return lines.lines().map(l -> l.replaceFirst("^\\{\"queue\":\"[^\"]*\",\"id\":\\d+,\"timestamp\":\"[^\"]*\",",
                "{")).toList();
    }

    @Test
    void messageArgumentsAreJsonObjectsTooAndTheOptionsThatTheLinesDoNotCarryApply() {
        String q = queue("args");
        bytesQueue(q);
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
        assertThat(bytesQueue(q).peek(5).map(m -> new String(m.payload(), StandardCharsets.UTF_8)).collectList().block(T))
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
            bytesQueue(q);
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
        bytesQueue(q);
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
        bytesQueue(q);
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
