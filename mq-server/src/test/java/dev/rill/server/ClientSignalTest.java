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
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code rill send} and {@code rill consume} as their own processes, with what a shell does to them: SIGTERM (as
 * Ctrl-C) in the middle of a run, a pipe closed by its reader, a closed standard input.
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
        return ChildJvm.command("256m", RillCli.class, args);
    }

    private ReactiveQueue<String> queue(String name) {
        return server.broker().queue(QueueSpec.named(name), Codec.utf8()).block(TIMEOUT);
    }

    private QueueStats stats(String name) {
        return server.broker().stats().block(TIMEOUT).stream().filter(s -> s.name().equals(name)).findFirst()
                .orElseThrow();
    }

    @Test
    void anInterruptedSendSaysHowManyMessagesItSentAndTheServerHasExactlyThose() throws Exception {
        queue("paced");
        Path out = dir.resolve("send.out");
        Path err = dir.resolve("send.err");
        process = new ProcessBuilder(rill("send", "paced", "--url", url, "--count", "1000000", "--rate", "20",
                "m{n}")).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        await().atMost(TIMEOUT).until(() -> stats("paced").ready() >= 3 || !process.isAlive());

        process.destroy(); // SIGTERM, as Ctrl-C
        assertThat(process.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        // was: nothing said, so nobody knew which messages had gone
        Matcher m = Pattern.compile("rill send: interrupted: (\\d+) message\\(s\\) sent to paced; nothing after them")
                .matcher(read(err));
        assertThat(m.find()).as(() -> "stdout: " + read(out) + "stderr: " + read(err)).isTrue();
        assertThat(stats("paced").ready()).isEqualTo(Long.parseLong(m.group(1)));
        assertThat(read(err)).doesNotContain("Exception");
        assertThat(process.exitValue()).isEqualTo(128 + 15);
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

    @Test
    void sendWithAClosedStandardInputSendsNothing() throws Exception {
        queue("nothing");
        Path err = dir.resolve("send.err");
        StringBuilder line = new StringBuilder("exec");
        for (String a : rill("send", "nothing", "--url", url)) {
            line.append(" '").append(a.replace("'", "'\\''")).append('\'');
        }
        // <&-: the JVM opens its own files on descriptor 0, and send read the JVM's lib/modules as messages
        process = new ProcessBuilder("/bin/sh", "-c", line + " <&-").redirectError(err.toFile())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertThat(process.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).as(() -> read(err)).isTrue();
        assertThat(process.exitValue()).as(() -> read(err)).isEqualTo(ExitCodes.USAGE);
        assertThat(read(err)).contains("rill send: standard input is closed");
        assertThat(stats("nothing").sent()).isZero();
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return e.toString();
        }
    }
}
