package dev.rill.bench.suite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

class SummaryTest {

    @Test
    void medianOfAnOddCountIsTheMiddleValueAndTheRangeIsKept() {
        Summary s = Summary.of(List.of(5.0, 1.0, 9.0, 3.0, 7.0));
        assertThat(s.median()).isEqualTo(5.0);
        assertThat(s.min()).isEqualTo(1.0);
        assertThat(s.max()).isEqualTo(9.0);
        assertThat(s.runs()).isEqualTo(5);
    }

    @Test
    void medianOfAnEvenCountIsTheMeanOfTheTwoMiddleValues() {
        assertThat(Summary.of(List.of(4.0, 1.0, 3.0, 10.0)).median()).isEqualTo(3.5);
    }

    @Test
    void ratioComparesMedians() {
        Summary a = Summary.of(List.of(300.0, 100.0, 200.0));
        Summary b = Summary.of(List.of(400.0));
        assertThat(a.ratioTo(b)).isCloseTo(0.5, within(1e-9));
        assertThat(a.ratioTo(Summary.of(List.of(0.0)))).isNaN();
    }

    @Test
    void formatsThroughputWithSeparatorsAndSmallNumbersWithDecimals() {
        assertThat(Summary.of(List.of(1_234_567.0, 1_000_000.0, 2_000_000.0)).format())
                .isEqualTo("1,234,567 (1,000,000–2,000,000)");
        assertThat(Summary.num(12.345)).isEqualTo("12.35");
        assertThat(Summary.num(Double.NaN)).isEqualTo("n/a");
        assertThat(Summary.of(List.of(2.0)).toJson()).isEqualTo("{\"median\":2.000,\"min\":2.000,\"max\":2.000,\"runs\":1}");
    }

    @Test
    void missedBySaysHowFarBelowTheTargetAndNeverZero() {
        assertThat(Summary.missedBy(0.5, 1)).isEqualTo("MISSED by 50%");
        assertThat(Summary.missedBy(90_000, 100_000)).isEqualTo("MISSED by 10%");
        assertThat(Summary.missedBy(0.2994, 0.3)).isEqualTo("MISSED by <1%");
        assertThat(ReactiveBench.verdict(0.2994)).isEqualTo("bar ≥0.3× MISSED by <1%");
    }

    @Test
    void refusesNoValues() {
        assertThatThrownBy(() -> Summary.of(List.of())).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("values");
    }

    @Test
    void resultsEscapeJsonAndKeepMarkdown() {
        Results r = new Results("x").md("| a |\n").record("say \"hi\"\n", "{\"v\":1}");
        assertThat(r.json()).contains("\"name\":\"say \\\"hi\\\"\\n\"").contains("\"data\":{\"v\":1}")
                .startsWith("{\"scenario\":\"x\"");
        assertThat(r.markdown()).isEqualTo("| a |\n");
    }

    @Test
    void reactiveVerdictNamesTheMissByPercent() {
        assertThat(ReactiveBench.verdict(0.6)).isEqualTo("bar ≥0.3× met, aim ≥0.5× met");
        assertThat(ReactiveBench.verdict(0.4)).isEqualTo("bar ≥0.3× met, aim ≥0.5× missed");
        assertThat(ReactiveBench.verdict(0.15)).isEqualTo("bar ≥0.3× MISSED by 50%");
    }
}
