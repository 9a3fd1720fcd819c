package dev.rill.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Checks the ratio table of the benchmark report (the arithmetic the performance targets are read from). */
class CoreBenchTest {

    @Test
    void ratiosAreAgainstAbqOfTheSameCapacityAndTargetsAreJudged() {
        String table = CoreBench.table(List.of(
                new CoreBench.Row("ABQ", 1024, 10_000_000, 1, 2.0),
                new CoreBench.Row("CORE_BATCH_ALL", 1024, 12_000_000, 1, 200.0),
                new CoreBench.Row("CORE_SINGLE", 1024, 4_000_000, 1, 300.0),
                new CoreBench.Row("ABQ", 100_000, 20_000_000, 1, 2.0),
                new CoreBench.Row("CORE_SINGLE", 100_000, 12_000_000, 1, Double.NaN)));

        List<String> lines = table.lines().toList();
        assertThat(lines).hasSize(6);
        assertThat(lines.get(1)).startsWith("ABQ").contains(" 1024 ").contains("1.00x");
        assertThat(lines.get(2)).startsWith("CORE_BATCH_ALL").contains("1.20x").contains("MET  >=1.0");
        assertThat(lines.get(3)).startsWith("CORE_SINGLE").contains("0.40x").contains("MISS >=0.5");
        assertThat(lines.get(5)).startsWith("CORE_SINGLE").contains("100000").contains("0.60x")
                .contains("MET  >=0.5");
    }

    @Test
    void batchedKindsAreAlsoComparedWithTheDrainingAbq() {
        String table = CoreBench.table(List.of(
                new CoreBench.Row("ABQ", 1024, 10_000_000, 1, 2.0),
                new CoreBench.Row("ABQ_DRAIN", 1024, 20_000_000, 1, 2.0),
                new CoreBench.Row("CORE_BATCH_ALL", 1024, 12_000_000, 1, 80.0)));

        assertThat(table.lines().toList().get(3)).startsWith("CORE_BATCH_ALL").contains("1.20x").contains("0.60x")
                .contains("MET  >=1.0");
    }

    @Test
    void theIterationRangeShowsBothRegimes() {
        String table = CoreBench.table(List.of(
                new CoreBench.Row("ABQ", 1024, 10_000_000, 1, 2.0),
                new CoreBench.Row("CORE_BATCH_ALL", 1024, 15_000_000, 1, 80.0, 10_400_000, 21_200_000)));

        assertThat(table.lines().toList().get(2)).contains("10400000-21200000").contains("1.50x");
    }

    @Test
    void aRunWithoutAbqShowsNoRatio() {
        String table = CoreBench.table(List.of(new CoreBench.Row("CORE_SINGLE", 64, 1_000, 1, 1)));

        assertThat(table.lines().toList().get(1)).contains("NaNx").contains("?");
    }
}
