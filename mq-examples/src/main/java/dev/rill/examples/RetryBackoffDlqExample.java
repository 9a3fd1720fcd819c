package dev.rill.examples;

import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
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
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Retry with exponential backoff and jitter, a dead-letter queue after {@code maxDeliveries}, and a redrive once the
 * cause is fixed.
 *
 * <p>Twelve payments go through a pipeline whose handler succeeds for most, fails once for every fourth
 * ("gateway timeout", a transient error: the retry succeeds) and always fails for every fourth other ("invalid
 * account", a poison message). The queue allows 4 deliveries; the retry policy waits 100 ms, then 200 ms, then 400 ms
 * (each spread by ±20% jitter) between them, after which the pipeline rejects the message to {@code payments.dlq}
 * with the error as the reason. The example prints the attempt timeline of each poison message and the dead letters
 * with their reasons, then "fixes the bug" and redrives the dead letters back, where they now succeed.
 *
 * <pre>
 * ./mvnw -q -pl mq-examples -am compile exec:java -Dexec.mainClass=dev.rill.examples.RetryBackoffDlqExample
 * </pre>
 */
public final class RetryBackoffDlqExample {

    /** The queue's delivery limit: the 4th failed delivery dead-letters the message. */
    public static final int MAX_DELIVERIES = 4;

    /** Backoff: 100 ms after the first failure, doubling, at most 2 s, each delay spread by ±20%. */
    public static final RetryPolicy RETRY =
            RetryPolicy.exponential(Duration.ofMillis(100), 2.0, Duration.ofSeconds(2)).jitter(0.2);

    private static final Duration WAIT = Duration.ofSeconds(30);

    private RetryBackoffDlqExample() {
    }

    /**
     * One message of the dead-letter queue.
     *
     * @param payload the payload
     * @param reason the {@link Message#HEADER_DEAD_LETTER_REASON} header
     * @param sourceQueue the {@link Message#HEADER_SOURCE_QUEUE} header
     * @param deliveries the {@link Message#HEADER_DELIVERY_COUNT} header: deliveries in the source queue
     */
    public record DeadLetter(String payload, String reason, String sourceQueue, int deliveries) {
    }

    /**
     * What happened.
     *
     * @param sent payments sent
     * @param succeededFirstTime handled successfully on their first delivery
     * @param succeededAfterRetry handled successfully on a later delivery (before the redrive)
     * @param handlerErrors failures reported on {@link QueuePipeline#errors()}
     * @param attemptTimes for each poison payment, when each of its deliveries reached the handler, in ms since the
     *     start
     * @param deadLetters the dead-letter queue's contents before the redrive
     * @param redriven how many dead letters the redrive moved back
     * @param queueAfter the payments queue's stats at the end
     * @param deadLetterQueueAfter the dead-letter queue's stats at the end
     */
    public record Summary(int sent, int succeededFirstTime, int succeededAfterRetry, int handlerErrors,
            Map<String, List<Long>> attemptTimes, List<DeadLetter> deadLetters, int redriven, QueueStats queueAfter,
            QueueStats deadLetterQueueAfter) {
    }

    /**
     * Runs the example on a fresh in-memory broker.
     *
     * @param args ignored
     */
    public static void main(String[] args) {
        ReactiveBroker broker = Rill.inMemory();
        try {
            Summary s = run(broker, 12, System.out);
            System.out.printf("done: %d sent, %d ok first time, %d ok after a retry, %d dead-lettered, %d redriven;"
                            + " acked %d, dead-letter queue holds %d%n", s.sent(), s.succeededFirstTime(),
                    s.succeededAfterRetry(), s.deadLetters().size(), s.redriven(), s.queueAfter().acked(),
                    s.deadLetterQueueAfter().size());
        } finally {
            broker.close().block(Duration.ofSeconds(5));
        }
    }

    /**
     * Sends {@code payments} messages through the pipeline, waits until each is acked or dead-lettered, prints the
     * dead letters, fixes the handler, redrives, and waits until everything is acked.
     *
     * @param broker the broker to declare {@code payments} and {@code payments.dlq} on
     * @param payments how many payments to send; payment {@code i} is poison when {@code i % 4 == 3} and fails once
     *     when {@code i % 4 == 1}
     * @param out where to print
     * @return what happened
     */
    public static Summary run(ReactiveBroker broker, int payments, PrintStream out) {
        ReactiveQueue<String> queue = declare(broker, QueueSpec.named("payments")
                .maxDeliveries(MAX_DELIVERIES)
                .deadLetterQueue("payments.dlq"));
        ReactiveQueue<String> dlq = declare(broker, QueueSpec.named("payments.dlq"));

        AtomicBoolean bugFixed = new AtomicBoolean();
        AtomicInteger firstTime = new AtomicInteger();
        AtomicInteger afterRetry = new AtomicInteger();
        Map<String, List<Long>> attempts = new ConcurrentHashMap<>();
        long start = System.nanoTime();

        QueuePipeline pipeline = queue.pipeline((Delivery<String> d) -> Mono.fromRunnable(() -> {
            String payment = d.payload();
            int n = Integer.parseInt(payment.substring(payment.indexOf('-') + 1));
            boolean poison = n % 4 == 3 && !bugFixed.get();
            if (poison) {
                attempts.computeIfAbsent(payment, k -> new CopyOnWriteArrayList<>())
                        .add((System.nanoTime() - start) / 1_000_000);
                throw new IllegalArgumentException("invalid account in " + payment);
            }
            if (n % 4 == 1 && d.deliveryCount() == 1) {
                throw new IllegalStateException("gateway timeout for " + payment);
            }
            if (!bugFixed.get()) {
                (d.deliveryCount() == 1 ? firstTime : afterRetry).incrementAndGet();
            }
        })).concurrency(4).retry(RETRY).start();
        // Handler failures never stop the pipeline; they are published here (and logged only if nobody listens).
        AtomicInteger handlerErrors = new AtomicInteger();
        Disposable errorLog = pipeline.errors().subscribe(e -> {
            handlerErrors.incrementAndGet();
            out.printf("  +%4d ms  message %d, delivery %d failed: %s%n", (System.nanoTime() - start) / 1_000_000,
                    e.messageId(), e.deliveryCount(), e.error().getMessage());
        });

        try {
            out.println("handler failures, as published on pipeline.errors():");
            Flux.range(0, payments).concatMap(i -> queue.send(OutboundMessage.of("payment-" + i)))
                    .then().block(WAIT);
            await(queue, s -> s.acked() + s.deadLettered() == payments);

            out.println("poison payments (backoff 100, 200, 400 ms, each +-20%; a gap adds the time the redelivery"
                    + " takes to reach the handler, more on a busy machine):");
            Map<String, List<Long>> timeline = new TreeMap<>(attempts);
            timeline.forEach((payment, times) -> out.println("  " + payment + ": deliveries at +" + times
                    + " ms, gaps " + gaps(times) + " ms"));

            List<DeadLetter> deadLetters = new ArrayList<>();
            for (Message<String> m : Objects.requireNonNull(dlq.peek(1_000).collectList().block(WAIT))) {
                deadLetters.add(new DeadLetter(m.payload(), m.headers().get(Message.HEADER_DEAD_LETTER_REASON),
                        m.headers().get(Message.HEADER_SOURCE_QUEUE),
                        Integer.parseInt(m.headers().getOrDefault(Message.HEADER_DELIVERY_COUNT, "0"))));
            }
            out.println("dead-letter queue " + dlq.name() + ":");
            deadLetters.forEach(dl -> out.println("  " + dl.payload() + " from " + dl.sourceQueue() + " after "
                    + dl.deliveries() + " deliveries: " + dl.reason()));

            bugFixed.set(true);
            int redriven = Objects.requireNonNull(broker.redrive(dlq.name(), 1_000).block(WAIT));
            out.println("bug fixed; redrove " + redriven + " message(s) back to " + queue.name());
            await(queue, s -> s.acked() == payments);

            return new Summary(payments, firstTime.get(), afterRetry.get(), handlerErrors.get(), timeline,
                    List.copyOf(deadLetters), redriven, stats(queue), stats(dlq));
        } finally {
            pipeline.drain(Duration.ofSeconds(5)).block(WAIT);
            errorLog.dispose();
        }
    }

    /**
     * The time between consecutive deliveries.
     *
     * @param times delivery times in ms, in order
     * @return the differences between neighbours
     */
    public static List<Long> gaps(List<Long> times) {
        List<Long> gaps = new ArrayList<>();
        for (int i = 1; i < times.size(); i++) {
            gaps.add(times.get(i) - times.get(i - 1));
        }
        return gaps;
    }

    private static ReactiveQueue<String> declare(ReactiveBroker broker, QueueSpec spec) {
        return Objects.requireNonNull(broker.queue(spec, Codec.utf8()).block(WAIT));
    }

    private static QueueStats stats(ReactiveQueue<?> queue) {
        return Objects.requireNonNull(queue.stats().block(WAIT));
    }

    /** Polls the queue's stats every 20 ms until {@code done} holds (bounded by {@link #WAIT}). */
    private static void await(ReactiveQueue<?> queue, Predicate<QueueStats> done) {
        Flux.interval(Duration.ZERO, Duration.ofMillis(20))
                .concatMap(tick -> queue.stats())
                .filter(done)
                .next()
                .block(WAIT);
    }
}
