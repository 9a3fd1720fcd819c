package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.log.FsyncPolicy;
import dev.rill.netty.ServerOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Races around {@link ServerProcess}'s shutdown; each was reproduced with pauses injected at the racing point. */
class ServerProcessRacesTest {

    private static final Duration T = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    @Test
    void aSecondShutdownReturnsOnlyOnceTheFirstHasClosedTheBroker() throws Exception {
        ServerOptions options = ServerOptions.defaults().host("127.0.0.1").port(0).drainTimeout(Duration.ZERO);
        ServerProcess first = ServerProcess.start(options, dir, FsyncPolicy.always(), "127.0.0.1", 0, T);
        // two shutdowns at once (a SIGTERM hook next to the application's own, say)
        CompletableFuture<Boolean> a = CompletableFuture.supplyAsync(() -> first.shutdown(T));
        CompletableFuture<Boolean> b = CompletableFuture.supplyAsync(() -> first.shutdown(T));
        boolean performedByA;
        ServerProcess again = null;
        try {
            // whichever returns first, the data directory is free once it has returned
            Object firstDone = CompletableFuture.anyOf(a, b).get(10, TimeUnit.SECONDS);
            assertThat(firstDone).isInstanceOf(Boolean.class);
            again = ServerProcess.start(options, dir, FsyncPolicy.always(), "127.0.0.1", 0, T);
            performedByA = a.get(10, TimeUnit.SECONDS);
            assertThat(performedByA).isNotEqualTo(b.get(10, TimeUnit.SECONDS)); // exactly one did the work
            assertThat(first.awaitShutdown(Duration.ZERO)).isTrue();
        } finally {
            if (again != null) {
                again.shutdown(T);
            }
        }
    }
}
