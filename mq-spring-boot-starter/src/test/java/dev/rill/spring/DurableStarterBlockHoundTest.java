package dev.rill.spring;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;

/**
 * {@link StarterUnderBlockHound} on the embedded durable broker ({@code rill.data-dir}, fsync always): sends and
 * acks complete once their record is on disk, written by the log's own thread, never by a Reactor or Netty thread.
 */
class DurableStarterBlockHoundTest extends StarterUnderBlockHound {

    private Path dir;

    @Override
    String[] brokerProperties() {
        try {
            dir = Files.createTempDirectory("rill-blockhound");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new String[] {"rill.data-dir=" + dir, "rill.fsync=always"};
    }

    @AfterAll
    void deleteData() throws IOException {
        close(); // the broker first: it holds the directory's lock
        if (dir != null) {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }
}
