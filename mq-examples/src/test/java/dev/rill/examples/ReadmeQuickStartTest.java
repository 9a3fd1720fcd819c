package dev.rill.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.ReceiveOptions;
import dev.rill.reactive.RetryPolicy;
import dev.rill.reactive.Rill;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** The README's quick start, kept compiling and correct. */
class ReadmeQuickStartTest {

    private final Set<String> processed = ConcurrentHashMap.newKeySet();

    private Mono<Void> process(String payload) {
        return Mono.fromRunnable(() -> processed.add(payload));
    }

    @Test
    void quickStartProcessesEveryOrderOnce() {
        ReactiveBroker broker = Rill.inMemory();
        try {
            ReactiveQueue<String> orders = broker.queue(
                    QueueSpec.named("orders").visibilityTimeout(Duration.ofSeconds(30))
                            .maxDeliveries(5).deadLetterQueue("orders.dlq"),
                    Codec.utf8()).block(Duration.ofSeconds(5));

            orders.send(OutboundMessage.of("order-1").key("alice")).block(Duration.ofSeconds(5));
            orders.sendMany(Flux.range(2, 1000).map(i -> OutboundMessage.of("order-" + i)))
                    .blockLast(Duration.ofSeconds(10));

            orders.receive(ReceiveOptions.defaults())
                    .take(10)
                    .concatMap(d -> process(d.payload()).then(d.ack()))
                    .blockLast(Duration.ofSeconds(10));
            assertThat(processed).hasSize(10);

            QueuePipeline pipeline = orders.pipeline(d -> process(d.payload()))
                    .concurrency(16).retry(RetryPolicy.exponential(Duration.ofSeconds(1), 2.0, Duration.ofMinutes(5)))
                    .start();
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> processed.size() == 1001);
            pipeline.drain(Duration.ofSeconds(10)).block(Duration.ofSeconds(15));

            var stats = orders.stats().block(Duration.ofSeconds(5));
            assertThat(stats.acked()).isEqualTo(1001);
            assertThat(stats.size()).isZero();
        } finally {
            broker.close().block(Duration.ofSeconds(5));
        }
    }
}
