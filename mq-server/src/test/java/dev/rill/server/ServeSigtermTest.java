package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.netty.AuthenticationException;
import dev.rill.netty.ClientOptions;
import dev.rill.netty.RillClient;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.reactivestreams.Subscription;
import reactor.core.publisher.BaseSubscriber;

/**
 * {@code rill serve} as its own process, stopped with a real SIGTERM: the server drains (a consumer acks the
 * deliveries it holds after the signal, and the acks succeed), syncs its durable log and exits 0; the acked
 * messages are gone after a restart, the others are back. And what its operator sees on standard error about failing
 * and hostile clients: one line per refused connection (date, level, logger, peer address, reason, cause), never a
 * token or a stack trace, at most ten lines per reason and minute and then, at the latest when SIGTERM stops it, one
 * line with the number suppressed; and the counts per reason on the metrics endpoint.
 */
class ServeSigtermTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    /** The start of a line the server logs about a peer: date, time, level, logger. */
    private static final String PREFIX = "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} WARNING dev\\.rill\\.netty"
            + "\\.RillServer: ";

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
        process = new ProcessBuilder(ChildJvm.command("256m", RillCli.class, "serve", "--port", "0",
                "--data-dir", data.toString(), "--drain-timeout", "60s"))
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
        assertThat(read(stdout).split("rill: stopped", -1)).as("said once, by the signal hook or the main thread: "
                + read(stdout)).hasSize(2);

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

    /** Starts {@code rill serve} in memory with a drain of ten minutes, behind {@code prefix} (a launcher). */
    private String serveWithALongDrain(List<String> prefix, Path stdout, Path err) throws Exception {
        List<String> command = new ArrayList<>(prefix);
        command.addAll(ChildJvm.command("256m", RillCli.class, "serve", "--port", "0", "--drain-timeout", "10m"));
        process = new ProcessBuilder(command).redirectError(err.toFile()).redirectOutput(stdout.toFile()).start();
        Pattern listening = Pattern.compile("listening on (rill://\\S+)");
        await().atMost(TIMEOUT).until(() -> listening.matcher(read(stdout)).find() || !process.isAlive());
        Matcher m = listening.matcher(read(stdout));
        assertThat(m.find()).as(() -> "serve did not start: " + read(stdout) + read(err)).isTrue();
        return m.group(1);
    }

    /**
     * Holds a delivery on a client of {@code address}, stops the server with {@code first}, waits until it drains
     * (for that delivery, ten minutes at most), then sends {@code second}: the drain ends at once, the connection is
     * closed (the held delivery can no longer be acked) and the server exits with the second signal's status.
     */
    private void secondSignalEndsTheDrain(String address, Path stdout, Path err, Runnable first, Runnable second,
            int status, String offered) throws Exception {
        ReactiveBroker client = RillClient.connect(URI.create(address), ClientOptions.defaults()
                .reconnectAttempts(0)).block(TIMEOUT);
        try {
            ReactiveQueue<String> q = client.queue(QueueSpec.named("jobs"), Codec.utf8()).block(TIMEOUT);
            q.send(OutboundMessage.of("job")).block(TIMEOUT);
            Delivery<String> held = q.receiveOne(Duration.ZERO).block(TIMEOUT);
            first.run();
            await().atMost(TIMEOUT).until(() -> read(stdout).contains("again ends the drain at once")
                    || !process.isAlive());
            // Ctrl-C is offered only where SIGINT was not ignored when the JVM started: a build run in the
            // background (nohup, a CI runner) starts this child with it ignored, and the JVM then never handles it
            assertThat(read(stdout)).as(() -> read(stdout) + read(err))
                    .containsPattern("rill: draining 1 connection\\(s\\) for at most 10m \\(" + offered
                            + "SIGTERM again ends the drain at once\\)");
            assertThat(process.isAlive()).as("draining: waits for the delivery held").isTrue();

            second.run();
            // the drain had ten minutes left: only the second signal ends it within this bound
            assertThat(process.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).as(() -> "exited at the second signal; "
                    + read(stdout) + read(err)).isTrue();
            assertThat(process.exitValue()).as(() -> "the second signal's status; stderr: " + read(err))
                    .isEqualTo(status);
            assertThat(read(stdout)).contains("rill: second signal: ending the drain at once, releasing what clients"
                    + " still hold").contains("rill: stopped"); // by the hook or the main thread, whichever first
            assertThat(read(err)).doesNotContain("Exception");
            assertThatThrownBy(() -> held.ack().block(TIMEOUT)).as("its connection was closed").isNotNull();
        } finally {
            client.close().block(TIMEOUT);
        }
    }

    @Test
    void aSecondSigtermEndsTheDrainAtOnceAndExitsWithItsStatus() throws Exception {
        Path err = dir.resolve("serve.err");
        Path stdout = dir.resolve("serve.out");
        String address = serveWithALongDrain(List.of(), stdout, err);
        secondSignalEndsTheDrain(address, stdout, err, process::destroy, process::destroy, 128 + 15,
                "(Ctrl-C or )?");
    }

    @Test
    void aSecondCtrlCEndsTheDrainAtOnceAndExitsWithItsStatus() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/bin/kill")) && Files.isExecutable(Path.of(
                "/usr/bin/perl")), "kill(1) sends SIGINT; perl resets SIGINT's disposition");
        Path err = dir.resolve("serve.err");
        Path stdout = dir.resolve("serve.out");
        // a JVM started with SIGINT ignored (a build run in the background) never handles it: perl resets it, as a
        // terminal's shell does for its foreground job (see DemoSignalTest), then becomes the JVM (exec)
        String address = serveWithALongDrain(List.of("/usr/bin/perl", "-e", "$SIG{INT} = 'DEFAULT'; exec @ARGV or die"),
                stdout, err);
        Runnable ctrlC = () -> {
            try {
                assertThat(new ProcessBuilder("/bin/kill", "-INT", String.valueOf(process.pid())).start().waitFor())
                        .isZero();
            } catch (IOException | InterruptedException e) {
                throw new AssertionError(e);
            }
        };
        secondSignalEndsTheDrain(address, stdout, err, ctrlC, ctrlC, 128 + 2, "Ctrl-C or "); // SIGINT reset
    }

    @Test
    void aBrokerThatDoesNotCloseWithinTheGraceExitsOneSayingSoNotWithTheSignalsStatus() throws Exception {
        Path err = dir.resolve("serve.err");
        Path stdout = dir.resolve("serve.out");
        process = new ProcessBuilder(ChildJvm.command("256m", SlowBrokerCloseMain.class, "serve",
                "--port", "0", "--drain-timeout", "0s", "--shutdown-grace", "300ms"))
                .redirectError(err.toFile())
                .redirectOutput(stdout.toFile())
                .start();
        await().atMost(TIMEOUT).until(() -> read(stdout).contains("listening on") || !process.isAlive());
        assertThat(process.isAlive()).as(() -> "serve did not start: " + read(stdout) + read(err)).isTrue();

        process.destroy(); // SIGTERM
        assertThat(process.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).as("exited within the bound").isTrue();
        assertThat(process.exitValue()).as(() -> "exit status; stdout: " + read(stdout) + "stderr: " + read(err))
                .isEqualTo(ExitCodes.FAILED);
        assertThat(read(err)).contains("rill serve: the broker did not close within 300ms")
                .doesNotContain("Exception in thread");
        assertThat(read(stdout)).contains("rill: stopped");
    }

    @Test
    void badTokensAndGarbageAreOneLineEachThenASummaryAndTheirCountsAreExported() throws Exception {
        Path tokens = dir.resolve("tokens");
        Files.write(tokens, List.of("s3cret-admin *=all"));
        Path err = dir.resolve("serve.err");
        Path out = dir.resolve("serve.out");
        process = new ProcessBuilder(ChildJvm.command("256m", RillCli.class, "serve", "--port", "0",
                "--tokens", tokens.toString(), "--metrics-port", "0", "--drain-timeout", "0s"))
                .redirectError(err.toFile())
                .redirectOutput(out.toFile())
                .start();
        Pattern listening = Pattern.compile("listening on rill://127\\.0\\.0\\.1:(\\d+)");
        Pattern metricsAt = Pattern.compile("metrics on (http://\\S+/metrics)");
        await().atMost(TIMEOUT).until(() -> metricsAt.matcher(read(out)).find() || !process.isAlive());
        Matcher m = listening.matcher(read(out));
        assertThat(m.find()).as(() -> "serve did not start: " + read(out) + read(err)).isTrue();
        int port = Integer.parseInt(m.group(1));
        Matcher metrics = metricsAt.matcher(read(out));
        assertThat(metrics.find()).isTrue();

        URI uri = URI.create("rill://127.0.0.1:" + port);
        assertThatThrownBy(() -> RillClient.connect(uri, ClientOptions.defaults().token("s3cret-guess"))
                .block(TIMEOUT)).isInstanceOf(AuthenticationException.class);
        assertThatThrownBy(() -> RillClient.connect(uri, ClientOptions.defaults()).block(TIMEOUT))
                .isInstanceOf(AuthenticationException.class);
        for (int i = 0; i < 15; i++) {
            sendGarbage(port);
        }
        await().atMost(TIMEOUT).until(() -> scrape(metrics.group(1))
                .contains("rill_connection_errors_total{reason=\"protocol_error\"} 15\n"));
        assertThat(scrape(metrics.group(1))).contains("rill_connection_errors_total{reason=\"auth_failed\"} 2\n")
                .contains("rill_connection_errors_total{reason=\"tls_handshake\"} 0\n");

        process.destroy(); // SIGTERM: the shutdown writes the summary of what was suppressed
        assertThat(process.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).as("exited within the bound").isTrue();
        assertThat(process.exitValue()).as(() -> "exit status; stderr: " + read(err)).isZero();

        String stderr = read(err);
        List<String> lines = Arrays.asList(stderr.split("\n"));
        assertThat(lines).as(stderr).filteredOn(l -> l.contains("[auth_failed]")).satisfiesExactly(
                l -> assertThat(l).matches(PREFIX + "connection from 127\\.0\\.0\\.1:\\d+ refused \\[auth_failed\\]:"
                        + " unknown token"),
                l -> assertThat(l).matches(PREFIX + "connection from 127\\.0\\.0\\.1:\\d+ refused \\[auth_failed\\]:"
                        + " a token is required"));
        assertThat(lines).as(stderr).filteredOn(l -> l.contains("refused [protocol_error]")).hasSize(10)
                .allSatisfy(l -> assertThat(l).matches(PREFIX + "connection from 127\\.0\\.0\\.1:\\d+ refused"
                        + " \\[protocol_error\\]: unknown frame type 0xee"));
        assertThat(lines).as(stderr).filteredOn(l -> l.contains("suppressed")).singleElement().asString()
                .matches(PREFIX + Pattern.quote("[protocol_error] 5 more similar lines suppressed from 127.0.0.1 (at"
                        + " most 10 per peer and 50 in all, per reason and 60 s; every one is counted:"
                        + " RillServer.connectionErrors(), rill_connection_errors_total)"));
        assertThat(stderr).doesNotContain("s3cret").doesNotContain("Exception").doesNotContain("\tat ");
    }

    /** Opens a connection, sends bytes that are no frame and reads until the server closed it. */
    private static void sendGarbage(int port) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10_000);
            byte[] garbage = new byte[64];
            Arrays.fill(garbage, (byte) 0x5A);
            garbage[0] = 0; // a frame of 40 bytes
            garbage[1] = 0;
            garbage[2] = 0;
            garbage[3] = 40;
            garbage[4] = (byte) 0xEE; // of a type that does not exist
            s.getOutputStream().write(garbage);
            InputStream in = s.getInputStream();
            byte[] chunk = new byte[256];
            try {
                while (in.read(chunk) >= 0) {
                    // the ERROR frame, then the end of the stream
                }
            } catch (IOException e) {
                // reset: the server closed with bytes unread
            }
        }
    }

    private static String scrape(String url) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10))
                .build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }
}
