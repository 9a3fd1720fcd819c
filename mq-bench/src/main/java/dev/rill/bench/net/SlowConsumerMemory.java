package dev.rill.bench.net;

import dev.rill.bench.suite.Results;
import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.netty.ClientOptions;
import dev.rill.netty.RillClient;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.SendOptions;
import java.io.OutputStream;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.reactivestreams.Subscription;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * Client memory under a slow consumer (issue 8, "Memory"): a Rill server in its own JVM holds {@code backlog}
 * queued 100-byte messages; a {@link RillClient} consumer in this JVM requests one message at a time, one every
 * millisecond (about 1,000 msg/s), acking each. The client's heap must stay bounded by its credit (the receive
 * window), not grow with the backlog. The used heap is sampled after a full GC every half second, compared with the
 * heap after the producer connection was closed and before the consumer connected.
 *
 * <p>Run: {@code java -Xmx1g -cp mq-bench/target/benchmarks.jar dev.rill.bench.net.SlowConsumerMemory
 * [backlog seconds outDir window...]} (defaults 1,000,000, 8 s, mq-bench/target/bench-results, windows 256 and
 * 4096).
 */
public final class SlowConsumerMemory {

    static final int PAYLOAD = 100;

    private SlowConsumerMemory() {
    }

    /**
     * One consumer's measurement.
     *
     * @param window the client's receive window (credit), deliveries
     * @param backlog messages queued on the server when the consumer connected
     * @param baseline used heap before the consumer connected, bytes
     * @param peak the largest used heap sampled while it consumed, bytes
     * @param last the last sample, bytes
     * @param samples how many samples
     * @param consumed messages acked by the consumer
     * @param remaining messages still queued (ready) on the server after the run
     * @param directPeak the largest JDK direct buffer pool use sampled (bytes; Netty's own pooled memory may not
     *     show here)
     */
    public record Sample(int window, long backlog, long baseline, long peak, long last, int samples, long consumed,
            long remaining, long directPeak) {

        /** @return peak minus baseline, bytes */
        public long growth() {
            return peak - baseline;
        }

        /** @return the backlog's payload bytes alone: what a client buffering the backlog would hold at least */
        public long backlogPayloadBytes() {
            return backlog * PAYLOAD;
        }

        /**
         * Whether the growth is bounded by credit: below a generous per-delivery allowance times the window plus a
         * fixed 16 MiB for connection buffers and the measuring itself, and well below the backlog's payload.
         *
         * @return true if bounded
         */
        public boolean bounded() {
            long allowance = 16L * 1024 * 1024 + (long) window * 4096;
            return growth() <= allowance && growth() < backlogPayloadBytes() / 4;
        }
    }

