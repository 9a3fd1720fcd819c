package dev.rill.bench.suite;

import dev.rill.core.Codec;
import dev.rill.core.Lease;
import dev.rill.core.LeaseOutcome;
import dev.rill.core.MessageQueue;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.core.ReceiptHandle;
import dev.rill.core.SendOutcome;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.ReceiveOptions;
import dev.rill.reactive.Rill;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * Scaling curves, in one JVM (issue 8): throughput against the number of queues, of competing consumers, the
 * payload size, the queue depth and the number of pending delayed messages, through Rill's core API
 * ({@link MessageQueue}) and reactive API ({@link ReactiveQueue}), with {@link ArrayBlockingQueue} beside the core
 * where it has an equivalent.
 *
 * <p><b>Core cycle</b> (one thread, no hand-off, so the figure is the queue's own cost): {@code sendAll} of
 * {@value #BATCH} messages, {@code receive(}{@value #BATCH}{@code )}, {@code ackAll} of those leases, queue after
 * queue round robin; the clock is read once per call as a caller would. Runs last a fixed time. The
 * ArrayBlockingQueue cycle is {@value #BATCH} {@code offer}s and one {@code drainTo} of {@value #BATCH}.
 *
 * <p><b>Reactive</b>: {@code sendMany} (producer on its own thread) → {@code receive} → {@code ack()} of every
 * delivery, no {@code publishOn}; a run is a fixed number of messages and ends when the last one is acked.
 *
 * <p>Depth and delayed: the queue holds that many ready (or delayed by one hour) messages before the run and after
 * it; the cycle consumes from the head and refills the tail. Payloads are {@code byte[]} shared between messages
 * (an in-JVM queue stores references: the payload-size curve measures the queue, not allocation or copying).
 *
 * <p>Run: {@code java -Xmx3g -cp mq-bench/target/benchmarks.jar dev.rill.bench.suite.ScalingBench quick|full
 * outDir}. Writes {@code scaling.json}, {@code scaling.md} and {@code scaling-*.png} into outDir.
 */
public final class ScalingBench {

    static final int BATCH = 32;
    static final int DEFAULT_PAYLOAD = 100;

    static final String CORE = "Rill core";
    static final String REACTIVE = "Rill reactive";
    static final String ABQ = "ArrayBlockingQueue";

    /**
     * The sizes of one profile.
     *
     * @param name quick or full
     * @param runMillis duration of one core run
     * @param warmups warmup runs per point (not reported)
     * @param runs measured runs per point
     * @param reactiveMessages messages per reactive run
     * @param queues x values of the queues curve
     * @param consumers x values of the consumers curve
     * @param payloads x values of the payload curve (bytes)
     * @param depths x values of the depth curve
     * @param delayed x values of the delayed curve
     */
    record Profile(String name, long runMillis, int warmups, int runs, int reactiveMessages, long[] queues,
            long[] consumers, long[] payloads, long[] depths, long[] delayed) {

        static Profile of(String name) {
            return switch (name) {
                case "quick" -> new Profile(name, 200, 1, 5, 300_000, new long[] {1, 10, 100, 1000},
                        new long[] {1, 10, 100, 1000}, new long[] {16, 256, 4096, 65536},
                        new long[] {0, 10_000, 100_000, 1_000_000}, new long[] {0, 10_000, 100_000, 1_000_000});
                case "full" -> new Profile(name, 1000, 2, 5, 2_000_000, new long[] {1, 10, 100, 1000},
                        new long[] {1, 2, 10, 100, 1000}, new long[] {16, 64, 256, 1024, 4096, 16384, 65536},
                        new long[] {0, 10_000, 100_000, 1_000_000, 10_000_000},
                        new long[] {0, 1_000, 10_000, 100_000, 1_000_000});
                default -> throw new IllegalArgumentException("profile must be quick or full, was " + name);
            };
        }
    }

    private final Profile p;
    private final ReactiveBroker broker = Rill.inMemory();
    private final Scheduler producer = Schedulers.newSingle("scaling-producer");
    private int queueSeq;

    private ScalingBench(Profile p) {
        this.p = p;
    }

    /**
     * Runs every curve and writes the results.
     *
     * @param args profile (quick or full), output directory, optionally curve ids to run (default all)
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        Profile profile = Profile.of(args.length > 0 ? args[0] : "quick");
        Path out = Path.of(args.length > 1 ? args[1] : "mq-bench/target/bench-results");
        List<String> only = args.length > 2 ? List.of(args).subList(2, args.length) : List.of();
        ScalingBench bench = new ScalingBench(profile);
        List<Curve> curves = new ArrayList<>();
        long start = System.nanoTime();
        try {
            bench.warmUp();
            for (String id : List.of("queues", "consumers", "payload", "depth", "delayed")) {
                if (!only.isEmpty() && !only.contains(id)) {
                    continue;
                }
                long t0 = System.nanoTime();
                Curve c = switch (id) {
                    case "queues" -> bench.queues();
                    case "consumers" -> bench.consumers();
                    case "payload" -> bench.payload();
                    case "depth" -> bench.depth();
                    default -> bench.delayed();
                };
                System.err.printf(Locale.ROOT, "scaling: %s took %.1f s%n", id, (System.nanoTime() - t0) / 1e9);
                curves.add(c);
            }
        } finally {
            bench.close();
        }
        Results r = report(curves, profile, (System.nanoTime() - start) / 1e9);
        System.out.print(r.markdown());
        r.write(out);
        for (Curve c : curves) {
            Charts.writePng(c, out);
        }
    }

    static Results report(List<Curve> curves, Profile p, double seconds) {
        Results r = new Results("scaling");
        r.md(String.format(Locale.ROOT, "### Scaling curves (in-JVM)%n%n"
                + "Profile %s: each point is %d warmup and %d measured runs (median, min–max); core runs last %d ms, "
                + "reactive runs pass %,d messages. Core cycle: one thread, `sendAll` %d → `receive(%d)` → `ackAll`, "
                + "queue after queue; ArrayBlockingQueue: %d `offer` + `drainTo(%d)`. Reactive: `sendMany` on its "
                + "own thread → `receive` → `ack()` each, no `publishOn`. Payloads: %d-byte `byte[]` unless the curve "
                + "varies them, shared between messages. All curves took %.0f s.%n%n",
                p.name(), p.warmups(), p.runs(), p.runMillis(), p.reactiveMessages(), BATCH, BATCH, BATCH, BATCH,
                DEFAULT_PAYLOAD, seconds));
        for (Curve c : curves) {
            if (c.id().equals("queues")) {
                r.md(queuesHeadline(c));
            }
            r.md(c.markdown());
            r.record(c.id(), c.toJson());
        }
        return r;
    }

    /** The target line of the queues curve: throughput within 20% from 1 to 1000 queues. */
    static String queuesHeadline(Curve c) {
        StringBuilder b = new StringBuilder("Target: throughput within 20% from 1 to 1000 queues (ratio ≥ 0.80). ");
        for (String s : List.of(CORE, REACTIVE)) {
            if (!c.series().containsKey(s) || !c.series().get(s).containsKey(1000L)) {
                continue;
            }
            double ratio = c.ratioToFirst(s, 1000L);
            b.append(String.format(Locale.ROOT, "%s: 1000 ÷ 1 queue = **%.2f×** (%s). ", s, ratio,
                    ratio >= 0.8 ? "met" : Summary.missedBy(ratio, 0.8)));
        }
        return b.append("\n\n").toString();
    }

    // -------------------------------------------------------------------------------------------------------------
    // Curves
    // -------------------------------------------------------------------------------------------------------------

    private Curve queues() throws Exception {
        Curve c = new Curve("queues", "Throughput vs number of queues", "queues",
                "The same load spread over N queues: the core cycle and ArrayBlockingQueue visit the queues round "
                        + "robin; reactive: one `sendMany` and one `receive` per queue, the total split evenly.")
                .reference(ABQ);
        byte[] payload = new byte[DEFAULT_PAYLOAD];
        for (long n : p.queues()) {
            List<MessageQueue<byte[]>> cores = new ArrayList<>();
            List<ArrayBlockingQueue<byte[]>> abqs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                cores.add(MessageQueue.create(QueueSpec.named("q" + i)));
                abqs.add(new ArrayBlockingQueue<>(BATCH * 4));
            }
            c.add(CORE, n, measure(() -> coreRun(cores, payload, 0)));
            c.add(ABQ, n, measure(() -> abqRun(abqs, payload, p.runMillis())));
            List<ReactiveQueue<byte[]>> rqs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                rqs.add(newQueue(QueueSpec.named("rq-" + queueSeq++)));
            }
            c.add(REACTIVE, n, measure(() -> reactiveRun(rqs, payload, p.reactiveMessages(), 0, false)));
            for (ReactiveQueue<byte[]> q : rqs) {
                broker.delete(q.name()).block();
            }
            progress(c, n);
        }
        return c;
    }

    private Curve consumers() throws Exception {
        Curve c = new Curve("consumers", "Throughput vs competing consumers on one queue", "consumers",
                "One queue, one `sendMany` producer, N `receive()` subscribers competing for its messages, each "
                        + "`flatMap(Delivery::ack)`; a run ends when the last message is acked.");
        byte[] payload = new byte[DEFAULT_PAYLOAD];
        for (long n : p.consumers()) {
            ReactiveQueue<byte[]> q = newQueue(QueueSpec.named("cq-" + queueSeq++));
            c.add(REACTIVE, n, measure(() -> competingRun(q, (int) n, payload, p.reactiveMessages())));
            broker.delete(q.name()).block();
            progress(c, n);
        }
        return c;
    }

    private Curve payload() throws Exception {
        Curve c = new Curve("payload", "Throughput vs payload size", "payload bytes",
                "One queue; every message carries the same `byte[]` of the given size (stored by reference in one "
                        + "JVM: no copy).").reference(ABQ);
        for (long size : p.payloads()) {
            byte[] payload = new byte[(int) size];
            MessageQueue<byte[]> core = MessageQueue.create(QueueSpec.named("payload"));
            c.add(CORE, size, measure(() -> coreRun(List.of(core), payload, 0)));
            ArrayBlockingQueue<byte[]> abq = new ArrayBlockingQueue<>(BATCH * 4);
            c.add(ABQ, size, measure(() -> abqRun(List.of(abq), payload, p.runMillis())));
            ReactiveQueue<byte[]> q = newQueue(QueueSpec.named("pq-" + queueSeq++));
            c.add(REACTIVE, size, measure(() -> reactiveRun(List.of(q), payload, p.reactiveMessages(), 0, false)));
            broker.delete(q.name()).block();
            progress(c, size);
        }
        return c;
    }

    private Curve depth() throws Exception {
        return backlog("depth", "Throughput vs queue depth (ready messages queued before the run)",
                "messages queued", false, p.depths());
    }

    private Curve delayed() throws Exception {
        return backlog("delayed", "Throughput vs pending delayed messages", "delayed messages pending", true,
                p.delayed());
    }

    private Curve backlog(String id, String title, String xLabel, boolean delayed, long[] xs) throws Exception {
        Curve c = new Curve(id, title, xLabel, delayed
                ? "One unbounded queue holding N messages delayed by one hour (never due during the run) beside the "
                        + "ready ones the cycle sends and consumes."
                : "One unbounded queue holding N ready messages: the cycle consumes from the head and refills the "
                        + "tail, so the depth stays N. ArrayBlockingQueue: capacity N + " + BATCH * 4
                        + ", filled alike.");
        if (!delayed) {
            c.reference(ABQ);
        }
        byte[] payload = new byte[DEFAULT_PAYLOAD];
        for (long n : xs) {
            MessageQueue<byte[]> core = MessageQueue.create(QueueSpec.named(id).unbounded());
            fill(core, payload, n, delayed);
            c.add(CORE, n, measure(() -> coreRun(List.of(core), payload, n)));
            core.close();
            System.gc();
            if (!delayed) {
                ArrayBlockingQueue<byte[]> abq = new ArrayBlockingQueue<>((int) n + BATCH * 4);
                for (long i = 0; i < n; i++) {
                    abq.add(payload);
                }
                c.add(ABQ, n, measure(() -> abqRun(List.of(abq), payload, p.runMillis())));
                abq.clear();
                System.gc();
            }
            ReactiveQueue<byte[]> q = newQueue(QueueSpec.named(id + "-" + queueSeq++).unbounded());
            OutboundMessage<byte[]> m = delayed ? OutboundMessage.of(payload).delay(Duration.ofHours(1))
                    : OutboundMessage.of(payload);
            q.sendMany(Flux.range(0, (int) n).map(i -> m)).then().block(Duration.ofMinutes(5));
            c.add(REACTIVE, n, measure(() -> reactiveRun(List.of(q), payload, p.reactiveMessages(), n, delayed)));
            broker.delete(q.name()).block();
            System.gc();
            progress(c, n);
        }
        return c;
    }

    /**
     * Compiles the hot paths before the first curve: otherwise the first points of the first curve are measured
     * while the JIT is still at work (a first run had 1 queue slower than 100).
     */
    private void warmUp() throws Exception {
        long t0 = System.nanoTime();
        byte[] payload = new byte[DEFAULT_PAYLOAD];
        List<MessageQueue<byte[]>> cores = new ArrayList<>();
        List<ArrayBlockingQueue<byte[]>> abqs = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            cores.add(MessageQueue.create(QueueSpec.named("warm" + i)));
            abqs.add(new ArrayBlockingQueue<>(BATCH * 4));
        }
        ReactiveQueue<byte[]> q = newQueue(QueueSpec.named("warm-" + queueSeq++));
        for (int round = 0; round < 5; round++) {
            coreRun(cores.subList(0, 1), payload, 0);
            coreRun(cores, payload, 0);
            abqRun(abqs, payload, p.runMillis());
            reactiveRun(List.of(q), payload, p.reactiveMessages(), 0, false);
            competingRun(q, 4, payload, p.reactiveMessages());
        }
        broker.delete(q.name()).block();
        System.err.printf(Locale.ROOT, "scaling: warm-up took %.1f s%n", (System.nanoTime() - t0) / 1e9);
    }

    private static void progress(Curve c, long x) {
        for (var e : c.series().entrySet()) {
            Summary s = e.getValue().get(x);
            if (s != null) {
                System.err.printf(Locale.ROOT, "scaling: %s %s=%d %s: %s msg/s%n", c.id(), c.xLabel(), x, e.getKey(),
                        s.format());
            }
        }
    }

    // -------------------------------------------------------------------------------------------------------------
    // Runs
    // -------------------------------------------------------------------------------------------------------------

    /** Functional run that may throw. */
    interface Run {
        double rate() throws Exception;
    }

    private Summary measure(Run run) throws Exception {
        List<Double> v = new ArrayList<>();
        for (int i = 0; i < p.warmups() + p.runs(); i++) {
            double r = run.rate();
            if (i >= p.warmups()) {
                v.add(r);
            }
        }
        return Summary.of(v);
    }

    /**
     * The core cycle over {@code queues}, round robin, for the profile's run time.
     *
     * @param keep messages each queue must still hold at the end (its backlog)
     */
    private double coreRun(List<MessageQueue<byte[]>> queues, byte[] payload, long keep) {
        List<OutboundMessage<byte[]>> batch = Collections.nCopies(BATCH, OutboundMessage.of(payload));
        int n = queues.size();
        long start = System.nanoTime();
        long deadline = start + p.runMillis() * 1_000_000L;
        long acked = 0;
        int i = 0;
        long now;
        do {
            for (int k = 0; k < 16; k++) {
                MessageQueue<byte[]> q = queues.get(i);
                i = i + 1 == n ? 0 : i + 1;
                for (SendOutcome o : q.sendAll(batch, System.nanoTime() / 1_000_000L)) {
                    if (o.status() != SendOutcome.Status.ENQUEUED) {
                        throw new IllegalStateException("send reported " + o);
                    }
                }
                List<Lease<byte[]>> leases = q.receive(BATCH, System.nanoTime() / 1_000_000L);
                @SuppressWarnings("unchecked")
                List<ReceiptHandle> handles = (List<ReceiptHandle>) (List<?>) leases;
                for (LeaseOutcome o : q.ackAll(handles, System.nanoTime() / 1_000_000L)) {
                    if (o != LeaseOutcome.OK) {
                        throw new IllegalStateException("ack reported " + o);
                    }
                    acked++;
                }
            }
            now = System.nanoTime();
        } while (now < deadline);
        for (MessageQueue<byte[]> q : queues) {
            if (q.size() != keep) {
                throw new IllegalStateException(q.name() + " holds " + q.size() + ", expected " + keep);
            }
        }
        return acked * 1e9 / (now - start);
    }

    private static double abqRun(List<ArrayBlockingQueue<byte[]>> queues, byte[] payload, long millis) {
        List<byte[]> sink = new ArrayList<>(BATCH);
        int n = queues.size();
        long start = System.nanoTime();
        long deadline = start + millis * 1_000_000L;
        long taken = 0;
        int i = 0;
        long now;
        do {
            for (int k = 0; k < 16; k++) {
                ArrayBlockingQueue<byte[]> q = queues.get(i);
                i = i + 1 == n ? 0 : i + 1;
                for (int j = 0; j < BATCH; j++) {
                    if (!q.offer(payload)) {
                        throw new IllegalStateException("ArrayBlockingQueue full");
                    }
                }
                taken += q.drainTo(sink, BATCH);
                sink.clear();
            }
            now = System.nanoTime();
        } while (now < deadline);
        return taken * 1e9 / (now - start);
    }

    private ReactiveQueue<byte[]> newQueue(QueueSpec spec) {
        return broker.queue(spec, Codec.bytes()).block(Duration.ofSeconds(30));
    }

    /**
     * Reactive run: {@code total} messages split over the queues, one sendMany and one receive → ack per queue.
     *
     * @param keep messages each queue holds before and after (ready, or delayed if {@code delayed})
     */
    private double reactiveRun(List<ReactiveQueue<byte[]>> queues, byte[] payload, int total, long keep,
            boolean delayed) throws Exception {
        int per = total / queues.size();
        OutboundMessage<byte[]> m = OutboundMessage.of(payload);
        AtomicLong acked = new AtomicLong();
        System.gc();
        long start = System.nanoTime();
        Mono<Void> consumed = Flux.fromIterable(queues)
                .flatMap(q -> q.receive(ReceiveOptions.defaults().maxMessages(per))
                        .flatMap(d -> d.ack().doOnSuccess(v -> acked.incrementAndGet())), queues.size())
                .then();
        var done = consumed.toFuture();
        var sent = Flux.fromIterable(queues)
                .flatMap(q -> q.sendMany(Flux.range(0, per).map(i -> m)), queues.size())
                .subscribeOn(producer).then().toFuture();
        sent.get(120, TimeUnit.SECONDS);
        done.get(120, TimeUnit.SECONDS);
        long elapsed = System.nanoTime() - start;
        if (acked.get() != (long) per * queues.size()) {
            throw new IllegalStateException("acked " + acked.get() + " of " + (long) per * queues.size());
        }
        for (ReactiveQueue<byte[]> q : queues) {
            QueueStats st = q.stats().block();
            long held = delayed ? st.delayed() : st.ready();
            if (held != keep || st.inFlight() != 0 || (delayed ? st.ready() : st.delayed()) != 0) {
                throw new IllegalStateException(q.name() + " left " + st + ", expected " + keep);
            }
        }
        return acked.get() * 1e9 / elapsed;
    }

    /** Reactive run with {@code consumers} receive() subscribers competing on one queue. */
    private double competingRun(ReactiveQueue<byte[]> q, int consumers, byte[] payload, int total) throws Exception {
        OutboundMessage<byte[]> m = OutboundMessage.of(payload);
        AtomicLong acked = new AtomicLong();
        CountDownLatch done = new CountDownLatch(1);
        AtomicReference<Throwable> error = new AtomicReference<>();
        List<Disposable> subs = new ArrayList<>(consumers);
        System.gc();
        for (int c = 0; c < consumers; c++) {
            subs.add(q.receive().flatMap(d -> d.ack().doOnSuccess(v -> {
                if (acked.incrementAndGet() == total) {
                    done.countDown();
                }
            })).subscribe(null, e -> {
                error.set(e);
                done.countDown();
            }));
        }
        long start = System.nanoTime();
        var sent = q.sendMany(Flux.range(0, total).map(i -> m)).subscribeOn(producer).then().toFuture();
        boolean finished = done.await(120, TimeUnit.SECONDS);
        long elapsed = System.nanoTime() - start;
        sent.get(10, TimeUnit.SECONDS);
        subs.forEach(Disposable::dispose);
        if (error.get() != null) {
            throw new IllegalStateException("consumer failed", error.get());
        }
        if (!finished) {
            throw new IllegalStateException("acked " + acked.get() + " of " + total + " in 120 s");
        }
        QueueStats st = q.stats().block();
        if (st.ready() + st.inFlight() + st.delayed() != 0) {
            throw new IllegalStateException(q.name() + " left " + st);
        }
        return total * 1e9 / elapsed;
    }

    private static void fill(MessageQueue<byte[]> q, byte[] payload, long n, boolean delayed) {
        OutboundMessage<byte[]> m = delayed ? OutboundMessage.of(payload).delay(Duration.ofHours(1))
                : OutboundMessage.of(payload);
        List<OutboundMessage<byte[]>> chunk = Collections.nCopies(4096, m);
        long left = n;
        while (left > 0) {
            int k = (int) Math.min(left, chunk.size());
            q.sendAll(k == chunk.size() ? chunk : chunk.subList(0, k), System.nanoTime() / 1_000_000L);
            left -= k;
        }
        if (q.size() != n) {
            throw new IllegalStateException("filled " + q.size() + " of " + n);
        }
    }

    private void close() {
        broker.close().block(Duration.ofSeconds(30));
        producer.dispose();
    }
}
