package dev.rill.bench.net;

import dev.rill.bench.suite.Results;
import dev.rill.bench.suite.Summary;
import java.io.File;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;
import org.HdrHistogram.Histogram;

/**
 * Networked benchmark over loopback (issues 5 and 8): Rill (server in its own JVM) against RabbitMQ (classic and
 * quorum), Redis Streams and NATS JetStream (memory and file), started by {@code mq-bench/scripts/bench.sh}. For
 * each peer: consume+ack throughput over repeated runs, then latency percentiles at fixed rates.
 *
 * <p>Run: {@code java -cp benchmarks.jar dev.rill.bench.net.NetBench PROFILE OUT_DIR PEER...} where PROFILE is
 * {@code quick}, {@code full}, {@code smoke}, {@code tail} or {@code tail50} (A/B runs of the 5k and 50k msg/s tails)
 * or {@code thru} (A/B runs of throughput), and a PEER is {@code rill}, {@code rill-pipeline} (Rill consumed by a
 * {@code QueuePipeline}: see {@link RillPeer}), {@code rabbit-classic:PORT},
 * {@code rabbit-quorum:PORT}, {@code redis:PORT}, {@code nats-mem:PORT}, {@code nats-file:PORT}, or one of the
 * calibrations {@code netty-relay} and {@code blocking-relay} (not message systems: the same frames on plain Netty
 * along Rill's path, see {@link Relay}, and over blocking sockets along Redis Streams' path, see
 * {@link BlockingRelay}).
 * Rill's server JVM and the relays' servers are started by {@link RillServerMain#start}:
 * {@code -Drill.bench.serverJvmArgs="..."} adds JVM options to them (for experiments such as
 * {@code -Xlog:gc:file=server-gc.log}; the reported runs pass none).
 */
public final class NetBench {

    /**
     * Sizes of a profile. Warm-up: {@code warmupRuns} throughput runs, and more until {@code minWarmupSeconds} have
     * passed, so every system gets the same warm-up time whatever its speed (Rill's server is a fresh JVM whose JIT
     * needs about a million messages; the peers' servers are native or long-running).
     */
    record Profile(int messages, int warmupRuns, double minWarmupSeconds, int runs, int[] rates,
            double latencyWarmup, double latencySeconds, int latencyRuns) {
    }

    static Profile profile(String name) {
        return switch (name) {
            case "quick" -> new Profile(150_000, 3, 10, 3, new int[] {5_000, 50_000}, 5, 4, 2);
            case "full" -> new Profile(1_000_000, 1, 10, 5, new int[] {5_000, 50_000}, 5, 10, 3);
            case "smoke" -> new Profile(20_000, 0, 0, 1, new int[] {5_000}, 0.5, 1, 1);
            // for A/B runs of a change aimed at the tails: short throughput warmup, then 5k msg/s in 10 s windows
            case "tail" -> new Profile(200_000, 5, 0, 1, new int[] {5_000}, 5, 10, 3);
            // the same at 50k msg/s
            case "tail50" -> new Profile(200_000, 5, 0, 1, new int[] {50_000}, 5, 10, 3);
            // for A/B runs of a change aimed at throughput: four (-Drill.bench.thruRuns) 1M-message runs after one warmup
            case "thru" -> new Profile(1_000_000, 1, 0, Integer.getInteger("rill.bench.thruRuns", 4), new int[] {},
                    0, 0, 0);
            default -> throw new IllegalArgumentException(
                    "profile must be quick, full, smoke, tail, tail50 or thru, was " + name);
        };
    }

    /** Everything measured for one peer. */
    static final class PeerResult {
        final String name;
        final String setup;
        /** A calibration (see {@link Peer#calibration()}), not a message system. */
        final boolean calibration;
        String failure;
        final List<Double> throughput = new ArrayList<>();
        final Map<Integer, List<Outcome>> latency = new LinkedHashMap<>();

        PeerResult(String name, String setup) {
            this(name, setup, false);
        }

        PeerResult(String name, String setup, boolean calibration) {
            this.name = name;
            this.setup = setup;
            this.calibration = calibration;
        }
    }

