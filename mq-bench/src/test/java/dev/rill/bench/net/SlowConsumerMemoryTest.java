package dev.rill.bench.net;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class SlowConsumerMemoryTest {

    private static final long MIB = 1024 * 1024;

    private static SlowConsumerMemory.Sample sample(int window, long backlog, long growth) {
        return new SlowConsumerMemory.Sample(window, backlog, 40 * MIB, 40 * MIB + growth, 40 * MIB, 16, 8000,
                backlog - 8000, 2 * MIB);
    }

    @Test
    void growthWithinTheCreditAllowanceIsBounded() {
        SlowConsumerMemory.Sample s = sample(256, 1_000_000, 5 * MIB);
        assertThat(s.growth()).isEqualTo(5 * MIB);
        assertThat(s.backlogPayloadBytes()).isEqualTo(100_000_000L);
        assertThat(s.bounded()).isTrue();
    }

    @Test
    void growthBeyondTheAllowanceIsNotBounded() {
        // allowance for window 256: 16 MiB + 1 MiB
        assertThat(sample(256, 1_000_000, 18 * MIB).bounded()).isFalse();
        assertThat(sample(4096, 1_000_000, 18 * MIB).bounded()).isTrue();
    }

    @Test
    void growthNearTheBacklogSizeIsNotBoundedEvenUnderTheAllowance() {
        // a 100k backlog is 10 MB of payload: holding 3 MiB of it is a quarter, not credit-sized
        assertThat(sample(4096, 100_000, 3 * MIB).bounded()).isFalse();
    }

    @Test
    void reportHasOneRowAndOneRecordPerWindow() {
        var r = SlowConsumerMemory.report(List.of(sample(256, 1_000_000, MIB), sample(4096, 1_000_000, 30 * MIB)), 8);
        assertThat(r.markdown()).contains("| 256 | 1,000,000 | 40.0 | 41.0 | 1.00 | 95.4 | 8,000 | 992,000 | 2.0 | yes |")
                .contains("| 4096 | 1,000,000 | 40.0 | 70.0 | 30.00 |")
                .contains("| NO |");
        assertThat(r.json()).contains("\"name\":\"window-256\"").contains("\"growthBytes\":1048576")
                .contains("\"bounded\":false");
    }
}
