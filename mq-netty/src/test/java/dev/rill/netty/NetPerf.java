package dev.rill.netty;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.SendOptions;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;

/**
 * The transport's own load harness (run by hand; not a test): one producer connection, one consumer connection,
 * 100-byte payloads, every message acked individually by the consumer (the client batches acks on the wire).
 *
 * <p>Unpaced ({@code rate=0}): the producer runs {@code sendMany} with {@code inflight} unconfirmed sends, the
 * consumer {@code receive().flatMap(ack, concurrency)}; throughput counts acked messages over the measured part.
 * Paced: messages are sent at their intended time (start + i / rate) and latency counts from that time to receipt,
 * so a stall is charged to every message it delayed (corrected for coordinated omission).
 *
 * <pre>
 * java -cp ... dev.rill.netty.NetPerf [url=rill://host:port] [messages=2000000] [warmup=300000] [rate=0]
 *     [payload=100] [inflight=256] [concurrency=512] [window=256] [sendWindow=256] [spin=true] [progress=false]
 *     [serve=true] [port=0]
 * </pre>
 * The pacer parks until 100 us before each intended time and spins the rest (at rates up to 20k/s; {@code
 * spin=false} only parks); its own lateness is printed separately.
 * {@code serve=true} only runs a server (for a separate-JVM run) until killed.
 */
public final class NetPerf {

    private static final long SPIN_NANOS = 100_000;

    private NetPerf() {
    }

