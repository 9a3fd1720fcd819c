package dev.rill.bench.durable;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.rill.bench.suite.Results;
import dev.rill.bench.suite.Summary;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DurableReportTest {

    private static DurableDriver.RunResult run(double msgPerSec, double p50) {
        return new DurableDriver.RunResult((long) msgPerSec, 0, 1.0, p50, p50 * 4, p50 * 8, p50 * 10, true);
    }

    private static DurableReport.Row row(String system, String config, String durability, int payload,
            double... msgPerSec) {
        DurableReport.Row r = new DurableReport.Row(system, config, durability, system + " setup", payload);
        for (double v : msgPerSec) {
            r.runs.add(run(v, 500));
            r.loads.add(1.5);
        }
        return r;
    }

    private static DurableReport.Context ctx() {
        return new DurableReport.Context("quick", DurableBench.profile("quick"), 4, 64, "2026-11-25T03:00:00Z", 4.2,
                "/var/tmp/x on /dev/vda (ext4)");
    }

    @Test
    void verdictSaysMetOrHowFarBelowTheTarget() {
        assertThat(DurableReport.verdict(3.0, 3)).isEqualTo("met");
        assertThat(DurableReport.verdict(150_000, 100_000)).isEqualTo("met");
        assertThat(DurableReport.verdict(1.5, 3)).isEqualTo("MISSED by 50%");
        assertThat(DurableReport.verdict(90_000, 100_000)).isEqualTo("MISSED by 10%");
        assertThat(DurableReport.verdict(2.999, 3)).isEqualTo("MISSED by <1%");
        assertThat(DurableReport.verdict(Double.NaN, 1)).isEqualTo("not measured");
    }

    @Test
    void ratioOfMediansWithWorstAndBestFromTheRanges() {
        Summary rill = Summary.of(List.of(90.0, 100.0, 120.0));
        Summary peer = Summary.of(List.of(40.0, 50.0, 60.0));
        DurableReport.Ratio r = DurableReport.Ratio.of(rill, peer);
        assertThat(r.median()).isCloseTo(2.0, within(1e-9));
        assertThat(r.worst()).isCloseTo(1.5, within(1e-9));
        assertThat(r.best()).isCloseTo(3.0, within(1e-9));
    }

    @Test
    void payloadSizesReadAsBytesOrKibibytes() {
        assertThat(DurableReport.payload(100)).isEqualTo("100 B");
        assertThat(DurableReport.payload(4096)).isEqualTo("4 KiB");
        assertThat(DurableReport.payload(1000)).isEqualTo("1000 B");
    }

    @Test
    void reportHasTheTableTheRatiosAgainstTargetsAndTheAbsoluteAlwaysFigure() {
        List<DurableReport.Row> rows = new ArrayList<>();
        rows.add(row("Rill embedded", "ALWAYS", "always", 100, 150_000, 160_000, 140_000));
        rows.add(row("Rill (network)", "ALWAYS", "always", 100, 60_000, 50_000, 70_000));
        rows.add(row("Rill (network)", "INTERVAL 100 ms", "interval", 100, 200_000, 210_000, 190_000));
        rows.add(row("RabbitMQ", "quorum queue, confirms", "always", 100, 30_000, 25_000, 35_000));
        rows.add(row("Redis Streams", "AOF everysec", "interval", 100, 100_000, 90_000, 110_000));
        DurableReport.Row nats = new DurableReport.Row("NATS JetStream", "file storage", "interval", "nats setup",
                100);
        nats.failure = "connection refused";
        rows.add(nats);

        Results r = DurableReport.report(rows, ctx());
        String md = r.markdown();
        assertThat(md).contains("| Rill embedded | ALWAYS | 100 B | 150,000 (140,000–160,000) | 500 | 2,000 | 4,000 |");
        assertThat(md).contains("| NATS JetStream | file storage | 100 B | not measured: connection refused | | | |");
        // network ALWAYS 60k / quorum 30k = 2x, target 3x: missed by 33%
        assertThat(md).contains("| Rill (network) ALWAYS | RabbitMQ quorum queue, confirms | 100 B | **2.00×** "
                + "| 1.43–2.80 | ≥ 3× | MISSED by 33% |");
        assertThat(md).contains("| Rill embedded ALWAYS | RabbitMQ quorum queue, confirms | 100 B | **5.00×** ");
        assertThat(md).contains("| Rill (network) INTERVAL 100 ms | Redis Streams AOF everysec | 100 B | **2.00×** "
                + "| 1.73–2.33 | ≥ 1× | met |");
        assertThat(md).contains("| Rill (network) INTERVAL 100 ms | NATS JetStream file storage | 100 B | n/a | | ≥ 1× "
                + "| not measured |");
        assertThat(md).contains("Rill embedded with fsync ALWAYS, 100 B: **150,000 msg/s** (target ≥ 100,000: met).");
        assertThat(md).contains("Rill (network) with fsync ALWAYS, 100 B: **60,000 msg/s** (target ≥ 100,000: "
                + "MISSED by 40%).");
        assertThat(md).contains("/var/tmp/x on /dev/vda (ext4)");
        assertThat(md).contains("1-min load average 1.50–1.50").doesNotContain("**loaded**");
        assertThat(md).contains("- **RabbitMQ quorum queue, confirms**: RabbitMQ setup");

        String json = r.json();
        assertThat(json).startsWith("{\"scenario\":\"durable\"");
        assertThat(json).contains("\"name\":\"Rill embedded ALWAYS 100 B\"")
                .contains("\"msgPerSec\":{\"median\":150000.000,\"min\":140000.000,\"max\":160000.000,\"runs\":3}")
                .contains("\"loadAvg1m\":[1.50,1.50,1.50]")
                .contains("\"name\":\"ratio Rill (network) ALWAYS / RabbitMQ quorum queue, confirms 100 B\"")
                .contains("\"median\":2.0000,\"worst\":1.4286,\"best\":2.8000,\"target\":3.0,"
                        + "\"verdict\":\"MISSED by 33%\"")
                .contains("\"name\":\"absolute Rill (network) ALWAYS 100 B\",\"data\":{\"msgPerSec\":60000.0");
        assertThat(json).doesNotContain("NATS JetStream file storage 100 B\",\"data\"");
    }

    @Test
    void aHighLoadAverageMarksTheRunAsLoaded() {
        DurableReport.Row x = row("Rill embedded", "ALWAYS", "always", 100, 1000);
        x.loads.set(0, 4.0);
        assertThat(DurableReport.report(List.of(x), ctx()).markdown()).contains("**loaded**");
    }
}
