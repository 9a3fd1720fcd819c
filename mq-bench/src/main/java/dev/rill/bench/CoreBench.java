package dev.rill.bench;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;

/**
 * Runs {@link CoreThroughputBenchmark} with JMH's usual command-line options and prints its scores as a table of
 * ratios against {@code ArrayBlockingQueue} of the same capacity, with the targets of the core's performance goals
 * (issue 3 sets them against ABQ {@code put}/{@code take}). A second ratio, against {@code ABQ_DRAIN} (ABQ whose
 * consumer also takes up to 64 at a time with {@code drainTo}), shows the batched kinds against a batched peer.
 *
 * <p>Run: {@code java -cp mq-bench/target/benchmarks.jar dev.rill.bench.CoreBench -f 1 -wi 3 -i 5 -w 2s -r 2s
 * -rf json -rff out.json} (see {@code mq-bench/scripts/core-bench.sh}). Without a benchmark pattern it runs
 * {@code CoreThroughputBenchmark}.
 */
public final class CoreBench {

    private CoreBench() {
    }

    /**
     * One score of the table.
     *
     * @param kind the transport ({@link Pipe.Kind} name)
     * @param capacity the queue capacity
     * @param opsPerSecond messages consumed per second
     * @param error the score's 99.9% confidence half-width, NaN when unknown
     * @param allocBytesPerMessage bytes allocated per message (all threads), NaN when not profiled
     * @param minIteration the lowest measurement iteration's score over all forks
     * @param maxIteration the highest one: producer/consumer hand-offs on two cores can settle into a slow or a fast
     *     regime for a while (see mq-bench/NOTES.md), which the mean and its error hide
     */
    record Row(String kind, int capacity, double opsPerSecond, double error, double allocBytesPerMessage,
            double minIteration, double maxIteration) {

        Row(String kind, int capacity, double opsPerSecond, double error, double allocBytesPerMessage) {
            this(kind, capacity, opsPerSecond, error, allocBytesPerMessage, opsPerSecond, opsPerSecond);
        }
    }

    /**
     * Runs the benchmark and prints the table.
     *
     * @param args JMH options
     * @throws Exception if JMH fails
     */
    public static void main(String[] args) throws Exception {
        CommandLineOptions options = new CommandLineOptions(args);
        if (options.getIncludes().isEmpty()) {
            String[] withPattern = new String[args.length + 1];
            System.arraycopy(args, 0, withPattern, 0, args.length);
            withPattern[args.length] = CoreThroughputBenchmark.class.getSimpleName();
            options = new CommandLineOptions(withPattern);
        }
        Collection<RunResult> results = new Runner(options).run();
        List<Row> rows = new ArrayList<>();
        for (RunResult r : results) {
            String kind = r.getParams().getParam("kind");
            String capacity = r.getParams().getParam("capacity");
            if (kind == null || capacity == null) {
                continue;
            }
            Result<?> alloc = r.getSecondaryResults().get("gc.alloc.rate.norm");
            double min = Double.MAX_VALUE;
            double max = 0;
            for (BenchmarkResult fork : r.getBenchmarkResults()) {
                for (IterationResult it : fork.getIterationResults()) {
                    double v = it.getPrimaryResult().getScore();
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
            }
            double score = r.getPrimaryResult().getScore();
            rows.add(new Row(kind, Integer.parseInt(capacity), score, r.getPrimaryResult().getScoreError(),
                    alloc == null ? Double.NaN : alloc.getScore(), max == 0 ? score : min, max == 0 ? score : max));
        }
        System.out.println();
        System.out.print(table(rows));
    }

    /** @return the minimum ratio to ABQ a kind must reach, if it has a target */
    static Optional<Double> target(String kind) {
        return switch (kind) {
            case "CORE_BATCH_RECV", "CORE_BATCH_ALL" -> Optional.of(1.0);
            case "CORE_SINGLE" -> Optional.of(0.5);
            default -> Optional.empty();
        };
    }

    /**
     * Formats the scores: one block per capacity, each row with its ratio to ABQ of the same capacity.
     *
     * @param rows the scores, any order
     * @return the table, one line per row plus headers
     */
    static String table(List<Row> rows) {
        Map<Integer, List<Row>> byCapacity = new TreeMap<>();
        for (Row r : rows) {
            byCapacity.computeIfAbsent(r.capacity(), c -> new ArrayList<>()).add(r);
        }
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-16s %9s %14s %12s %23s %9s %9s %10s %8s%n", "kind", "capacity",
                "msgs/s", "+-", "iterations min-max", "vs ABQ", "vs DRAIN", "alloc B/msg", "target"));
        for (Map.Entry<Integer, List<Row>> e : byCapacity.entrySet()) {
            double abq = score(e.getValue(), "ABQ");
            double drain = score(e.getValue(), "ABQ_DRAIN");
            for (Row r : e.getValue()) {
                double ratio = r.opsPerSecond() / abq;
                String verdict = target(r.kind())
                        .map(t -> Double.isNaN(ratio) ? "?" : (ratio >= t ? "MET " : "MISS") + " >=" + t)
                        .orElse("");
                sb.append(String.format(Locale.ROOT, "%-16s %9d %14.0f %12.0f %11.0f-%-11.0f %8.2fx %8.2fx %10.1f %8s%n",
                        r.kind(), r.capacity(), r.opsPerSecond(), r.error(), r.minIteration(), r.maxIteration(), ratio,
                        r.opsPerSecond() / drain, r.allocBytesPerMessage(), verdict));
            }
        }
        return sb.toString();
    }

    private static double score(List<Row> rows, String kind) {
        return rows.stream().filter(r -> r.kind().equals(kind)).mapToDouble(Row::opsPerSecond).findFirst()
                .orElse(Double.NaN);
    }
}
