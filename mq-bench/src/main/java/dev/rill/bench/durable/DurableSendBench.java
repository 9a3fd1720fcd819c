package dev.rill.bench.durable;

import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.DurableBroker;
import dev.rill.core.MessageQueue;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.SendOutcome;
import dev.rill.core.log.FsyncPolicy;
import dev.rill.core.log.LogStats;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import java.io.IOException;

/**
 * Durable send throughput and latency per fsync policy, and recovery time of the resulting log.
 *
 * <p>Setup: one {@link DurableBroker} on a data directory, one queue (unbounded, {@code byte[]} payloads),
 * {@code producers} threads each keeping {@code inFlight} sends outstanding: a send is one {@code MessageQueue.send}
 * plus a wait for {@code whenDurable(lastSeq())}, which is what {@code Rill.embedded}'s send {@code Mono} waits for
 * (the reactive layer adds its own overhead on top). Latency is from the send call to durability. No consumer: the
 * queue grows (heap holds every payload). After each run the broker is closed and re-opened, and the time to open
 * (replay) and to declare the queue (rebuild) is reported with the log size.
 *
 * <p>Usage: {@code DurableSendBench <dataDirParent> [messagesPer100B] [messagesPer4KiB] [producers] [inFlight]
 * [policies...]} with policies {@code always}, {@code interval:<ms>}, {@code never} (default all three,
 * interval 100 ms). With {@code -Drill.bench.reactive=true} each send goes through {@code Rill.embedded}'s
 * {@code ReactiveQueue.send} {@code Mono} instead (same window; counted when the {@code Mono} succeeds), to see what
 * the reactive layer adds.
 */
public final class DurableSendBench {

    private static final boolean REACTIVE = Boolean.getBoolean("rill.bench.reactive");

    private DurableSendBench() {
    }

    /**
     * @param args see the class comment
     * @throws Exception on I/O errors
     */
    public static void main(String[] args) throws Exception {
        Path parent = Path.of(args.length > 0 ? args[0] : System.getProperty("java.io.tmpdir"));
        int n100 = args.length > 1 ? Integer.parseInt(args[1]) : 1_000_000;
        int n4k = args.length > 2 ? Integer.parseInt(args[2]) : 200_000;
        int producers = args.length > 3 ? Integer.parseInt(args[3]) : 4;
        int inFlight = args.length > 4 ? Integer.parseInt(args[4]) : 64;
        List<FsyncPolicy> policies = new ArrayList<>();
        for (int i = 5; i < args.length; i++) {
            policies.add(parse(args[i]));
        }
        if (policies.isEmpty()) {
            policies = List.of(FsyncPolicy.always(), FsyncPolicy.interval(Duration.ofMillis(100)), FsyncPolicy.never());
        }
        System.out.printf("setup: %d producers x %d sends in flight, 1 queue, no consumer, %s, Java %s, %d cpus, "
                + "dir %s%n", producers, inFlight, REACTIVE ? "Rill.embedded send Monos" : "DurableBroker core sends", System.getProperty("java.version"), Runtime.getRuntime().availableProcessors(),
                parent);
        System.out.printf("%-14s %7s %9s %12s %9s %9s %9s %10s %10s %10s %9s%n", "policy", "payload", "messages",
                "msg/s", "p50 us", "p99 us", "p99.9 us", "rec/fsync", "log MiB", "open ms", "rebuild");
        for (FsyncPolicy p : policies) {
            run(parent, p, 100, n100, producers, inFlight);
            run(parent, p, 4096, n4k, producers, inFlight);
        }
    }

    private static FsyncPolicy parse(String s) {
        if (s.equals("always")) {
            return FsyncPolicy.always();
        }
        if (s.equals("never")) {
            return FsyncPolicy.never();
        }
        if (s.startsWith("interval:")) {
            return FsyncPolicy.interval(Duration.ofMillis(Long.parseLong(s.substring(9))));
        }
        throw new IllegalArgumentException("policy: always | interval:<ms> | never, was " + s);
    }

