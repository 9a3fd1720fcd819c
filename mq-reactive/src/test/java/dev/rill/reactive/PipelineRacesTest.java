package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * Races in the pipeline. Each was first reproduced every time with pauses injected at the racing points (see the
 * commit messages); these tests keep the interleavings covered.
 */
class PipelineRacesTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    /**
     * A delivery of a receive stream the pipeline already left (pause, resume) is given back; while that give-back is
     * still settling, deliveries the new stream was asked for are handled, not given back as well (each give-back
     * counts a delivery, toward the dead-letter queue).
     */
    @Test
    void aLateDeliveryOfAnOldStreamDoesNotMakeTheNewStreamsDeliveriesBeGivenBack() {
        ReactiveBroker broker = Rill.inMemory();
        try {
            ReactiveQueue<String> q = broker.queue(QueueSpec.named("late"), Codec.utf8()).block(WAIT);
            List<String> handled = new CopyOnWriteArrayList<>();
            QueuePipeline p = q.pipeline(d -> Mono.fromRunnable(() -> handled.add(d.message().payload()
                            + "#" + d.deliveryCount())))
                    .concurrency(2)
                    .scheduler(Schedulers.parallel())
                    .start();
            // m1 reaches the first receive stream (its delivery may be held up on the sending thread)
            CompletableFuture<?> first = q.send(OutboundMessage.of("m1")).subscribeOn(Schedulers.boundedElastic())
                    .toFuture();
            await().atMost(WAIT).until(() -> stats(q).delivered() >= 1);
            p.pause();
            p.resume(); // a new receive stream, asked for 2
            // m1 was handled by now, or reached the pipeline from the old stream and is being given back; m2 comes
            // while that give-back may still be settling
            await().atMost(WAIT).pollInterval(Duration.ofMillis(2))
                    .until(() -> stats(q).nacked() == 1 || stats(q).acked() >= 1);
            q.send(OutboundMessage.of("m2")).block(WAIT);
            first.join();

            await().atMost(WAIT).until(() -> stats(q).acked() == 2);
            assertThat(handled).hasSize(2).contains("m2#1"); // m2, asked for by the new stream, is not given back
            assertThat(handled).containsAnyOf("m1#1", "m1#2");
            assertThat(stats(q).nacked()).as("given back").isLessThanOrEqualTo(1);
            p.drain(WAIT).block(WAIT);
        } finally {
            broker.close().block(WAIT);
        }
    }

    private static QueueStats stats(ReactiveQueue<String> q) {
        return q.stats().block(WAIT);
    }
}
