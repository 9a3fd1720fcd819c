package dev.rill.bench.suite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CurveTest {

    private static Summary s(double... v) {
        return Summary.of(java.util.Arrays.stream(v).boxed().toList());
    }

    private static Curve queues() {
        return new Curve("queues", "Throughput vs number of queues", "queues", "note")
                .reference("ABQ")
                .add("core", 1, s(100, 90, 110))
                .add("core", 1000, s(85, 80, 90))
                .add("ABQ", 1, s(200))
                .add("ABQ", 1000, s(170))
                .add("reactive", 1000, s(50))
                .add("reactive", 1, s(40));
    }

    @Test
    void ratiosCompareWithTheSeriesFirstPointAndWithTheReferenceAtTheSameX() {
        Curve c = queues();
        assertThat(c.ratioToFirst("core", 1000)).isCloseTo(0.85, within(1e-9));
        assertThat(c.ratioToFirst("core", 1)).isCloseTo(1.0, within(1e-9));
        assertThat(c.ratioToFirst("reactive", 1000)).isCloseTo(1.25, within(1e-9));
        assertThat(c.ratioToReference("core", 1000)).isCloseTo(0.5, within(1e-9));
        assertThat(c.ratioToFirst("core", 10)).isNaN();
        assertThat(c.ratioToFirst("nope", 1)).isNaN();
        assertThat(c.ratioToReference("reactive", 10)).isNaN();
        assertThat(c.xs()).containsExactly(1L, 1000L);
    }

    @Test
    void xValuesAreFormattedCompactly() {
        assertThat(Curve.formatX(16, true)).isEqualTo("16 B");
        assertThat(Curve.formatX(65536, true)).isEqualTo("64 KiB");
        assertThat(Curve.formatX(1 << 20, true)).isEqualTo("1 MiB");
        assertThat(Curve.formatX(1000, true)).isEqualTo("1000 B");
        assertThat(Curve.formatX(0, false)).isEqualTo("0");
        assertThat(Curve.formatX(10_000, false)).isEqualTo("10k");
        assertThat(Curve.formatX(10_000_000, false)).isEqualTo("10M");
        assertThat(Curve.formatX(1500, false)).isEqualTo("1500");
    }

    @Test
    void markdownHasOneRowPerPointWithRatiosAndLinksTheChart() {
        String md = queues().markdown();
        assertThat(md).contains("#### Throughput vs number of queues")
                .contains("| series | queues | msg/s median (min–max) | vs first point | vs ABQ |")
                .contains("| core | 1k | 85.00 (80.00–90.00) | 0.85× | 0.50× |")
                .contains("| reactive | 1 | 40.00 (40.00–40.00) | 1.00× |")
                .contains("![Throughput vs number of queues](benchmarks/scaling-queues.png)");
        assertThat(md.lines().filter(l -> l.startsWith("| core |") || l.startsWith("| ABQ |")
                || l.startsWith("| reactive |"))).hasSize(6);
    }

    @Test
    void jsonListsEverySeriesWithItsPoints() {
        String json = queues().toJson();
        assertThat(json).startsWith("{\"id\":\"queues\",")
                .contains("\"core\":[{\"x\":1,\"msgPerSec\":{\"median\":100.000,\"min\":90.000,\"max\":110.000,"
                        + "\"runs\":3},\"vsFirst\":1.0000},{\"x\":1000,")
                .contains("\"reactive\":[{\"x\":1,")
                .doesNotContain("NaN");
    }

    @Test
    void queuesHeadlineJudgesTheTwentyPercentTarget() {
        Curve c = new Curve("queues", "t", "queues", "n")
                .add(ScalingBench.CORE, 1, s(100)).add(ScalingBench.CORE, 1000, s(85))
                .add(ScalingBench.REACTIVE, 1, s(100)).add(ScalingBench.REACTIVE, 1000, s(60));
        String h = ScalingBench.queuesHeadline(c);
        assertThat(h).contains("Rill core: 1000 ÷ 1 queue = **0.85×** (met)")
                .contains("Rill reactive: 1000 ÷ 1 queue = **0.60×** (MISSED by 25%)");
    }

    @Test
    void profilesCoverTheRangesOfTheIssueAndOnlyFullQueuesTenMillion() {
        ScalingBench.Profile quick = ScalingBench.Profile.of("quick");
        ScalingBench.Profile full = ScalingBench.Profile.of("full");
        for (ScalingBench.Profile p : List.of(quick, full)) {
            assertThat(p.queues()).startsWith(1).endsWith(1000);
            assertThat(p.consumers()).startsWith(1).endsWith(1000);
            assertThat(p.payloads()).startsWith(16).endsWith(65536);
            assertThat(p.delayed()).startsWith(0).endsWith(1_000_000);
            assertThat(p.depths()).startsWith(0);
            assertThat(p.runs()).isGreaterThanOrEqualTo(3);
        }
        assertThat(quick.depths()).endsWith(1_000_000);
        assertThat(full.depths()).endsWith(10_000_000);
        assertThatThrownBy(() -> ScalingBench.Profile.of("medium")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void chartUsesALogYAxisOnlyWhenTheSeriesDifferMoreThanTenfold() {
        assertThat(Charts.logY(queues())).isFalse(); // 40 .. 200
        Curve wide = new Curve("x", "t", "queues", "n").add("a", 1, s(10)).add("b", 1, s(1000));
        assertThat(Charts.logY(wide)).isTrue();
    }

    @Test
    void chartIsWrittenAsAReadablePng(@TempDir Path dir) throws Exception {
        Curve c = queues().add("core", 0, s(120)); // x = 0 (depth 0) must be drawable on the log axis
        Path file = Charts.writePng(c, dir.resolve("charts"));
        assertThat(file.getFileName().toString()).isEqualTo("scaling-queues.png");
        BufferedImage img = ImageIO.read(Files.newInputStream(file));
        assertThat(img.getWidth()).isEqualTo(900);
        assertThat(img.getHeight()).isEqualTo(540);
    }
}
