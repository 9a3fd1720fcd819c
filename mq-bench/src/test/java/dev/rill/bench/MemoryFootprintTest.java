package dev.rill.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * Checks MemoryFootprint's measurement at a small size with a generous bound. Not the performance target (that is
 * measured by mq-bench/scripts/core-bench.sh): this only proves the calculation sees the queue's entries, neither
 * nothing nor garbage.
 */
class MemoryFootprintTest {

    @Test
    void measuresARealisticPerMessageCost() {
        MemoryFootprint.Result r = MemoryFootprint.measure(200_000);

        assertThat(r.messages()).isEqualTo(200_000);
        assertThat(r.usedAfter()).isGreaterThan(r.usedBefore());
        // Each queued message holds at least an object with an id and two links; far less than a kilobyte.
        assertThat(r.bytesPerMessage()).isBetween(16.0, 1024.0);
        assertThat(r.maxHeap()).isPositive();
    }

    @Test
    void rejectsAnEmptyMeasurement() {
        org.assertj.core.api.Assertions.assertThatIllegalArgumentException()
                .isThrownBy(() -> MemoryFootprint.measure(0))
                .withMessageContaining("n must be >= 1, was 0");
    }
}
