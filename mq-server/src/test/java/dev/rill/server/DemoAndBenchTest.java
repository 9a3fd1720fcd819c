package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.netty.ForwardingBroker;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.assertj.core.api.InstanceOfAssertFactories;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

/** {@code rill demo} and {@code rill bench} in short runs. */
class DemoAndBenchTest {

    private static long number(String out, String label) {
        Matcher m = Pattern.compile("(?m)^  " + Pattern.quote(label) + "\\s+([\\d,]+)").matcher(out);
        assertThat(m.find()).as(label + " in\n" + out).isTrue();
        return Long.parseLong(m.group(1).replace(",", ""));
    }

    @Test
    void demoRunsToCompletionAndItsSummaryAddsUp() {
        Cli.Result r = Cli.run("demo", "--messages", "300", "--duration", "600ms", "--retry-backoff", "20ms",
                "--consumers", "2");
        assertThat(r.code()).as(r.toString()).isZero();
        String out = r.out();
        assertThat(out).contains("embedded server on rill://127.0.0.1:").contains("sent 300/300");
        long sent = number(out, "sent");
        long acked = number(out, "acked");
        long retried = number(out, "retried");
        long dead = number(out, "dead-lettered");
        long failures = number(out, "failures");
        assertThat(sent).isEqualTo(300);
        // orders 50, 100, ... 300 always fail: 6 poison messages, 3 deliveries each
        assertThat(dead).isEqualTo(6);
        assertThat(acked).isEqualTo(sent - dead);
        // every 10th order that is not poison fails once (24), each poison message is retried twice (12)
        assertThat(retried).isEqualTo(24 + 12);
        assertThat(failures).isEqualTo(retried + dead);
        assertThat(out).contains("check           sent 300 = acked 294 + dead-lettered 6")
                .contains("(after 3 deliveries; 6 now in orders.dlq)")
                .containsPattern("a dead letter   order-\\d+: .*card declined");
        assertThat(r.err()).isEmpty();
    }