    /** Latency of one fixed-rate run, in microseconds. */
    record Outcome(double p50, double p99, double p999, double max, double senderLagP50, boolean complete,
            long messages) {

        static Outcome of(Load.Outcome o) {
            Histogram h = o.latency();
            return new Outcome(us(h.getValueAtPercentile(50)), us(h.getValueAtPercentile(99)),
                    us(h.getValueAtPercentile(99.9)), us(h.getMaxValue()),
                    us(o.senderLag().getValueAtPercentile(50)), o.complete(), o.messages());
        }

        static double us(long nanos) {
            return nanos / 1000.0;
        }
    }

    private NetBench() {
    }

    /**
     * @param args profile, output directory, peers
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        Profile p = profile(args[0]);
        Path out = Path.of(args[1]);
        List<PeerResult> results = new ArrayList<>();
        Process rillServer = null;
        try {
            for (int i = 2; i < args.length; i++) {
                String spec = args[i];
                String kind = spec.contains(":") ? spec.substring(0, spec.indexOf(':')) : spec;
                int port = spec.contains(":") ? Integer.parseInt(spec.substring(spec.indexOf(':') + 1)) : 0;
                Peer peer;
                if (kind.equals("rill") || kind.equals("rill-pipeline")) {
                    rillServer = RillServerMain.start("1g", "0");
                    port = RillServerMain.readyPort(rillServer);
                    peer = kind.equals("rill") ? new RillPeer(port) : new RillPeer(port, true);
                } else if (kind.equals("netty-relay")) {
                    rillServer = RillServerMain.start(Relay.class, "1g", "0");
                    port = RillServerMain.readyPort(rillServer);
                    peer = new Relay.RelayPeer(port);
                } else if (kind.equals("blocking-relay")) {
                    rillServer = RillServerMain.start(BlockingRelay.class, "1g", "0");
                    port = RillServerMain.readyPort(rillServer);
                    peer = new BlockingRelay.BlockingRelayPeer(port);
                } else {
                    peer = switch (kind) {
                        case "rabbit-classic" -> new RabbitPeer(port, false);
                        case "rabbit-quorum" -> new RabbitPeer(port, true);
                        case "redis" -> new RedisPeer(port);
                        case "nats-mem" -> new NatsPeer(port, false);
                        case "nats-file" -> new NatsPeer(port, true);
                        default -> throw new IllegalArgumentException("unknown peer " + spec);
                    };
                }
                results.add(measure(peer, p, rillServer == null ? null : rillServer.toHandle()));
                if (rillServer != null) {
                    rillServer.getOutputStream().close();
                    rillServer.waitFor();
                    rillServer = null;
                }
            }
        } finally {
            if (rillServer != null) {
                rillServer.destroy();
            }
        }
        Results r = report(results, p);
        System.out.print(r.markdown());
        r.write(out);
        System.exit(0); // client libraries leave non-daemon threads behind
    }

    /**
     * Measures one peer. Each throughput run's log line also gives the CPU time the bench JVM (load generator and
     * clients) and, for Rill, the server JVM spent per message: on a shared, noisy machine that moves far less from
     * run to run than the rate does, so A/B runs of a change compare it first.
     */
    static PeerResult measure(Peer peer, Profile p, ProcessHandle server) {
        PeerResult res = new PeerResult(peer.name(), peer.setup(), peer.calibration());
        Load.Router router = new Load.Router();
        try (peer) {
            peer.open(router);
            long warmupEnd = System.nanoTime() + (long) (p.minWarmupSeconds() * 1e9);
            for (int i = 0; res.throughput.size() < p.runs(); i++) {
                boolean warmup = i < p.warmupRuns() || System.nanoTime() < warmupEnd;
                long benchCpu = cpuNanos(ProcessHandle.current());
                long serverCpu = cpuNanos(server);
                Load.Outcome o = Load.throughput(peer, router, p.messages(), 120);
                log("%s throughput %s %d: %,.0f msg/s%s (CPU per message: bench JVM %.2f µs%s)", peer.name(),
                        warmup ? "warmup" : "run", i, o.perSecond(), o.complete() ? "" : " INCOMPLETE",
                        (cpuNanos(ProcessHandle.current()) - benchCpu) / 1e3 / p.messages(),
                        server == null ? "" : String.format(Locale.ROOT, ", server JVM %.2f µs",
                                (cpuNanos(server) - serverCpu) / 1e3 / p.messages()));
                if (!o.complete()) {
                    res.failure = "throughput run did not finish in 120 s (" + o.messages() + " of " + p.messages()
                            + " consumed)";
                    return res;
                }
                if (!warmup) {
                    res.throughput.add(o.perSecond());
                }
            }
            for (int rate : p.rates()) {
                List<Outcome> list = new ArrayList<>();
                res.latency.put(rate, list);
                for (int i = 0; i < p.latencyRuns(); i++) {
                    double warm = i == 0 ? p.latencyWarmup() : 0.5;
                    Load.Outcome o = Load.fixedRate(peer, router, rate, warm, p.latencySeconds(),
                            (long) (60 + p.latencySeconds() * 4));
                    Outcome lat = Outcome.of(o);
                    list.add(lat);
                    log("%s at %,d msg/s: p50 %.0f µs p99 %.0f µs p99.9 %.0f µs max %.0f µs (sender lag p50 %.0f µs)%s",
                            peer.name(), rate, lat.p50(), lat.p99(), lat.p999(), lat.max(), lat.senderLagP50(),
                            o.complete() ? "" : " INCOMPLETE");
                    if (!o.complete()) {
                        res.failure = "fixed-rate run at " + rate + " msg/s did not drain in time";
                        return res;
                    }
                }
            }
        } catch (Exception e) {
            res.failure = e.toString();
            log("%s failed: %s", peer.name(), e);
        }
        return res;
    }

