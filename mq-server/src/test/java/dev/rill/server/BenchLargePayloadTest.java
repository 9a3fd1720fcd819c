package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code rill bench} with the largest payloads in a small heap: its producers and consumers hold their windows in
 * bytes, not only in messages (256 sends in flight and 512 receives unacked, of 512 KiB each, ran a 256 MiB JVM out of
 * memory).
 */
class BenchLargePayloadTest {

    @TempDir
    Path dir;

    @Test
    void largestPayloadsRunInASmallHeap() throws Exception {
        Path out = dir.resolve("bench.out");
        Path err = dir.resolve("bench.err");
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), RillCli.class.getName(), "bench", "--payload-size",
                "512KiB", "--messages", "600", "--producers", "2");
        Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        try {
            boolean ended = p.waitFor(120, TimeUnit.SECONDS);
            assertThat(ended).as("bench ended; stderr: %s", Files.readString(err)).isTrue();
            String report = "exit " + p.exitValue() + "\n" + Files.readString(out) + Files.readString(err);
            assertThat(p.exitValue()).as(report).isZero();
            assertThat(Files.readString(out)).as(report).contains("600 sent, 600 received and acked");
            assertThat(Files.readString(err)).as(report).doesNotContain("OutOfMemoryError");
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void windowsShrinkOnlyForLargePayloads() {
        assertThat(BenchCommand.window(100, 512)).isEqualTo(512);
        assertThat(BenchCommand.window(16 * 1024, 256)).isEqualTo(256);
        assertThat(BenchCommand.window(512 * 1024, 512)).isEqualTo(16);
        assertThat(BenchCommand.window(512 * 1024, 256)).isEqualTo(16);
    }
}
