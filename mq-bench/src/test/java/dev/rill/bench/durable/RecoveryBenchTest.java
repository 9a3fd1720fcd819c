package dev.rill.bench.durable;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecoveryBenchTest {

    @TempDir
    Path dir;

    /** A small run fills, reopens (checking what came back: it throws otherwise) and removes its data directory. */
    @Test
    void aSmallRunRecoversItsBacklogAndCleansUp() throws Exception {
        RecoveryBench.main(new String[] {dir.toString(), "3000", "64", "3", "2"});
        try (Stream<Path> left = Files.list(dir)) {
            assertThat(left).isEmpty();
        }
    }
}