    /** @return the process's CPU time so far (user and system, all threads), 0 when unknown */
    static long cpuNanos(ProcessHandle process) {
        return process == null ? 0 : process.info().totalCpuDuration().map(Duration::toNanos).orElse(0L);
    }

    static void log(String format, Object... args) {
        System.err.println(String.format(Locale.ROOT, format, args));
    }

    static Results report(List<PeerResult> results, Profile p) {
        Results r = new Results("network");
        PeerResult rill = results.stream().filter(x -> x.name.equals("Rill")).findFirst().orElse(null);
        Summary rillTput = rill == null || rill.throughput.isEmpty() ? null : Summary.of(rill.throughput);
        r.md(String.format(Locale.ROOT, "### Networked: consume + ack over loopback%n%n"
                + "100-byte payloads, one producer connection and one consumer connection, every message acked "
                + "individually by the consumer. Throughput: %,d messages per run, %d warmup run(s) and more until "
                + "%.0f s of warm-up passed (the same time for every system), %d measured "
                + "runs, msg/s from the first send to the last consume. All clients run in one bench JVM; each "
                + "server in its own process (Rill: a second JVM, -Xmx1g).%n%n", p.messages(), p.warmupRuns(),
                p.minWarmupSeconds(), p.runs()));
        r.md("| system | setup | consume+ack msg/s median (min–max) | Rill ÷ this |\n|---|---|---|---|\n");
        PeerResult fastestPeer = null;
        for (PeerResult x : results) {
            if (x.throughput.isEmpty()) {
                r.md(String.format(Locale.ROOT, "| %s | %s | not measured: %s | |%n", x.name, x.setup, x.failure));
                continue;
            }
            Summary s = Summary.of(x.throughput);
            String ratio = rillTput == null ? "" : String.format(Locale.ROOT, "%.2f×", rillTput.ratioTo(s));
            r.md(String.format(Locale.ROOT, "| %s | %s | %s | %s |%n", x.name, x.setup, s.format(),
                    x.name.startsWith("Rill") ? "" : ratio));
            if (!x.name.startsWith("Rill") && !x.calibration
                    && (fastestPeer == null || s.median() > Summary.of(fastestPeer.throughput).median())) {
                fastestPeer = x;
            }
            r.record(x.name + " throughput", String.format(Locale.ROOT, "{\"msgPerSec\":%s,\"setup\":\"%s\"}",
                    s.toJson(), x.setup.replace("\"", "'")));
        }
        if (fastestPeer != null) {
            Summary best = Summary.of(fastestPeer.throughput);
            for (PeerResult x : results) {
                if (!x.name.startsWith("Rill") || x.throughput.isEmpty()) {
                    continue;
                }
                double ratio = Summary.of(x.throughput).ratioTo(best);
                String verdict = ratio >= 2 ? "aim met"
                        : ratio >= 1 ? "bar met, aim missed" : "bar " + Summary.missedBy(ratio, 1);
                r.md(String.format(Locale.ROOT, "%nHeadline: %s consume+ack = **%.2f×** the fastest peer (%s); "
                        + "target bar ≥ 1×, aim ≥ 2×: %s.%n", x.name, ratio, fastestPeer.name, verdict));
            }
        }
        r.md(String.format(Locale.ROOT, "%n#### Latency at fixed rates (µs, from the intended send time; "
                + "median over %d runs of %.0f s, min–max in brackets)%n%n", p.latencyRuns(), p.latencySeconds()));
        r.md("| system | rate msg/s | p50 | p99 | p99.9 | max | sender lag p50 |\n|---|---|---|---|---|---|---|\n");
        for (PeerResult x : results) {
            for (Map.Entry<Integer, List<Outcome>> e : x.latency.entrySet()) {
                List<Outcome> l = e.getValue();
                if (l.isEmpty()) {
                    continue;
                }
                r.md(String.format(Locale.ROOT, "| %s | %,d | %s | %s | %s | %s | %s |%n", x.name, e.getKey(),
                        pct(l, Outcome::p50), pct(l, Outcome::p99), pct(l, Outcome::p999), pct(l, Outcome::max),
                        pct(l, Outcome::senderLagP50)));
                r.record(x.name + " latency " + e.getKey(), String.format(Locale.ROOT,
                        "{\"p50us\":%s,\"p99us\":%s,\"p999us\":%s,\"maxUs\":%s}", sum(l, Outcome::p50).toJson(),
                        sum(l, Outcome::p99).toJson(), sum(l, Outcome::p999).toJson(), sum(l, Outcome::max).toJson()));
            }
        }
        floor(r, results);
        r.md("\n");
        return r;
    }