    /**
     * Measures and writes {@code memory.json} and {@code memory.md}.
     *
     * @param args backlog, seconds per window, output directory, windows
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        int backlog = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        Path out = Path.of(args.length > 2 ? args[2] : "mq-bench/target/bench-results");
        List<Integer> windows = new ArrayList<>();
        for (int i = 3; i < args.length; i++) {
            windows.add(Integer.parseInt(args[i]));
        }
        if (windows.isEmpty()) {
            windows = List.of(256, 4096);
        }
        Process server = RillServerMain.start("1g", "0");
        List<Sample> samples = new ArrayList<>();
        try {
            int port = RillServerMain.readyPort(server);
            URI uri = URI.create("rill://127.0.0.1:" + port);
            QueueSpec spec = QueueSpec.named("slow").capacity(backlog + 1_000);
            for (int window : windows) {
                samples.add(measure(uri, spec, backlog, window, seconds));
            }
        } finally {
            OutputStream stdin = server.getOutputStream();
            stdin.close();
            if (!server.waitFor(20, TimeUnit.SECONDS)) {
                server.destroyForcibly();
            }
        }
        Results r = report(samples, seconds);
        System.out.print(r.markdown());
        r.write(out);
        System.exit(0); // client threads
    }

    private static Sample measure(URI uri, QueueSpec spec, int backlog, int window, int seconds) throws Exception {
        ReactiveBroker producer = RillClient.connect(uri, ClientOptions.defaults().clientName("memory-producer"))
                .block(Duration.ofSeconds(30));
        ReactiveQueue<byte[]> pq = producer.queue(spec, Codec.bytes()).block(Duration.ofSeconds(30));
        pq.purge().block(Duration.ofSeconds(30));
        byte[] payload = new byte[PAYLOAD];
        pq.sendMany(Flux.range(0, backlog).map(i -> OutboundMessage.of(payload)),
                SendOptions.defaults().maxInFlight(1024)).then().block(Duration.ofMinutes(5));
        QueueStats st = pq.stats().block(Duration.ofSeconds(30));
        if (st.ready() != backlog) {
            throw new IllegalStateException("server holds " + st.ready() + " of " + backlog);
        }
        producer.close().block(Duration.ofSeconds(30));
        long baseline = settledUsed();

        ReactiveBroker consumer = RillClient.connect(uri,
                ClientOptions.defaults().clientName("memory-consumer").receiveWindow(window))
                .block(Duration.ofSeconds(30));
        ReactiveQueue<byte[]> cq = consumer.queue(spec, Codec.bytes()).block(Duration.ofSeconds(30));
        Scheduler pacer = Schedulers.newSingle("slow-consumer");
        AtomicLong consumed = new AtomicLong();
        BaseSubscriber<Delivery<byte[]>> slow = new BaseSubscriber<>() {
            @Override
            protected void hookOnSubscribe(Subscription s) {
                request(1);
            }

            @Override
            protected void hookOnNext(Delivery<byte[]> d) {
                d.ack().subscribe(v -> { }, e -> { }, consumed::incrementAndGet);
                pacer.schedule(() -> request(1), 1, TimeUnit.MILLISECONDS);
            }
        };
        cq.receive().subscribe(slow);
        long peak = 0;
        long last = 0;
        long directPeak = 0;
        int n = 0;
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < end) {
            Thread.sleep(500);
            last = settledUsed();
            peak = Math.max(peak, last);
            directPeak = Math.max(directPeak, directUsed());
            n++;
        }
        slow.dispose();
        pacer.dispose();
        QueueStats after = cq.stats().block(Duration.ofSeconds(30));
        consumer.close().block(Duration.ofSeconds(30));
        Sample s = new Sample(window, backlog, baseline, peak, last, n, consumed.get(), after.ready(), directPeak);
        System.err.printf(Locale.ROOT, "memory: window %d: baseline %.1f MiB, peak %.1f MiB (+%.2f MiB), "
                + "consumed %d, %d still queued%n", window, mib(baseline), mib(peak), mib(s.growth()), s.consumed(),
                s.remaining());
        return s;
    }

    private static long settledUsed() {
        System.gc();
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static long directUsed() {
        long used = 0;
        for (BufferPoolMXBean b : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (b.getName().equals("direct")) {
                used += b.getMemoryUsed();
            }
        }
        return used;
    }

    static double mib(long bytes) {
        return bytes / (1024.0 * 1024.0);
    }

    static Results report(List<Sample> samples, int seconds) {
        Results r = new Results("memory");
        r.md(String.format(Locale.ROOT, "### Client memory under a slow consumer (networked)%n%n"
                + "A Rill server in its own JVM holds the backlog (%d-byte payloads); a `RillClient` consumer in the "
                + "bench JVM requests one message at a time, one per millisecond, and acks each, for %d s per receive "
                + "window. Heap = used heap after a full GC, sampled every 0.5 s; baseline = after the producer "
                + "connection closed, before the consumer connected. Bounded = growth ≤ 16 MiB + window × 4 KiB "
                + "and < ¼ of the backlog's payload bytes.%n%n", PAYLOAD, seconds));
        r.md("| receive window | backlog queued | baseline heap MiB | peak heap MiB | growth MiB | backlog payload MiB "
                + "| consumed | still queued | JDK direct peak MiB | bounded by credit |\n"
                + "|---|---|---|---|---|---|---|---|---|---|\n");
        for (Sample s : samples) {
            r.md(String.format(Locale.ROOT, "| %d | %,d | %.1f | %.1f | %.2f | %.1f | %,d | %,d | %.1f | %s |%n",
                    s.window(), s.backlog(), mib(s.baseline()), mib(s.peak()), mib(s.growth()),
                    mib(s.backlogPayloadBytes()), s.consumed(), s.remaining(), mib(s.directPeak()),
                    s.bounded() ? "yes" : "NO"));
            r.record("window-" + s.window(), String.format(Locale.ROOT,
                    "{\"window\":%d,\"backlog\":%d,\"baselineBytes\":%d,\"peakBytes\":%d,\"lastBytes\":%d,"
                            + "\"samples\":%d,\"growthBytes\":%d,\"consumed\":%d,\"remaining\":%d,"
                            + "\"directPeakBytes\":%d,\"bounded\":%b}",
                    s.window(), s.backlog(), s.baseline(), s.peak(), s.last(), s.samples(), s.growth(), s.consumed(),
                    s.remaining(), s.directPeak(), s.bounded()));
        }
        r.md("\n");
        return r;
    }
}