    private static void run(Path parent, FsyncPolicy policy, int payloadBytes, int messages, int producers,
            int inFlight) throws Exception {
        Path dir = Files.createTempDirectory(parent, "rill-durable-bench-");
        QueueSpec spec = QueueSpec.named("bench").unbounded();
        DurabilityOptions opts = DurabilityOptions.defaults().fsync(policy);
        Recorder recorder = new Recorder(3);
        AtomicLong failures = new AtomicLong();
        long elapsed;
        LogStats stats;
        if (REACTIVE) {
            elapsed = runReactive(dir, opts, spec, payloadBytes, messages, producers, inFlight, recorder, failures);
            stats = null;
        } else {
            try (DurableBroker b = DurableBroker.open(dir, opts)) {
                MessageQueue<byte[]> q = b.declare(spec, Codec.bytes());
                byte[] payload = new byte[payloadBytes];
                int per = messages / producers;
                CountDownLatch done = new CountDownLatch(producers * per);
                List<Thread> threads = new ArrayList<>();
                long start = System.nanoTime();
                for (int t = 0; t < producers; t++) {
                    Thread th = new Thread(() -> {
                        Semaphore window = new Semaphore(inFlight);
                        for (int i = 0; i < per; i++) {
                            window.acquireUninterruptibly();
                            long t0 = System.nanoTime();
                            SendOutcome o = q.send(OutboundMessage.of(payload), 0);
                            if (o.status() != SendOutcome.Status.ENQUEUED) {
                                failures.incrementAndGet();
                            }
                            b.whenDurable(b.lastSeq()).whenComplete((v, e) -> {
                                if (e != null) {
                                    failures.incrementAndGet();
                                }
                                recorder.recordValue((System.nanoTime() - t0) / 1000);
                                window.release();
                                done.countDown();
                            });
                        }
                    }, "producer-" + t);
                    th.start();
                    threads.add(th);
                }
                done.await();
                elapsed = System.nanoTime() - start;
                stats = b.logStats();
                for (Thread th : threads) {
                    th.join();
                }
            }
        }
        Histogram h = recorder.getIntervalHistogram();
        long total = (long) (messages / producers) * producers;
        long logBytes = size(dir);
        long t0 = System.nanoTime();
        long openMs;
        long rebuildMs;
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            openMs = (System.nanoTime() - t0) / 1_000_000;
            long t1 = System.nanoTime();
            MessageQueue<byte[]> q = b.declare(spec, Codec.bytes());
            rebuildMs = (System.nanoTime() - t1) / 1_000_000;
            if (q.size() != total) {
                throw new IllegalStateException("recovered " + q.size() + " of " + total);
            }
        }
        System.out.printf("%-14s %7d %9d %,12.0f %9d %9d %9d %10.1f %10.1f %10d %6d ms%s%n", policy, payloadBytes,
                total, total * 1e9 / elapsed, h.getValueAtPercentile(50), h.getValueAtPercentile(99),
                h.getValueAtPercentile(99.9),
                stats == null ? Double.NaN : stats.records() / (double) Math.max(1, stats.fsyncs()),
                logBytes / 1048576.0, openMs, rebuildMs, failures.get() == 0 ? "" : "  FAILURES=" + failures.get());
        delete(dir);
    }

    private static long runReactive(Path dir, DurabilityOptions opts, QueueSpec spec, int payloadBytes, int messages,
            int producers, int inFlight, Recorder recorder, AtomicLong failures) throws Exception {
        ReactiveBroker broker = Rill.embedded(dir, opts);
        try {
            ReactiveQueue<byte[]> q = broker.queue(spec, Codec.bytes()).block();
            byte[] payload = new byte[payloadBytes];
            int per = messages / producers;
            CountDownLatch done = new CountDownLatch(producers * per);
            List<Thread> threads = new ArrayList<>();
            long start = System.nanoTime();
            for (int t = 0; t < producers; t++) {
                Thread th = new Thread(() -> {
                    Semaphore window = new Semaphore(inFlight);
                    for (int i = 0; i < per; i++) {
                        window.acquireUninterruptibly();
                        long t0 = System.nanoTime();
                        q.send(OutboundMessage.of(payload)).subscribe(r -> { }, e -> {
                            failures.incrementAndGet();
                            recorder.recordValue((System.nanoTime() - t0) / 1000);
                            window.release();
                            done.countDown();
                        }, () -> {
                            recorder.recordValue((System.nanoTime() - t0) / 1000);
                            window.release();
                            done.countDown();
                        });
                    }
                }, "producer-" + t);
                th.start();
                threads.add(th);
            }
            done.await();
            long elapsed = System.nanoTime() - start;
            for (Thread th : threads) {
                th.join();
            }
            return elapsed;
        } finally {
            broker.close().block();
        }
    }

    private static long size(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.mapToLong(p -> p.toFile().length()).sum();
        }
    }

    private static void delete(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
