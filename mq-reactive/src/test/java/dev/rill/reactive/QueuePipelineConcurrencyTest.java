package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * The pipeline on real threads: pause, resume and drain race with deliveries arriving and handlers finishing on
 * {@link Schedulers#parallel()}; afterwards every message was handled and acked exactly once and nothing is held.
 */
class QueuePipelineConcurrencyTest {

    private static final Duration WAIT = Duration.ofSeconds(30);

    @Test
    void pauseResumeAndDrainRacingWithTrafficLoseNothing() {
        ReactiveBroker broker = Rill.inMemory();
        try {
            ReactiveQueue<String> q = broker.queue(QueueSpec.named("race").capacity(500), Codec.utf8()).block(WAIT);
            int total = 4_000;
            Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();
            PipelineBuilder<String> builder = q.pipelineOnPayload(x -> Mono.fromRunnable(
                            () -> handled.computeIfAbsent(x, k -> new AtomicInteger()).incrementAndGet())
                    .subscribeOn(Schedulers.parallel()))
                    .concurrency(8)
                    .scheduler(Schedulers.parallel());
            QueuePipeline first = builder.start();
            Mono<Long> producer = q.sendMany(Flux.range(0, total).map(i -> OutboundMessage.of("m" + i)))
                    .subscribeOn(Schedulers.parallel()).count();
            Mono<Void> toggler = Flux.range(0, 200)
                    .concatMap(i -> Mono.fromRunnable(i % 2 == 0 ? first::pause : first::resume)
                            .subscribeOn(Schedulers.parallel()))
                    .then(Mono.fromRunnable(first::resume));
            assertThat(Mono.zip(producer, toggler.thenReturn(true)).block(WAIT).getT1()).isEqualTo(total);

            await().atMost(WAIT).until(() -> handled.size() >= total / 4);
            first.drain(Duration.ofSeconds(10)).block(WAIT); // mid-stream: stops leasing, finishes what it holds
            assertThat(first.inFlight()).isZero();
            QueueStats mid = q.stats().block(WAIT);
            assertThat(mid.inFlight()).isZero();
            assertThat(mid.acked() + mid.ready()).isEqualTo(total);

            QueuePipeline second = builder.start(); // the rest, by a new pipeline from the same builder
            await().atMost(WAIT).until(() -> q.stats().block(WAIT).acked() == total);
            second.drain(Duration.ofSeconds(10)).block(WAIT);

            assertThat(handled).hasSize(total);
            assertThat(handled.values()).allSatisfy(n -> assertThat(n).hasValue(1));
            QueueStats end = q.stats().block(WAIT);
            assertThat(end.size()).isZero();
            assertThat(end.expiredLeases()).isZero();
            assertThat(end.delivered() - end.nacked()).isEqualTo(total); // late deliveries were given back
        } finally {
            broker.close().block(WAIT);
        }
    }
}