    /**
     * When a calibration ran, each Rill row's latency percentiles as a ratio to the first calibration's at the same
     * rate (medians of the runs). {@code bench.sh} runs the transport floor of {@link Relay} first: what Rill adds on
     * top of the JVMs, Netty and the machine.
     */
    static void floor(Results r, List<PeerResult> results) {
        PeerResult floor = results.stream().filter(x -> x.calibration).findFirst().orElse(null);
        if (floor == null || floor.latency.isEmpty()) {
            return;
        }
        StringBuilder b = new StringBuilder();
        for (PeerResult x : results) {
            if (!x.name.startsWith("Rill")) {
                continue;
            }
            for (Map.Entry<Integer, List<Outcome>> e : x.latency.entrySet()) {
                List<Outcome> f = floor.latency.get(e.getKey());
                if (f == null || f.isEmpty() || e.getValue().isEmpty()) {
                    continue;
                }
                b.append(String.format(Locale.ROOT, "| %s | %,d | %.2f× | %.2f× | %.2f× |%n", x.name, e.getKey(),
                        ratio(e.getValue(), f, Outcome::p50), ratio(e.getValue(), f, Outcome::p99),
                        ratio(e.getValue(), f, Outcome::p999)));
            }
        }
        if (b.length() > 0) {
            r.md(String.format(Locale.ROOT, "%nAgainst the transport floor, the row \"%s\" (plain Netty: the same "
                    + "threads and frames, no broker); medians of the runs, under 1× is faster than the floor:%n%n",
                    floor.name));
            r.md("| system | rate msg/s | p50 ÷ floor | p99 ÷ floor | p99.9 ÷ floor |\n|---|---|---|---|---|\n");
            r.md(b.toString());
        }
    }

    static double ratio(List<Outcome> a, List<Outcome> b, ToDoubleFunction<Outcome> f) {
        return sum(a, f).median() / sum(b, f).median();
    }

    static Summary sum(List<Outcome> l, ToDoubleFunction<Outcome> f) {
        List<Double> v = new ArrayList<>();
        for (Outcome o : l) {
            v.add(f.applyAsDouble(o));
        }
        return Summary.of(v);
    }

    static String pct(List<Outcome> l, ToDoubleFunction<Outcome> f) {
        Summary s = sum(l, f);
        return s.runs() == 1 ? Summary.num(s.median()) : s.format();
    }

    static String classpathOf(Class<?> c) {
        return new File(c.getProtectionDomain().getCodeSource().getLocation().getPath()).getPath();
    }
}
