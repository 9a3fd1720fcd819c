package dev.rill.bench.durable;

import dev.rill.bench.suite.Results;
import dev.rill.bench.suite.Summary;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * Aggregates the durable benchmark's runs (median and min–max per configuration and payload), computes the ratios
 * against the peers with their targets, and writes the Markdown fragment and the JSON of {@code durable}.
 */
final class DurableReport {

    /** One configuration at one payload size and the runs measured for it. */
    static final class Row {
        final String system;
        final String config;
        final String durability;
        final String setup;
        final int payload;
        final List<DurableDriver.RunResult> runs = new ArrayList<>();
        final List<Double> loads = new ArrayList<>();
        String failure;

        Row(String system, String config, String durability, String setup, int payload) {
            this.system = system;
            this.config = config;
            this.durability = durability;
            this.setup = setup;
            this.payload = payload;
        }

        Summary summary(ToDoubleFunction<DurableDriver.RunResult> f) {
            List<Double> v = new ArrayList<>();
            for (DurableDriver.RunResult r : runs) {
                v.add(f.applyAsDouble(r));
            }
            return Summary.of(v);
        }

        Summary throughput() {
            return summary(DurableDriver.RunResult::perSecond);
        }

        boolean measured() {
            return !runs.isEmpty();
        }
    }

    /**
     * What the report states about the run.
     *
     * @param profile the profile's name
     * @param sizes the profile
     * @param producers producer count
     * @param window sends in flight per producer
     * @param startedAt ISO instant of the start
     * @param minutes how long the durable part took
     * @param disk the data directories' disk, as described by the script
     */
    record Context(String profile, DurableBench.Profile sizes, int producers, int window, String startedAt,
            double minutes, String disk) {
    }

    /**
     * A ratio with a target: Rill's configuration of one durability class against a peer's configuration.
     *
     * @param rillSystem the Rill row's system
     * @param rillDurability always, interval or never
     * @param peerSystem the peer row's system
     * @param peerConfig the peer row's config
     * @param target the ratio to reach (0: shown without target)
     */
    record Comparison(String rillSystem, String rillDurability, String peerSystem, String peerConfig, double target) {
    }

    static final List<Comparison> COMPARISONS = List.of(
            new Comparison("Rill (network)", "always", "RabbitMQ", "quorum queue, confirms", 3),
            new Comparison("Rill embedded", "always", "RabbitMQ", "quorum queue, confirms", 3),
            new Comparison("Rill (network)", "interval", "Redis Streams", "AOF everysec", 1),
            new Comparison("Rill embedded", "interval", "Redis Streams", "AOF everysec", 1),
            new Comparison("Rill (network)", "interval", "NATS JetStream", "file storage", 1),
            new Comparison("Rill embedded", "interval", "NATS JetStream", "file storage", 1),
            new Comparison("Rill (network)", "always", "Redis Streams", "AOF always", 0),
            new Comparison("Rill embedded", "always", "Redis Streams", "AOF always", 0));

    /** Absolute target of Rill with fsync ALWAYS at 100-byte payloads, msg/s. */
    static final double ALWAYS_TARGET = 100_000;

    /**
     * The ratio of two rows' median throughputs, with the extreme ratios of their ranges.
     *
     * @param median rill median ÷ peer median
     * @param worst rill min ÷ peer max
     * @param best rill max ÷ peer min
     */
    record Ratio(double median, double worst, double best) {

        static Ratio of(Summary rill, Summary peer) {
            return new Ratio(rill.ratioTo(peer), peer.max() == 0 ? Double.NaN : rill.min() / peer.max(),
                    peer.min() == 0 ? Double.NaN : rill.max() / peer.min());
        }
    }

    private DurableReport() {
    }

    /**
     * Says whether {@code value} reaches {@code target}: "met", or "MISSED by N%" (how far below the target, in
     * percent of the target).
     *
     * @param value the measured figure
     * @param target what it should reach
     * @return the verdict
     */
    static String verdict(double value, double target) {
        if (Double.isNaN(value)) {
            return "not measured";
        }
        if (value >= target) {
            return "met";
        }
        return Summary.missedBy(value, target);
    }

    static Row find(List<Row> rows, String system, int payload, java.util.function.Predicate<Row> which) {
        for (Row r : rows) {
            if (r.system.equals(system) && r.payload == payload && which.test(r)) {
                return r;
            }
        }
        return null;
    }