    /** Runs a command line that must be refused as a usage error (exit code 2) saying {@code message}. */
    private static void refused(String message, String... args) {
        Cli.Result r = Cli.run(args);
        assertThat(r.code()).as(r.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(r.err()).contains(message);
    }

    @Test
    void demoRefusesBadOptions() {
        refused("--messages must be >= 1", "demo", "--messages", "0");
        // 0 gave up at once, with a stack trace per acknowledgment cut short (below)
        refused("--max-time must be positive, was 0s", "demo", "--max-time", "0s");
    }

    @Test
    void aDemoThatGivesUpSaysSoInOneLineWithoutLoggingTheAcksItCutShort() throws Exception {
        // its own process, as a user runs it: a fresh JVM is slow enough that acks are in flight when it gives up
        Process demo = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-cp", System.getProperty("java.class.path"), RillCli.class.getName(), "demo",
                "--messages", "200", "--duration", "1ms", "--max-time", "1ms")
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        String err = new String(demo.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(demo.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(demo.exitValue()).as(err).isEqualTo(ExitCodes.FAILED);
        // the consumers' acks in flight failed when their connections closed, and each was logged with its stack
        // trace: the pipelines' error listeners had been disposed first
        assertThat(err.lines().toList()).as(err).hasSize(1).first(InstanceOfAssertFactories.STRING)
                .startsWith("rill demo: demo did not settle within 1ms after its sends");
    }

    /** $RILL_URL sends bench to that server as --url does: its help said only "Without --url" it embeds one. */
    @Test
    void benchHelpSaysRillUrlPicksAServerToo() {
        Cli.Result r = Cli.run("bench", "--help");
        assertThat(r.code()).as(r.toString()).isZero();
        assertThat(r.out().replaceAll("\\s+", " ")).contains("Without --url or $RILL_URL it starts an embedded server");
    }

    @Test
    void benchAgainstAnEmbeddedServerPrintsProgressAndPercentiles() {
        Cli.Result r = Cli.run("bench", "--messages", "3000", "--payload-size", "64", "--producers", "2",
                "--consumers", "2");
        assertThat(r.code()).as(r.toString()).isZero();
        assertThat(r.out()).contains("(embedded server)").contains("received 3,000 / 3,000")
                .contains("Bench summary").contains("3,000 sent, 3,000 received and acked")
                .containsPattern("throughput   [\\d,]+ msg/s")
                .containsPattern("latency      p50 [\\d,.]+ (us|ms)   p90 .*   p99 .*   p99\\.9 .*   max ");
    }

    @Test
    void benchAgainstAServerUrlAtAFixedRate() {
        RillServer server = RillServer.bindNow(ServerOptions.defaults().port(0), Duration.ofSeconds(10));
        try {
            Cli.Result r = Cli.run("bench", "--url", "rill://127.0.0.1:" + server.port(), "--messages", "400",
                    "--rate", "2000", "--queue", "bench-fixed");
            assertThat(r.code()).as(r.toString()).isZero();
            assertThat(r.out()).doesNotContain("embedded").contains("rate 2000/s")
                    .contains("400 sent, 400 received and acked").contains("(from intended send time)");
            assertThat(server.broker().list().block(Duration.ofSeconds(5))).doesNotContain("bench-fixed");
        } finally {
            server.disposeNow(Duration.ofSeconds(10));
        }
    }

    @Test
    void benchRefusesAnExistingQueueAndLeavesItAsItWas() {
        RillServer server = RillServer.bindNow(ServerOptions.defaults().port(0), Duration.ofSeconds(10));
        try {
            ReactiveQueue<String> orders = server.broker().queue(QueueSpec.named("orders"), Codec.utf8())
                    .block(Duration.ofSeconds(5));
            orders.send(OutboundMessage.of("keep me")).block(Duration.ofSeconds(5));
            Cli.Result r = Cli.run("bench", "--url", "rill://127.0.0.1:" + server.port(), "--messages", "10",
                    "--queue", "orders");
            assertThat(r.code()).as(r.toString()).isEqualTo(ExitCodes.REFUSED);
            assertThat(r.err()).contains("queue 'orders' exists already");
            // the refusal deleted the queue, with the operator's messages in it, on its way out
            assertThat(server.broker().list().block(Duration.ofSeconds(5))).contains("orders");
            assertThat(orders.stats().block(Duration.ofSeconds(5)).ready()).isEqualTo(1);
        } finally {
            server.disposeNow(Duration.ofSeconds(10));
        }
    }

    @Test
    void benchRefusesAQueueCreatedByAnotherClientJustBeforeItsOwnDeclare() {
        ReactiveBroker local = Rill.inMemory();
        AtomicReference<ReactiveQueue<String>> theirs = new AtomicReference<>();
        AtomicBoolean raced = new AtomicBoolean();
        // a served broker on which another client creates 'orders' (and sends to it) right before bench's declare
        // reaches it: after bench looked and found no such queue
        ReactiveBroker racing = new ForwardingBroker(local) {
            @Override
            public <T> Mono<ReactiveQueue<T>> queue(QueueSpec spec, Codec<T> codec) {
                if (spec.name().equals("orders") && raced.compareAndSet(false, true)) {
                    // on the server's event loop: composed, not blocked on
                    return local.queue(QueueSpec.named("orders"), Codec.utf8())
                            .flatMap(q -> q.send(OutboundMessage.of("keep me")).doOnNext(r -> theirs.set(q)))
                            .then(local.queue(spec, codec));
                }
                return local.queue(spec, codec);
            }
        };
        RillServer server = RillServer.bindNow(ServerOptions.defaults().port(0).broker(racing), Duration.ofSeconds(10));
        try {
            Cli.Result r = Cli.run("bench", "--url", "rill://127.0.0.1:" + server.port(), "--messages", "10",
                    "--queue", "orders");
            assertThat(theirs.get()).as("the other client's queue was created").isNotNull();
            // bench used it as its own (the same default settings) and deleted it, with the message, at the end
            assertThat(r.code()).as(r.toString()).isEqualTo(ExitCodes.REFUSED);
            assertThat(r.err()).contains("queue 'orders' exists already");
            assertThat(local.list().block(Duration.ofSeconds(5))).contains("orders");
            assertThat(theirs.get().stats().block(Duration.ofSeconds(5)).ready()).isEqualTo(1);
        } finally {
            server.disposeNow(Duration.ofSeconds(10));
            local.close().block(Duration.ofSeconds(10));
        }
    }

    @Test
    void benchRefusesBadOptions() {
        refused("--payload-size must be 8..524288", "bench", "--payload-size", "4");
        refused("--payload-size must be 8..524288, was 1048576", "bench", "--payload-size", "1MiB");
        // a producer sent at most 2^31 - 1 and the run waited for the rest until --max-time (exit 1)
        refused("--messages must be at most 2147483647 per producer (--producers), was 3000000000 for 1", "bench",
                "--messages", "3000000000", "--max-time", "2s");
        refused("--max-time must be positive, was 0s", "bench", "--max-time", "0s");
        // an infinite rate overflowed the burst size: "size > 0 required but it was -1", exit 6
        refused("--rate must be a positive number, was Infinity", "bench", "--rate", "Infinity");
    }
}