    /** Voluntary context switches of this process's threads (Linux), or 0: a proxy for wake-ups. */
    private static long contextSwitches() {
        long n = 0;
        java.io.File[] tasks = new java.io.File("/proc/self/task").listFiles();
        if (tasks == null) {
            return 0;
        }
        for (java.io.File t : tasks) {
            try {
                for (String line : java.nio.file.Files.readAllLines(new java.io.File(t, "status").toPath())) {
                    if (line.startsWith("voluntary_ctxt_switches:")) {
                        n += Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
                    }
                }
            } catch (java.io.IOException | RuntimeException e) {
                // the thread ended meanwhile
            }
        }
        return n;
    }

    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /**
     * Runs the harness.
     *
     * @param args key=value pairs (see the class description)
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (String s : args) {
            int i = s.indexOf('=');
            a.put(s.substring(0, i), s.substring(i + 1));
        }
        long messages = Long.parseLong(a.getOrDefault("messages", "2000000"));
        long warmup = Long.parseLong(a.getOrDefault("warmup", "300000"));
        double rate = Double.parseDouble(a.getOrDefault("rate", "0"));
        int payload = Integer.parseInt(a.getOrDefault("payload", "100"));
        int inflight = Integer.parseInt(a.getOrDefault("inflight", "256"));
        int concurrency = Integer.parseInt(a.getOrDefault("concurrency", "512"));
        int window = Integer.parseInt(a.getOrDefault("window", String.valueOf(ClientOptions.DEFAULT_RECEIVE_WINDOW)));
        int sendWindow = Integer.parseInt(a.getOrDefault("sendWindow",
                String.valueOf(ServerOptions.DEFAULT_SEND_WINDOW)));
        ServerOptions so = ServerOptions.defaults().host("127.0.0.1").port(Integer.parseInt(a.getOrDefault("port",
                "0"))).sendWindow(sendWindow);
        if (Boolean.parseBoolean(a.getOrDefault("serve", "false"))) {
            RillServer server = RillServer.bindNow(so, Duration.ofSeconds(10));
            System.out.println("serving on rill://127.0.0.1:" + server.port());
            new CountDownLatch(1).await();
            return;
        }
        RillServer server = null;
        URI uri;
        if (a.containsKey("url")) {
            uri = URI.create(a.get("url"));
        } else {
            server = RillServer.bindNow(so, Duration.ofSeconds(10));
            uri = URI.create("rill://127.0.0.1:" + server.port());
        }
        ReactiveBroker producer = RillClient.connect(uri, ClientOptions.defaults().clientName("perf-producer"))
                .block(Duration.ofSeconds(10));
        ReactiveBroker consumer = RillClient.connect(uri, ClientOptions.defaults().clientName("perf-consumer")
                .receiveWindow(window)).block(Duration.ofSeconds(10));
        QueueSpec spec = QueueSpec.named("perf-" + Long.toHexString(System.nanoTime()));
        ReactiveQueue<byte[]> pq = producer.queue(spec, Codec.bytes()).block(Duration.ofSeconds(10));
        ReactiveQueue<byte[]> cq = consumer.queue(spec, Codec.bytes()).block(Duration.ofSeconds(10));

        long total = warmup + messages;
        AtomicLong received = new AtomicLong();
        AtomicLong acked = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Recorder recorder = new Recorder(TimeUnit.SECONDS.toNanos(60), 3);
        Recorder sendLag = new Recorder(TimeUnit.SECONDS.toNanos(60), 3); // the pacer's own lateness
        CountDownLatch done = new CountDownLatch(1);
        long[] measureStart = new long[1];
        CountDownLatch warm = new CountDownLatch(1);
        Recorder[] progress = new Recorder[1];
        Disposable consuming = cq.receive().flatMap(d -> {
            long now = System.nanoTime();
            long stamp = ByteBuffer.wrap(d.payload()).getLong(0);
            long n = received.incrementAndGet();
            if (n > warmup) {
                recorder.recordValue(Math.max(0, now - stamp));
                Recorder p = progress[0];
                if (p != null) {
                    p.recordValue(Math.max(0, now - stamp));
                }
            } else if (n == warmup) {
                warm.countDown();
            }
            return d.ack().doOnSuccess(v -> {
                if (acked.incrementAndGet() == total) {
                    done.countDown();
                }
            });
        }, concurrency).subscribe(null, e -> {
            failure.set(e);
            done.countDown();
        });

        long start = System.nanoTime();
        Disposable producing;
        Thread pacer = null;
        if (rate <= 0) {
            Flux<OutboundMessage<byte[]>> msgs = Flux.<OutboundMessage<byte[]>, Long>generate(() -> 0L, (i, sink) -> {
                byte[] p = new byte[payload];
                ByteBuffer.wrap(p).putLong(0, System.nanoTime());
                sink.next(OutboundMessage.of(p));
                if (i + 1 == total) {
                    sink.complete();
                }
                return i + 1;
            });
            producing = pq.sendMany(msgs, SendOptions.defaults().maxInFlight(inflight))
                    .subscribe(null, e -> {
                        failure.set(e);
                        done.countDown();
                    });
        } else {
            producing = null;
            double nanosPer = 1e9 / rate;
            boolean spin = rate <= 20_000 && Boolean.parseBoolean(a.getOrDefault("spin", "true"));
            pacer = new Thread(() -> {
                long i = 0;
                while (i < total && failure.get() == null) {
                    long due = start + (long) (i * nanosPer);
                    long now = System.nanoTime();
                    if (due > now) {
                        // a parked thread wakes tens of microseconds late (timer slack): at low rates park until
                        // shortly before and spin the rest, so the pacer's lateness does not pass for the transport's
                        if (spin && due - now < SPIN_NANOS) {
                            Thread.onSpinWait();
                        } else {
                            LockSupport.parkNanos(spin ? due - now - SPIN_NANOS : due - now);
                        }
                        continue;
                    }
                    byte[] p = new byte[payload];
                    ByteBuffer.wrap(p).putLong(0, due);
                    if (i >= warmup) {
                        sendLag.recordValue(Math.max(0, System.nanoTime() - due));
                    }
                    pq.send(OutboundMessage.of(p)).subscribe(null, e -> {
                        failure.set(e);
                        done.countDown();
                    });
                    i++;
                }
            }, "perf-pacer");
            pacer.setDaemon(true);
            pacer.start();
        }
        warm.await();
        Recorder perSecond = new Recorder(TimeUnit.SECONDS.toNanos(60), 2);
        if (Boolean.parseBoolean(a.getOrDefault("progress", "false"))) {
            Thread t = new Thread(() -> {
                Histogram h = null;
                long last = acked.get();
                while (true) {
                    LockSupport.parkNanos(1_000_000_000L);
                    h = perSecond.getIntervalHistogram(h);
                    long now = acked.get();
                    System.out.printf(Locale.ROOT, "  %,9d acked/s  p50 %,8d  p99 %,9d  max %,9d us%n", now - last,
                            h.getValueAtPercentile(50) / 1000, h.getValueAtPercentile(99) / 1000, h.getMaxValue() / 1000);
                    last = now;
                }
            }, "perf-progress");
            t.setDaemon(true);
            t.start();
        }
        progress[0] = perSecond;
        long t0 = System.nanoTime();
        long c0 = cpuNanos();
        long x0 = contextSwitches();
        long a0 = acked.get();
        recorder.reset();
        done.await();
        long t1 = System.nanoTime();
        long c1 = cpuNanos();
        long x1 = contextSwitches();
        long a1 = acked.get();
        Throwable f = failure.get();
        if (f != null) {
            f.printStackTrace();
        }
        Histogram h = recorder.getIntervalHistogram();
        double secs = (t1 - t0) / 1e9;
        System.out.println(String.format(Locale.ROOT,
                "%s rate=%s msgs=%d inflight=%d conc=%d window=%d sendWindow=%d: %,.0f msg/s acked over %.2f s"
                        + " (process CPU %.2f us/msg, %.0f%% of 2 cores, %.2f voluntary context switches/msg);"
                        + " latency us p50 %.0f p90 %.0f p99 %.0f p99.9 %.0f max %.0f (n=%d)",
                server == null ? "remote" : "in-JVM", rate <= 0 ? "max" : String.valueOf((long) rate), messages,
                inflight, concurrency, window, sendWindow, (a1 - a0) / secs, secs, (c1 - c0) / 1e3 / (a1 - a0),
                (c1 - c0) / 1e7 / secs / 2, (double) (x1 - x0) / (a1 - a0),
                h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(90) / 1e3, h.getValueAtPercentile(99) / 1e3,
                h.getValueAtPercentile(99.9) / 1e3, h.getMaxValue() / 1e3, h.getTotalCount()));
        if (rate > 0) {
            Histogram lag = sendLag.getIntervalHistogram();
            System.out.println(String.format(Locale.ROOT, "  of which the pacer's lateness (send call after the"
                    + " intended time): p50 %.0f p99 %.0f p99.9 %.0f us", lag.getValueAtPercentile(50) / 1e3,
                    lag.getValueAtPercentile(99) / 1e3, lag.getValueAtPercentile(99.9) / 1e3));
        }
        if (producing != null) {
            producing.dispose();
        }
        consuming.dispose();
        producer.close().block(Duration.ofSeconds(10));
        consumer.close().block(Duration.ofSeconds(10));
        if (server != null) {
            server.disposeNow(Duration.ofSeconds(10));
        }
        System.exit(f == null ? 0 : 1);
    }
}