    static String payload(int bytes) {
        return bytes >= 1024 && bytes % 1024 == 0 ? (bytes / 1024) + " KiB" : bytes + " B";
    }

    static Results report(List<Row> rows, Context ctx) {
        Results r = new Results("durable");
        DurableBench.Profile p = ctx.sizes();
        List<Double> loads = new ArrayList<>();
        rows.forEach(x -> x.loads.stream().filter(d -> !Double.isNaN(d)).forEach(loads::add));
        Summary load = loads.isEmpty() ? null : Summary.of(loads);
        r.md(String.format(Locale.ROOT, "### Durable: send → confirm, %d producers × %d in flight, one queue%n%n",
                ctx.producers(), ctx.window()));
        r.md(String.format(Locale.ROOT, "Each producer (a thread; a connection of its own for networked systems) keeps "
                + "%d sends outstanding; no consumer. A send counts once the system confirms it as stored under the "
                + "setting shown. msg/s = confirmed sends from the first send to the last confirm of a timed run; "
                + "latency = send call → confirm (closed loop: the window paces the producers, not a fixed rate). "
                + "Profile %s: %d round(s); each round visits every configuration in turn (fresh queue, %.1f s warmup "
                + "(%.1f s in the first round), then a %.1f s run capped at %,d messages of 100 B or %,d of 4 KiB), "
                + "so other load on the machine spreads over all of them. Median (min–max) over the rounds. Started "
                + "%s, took %.1f min.%n%n",
                ctx.window(), ctx.profile(), p.rounds(), p.warmupSeconds(), p.firstWarmupSeconds(), p.runSeconds(),
                p.maxSmall(), p.maxLarge(), ctx.startedAt(), ctx.minutes()));
        r.md("- Data directories (Rill, RabbitMQ, Redis, NATS under one parent): " + ctx.disk() + "\n");
        if (load != null) {
            r.md(String.format(Locale.ROOT, "- Machine load during this part: 1-min load average %s–%s (median %s) "
                    + "on 2 cores; %s%n", Summary.num(load.min()), Summary.num(load.max()), Summary.num(load.median()),
                    load.max() > 2.5 ? "**loaded**: other work competed for the cores during some runs (read the "
                            + "ratios, not the absolute figures)"
                            : "the durable part itself keeps about 2 busy, so this is close to quiet"));
        }
        r.md("\n| system | durability | payload | msg/s median (min–max) | p50 µs | p99 µs | p99.9 µs |\n"
                + "|---|---|---|---|---|---|---|\n");
        for (Row x : rows) {
            if (!x.measured()) {
                r.md(String.format(Locale.ROOT, "| %s | %s | %s | not measured: %s | | | |%n", x.system, x.config,
                        payload(x.payload), x.failure == null ? "no run" : x.failure.replace('|', '/')));
                continue;
            }
            Summary t = x.throughput();
            r.md(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s |%n", x.system, x.config,
                    payload(x.payload), t.format(), lat(x, DurableDriver.RunResult::p50us),
                    lat(x, DurableDriver.RunResult::p99us), lat(x, DurableDriver.RunResult::p999us)));
            r.record(x.system + " " + x.config + " " + payload(x.payload), json(x));
        }
        r.md("\nLatency columns: median over the rounds of each run's percentile (min–max when it varied).\n");

