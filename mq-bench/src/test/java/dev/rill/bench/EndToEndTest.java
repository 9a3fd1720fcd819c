package dev.rill.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.QueueStats;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Checks the benchmark harness, not performance: every transport delivers every message exactly once, the core
 * acknowledges each exactly once, and nothing is left behind, including when the queue is much smaller than the
 * run (so both the empty-queue and the full-queue waits are exercised).
 */
class EndToEndTest {

    private static final int MESSAGES = 30_000;

    private EndToEnd harness;

    @BeforeEach
    void startProducer() {
        harness = new EndToEnd();
    }

    @AfterEach
    void stopProducer() {
        harness.close();
    }

    @ParameterizedTest
    @EnumSource(Pipe.Kind.class)
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void everyMessageIsConsumedExactlyOnce(Pipe.Kind kind) throws Exception {
        int payloads = Integer.highestOneBit(MESSAGES) << 1; // every message has its own payload value
        for (int capacity : new int[] {1, 7, 100, 100_000}) {
            Pipe pipe = Pipe.create(kind, capacity, payloads);
            int[] seen = new int[payloads];

            long sum = harness.run(pipe, MESSAGES, seen);

            assertThat(sum).as("%s capacity %d: payload sum", kind, capacity)
                    .isEqualTo(Pipe.expectedSum(MESSAGES, payloads));
            for (int v = 0; v < payloads; v++) {
                if (seen[v] != (v < MESSAGES ? 1 : 0)) {
                    assertThat(seen[v]).as("%s capacity %d: receipts of payload %d", kind, capacity, v)
                            .isEqualTo(v < MESSAGES ? 1 : 0);
                }
            }
            assertThat(pipe.size()).as("%s capacity %d: left in the queue", kind, capacity).isZero();
            if (pipe instanceof CorePipe core) {
                QueueStats stats = core.queue().stats();
                assertThat(stats.sent()).isEqualTo(MESSAGES);
                assertThat(stats.delivered()).as("each message delivered once").isEqualTo(MESSAGES);
                assertThat(stats.acked()).as("each message acked once").isEqualTo(MESSAGES);
                assertThat(stats.expiredLeases()).isZero();
                assertThat(stats.size()).isZero();
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Pipe.Kind.class)
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aPipeCanBeReusedAcrossRunsLikeBenchmarkInvocations(Pipe.Kind kind) throws Exception {
        Pipe pipe = Pipe.create(kind, 64, CoreThroughputBenchmark.PAYLOADS);
        long expected = Pipe.expectedSum(5_000, CoreThroughputBenchmark.PAYLOADS);
        for (int run = 0; run < 3; run++) {
            assertThat(harness.run(pipe, 5_000, null)).as("%s run %d", kind, run).isEqualTo(expected);
            assertThat(pipe.size()).isZero();
        }
    }
}
