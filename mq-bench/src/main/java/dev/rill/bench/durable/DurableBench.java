package dev.rill.bench.durable;

import dev.rill.bench.suite.Results;
import dev.rill.core.log.FsyncPolicy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Durable send throughput and latency (issues 6 and 8) against peers in the same run: Rill embedded and over the
 * network with fsync ALWAYS, INTERVAL and NEVER, RabbitMQ quorum queues with publisher confirms, Redis Streams with
 * AOF ({@code everysec}, {@code always}) and NATS JetStream file storage, each driven by 4 producers keeping 64
 * sends in flight (the driver's window), 100-byte and 4 KiB payloads, one queue, no consumer.
 *
 * <p>Runs are interleaved: each round visits every configuration once (fresh queue, warmup, a timed run), so load
 * from other work on a shared machine spreads over all of them instead of landing on one; the report gives the
 * median and min–max over the rounds and the ratios of medians.
 *
 * <p>Run: {@code java -cp benchmarks.jar dev.rill.bench.durable.DurableBench quick|full|smoke OUT_DIR DATA_PARENT
 * TARGET... [--policies=always,interval:100,never]} where a TARGET is {@code rill-embedded}, {@code rill-core},
 * {@code rill-net}, {@code rabbit-quorum:PORT}, {@code redis-everysec:PORT}, {@code redis-always:PORT} or
 * {@code nats-file:PORT}. {@code -Drill.bench.disk=TEXT} describes the data directories' disk in the report.
 * Writes {@code durable.md} and {@code durable.json} into OUT_DIR.
 */
public final class DurableBench {

    /** Producers (threads, and connections for networked systems); -Drill.bench.producers overrides (diagnosis). */
    static final int PRODUCERS = Integer.getInteger("rill.bench.producers", 4);
    /** Sends in flight per producer; -Drill.bench.window overrides (diagnosis). */
    static final int WINDOW = Integer.getInteger("rill.bench.window", 64);
    /** Payload sizes. */
    static final int[] PAYLOADS = {100, 4096};

    /**
     * Sizes of a profile.
     *
     * @param rounds measured runs per configuration and payload (one per round)
     * @param firstWarmupSeconds warmup before the first round's run (JIT)
     * @param warmupSeconds warmup before every later run (fresh queue)
     * @param runSeconds length of a measured run
     * @param maxSmall cap on a run's messages at 100 B
     * @param maxLarge cap on a run's messages at 4 KiB (the queues keep them: memory)
     * @param withCore whether the core path (DurableBroker) of Rill embedded runs too
     */
    record Profile(int rounds, double firstWarmupSeconds, double warmupSeconds, double runSeconds, long maxSmall,
            long maxLarge, boolean withCore) {

        long cap(int payload) {
            return payload <= 100 ? maxSmall : maxLarge;
        }
    }

    static Profile profile(String name) {
        return switch (name) {
            case "quick" -> new Profile(3, 1, 0.3, 1.5, 1_000_000, 200_000, false);
            case "full" -> new Profile(5, 2, 0.5, 3, 2_500_000, 400_000, true);
            case "smoke" -> new Profile(1, 0.2, 0.1, 0.5, 50_000, 10_000, false);
            default -> throw new IllegalArgumentException("profile must be quick, full or smoke, was " + name);
        };
    }

    /**
     * One TARGET argument.
     *
     * @param kind rill-embedded, rill-core, rill-net, rabbit-quorum, redis-everysec, redis-always or nats-file
     * @param port the peer's port (0 for Rill)
     */
    record TargetSpec(String kind, int port) {
    }

    /**
     * The parsed command line.
     *
     * @param profile the profile's name
     * @param out where durable.md and durable.json go
     * @param dataParent the parent of every Rill data directory
     * @param targets the systems, in order
     * @param policies Rill's fsync policies
     */
    record Args(String profile, Path out, Path dataParent, List<TargetSpec> targets, List<FsyncPolicy> policies) {
    }

    static final List<String> KINDS = List.of("rill-embedded", "rill-core", "rill-net", "rabbit-quorum",
            "redis-everysec", "redis-always", "nats-file");

    static Args parse(String[] args) {
        if (args.length < 4) {
            throw new IllegalArgumentException("usage: DurableBench quick|full|smoke OUT_DIR DATA_PARENT TARGET... "
                    + "[--policies=always,interval:100,never]");
        }
        profile(args[0]); // validates
        List<TargetSpec> targets = new ArrayList<>();
        List<FsyncPolicy> policies = List.of(FsyncPolicy.always(), FsyncPolicy.interval(Duration.ofMillis(100)),
                FsyncPolicy.never());
        for (int i = 3; i < args.length; i++) {
            String a = args[i];
            if (a.startsWith("--policies=")) {
                List<FsyncPolicy> p = new ArrayList<>();
                for (String s : a.substring("--policies=".length()).split(",")) {
                    p.add(parsePolicy(s.trim()));
                }
                policies = List.copyOf(p);
                continue;
            }
            int colon = a.indexOf(':');
            String kind = colon < 0 ? a : a.substring(0, colon);
            if (!KINDS.contains(kind)) {
                throw new IllegalArgumentException("unknown target '" + a + "' (one of " + KINDS + ")");
            }
            boolean rill = kind.startsWith("rill-");
            if (rill != (colon < 0)) {
                throw new IllegalArgumentException(rill ? "target '" + a + "' takes no port"
                        : "target '" + a + "' needs a port (" + kind + ":PORT)");
            }
            int port = 0;
            if (!rill) {
                try {
                    port = Integer.parseInt(a.substring(colon + 1));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("target '" + a + "': the port is not a number");
                }
                if (port < 1 || port > 65535) {
                    throw new IllegalArgumentException("target '" + a + "': port out of range");
                }
            }
            targets.add(new TargetSpec(kind, port));
        }
        if (targets.isEmpty()) {
            throw new IllegalArgumentException("no TARGET given");
        }
        return new Args(args[0], Path.of(args[1]), Path.of(args[2]), List.copyOf(targets), policies);
    }

    /**
     * Reads an fsync policy: {@code always}, {@code interval:<ms>} or {@code never}.
     *
     * @param s the text
     * @return the policy
     * @throws IllegalArgumentException for anything else
     */
    public static FsyncPolicy parsePolicy(String s) {
        if (s.equals("always")) {
            return FsyncPolicy.always();
        }
        if (s.equals("never")) {
            return FsyncPolicy.never();
        }
        if (s.startsWith("interval:")) {
            try {
                long ms = Long.parseLong(s.substring("interval:".length()));
                if (ms > 0) {
                    return FsyncPolicy.interval(Duration.ofMillis(ms));
                }
            } catch (NumberFormatException ignored) {
                // reported below
            }
        }
        throw new IllegalArgumentException("fsync policy must be always, interval:<ms> (ms > 0) or never, was '" + s
                + "'");
    }

    /** @return the command-line form of {@code p}, read back by {@link #parsePolicy} */
    static String policyArg(FsyncPolicy p) {
        return switch (p.kind()) {
            case ALWAYS -> "always";
            case NEVER -> "never";
            case INTERVAL -> "interval:" + p.interval().toMillis();
        };
    }

    /** @return the report's label of {@code p}: ALWAYS, INTERVAL 100 ms, NEVER */
    static String label(FsyncPolicy p) {
        return p.kind() == FsyncPolicy.Kind.INTERVAL ? "INTERVAL " + p.interval().toMillis() + " ms" : p.kind().name();
    }

    static List<DurableTarget> targets(Args a, Profile p) {
        List<DurableTarget> list = new ArrayList<>();
        for (TargetSpec t : a.targets()) {
            switch (t.kind()) {
                case "rill-embedded" -> a.policies().forEach(pol -> list.add(
                        new RillEmbeddedTarget(pol, false, a.dataParent())));
                case "rill-core" -> {
                    if (p.withCore()) {
                        a.policies().forEach(pol -> list.add(new RillEmbeddedTarget(pol, true, a.dataParent())));
                    }
                }
                case "rill-net" -> a.policies().forEach(pol -> list.add(
                        new RillNetworkTarget(pol, a.dataParent(), "3g")));
                case "rabbit-quorum" -> list.add(new RabbitQuorumTarget(t.port()));
                case "redis-everysec" -> list.add(new RedisAofTarget(t.port(), "everysec"));
                case "redis-always" -> list.add(new RedisAofTarget(t.port(), "always"));
                case "nats-file" -> list.add(new NatsFileTarget(t.port()));
                default -> throw new IllegalStateException(t.kind());
            }
        }
        return list;
    }

    private DurableBench() {
    }

    /**
     * @param args see the class comment
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        Args a;
        try {
            a = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("DurableBench: " + e.getMessage());
            System.exit(2);
            return;
        }
        Profile p = profile(a.profile());
        Files.createDirectories(a.dataParent());
        List<DurableTarget> targets = targets(a, p);
        List<DurableReport.Row> rows = new ArrayList<>();
        for (int payload : PAYLOADS) {
            for (DurableTarget t : targets) {
                rows.add(new DurableReport.Row(t.system(), t.config(), t.durability(), t.setup(), payload));
            }
        }
        long began = System.nanoTime();
        String startedAt = java.time.Instant.now().toString();
        try {
            for (int round = 0; round < p.rounds(); round++) {
                for (int pi = 0; pi < PAYLOADS.length; pi++) {
                    int payload = PAYLOADS[pi];
                    for (int ti = 0; ti < targets.size(); ti++) {
                        DurableTarget t = targets.get(ti);
                        DurableReport.Row row = rows.get(pi * targets.size() + ti);
                        if (row.failure != null) {
                            continue;
                        }
                        visit(t, row, payload, round == 0 ? p.firstWarmupSeconds() : p.warmupSeconds(), p);
                    }
                }
            }
        } finally {
            for (DurableTarget t : targets) {
                try {
                    t.close();
                } catch (RuntimeException e) {
                    log("closing %s %s failed: %s", t.system(), t.config(), e);
                }
            }
        }
        double minutes = (System.nanoTime() - began) / 60e9;
        DurableReport.Context ctx = new DurableReport.Context(a.profile(), p, PRODUCERS, WINDOW, startedAt, minutes,
                System.getProperty("rill.bench.disk", a.dataParent().toString()));
        Results r = DurableReport.report(rows, ctx);
        System.out.print(r.markdown());
        r.write(a.out());
        System.exit(0); // client libraries leave non-daemon threads behind
    }

    private static void visit(DurableTarget t, DurableReport.Row row, int payloadBytes, double warmup, Profile p) {
        byte[] payload = new byte[payloadBytes];
        for (int i = 0; i < payload.length; i++) {
            payload[i] = (byte) ('a' + i % 26);
        }
        row.loads.add(loadAverage());
        try {
            List<DurableTarget.Sender> senders = t.open(payloadBytes, PRODUCERS);
            try {
                DurableDriver.run(senders, payload, WINDOW, warmup, p.cap(payloadBytes), 120);
                t.reset();
                DurableDriver.RunResult r = DurableDriver.run(senders, payload, WINDOW, p.runSeconds(),
                        p.cap(payloadBytes), 120);
                log("%s %s %d B: %,.0f msg/s p50 %.0f us p99 %.0f us p99.9 %.0f us (%d msgs in %.2f s%s%s)",
                        t.system(), t.config(), payloadBytes, r.perSecond(), r.p50us(), r.p99us(), r.p999us(),
                        r.messages(), r.seconds(), r.failures() == 0 ? "" : ", " + r.failures() + " FAILED",
                        r.complete() ? "" : ", INCOMPLETE");
                if (!r.complete() || r.failures() > 0) {
                    row.failure = r.complete() ? r.failures() + " sends failed" : "confirms missing after 120 s";
                } else {
                    row.runs.add(r);
                }
            } finally {
                t.closeRun();
            }
        } catch (Exception | Error e) {
            log("%s %s %d B failed: %s", t.system(), t.config(), payloadBytes, e);
            row.failure = String.valueOf(e);
        }
    }

    /** @return the 1-minute load average, or NaN where /proc/loadavg cannot be read */
    static double loadAverage() {
        try {
            String s = Files.readString(Path.of("/proc/loadavg"), StandardCharsets.US_ASCII);
            return Double.parseDouble(s.substring(0, s.indexOf(' ')));
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }

    static void log(String format, Object... args) {
        System.err.println("durable: " + String.format(Locale.ROOT, format, args));
    }

    /**
     * Deletes a directory tree.
     *
     * @param dir the root
     */
    static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path f : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(f);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
