package dev.rill.bench.durable;

import dev.rill.core.log.FsyncPolicy;
import dev.rill.core.log.LogOptions;
import dev.rill.core.log.LogRecord;
import dev.rill.core.log.LogStats;
import dev.rill.core.log.SegmentedLog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/**
 * How long appends wait while the log relocates: drives a {@link SegmentedLog} directly so that relocation runs
 * again and again, and records each SEND's confirmation latency.
 *
 * <p>One producer thread appends SEND records of {@code payloadBytes} at a fixed rate (open loop: each latency is
 * measured from the send's intended time, so a stalled writer shows in every send it held up, not only in the
 * first). Every {@code liveEvery}-th message is long-lived (never acked); every other one is followed at once by its
 * ACK. So every closed segment is mostly dead and relocated as soon as two segments are behind the active one: the
 * writer reads it record by record, copies the live messages into the active segment, fsyncs and deletes it.
 *
 * <p>Reported, for the measured seconds (after a warmup): SEND confirmation latency p50, p99, p99.9 and max; the
 * longest gap between two successive confirmations (while the producer keeps sending, a stalled writer shows as one
 * long gap); the relocations (messages copied, segments deleted) during the measurement.
 *
 * <p>Usage: {@code RelocationStallBench <dataDirParent> [never|always|interval=<ms>] [segmentMiB=16] [rate=20000]
 * [payloadBytes=1024] [liveEvery=200] [warmupSeconds=10] [seconds=30]}. The parent must be on the disk to measure.
 * A {@code liveEvery} larger than the number of sends (e.g. 1000000000) makes no long-lived message, so nothing is
 * relocated: what is left are segment rolls and compaction (each roll fsyncs the outgoing segment on the writer
 * thread).
 */
public final class RelocationStallBench {

    private RelocationStallBench() {
    }

    /**
     * @param args see the class comment
     * @throws Exception on I/O errors
     */
    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            throw new IllegalArgumentException("usage: RelocationStallBench <dataDirParent> "
                    + "[never|always|interval=<ms>] "
                    + "[segmentMiB] [rate] [payloadBytes] [liveEvery] [warmupSeconds] [seconds]");
        }
        Path parent = Files.createDirectories(Path.of(args[0]));
        String policyName = args.length > 1 ? args[1] : "never";
        FsyncPolicy policy;
        if (policyName.startsWith("interval=")) {
            long ms = Long.parseLong(policyName.substring("interval=".length()));
            policy = FsyncPolicy.interval(Duration.ofMillis(ms));
        } else {
            policy = switch (policyName) {
                case "never" -> FsyncPolicy.never();
                case "always" -> FsyncPolicy.always();
                default -> throw new IllegalArgumentException("fsync policy: never, always or interval=<ms>, not "
                        + policyName);
            };
        }
        int segmentMiB = intArg(args, 2, 16);
        int rate = intArg(args, 3, 20_000);
        int payloadBytes = intArg(args, 4, 1024);
        int liveEvery = intArg(args, 5, 200);
        int warmup = intArg(args, 6, 10);
        int seconds = intArg(args, 7, 30);
        Path dir = Files.createTempDirectory(parent, "rill-relocation-bench-");
        try {
            run(dir, policy, segmentMiB, rate, payloadBytes, liveEvery, warmup, seconds);
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    private static int intArg(String[] args, int index, int otherwise) {
        return args.length > index ? Integer.parseInt(args[index]) : otherwise;
    }

    /** Confirmation latencies and the gaps between confirmations, recorded once {@code from} is reached. */
    private static final class Meter {
        final Histogram latency = new ConcurrentHistogram(TimeUnit.SECONDS.toNanos(60), 3);
        volatile long from = Long.MAX_VALUE;
        long lastDone;
        long maxGap;

        void done(long intended) {
            long now = System.nanoTime();
            if (intended < from) {
                return;
            }
            latency.recordValue(Math.max(0, now - intended));
            synchronized (this) {
                if (lastDone != 0 && now - lastDone > maxGap) {
                    maxGap = now - lastDone;
                }
                lastDone = Math.max(lastDone, now);
            }
        }
    }

    private static void run(Path dir, FsyncPolicy policy, int segmentMiB, int rate, int payloadBytes,
            int liveEvery, int warmup, int seconds) throws Exception {
        LogOptions options = LogOptions.defaults().fsync(policy).segmentBytes((long) segmentMiB << 20);
        Meter meter = new Meter();
        byte[] payload = new byte[payloadBytes];
        long period = TimeUnit.SECONDS.toNanos(1) / rate;
        long total = (long) rate * (warmup + seconds);
        LogStats atStart = null;
        long lastConfirmed;
        try (SegmentedLog log = SegmentedLog.open(dir, options, r -> { })) {
            log.append(new LogRecord.Declare("q", new byte[] {1}, 1));
            long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
            long measureFrom = start + TimeUnit.SECONDS.toNanos(warmup);
            meter.from = measureFrom;
            CompletableFuture<Void> last = CompletableFuture.completedFuture(null);
            for (long i = 0; i < total; i++) {
                long intended = start + i * period;
                long wait;
                while ((wait = intended - System.nanoTime()) > 0) {
                    if (wait > 50_000) {
                        LockSupport.parkNanos(wait - 20_000);
                    } else {
                        Thread.onSpinWait();
                    }
                }
                if (atStart == null && intended >= measureFrom) {
                    atStart = log.stats();
                }
                long id = i + 1;
                long seq = log.append(new LogRecord.Send("q", id, 0, null, 0, Map.of(), payload, 0, 0, null, 0));
                if (id % liveEvery != 0) {
                    log.append(new LogRecord.Ack("q", id));
                }
                last = log.whenDurable(seq).thenRun(() -> meter.done(intended));
            }
            last.get(5, TimeUnit.MINUTES);
            lastConfirmed = System.nanoTime();
            LogStats end = log.stats();
            Histogram h = meter.latency;
            System.out.printf("fsync=%s segment=%d MiB rate=%d/s payload=%d B live=1/%d measured=%d s%n",
                    policy, segmentMiB, rate, payloadBytes, liveEvery, seconds);
            System.out.printf("confirmation latency ms: p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f  (%d sends)%n",
                    ms(h.getValueAtPercentile(50)), ms(h.getValueAtPercentile(99)),
                    ms(h.getValueAtPercentile(99.9)), ms(h.getMaxValue()), h.getTotalCount());
            System.out.printf("longest gap between confirmations: %.2f ms; producer finished %.0f ms before the "
                    + "last confirmation%n", ms(meter.maxGap), ms(lastConfirmed - (start + total * period)));
            System.out.printf("during the measurement: %d messages relocated, %d segments deleted, %d fsyncs, "
                    + "%d segments on disk at the end%n", end.messagesRelocated() - atStart.messagesRelocated(),
                    end.segmentsDeleted() - atStart.segmentsDeleted(), end.fsyncs() - atStart.fsyncs(),
                    end.segments());
        }
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }
}
