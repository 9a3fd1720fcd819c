package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code rill demo} as its own process, stopped by a signal in the middle of its run (SIGTERM, and Ctrl-C's SIGINT on
 * a terminal): it ends its progress line, prints a short "interrupted" summary with the counts so far and exits with
 * the signal's status, without a stack trace.
 */
class DemoSignalTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    /** Longer than the demo's own 30 s bound on its cleanup after a signal, so the test never races that bound. */
    private static final Duration EXIT_WAIT = Duration.ofSeconds(60);
    /** Long enough that the signal always comes mid-run. */
    private static final String[] LONG_RUN = {"demo", "--messages", "100000", "--duration", "120s"};

    @TempDir
    Path dir;

    private Process process;

    @AfterEach
    void stop() {
        if (process != null) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
        }
    }

    private static List<String> java(String... args) {
        return ChildJvm.command("256m", RillCli.class, args);
    }

    @Test
    void sigtermEndsTheDemoWithAnInterruptedSummaryAndTheSignalsStatus() throws Exception {
        Path out = dir.resolve("demo.out");
        Path err = dir.resolve("demo.err");
        // output to files: Process.destroy() closes the pipes, which would lose what the shutdown prints
        process = new ProcessBuilder(java(LONG_RUN)).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        await().atMost(TIMEOUT).until(() -> read(out).contains("acked") || !process.isAlive());
        assertThat(process.isAlive()).as(() -> read(out) + read(err)).isTrue();

        process.destroy(); // SIGTERM
        assertThat(process.waitFor(EXIT_WAIT.toSeconds(), TimeUnit.SECONDS)).as(() -> read(out) + read(err)).isTrue();
        String printed = read(out);
        assertThat(printed).as(printed).endsWith("\n")
                .containsPattern("(?m)^demo: interrupted after [\\d.]+ s: sent [\\d,]+/100,000, acked [\\d,]+,"
                        + " retried [\\d,]+, dead-lettered [\\d,]+, in flight [\\d,]+$");
        assertThat(read(err)).isEmpty();
        assertThat(process.exitValue()).isEqualTo(128 + 15);
    }

    @Test
    void ctrlCOnATerminalEndsTheProgressLineBeforeTheSummary() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/script")) && Files.isExecutable(Path.of(
                "/bin/kill")) && Files.isExecutable(Path.of("/usr/bin/perl")),
                "script(1) gives the demo a terminal; kill(1) sends SIGINT; perl resets SIGINT's disposition");
        Path out = dir.resolve("demo.tty");
        StringBuilder line = new StringBuilder();
        // A build started as a background job of a non-interactive shell (nohup ... &, a CI runner) has SIGINT
        // ignored, every process under it inherits that, and a JVM that starts with SIGINT ignored never installs its
        // handler: the demo ran on through the signal. A terminal's shell gives its foreground job the default
        // disposition; perl does the same here before it runs the demo (a shell's trap cannot: POSIX forbids
        // resetting a signal ignored on entry).
        List<String> command = new ArrayList<>(
                List.of("/usr/bin/perl", "-e", "$SIG{INT} = 'DEFAULT'; exec @ARGV or die"));
        command.addAll(java(LONG_RUN));
        for (String a : command) {
            line.append('\'').append(a.replace("'", "'\\''")).append("' ");
        }
        // script(1) runs the demo on a pseudo-terminal (System.console() is then there: progress rewritten in place)
        process = new ProcessBuilder("/usr/bin/script", "-qfec", line.toString(), "/dev/null")
                .redirectOutput(out.toFile()).redirectError(ProcessBuilder.Redirect.DISCARD)
                .redirectInput(ProcessBuilder.Redirect.PIPE).start();
        await().atMost(TIMEOUT).until(() -> read(out).contains("\r[") || !process.isAlive());
        ProcessHandle demo = process.descendants().filter(p -> p.info().command().orElse("").endsWith("java"))
                .findFirst().orElseThrow(() -> new AssertionError("no demo JVM under script: " + read(out)));

        assertThat(new ProcessBuilder("/bin/kill", "-INT", String.valueOf(demo.pid())).start().waitFor()).isZero();
        // the demo's own bound on its cleanup after a signal is 30 s (InterruptHook): waiting just as long raced it
        assertThat(process.waitFor(EXIT_WAIT.toSeconds(), TimeUnit.SECONDS)).as(() -> read(out)).isTrue();
        String printed = read(out);
        int at = printed.indexOf("demo: interrupted after ");
        assertThat(at).as(printed).isPositive();
        // the progress line (rewritten with carriage returns) was ended before the summary: not cut mid-line
        assertThat(printed.charAt(at - 1)).as(printed).isEqualTo('\n');
        assertThat(printed).doesNotContain("Exception");
        assertThat(process.exitValue()).as("script -e passes the demo's status on").isEqualTo(128 + 2);
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return e.toString();
        }
    }
}
