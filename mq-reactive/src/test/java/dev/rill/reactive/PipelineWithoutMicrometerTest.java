package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Micrometer is an optional dependency of mq-reactive: a pipeline runs without it on the class path, in a child JVM
 * ({@link NoMicrometerChild}) whose class path is this one less Micrometer's jars.
 */
class PipelineWithoutMicrometerTest {

    @TempDir
    Path dir;

    @Test
    void aPipelineRunsWithoutMicrometerOnTheClassPath() throws Exception {
        String[] entries = System.getProperty("java.class.path").split(File.pathSeparator);
        String classPath = Arrays.stream(entries).filter(e -> !e.contains("micrometer"))
                .collect(Collectors.joining(File.pathSeparator));
        assertThat(classPath.split(File.pathSeparator)).as("micrometer jars left out").hasSizeLessThan(entries.length);
        Path out = dir.resolve("out.txt");
        Path err = dir.resolve("err.txt");
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx128m", "-cp", classPath, NoMicrometerChild.class.getName())
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).as("child finished").isTrue();
        String printed = Files.readString(out, StandardCharsets.UTF_8);
        assertThat(child.exitValue()).as(printed + Files.readString(err, StandardCharsets.UTF_8)).isZero();
        assertThat(printed.strip()).isEqualTo("OK worker on plain acked=1 metrics needs micrometer");
    }
}
