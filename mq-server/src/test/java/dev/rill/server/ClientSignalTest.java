package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import dev.rill.reactive.ReactiveQueue;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code rill consume} as its own process, with what a shell does to it: SIGTERM (as Ctrl-C) in the middle of a run,
 * a pipe closed by its reader.
 */
class ClientSignalTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private RillServer server;
    private String url;
    private Process process;

    @BeforeEach
    void start() {
        server = RillServer.bindNow(ServerOptions.defaults().port(0), TIMEOUT);
        url = "rill://127.0.0.1:" + server.port();
    }

    @AfterEach
    void stop() {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
        }
        server.disposeNow(TIMEOUT);
    }

    private static List<String> rill(String... args) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Xmx256m", "-cp", System.getProperty("java.class.path"), RillCli.class.getName()));
        command.addAll(List.of(args));
        return command;
    }

    private ReactiveQueue<String> queue(String name) {
        return server.broker().queue(QueueSpec.named(name), Codec.utf8()).block(TIMEOUT);
    }

    private QueueStats stats(String name) {
        return server.broker().stats().block(TIMEOUT).stream().filter(s -> s.name().equals(name)).findFirst()
                .orElseThrow();
    }

    @Test
    void anInterruptedConsumeSettlesWhatItPrintedAndSaysHowMany() throws Exception {
        ReactiveQueue<String> q = queue("work");
        Path out = dir.resolve("consume.out");
        Path err = dir.resolve("consume.err");
        process = new ProcessBuilder(rill("consume", "work", "--url", url)).redirectOutput(out.toFile())
                .redirectError(err.toFile()).start();
        q.send(OutboundMessage.of("job 1")).block(TIMEOUT);
        await().atMost(TIMEOUT).until(() -> read(out).contains("job 1") || !process.isAlive());

        process.destroy(); // SIGTERM, as Ctrl-C
        assertThat(process.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        assertThat(read(err)).as(() -> "stdout: " + read(out) + "stderr: " + read(err))
                .contains("rill consume: interrupted after 1 message(s) acked").doesNotContain("Exception");
        assertThat(stats("work").acked()).isEqualTo(1);
        assertThat(process.exitValue()).isEqualTo(128 + 15);
    }

    @Test
    void consumeIntoAPipeItsReaderClosedAcksNothingMore() throws Exception {
        ReactiveQueue<String> q = queue("tail");
        Path err = dir.resolve("consume.err");
        process = new ProcessBuilder(rill("consume", "tail", "--url", url)).redirectError(err.toFile()).start();
        q.send(OutboundMessage.of("first")).block(TIMEOUT);
        BufferedReader stdout = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8));
        assertThat(stdout.readLine()).isEqualTo("first");
        stdout.close(); // rill consume tail | head -1
        await().atMost(TIMEOUT).until(() -> stats("tail").acked() == 1);

        q.send(OutboundMessage.of("second")).block(TIMEOUT);
        // was: System.out swallowed the broken pipe, and "second" was acked though nobody could read it
        assertThat(process.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).as(() -> read(err)).isTrue();
        assertThat(process.exitValue()).as(() -> read(err)).isEqualTo(ExitCodes.FAILED);
        assertThat(read(err)).contains("cannot write to standard output (closed?): stopped after 1 message(s) acked");
        await().atMost(TIMEOUT).untilAsserted(() -> {
            QueueStats s = stats("tail");
            assertThat(s.acked()).isEqualTo(1);
            assertThat(s.ready()).isEqualTo(1);
        });
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return e.toString();
        }
    }
}
