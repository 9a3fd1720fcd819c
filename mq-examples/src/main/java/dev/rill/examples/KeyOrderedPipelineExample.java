package dev.rill.examples;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.Ordering;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.RetryPolicy;
import dev.rill.reactive.Rill;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Per-key order with parallelism across keys: a {@link Ordering#KEY_ORDERED KEY_ORDERED} queue and a pipeline with
 * {@code keyOrdered()} and {@code concurrency(8)}.
 *
 * <p>Five accounts (the message key) get 20 events each, interleaved. The handler takes a few milliseconds per event,
 * and the second event of account {@code acct-2} fails once (it is retried after 50 ms). The example records, per
 * key, the order in which events were handled and how many handlers ran at once: events of one account run one at a
 * time and in the order sent (even across the retry: the queue leases one message per key at a time, so
 * {@code acct-2}'s later events wait for the retried one), while different accounts run in parallel and a failing
 * account never stalls the others.
 *
 * <pre>
 * ./mvnw -q -pl mq-examples -am compile exec:java -Dexec.mainClass=dev.rill.examples.KeyOrderedPipelineExample
 * </pre>
 */
public final class KeyOrderedPipelineExample {

    private static final Duration WAIT = Duration.ofSeconds(30);

    private KeyOrderedPipelineExample() {
    }

    /**
     * What was observed.
     *
     * @param handledOrder per key, the sequence numbers of its events in the order the handler completed them
     * @param maxConcurrentOverall the most handlers running at once, all keys together
     * @param maxConcurrentPerKey the most handlers running at once for any single key
     * @param failures handler failures (each retried)
     * @param stats the queue's stats at the end
     */
    public record Summary(Map<String, List<Integer>> handledOrder, int maxConcurrentOverall, int maxConcurrentPerKey,
            int failures, QueueStats stats) {
    }

    /**
     * Runs the example on a fresh in-memory broker.
     *
     * @param args ignored
     */
    public static void main(String[] args) {
        ReactiveBroker broker = Rill.inMemory();
        try {
            Summary s = run(broker, 5, 20, System.out);
            System.out.printf("done: max %d handlers at once across keys, max %d per key, %d failure(s) retried;"
                            + " acked %d%n", s.maxConcurrentOverall(), s.maxConcurrentPerKey(), s.failures(),
                    s.stats().acked());
        } finally {
            broker.close().block(Duration.ofSeconds(5));
        }
    }

    /**
     * Sends {@code perKey} events for each of {@code keys} accounts, interleaved, and handles them with a key-ordered
     * pipeline until all are acked.
     *
     * @param broker the broker to declare the {@code accounts} queue on
     * @param keys how many accounts (keys), at least 3 (account {@code acct-2} has the failing event)
     * @param perKey events per account, at least 2
     * @param out where to print
     * @return what was observed
     */
    public static Summary run(ReactiveBroker broker, int keys, int perKey, PrintStream out) {
        ReactiveQueue<String> queue = Objects.requireNonNull(broker.queue(
                QueueSpec.named("accounts").ordering(Ordering.KEY_ORDERED), Codec.utf8()).block(WAIT));

        Map<String, List<Integer>> handled = new ConcurrentHashMap<>();
        Map<String, AtomicInteger> runningPerKey = new ConcurrentHashMap<>();
        AtomicInteger running = new AtomicInteger();
        AtomicInteger maxOverall = new AtomicInteger();
        AtomicInteger maxPerKey = new AtomicInteger();
        AtomicInteger failures = new AtomicInteger();

        QueuePipeline pipeline = queue.pipeline((Delivery<String> d) -> {
            String key = d.message().key();
            int seq = Integer.parseInt(d.payload().substring(d.payload().lastIndexOf('#') + 1));
            AtomicInteger mine = runningPerKey.computeIfAbsent(key, k -> new AtomicInteger());
            return Mono.defer(() -> {
                maxOverall.accumulateAndGet(running.incrementAndGet(), Math::max);
                maxPerKey.accumulateAndGet(mine.incrementAndGet(), Math::max);
                if (key.equals("acct-2") && seq == 2 && d.deliveryCount() == 1) {
                    failures.incrementAndGet();
                    return Mono.error(new IllegalStateException("ledger busy for " + d.payload()));
                }
                // 2 to 4 ms of (non-blocking) work per event
                return Mono.delay(Duration.ofMillis(2 + Math.floorMod(seq * 31 + key.hashCode(), 3)))
                        .doOnNext(t -> handled
                                .computeIfAbsent(key, k -> Collections.synchronizedList(new ArrayList<>()))
                                .add(seq));
            }).doOnTerminate(() -> finished(mine, running)) // before the pipeline sees the outcome and acks
                    .doOnCancel(() -> finished(mine, running));
        })
                .keyOrdered()
                .concurrency(8)
                .retry(RetryPolicy.fixed(Duration.ofMillis(50)))
                .start();
        // Failures are published on errors() (and logged only if nobody listens).
        Disposable errorLog = pipeline.errors()
                .subscribe(e -> out.println("  retrying after: " + e.error().getMessage()));
        try {
            int total = keys * perKey;
            Flux.range(0, total)
                    .map(i -> OutboundMessage.of("acct-" + (i % keys) + " event #" + (i / keys + 1))
                            .key("acct-" + (i % keys)))
                    .as(queue::sendMany)
                    .then().block(WAIT);
            Flux.interval(Duration.ZERO, Duration.ofMillis(20))
                    .concatMap(tick -> queue.stats())
                    .filter(s -> s.acked() == total)
                    .next()
                    .block(WAIT);
        } finally {
            pipeline.drain(Duration.ofSeconds(5)).block(WAIT);
            errorLog.dispose();
        }

        Map<String, List<Integer>> order = new TreeMap<>();
        handled.forEach((k, v) -> {
            synchronized (v) {
                order.put(k, List.copyOf(v));
            }
        });
        order.forEach((key, seqs) -> out.println("  " + key + " handled in order " + seqs));
        return new Summary(order, maxOverall.get(), maxPerKey.get(), failures.get(),
                Objects.requireNonNull(queue.stats().block(WAIT)));
    }

    private static void finished(AtomicInteger forKey, AtomicInteger overall) {
        forKey.decrementAndGet();
        overall.decrementAndGet();
    }
}
