package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.reactive.internal.AckEach;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import reactor.blockhound.BlockHound;
import reactor.blockhound.BlockingOperationError;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

/**
 * Send, sendMany, receive, ack, ackAll and a pipeline (with its meters) under load on {@link Schedulers#parallel()}
 * with BlockHound installed: no blocking call on a Reactor thread. Runs in its own surefire execution
 * ({@code blockhound}, which sets {@code -Drill.blockhound=true}) and skips itself anywhere else, because the agent
 * stays installed for the rest of the JVM.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NonBlockingBlockHoundTest {

    private static final Duration WAIT = Duration.ofSeconds(30);

    /** Every blocking call BlockHound saw, whether or not the resulting error reached a test. */
    private static final List<String> DETECTED = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void installBlockHound() {
        // Only in the pom's "blockhound" execution (its own JVM): the agent stays installed for the rest of the JVM,
        // so a -Dtest selection that also reaches the default execution must not install it there.
        Assumptions.assumeTrue(Boolean.getBoolean("rill.blockhound"),
                "runs in the surefire execution 'blockhound' only");
        BlockHound.install(builder -> {
            // The one allowance: dev.rill.core.MessageQueue guards its state with a ReentrantLock. Under contention
            // lock() may park the thread for the length of the critical section, which is bounded (O(1)/O(log n)
            // work, no I/O, no user code: listeners and dead-letter hand-over run after unlock). Allowed only in
            // the methods that take the lock ...
            for (String method : List.of("send", "sendAll", "acceptDeadLetter", "receiveMillis", "ackAll", "settle",
                    "advance", "nextDeadline", "purge", "close", "isClosed", "peek", "stats", "size", "isFull")) {
                builder.allowBlockingCallsInside("dev.rill.core.MessageQueue", method);
            }
            // ... and taken back for fire(), which runs listener callbacks (the reactive layer's wake-ups and
            // events) after the lock is released, from inside those methods: blocking there is a real bug.
            builder.disallowBlockingCallsInside("dev.rill.core.MessageQueue", "fire");
            builder.blockingMethodCallback(method -> {
                DETECTED.add(Thread.currentThread().getName() + ": " + method);
                throw new BlockingOperationError(method);
            });
        });
    }

    @Test
    @Order(1)
    void blockHoundIsActiveOnParallelThreads() {
        int before = DETECTED.size();
        // a long timeout on purpose: with 1 ms, a thread preempted before it reaches park() finds the time up and
        // returns without parking, so nothing would be detected; detected, the call fails before it waits at all
        StepVerifier.create(Mono.fromCallable(() -> new CountDownLatch(1).await(10, TimeUnit.SECONDS))
                        .subscribeOn(Schedulers.parallel()))
                .expectError(BlockingOperationError.class)
                .verify(WAIT);
        assertThat(DETECTED).hasSize(before + 1);
        assertThat(DETECTED.get(before)).startsWith("parallel-");
        DETECTED.remove(before); // the deliberate one; the load test below asserts on the rest
    }

    @Test
    @Order(2)
    void sendReceiveAckAndPipelineLoadNeverBlock() {
        ReactiveBroker broker = Rill.inMemory(); // timers on Schedulers.parallel()
        try {
            ReactiveQueue<String> direct = broker.queue(QueueSpec.named("bh.direct").capacity(200), Codec.utf8())
                    .block(WAIT);
            ReactiveQueue<String> piped = broker.queue(QueueSpec.named("bh.piped").capacity(200), Codec.utf8())
                    .block(WAIT);
            int perProducer = 3_000;

            // producers: sendMany into a small queue (waits for room) and single sends, all on parallel threads
            Mono<Long> manyDirect = direct.sendMany(Flux.range(0, perProducer)
                            .map(i -> OutboundMessage.of("many-" + i)))
                    .subscribeOn(Schedulers.parallel()).count();
            Mono<Long> singlesDirect = Flux.range(0, perProducer)
                    .flatMap(i -> direct.send(OutboundMessage.of("one-" + i)).subscribeOn(Schedulers.parallel()), 16)
                    .count();
            Mono<Long> manyPiped = piped.sendMany(Flux.range(0, 2 * perProducer)
                            .map(i -> OutboundMessage.of("p-" + i).key("k" + (i % 7))))
                    .subscribeOn(Schedulers.parallel()).count();

            // consumers: two competing receivers acking one by one and in batches (ackAll, and every other batch
            // through the transports' AckEach)
            @SuppressWarnings("unchecked")
            AckEach<String> each = (AckEach<String>) direct;
            Mono<Long> ackOne = direct.receive(ReceiveOptions.defaults().maxMessages(perProducer))
                    .publishOn(Schedulers.parallel())
                    .concatMap(d -> d.ack().thenReturn(1), 0)
                    .count();
            Mono<Long> ackBatch = direct.receive(ReceiveOptions.defaults().maxMessages(perProducer))
                    .subscribeOn(Schedulers.parallel())
                    .buffer(32)
                    .index()
                    .concatMap(t -> (t.getT1() % 2 == 0 ? direct.ackAll(t.getT2()) : each.ackEach(t.getT2()).then())
                            .thenReturn(t.getT2().size()))
                    .reduce(0L, Long::sum);

            // a pipeline with handlers hopping onto parallel threads, some failing once
            AtomicInteger handled = new AtomicInteger();
            QueuePipeline pipeline = piped.pipeline(d -> Mono.fromCallable(() -> {
                        if (d.deliveryCount() == 1 && d.message().id() % 50 == 0) {
                            throw new IllegalStateException("transient");
                        }
                        return handled.incrementAndGet();
                    }).subscribeOn(Schedulers.parallel()))
                    .concurrency(8).keyOrdered().retry(RetryPolicy.immediate())
                    .handlingTimeout(Duration.ofSeconds(20))
                    .scheduler(Schedulers.parallel()).start();
            List<PipelineError> pipelineErrors = new CopyOnWriteArrayList<>();
            pipeline.errors().subscribe(pipelineErrors::add);
            // its meters record on the pipeline's threads and are removed on the one that ends it
            MeterRegistry registry = new SimpleMeterRegistry();
            PipelineMetrics.of(pipeline).bindTo(registry);
            Counter acked = registry.get(PipelineMetrics.MESSAGES).tag("outcome", "acked").counter();
            Timer failed = registry.get(PipelineMetrics.HANDLER).tag("outcome", "failure").timer();

            List<Long> counts = Flux.merge(manyDirect, singlesDirect, manyPiped, ackOne, ackBatch)
                    .collectList().block(WAIT);
            assertThat(counts).containsExactlyInAnyOrder((long) perProducer, (long) perProducer,
                    (long) 2 * perProducer, (long) perProducer, (long) perProducer);

            Flux.interval(Duration.ofMillis(5), Schedulers.parallel())
                    .filter(t -> handled.get() >= 2 * perProducer)
                    .next()
                    .block(WAIT);
            pipeline.drain(Duration.ofSeconds(10)).block(WAIT);

            QueueStats d = direct.stats().block(WAIT);
            QueueStats p = piped.stats().block(WAIT);
            assertThat(d.acked()).isEqualTo(2L * perProducer);
            assertThat(d.size()).isZero();
            assertThat(p.acked()).isEqualTo(2L * perProducer);
            assertThat(p.size()).isZero();
            assertThat(p.nacked()).isEqualTo(2L * perProducer / 50); // the failure path ran too
            assertThat(pipelineErrors).hasSize(2 * perProducer / 50)
                    .allSatisfy(e -> assertThat(e.stage()).isEqualTo(PipelineError.Stage.HANDLER));
            assertThat(acked.count()).isEqualTo(2.0 * perProducer);
            assertThat(failed.count()).isEqualTo(2L * perProducer / 50);
            assertThat(registry.find(PipelineMetrics.IN_FLIGHT).meters()).isEmpty();
        } finally {
            broker.close().block(WAIT);
        }
        assertThat(DETECTED).isEmpty();
    }
}
