package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code rill bench --url} as its own process, stopped with SIGTERM (as Ctrl-C stops it) in the middle of a run: it
 * must not leave its queue, with the messages it sent, on the user's server, and it ends its progress line.
 */
class BenchSignalTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private Process process;
    private RillServer server;

    @AfterEach
    void stop() {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
        }
        if (server != null) {
            server.disposeNow(TIMEOUT);
        }
    }

    @Test
    void anInterruptedRemoteBenchDeletesItsQueueAndEndsItsProgressLine() throws Exception {
        server = RillServer.bindNow(ServerOptions.defaults(), TIMEOUT);
        Path out = dir.resolve("bench.out");
        Path err = dir.resolve("bench.err");
        process = new ProcessBuilder(ChildJvm.command("256m", RillCli.class, "bench",
                "--url", "rill://127.0.0.1:" + server.port(), "--queue", "bench-interrupted",
                "--messages", "1000000", "--rate", "200"))
                .redirectOutput(out.toFile())
                .redirectError(err.toFile())
                .start();
        // a progress line: the run is under way, the queue exists
        await().atMost(TIMEOUT).until(() -> read(out).contains("received") || !process.isAlive());
        assertThat(server.broker().list().block(TIMEOUT)).as(() -> read(out) + read(err))
                .contains("bench-interrupted");

        process.destroy(); // SIGTERM
        assertThat(process.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        assertThat(server.broker().list().block(TIMEOUT)).as(() -> "stdout: " + read(out) + "stderr: " + read(err))
                .doesNotContain("bench-interrupted");
        assertThat(read(out)).endsWith("\n").contains("bench: interrupted");
        assertThat(read(err)).doesNotContain("Exception");
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }
}