        r.md("\n#### Durable ratios (same run, ratio of medians; worst–best = Rill's min ÷ peer's max – Rill's max ÷ "
                + "peer's min)\n\n| Rill | ÷ peer | payload | ratio | worst–best | target | verdict |\n"
                + "|---|---|---|---|---|---|---|\n");
        for (int payload : DurableBench.PAYLOADS) {
            for (Comparison c : COMPARISONS) {
                Row rill = find(rows, c.rillSystem(), payload, x -> x.durability.equals(c.rillDurability()));
                Row peer = find(rows, c.peerSystem(), payload, x -> x.config.equals(c.peerConfig()));
                if (rill == null || peer == null) {
                    continue;
                }
                String name = c.rillSystem() + " " + rill.config;
                String peerName = c.peerSystem() + " " + c.peerConfig();
                if (!rill.measured() || !peer.measured()) {
                    r.md(String.format(Locale.ROOT, "| %s | %s | %s | n/a | | %s | not measured |%n", name, peerName,
                            payload(payload), targetText(c.target())));
                    continue;
                }
                Ratio ratio = Ratio.of(rill.throughput(), peer.throughput());
                String target = targetText(c.target());
                String verdict = c.target() > 0 ? verdict(ratio.median(), c.target()) : "";
                r.md(String.format(Locale.ROOT, "| %s | %s | %s | **%.2f×** | %.2f–%.2f | %s | %s |%n", name,
                        peerName, payload(payload), ratio.median(), ratio.worst(), ratio.best(), target, verdict));
                r.record("ratio " + name + " / " + peerName + " " + payload(payload), String.format(Locale.ROOT,
                        "{\"median\":%.4f,\"worst\":%.4f,\"best\":%.4f,\"target\":%.1f,\"verdict\":\"%s\"}",
                        ratio.median(), ratio.worst(), ratio.best(), c.target(), verdict));
            }
        }
        r.md("\n");
        for (String system : new String[] {"Rill embedded", "Rill (network)"}) {
            Row x = find(rows, system, 100, y -> y.durability.equals("always"));
            if (x != null) {
                double v = x.measured() ? x.throughput().median() : Double.NaN;
                String verdict = verdict(v, ALWAYS_TARGET);
                r.md(String.format(Locale.ROOT, "%s with fsync ALWAYS, 100 B: **%s msg/s** (target ≥ 100,000: %s).%n",
                        system, Summary.num(v), verdict));
                r.record("absolute " + system + " ALWAYS 100 B", String.format(Locale.ROOT,
                        "{\"msgPerSec\":%.1f,\"target\":%.1f,\"verdict\":\"%s\"}", v, ALWAYS_TARGET, verdict));
            }
        }
        r.md("\nSetups:\n\n");
        Map<String, String> setups = new LinkedHashMap<>();
        for (Row x : rows) {
            setups.putIfAbsent(x.system + (x.system.startsWith("Rill") ? "" : " " + x.config), x.setup);
        }
        setups.forEach((k, v) -> r.md("- **" + k + "**: " + v + "\n"));
        r.md("\n");
        return r;
    }

    static String targetText(double target) {
        return target > 0 ? String.format(Locale.ROOT, "≥ %s×", Summary.num(target).replace(".00", "")) : "";
    }

    static String lat(Row x, ToDoubleFunction<DurableDriver.RunResult> f) {
        Summary s = x.summary(f);
        return s.runs() == 1 || s.min() == s.max() ? Summary.num(s.median()) : s.format();
    }

    static String json(Row x) {
        StringBuilder runs = new StringBuilder();
        for (DurableDriver.RunResult r : x.runs) {
            if (runs.length() > 0) {
                runs.append(',');
            }
            runs.append(String.format(Locale.ROOT, "{\"messages\":%d,\"seconds\":%.4f,\"msgPerSec\":%.1f,"
                    + "\"p50us\":%.1f,\"p99us\":%.1f,\"p999us\":%.1f,\"maxUs\":%.1f}", r.messages(), r.seconds(),
                    r.perSecond(), r.p50us(), r.p99us(), r.p999us(), r.maxUs()));
        }
        StringBuilder loads = new StringBuilder();
        for (double l : x.loads) {
            if (loads.length() > 0) {
                loads.append(',');
            }
            loads.append(Double.isNaN(l) ? "null" : String.format(Locale.ROOT, "%.2f", l));
        }
        return String.format(Locale.ROOT, "{\"system\":\"%s\",\"durability\":\"%s\",\"class\":\"%s\","
                + "\"payloadBytes\":%d,\"msgPerSec\":%s,\"p50us\":%s,\"p99us\":%s,\"p999us\":%s,\"loadAvg1m\":[%s],"
                + "\"runs\":[%s],\"setup\":\"%s\"}", x.system, x.config, x.durability, x.payload,
                x.throughput().toJson(), x.summary(DurableDriver.RunResult::p50us).toJson(),
                x.summary(DurableDriver.RunResult::p99us).toJson(),
                x.summary(DurableDriver.RunResult::p999us).toJson(), loads, runs,
                x.setup.replace("\\", "\\\\").replace("\"", "'"));
    }
}
