package dev.rill.bench.suite;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.ReceiveOptions;
import dev.rill.reactive.Rill;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * In-JVM reactive end to end (issue 4, "Performance"): one producer and one consumer pass small messages
 * ({@code Integer}s) through an in-memory Rill queue, {@code sendMany} → {@code receive} → ack (each delivery with
 * {@link Delivery#ack()}, or {@link ReactiveQueue#ackAll} per batch of 256), and through the ceiling,
 * {@code Sinks.many().unicast().onBackpressureBuffer()} → {@code publishOn} → subscriber, in the same run; and
 * through a {@code QueuePipeline} (concurrency {@value #PIPELINE_CONCURRENCY}) whose handler completes at once.
 *
 * <p>The producer is subscribed on its own single-thread scheduler and the consumer hops to another with
 * {@code publishOn}, as in the Sinks baseline; the "no hop" variants let the consumer run wherever the queue
 * signals it (often the producer's thread). A run ends when the consumer has acked (or seen) the last message.
 *
 * <p>Run: {@code java -cp mq-bench/target/benchmarks.jar dev.rill.bench.suite.ReactiveBench [messages warmups runs
 * outDir]}.
 */
public final class ReactiveBench {

    /** The variants, in report order; the first is the reference. */
    enum Variant {
        SINKS("Sinks.unicast → publishOn (ceiling)"),
        RILL_ACK_EACH("Rill sendMany → receive → publishOn → ack() each"),
        RILL_ACK_BATCH("Rill sendMany → receive → publishOn → ackAll(256)"),
        RILL_ACK_EACH_NO_HOP("Rill, ack() each, no publishOn"),
        RILL_ACK_BATCH_NO_HOP("Rill, ackAll(256), no publishOn"),
        RILL_PIPELINE("Rill sendMany → pipeline(concurrency 128), each acked by the pipeline");

        final String label;

        Variant(String label) {
            this.label = label;
        }
    }

    static final int PAYLOADS = 1024;
    static final int ACK_BATCH = 256;
    static final int PIPELINE_CONCURRENCY = 128;

    private final Integer[] payloads = new Integer[PAYLOADS];
    private final Scheduler producer = Schedulers.newSingle("bench-producer");
    private final Scheduler consumer = Schedulers.newSingle("bench-consumer");
    private final ReactiveBroker broker = Rill.inMemory();
    private final ReactiveQueue<Integer> queue;

    private ReactiveBench() {
        for (int i = 0; i < PAYLOADS; i++) {
            payloads[i] = i;
        }
        queue = broker.queue(QueueSpec.named("reactive-bench"), Codec.of(
                (Integer i) -> new byte[] {(byte) (i >>> 24), (byte) (i >>> 16), (byte) (i >>> 8), (byte) (int) i},
                b -> ((b[0] & 0xff) << 24) | ((b[1] & 0xff) << 16) | ((b[2] & 0xff) << 8) | (b[3] & 0xff)))
                .block();
    }

    /**
     * Runs every variant: warmups, then measured runs, interleaved so drift hits every variant alike.
     *
     * @param args messages per run (default 1,000,000), warmup rounds (3), measured rounds (5), output dir
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int warmups = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        int runs = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        Path out = Path.of(args.length > 3 ? args[3] : "mq-bench/target/bench-results");
        ReactiveBench bench = new ReactiveBench();
        try {
            Map<Variant, List<Double>> scores = bench.measure(n, warmups, runs);
            Results r = report(scores, n, warmups);
            System.out.print(r.markdown());
            r.write(out);
        } finally {
            bench.close();
        }
    }

    private Map<Variant, List<Double>> measure(int n, int warmups, int runs) throws Exception {
        Map<Variant, List<Double>> scores = new LinkedHashMap<>();
        String only = System.getProperty("variants", "");
        for (Variant v : Variant.values()) {
            if (only.isEmpty() || v == Variant.SINKS || List.of(only.split(",")).contains(v.name())) {
                scores.put(v, new ArrayList<>());
            }
        }
        for (int round = 0; round < warmups + runs; round++) {
            for (Variant v : scores.keySet()) {
                double perSecond = run(v, n);
                if (round >= warmups) {
                    scores.get(v).add(perSecond);
                }
                System.err.printf(Locale.ROOT, "%s round %d %s: %,.0f msg/s%n", round < warmups ? "warmup" : "run",
                        round, v, perSecond);
            }
        }
        return scores;
    }

    /** @return messages per second end to end */
    private double run(Variant v, int n) throws Exception {
        System.gc();
        long start = System.nanoTime();
        long seen = switch (v) {
            case SINKS -> runSinks(n);
            case RILL_ACK_EACH -> runRill(n, false, true);
            case RILL_ACK_BATCH -> runRill(n, true, true);
            case RILL_ACK_EACH_NO_HOP -> runRill(n, false, false);
            case RILL_ACK_BATCH_NO_HOP -> runRill(n, true, false);
            case RILL_PIPELINE -> runPipeline(n);
        };
        long elapsed = System.nanoTime() - start;
        if (seen != n) {
            throw new IllegalStateException(v + " consumed " + seen + " of " + n);
        }
        var st = queue.stats().block();
        long depth = st.ready() + st.inFlight() + st.delayed();
        if (depth != 0) {
            throw new IllegalStateException(v + " left " + depth + " messages in the queue");
        }
        return n * 1e9 / elapsed;
    }

    private long runSinks(int n) throws Exception {
        Sinks.Many<Integer> sink = Sinks.many().unicast().onBackpressureBuffer();
        AtomicLong count = new AtomicLong();
        CompletableFuture<Void> done = sink.asFlux().publishOn(consumer)
                .doOnNext(i -> count.lazySet(count.get() + 1))
                .then().toFuture();
        Integer[] p = payloads;
        producer.schedule(() -> {
            for (int i = 0; i < n; i++) {
                sink.emitNext(p[i & (PAYLOADS - 1)], Sinks.EmitFailureHandler.FAIL_FAST);
            }
            sink.emitComplete(Sinks.EmitFailureHandler.FAIL_FAST);
        });
        done.get(120, TimeUnit.SECONDS);
        return count.get();
    }

    private long runRill(int n, boolean batchAcks, boolean hop) throws Exception {
        AtomicLong count = new AtomicLong();
        Flux<Delivery<Integer>> deliveries = queue.receive(ReceiveOptions.defaults().maxMessages(n));
        if (hop) {
            deliveries = deliveries.publishOn(consumer);
        }
        deliveries = deliveries.doOnNext(d -> count.lazySet(count.get() + 1));
        Mono<Void> consumed = batchAcks
                ? deliveries.buffer(ACK_BATCH).concatMap(queue::ackAll).then()
                : deliveries.flatMap(Delivery::ack).then();
        CompletableFuture<Void> done = consumed.toFuture();
        Integer[] p = payloads;
        CompletableFuture<Void> sent = queue.sendMany(Flux.range(0, n).map(i -> OutboundMessage.of(p[i & (PAYLOADS - 1)])))
                .subscribeOn(producer).then().toFuture();
        sent.get(120, TimeUnit.SECONDS);
        done.get(120, TimeUnit.SECONDS);
        return count.get();
    }

    /** The pipeline applications are pointed to: its handler completes at once, the pipeline acks each message. */
    private long runPipeline(int n) throws Exception {
        AtomicLong count = new AtomicLong();
        CompletableFuture<Void> all = new CompletableFuture<>();
        QueuePipeline pipeline = queue.pipeline(d -> {
            if (count.incrementAndGet() == n) {
                all.complete(null);
            }
            return Mono.empty();
        }).concurrency(PIPELINE_CONCURRENCY).start();
        try {
            Integer[] p = payloads;
            CompletableFuture<Void> sent = queue.sendMany(Flux.range(0, n)
                            .map(i -> OutboundMessage.of(p[i & (PAYLOADS - 1)])))
                    .subscribeOn(producer).then().toFuture();
            sent.get(120, TimeUnit.SECONDS);
            all.get(120, TimeUnit.SECONDS);
            pipeline.drain(Duration.ofSeconds(30)).block(); // the last acks, then the pipeline stops
        } finally {
            pipeline.dispose();
        }
        return count.get();
    }

    static Results report(Map<Variant, List<Double>> scores, int n, int warmups) {
        Results r = new Results("reactive");
        Summary ceiling = Summary.of(scores.get(Variant.SINKS));
        r.md(String.format(Locale.ROOT, "### In-JVM reactive: send → receive → ack (one producer, one consumer)%n%n"
                + "%,d `Integer` messages per run, %d warmup rounds, variants interleaved in each round. "
                + "msg/s = messages acked (Sinks: seen) per second, end to end.%n%n", n, warmups));
        r.md("| variant | msg/s median (min–max) | vs Sinks | target |\n|---|---|---|---|\n");
        for (Map.Entry<Variant, List<Double>> e : scores.entrySet()) {
            Summary s = Summary.of(e.getValue());
            double ratio = s.ratioTo(ceiling);
            String target = e.getKey() == Variant.SINKS ? ""
                    : e.getKey() == Variant.RILL_PIPELINE ? "none (the issue's target is for receive/ack)"
                    : verdict(ratio);
            r.md(String.format(Locale.ROOT, "| %s | %s | %.2f× | %s |%n", e.getKey().label, s.format(), ratio, target));
            r.record(e.getKey().name(), String.format(Locale.ROOT,
                    "{\"msgPerSec\":%s,\"vsSinks\":%.4f,\"messages\":%d}", s.toJson(), ratio, n));
        }
        r.md("\n");
        return r;
    }

    static String verdict(double ratio) {
        if (ratio >= 0.5) {
            return "bar ≥0.3× met, aim ≥0.5× met";
        }
        return ratio >= 0.3 ? "bar ≥0.3× met, aim ≥0.5× missed" : "bar ≥0.3× " + Summary.missedBy(ratio, 0.3);
    }

    private void close() {
        broker.close().block();
        producer.dispose();
        consumer.dispose();
    }
}
