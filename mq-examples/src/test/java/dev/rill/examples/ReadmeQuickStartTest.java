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
import org.junit.jupiter.api.Timeout;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The README's quick start, run as written (its bare {@code block()} calls bounded by the test's timeout instead),
 * with checks of what its comments say in between; {@link #theReadmeShowsThisCode()} keeps the two the same.
 */
class ReadmeQuickStartTest {

    private final Set<String> processed = ConcurrentHashMap.newKeySet();

    private Mono<Void> process(String payload) {
        return Mono.fromRunnable(() -> processed.add(payload));
    }

    @Test
    @Timeout(60)
    void quickStartProcessesEveryOrderOnceThenDrainsAndCloses() {
        ReactiveBroker broker = Rill.inMemory();
        try {
            ReactiveQueue<String> orders = broker.queue(
                    QueueSpec.named("orders").visibilityTimeout(Duration.ofSeconds(30))
                            .maxDeliveries(5).deadLetterQueue("orders.dlq"),
                    Codec.utf8()).block();

            orders.send(OutboundMessage.of("order-1").key("alice")).block();
            orders.sendMany(Flux.range(2, 1000).map(i -> OutboundMessage.of("order-" + i)))
                    .blockLast();

            orders.receive(ReceiveOptions.defaults())
                    .take(10)
                    .concatMap(d -> process(d.payload()).then(d.ack()))
                    .blockLast();
            assertThat(processed).hasSize(10);
            assertThat(orders.stats().block(Duration.ofSeconds(5)).acked()).isEqualTo(10); // ack deletes

            QueuePipeline pipeline = orders.pipeline(d -> process(d.payload()))
                    .concurrency(16).retry(RetryPolicy.exponential(Duration.ofSeconds(1), 2.0, Duration.ofMinutes(5)))
                    .start();
            // ... the application runs (here: until it has processed every order); when it stops:
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> processed.size() == 1001);
            pipeline.drain(Duration.ofSeconds(10)).block();

            var stats = orders.stats().block(Duration.ofSeconds(5));
            assertThat(stats.acked()).isEqualTo(1001);
            assertThat(stats.size()).isZero();
        } finally {
            broker.close().block();
        }
    }

    @Test
    void theReadmeShowsThisCode() {
        String readme = DocSnippets.repoFile("README.md");
        String quickStart = DocSnippets.javaBlocks(readme.substring(readme.indexOf("## Quick start"))).get(0);
        String test = DocSnippets.repoFile("mq-examples/src/test/java/dev/rill/examples/ReadmeQuickStartTest.java");

        assertThat(DocSnippets.firstMissingStatement(quickStart, test))
                .as("a statement of the README's quick start that ReadmeQuickStartTest does not run").isNull();
    }
}
