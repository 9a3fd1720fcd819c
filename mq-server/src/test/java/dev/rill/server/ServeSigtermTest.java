package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.netty.ClientOptions;
import dev.rill.netty.RillClient;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.reactivestreams.Subscription;
import reactor.core.publisher.BaseSubscriber;

/**
 * {@code rill serve} as its own process, stopped with a real SIGTERM: the server drains (a consumer acks the
 * deliveries it holds after the signal, and the acks succeed), syncs its durable log and exits 0; the acked
 * messages are gone after a restart, the others are back.
 */
class ServeSigtermTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private Process process;

    @AfterEach
    void kill() {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
        }
    }

    @Test
    void sigtermDrainsAcksMadeAfterTheSignalThenSyncsAndExitsZero() throws Exception {
        Path data = dir.resolve("data");
        Path err = dir.resolve("serve.err");
        Path stdout = dir.resolve("serve.out");
        // output to files: Process.destroy() closes the pipes, which would lose what the shutdown prints
        process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), RillCli.class.getName(), "serve", "--port", "0",
                "--data-dir", data.toString(), "--drain-timeout", "60s")
                .redirectError(err.toFile())
                .redirectOutput(stdout.toFile())
                .start();
        Pattern listening = Pattern.compile("listening on (rill://\\S+)");
        await().atMost(TIMEOUT).until(() -> listening.matcher(read(stdout)).find() || !process.isAlive());
        Matcher m = listening.matcher(read(stdout));
        assertThat(m.find()).as(() -> "serve did not start: " + read(stdout) + read(err)).isTrue();
        String address = m.group(1);

        ReactiveBroker client = RillClient.connect(URI.create(address), ClientOptions.defaults()
                .reconnectAttempts(0)).block(TIMEOUT);
        List<Delivery<String>> held = new ArrayList<>();
        try {
            ReactiveQueue<String> q = client.queue(QueueSpec.named("jobs"), Codec.utf8()).block(TIMEOUT);
            for (int i = 0; i < 6; i++) {
                q.send(OutboundMessage.of("job-" + i)).block(TIMEOUT);
            }
            for (int i = 0; i < 4; i++) {
                held.add(q.receiveOne(Duration.ZERO).block(TIMEOUT));
            }
            // a stream that asks for nothing: it ends when the server says it goes away
            CompletableFuture<Void> goingAway = new CompletableFuture<>();
            q.receive().subscribe(new BaseSubscriber<Delivery<String>>() {
                @Override
                protected void hookOnSubscribe(Subscription subscription) {
                    // no demand
                }

                @Override
                protected void hookOnComplete() {
                    goingAway.complete(null);
                }

                @Override
                protected void hookOnError(Throwable e) {
                    goingAway.completeExceptionally(e);
                }
            });
            process.destroy(); // SIGTERM
            goingAway.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            assertThat(process.isAlive()).as("draining: waits for the deliveries held").isTrue();
            // the server keeps the connection open for the deliveries it holds: acks after the signal succeed
            for (Delivery<String> d : held) {
                d.ack().block(TIMEOUT);
            }
        } finally {
            client.close().block(TIMEOUT);
        }
        assertThat(process.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).as("exited within the bound").isTrue();
        assertThat(process.exitValue()).as(() -> "exit status; stderr: " + read(err)).isZero();
        assertThat(read(stdout)).contains("rill: stopped");

        ReactiveBroker reopened = Rill.embedded(data, DurabilityOptions.defaults());
        try {
            ReactiveQueue<String> q = reopened.lookup("jobs", Codec.utf8()).block(TIMEOUT);
            List<String> left = new ArrayList<>();
            Delivery<String> d;
            while ((d = q.receiveOne(Duration.ZERO).block(TIMEOUT)) != null) {
                left.add(d.payload());
            }
            assertThat(left).containsExactly("job-4", "job-5");
        } finally {
            reopened.close().block(TIMEOUT);
        }
    }

    @Test
    void aBrokerThatDoesNotCloseWithinTheGraceExitsOneSayingSoNotWithTheSignalsStatus() throws Exception {
        Path err = dir.resolve("serve.err");
        Path stdout = dir.resolve("serve.out");
        process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), SlowBrokerCloseMain.class.getName(), "serve",
                "--port", "0", "--drain-timeout", "0s", "--shutdown-grace", "300ms")
                .redirectError(err.toFile())
                .redirectOutput(stdout.toFile())
                .start();
        await().atMost(TIMEOUT).until(() -> read(stdout).contains("listening on") || !process.isAlive());
        assertThat(process.isAlive()).as(() -> "serve did not start: " + read(stdout) + read(err)).isTrue();

        process.destroy(); // SIGTERM
        assertThat(process.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).as("exited within the bound").isTrue();
        assertThat(process.exitValue()).as(() -> "exit status; stdout: " + read(stdout) + "stderr: " + read(err))
                .isEqualTo(ExitCodes.FAILED);
        assertThat(read(err)).contains("rill serve: the broker did not close within 300 ms")
                .doesNotContain("Exception in thread");
        assertThat(read(stdout)).contains("rill: stopped");
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }
}
