package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.MemoryStats;
import dev.rill.netty.ServerOptions;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The embedded servers of {@code rill demo} and {@code rill bench} run under {@code rill serve}'s default memory budget
 * (before, none: {@code rill bench --payload-size 1MiB} against its own server could fill the heap).
 */
class EmbeddedServerMemoryTest {

    private static final Duration T = Duration.ofSeconds(10);

    @Test
    void theDemoAndBenchServerHasServesDefaultBudget() {
        ServerProcess p = ServerProcess.start(ServerOptions.defaults().host("127.0.0.1").port(0), "127.0.0.1", null,
                T);
        try {
            MemoryStats m = p.broker().memory().block(T);
            assertThat(m).isNotNull();
            assertThat(m.budget()).hasValue(Math.max(Runtime.getRuntime().maxMemory()
                    / ServeCommand.DEFAULT_MAX_MEMORY_DIVISOR, ServerOptions.defaults().maxFrameSize()));
            assertThat(m.used()).isZero();
        } finally {
            p.shutdown(T);
        }
    }
}
