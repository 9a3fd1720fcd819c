package dev.rill.reactive;

import static java.time.Duration.ofSeconds;
import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * A key-ordered pipeline stopped or paused while later messages of a key wait behind an earlier one: what happens to
 * those later messages. Every timer on a {@link VirtualTimeScheduler}.
 */
class KeyOrderedPipelineTest {

    private static final Duration WAIT = ofSeconds(5);

    private final VirtualTimeScheduler vts = VirtualTimeScheduler.create();
    private final ReactiveBroker broker = Rill.inMemory(vts);

    @AfterEach
    void tearDown() {
        broker.close().block(WAIT);
        vts.dispose();
    }

    private static QueueStats stats(ReactiveQueue<?> q) {
        return q.stats().block(WAIT);
    }

    /**
     * The messages waiting behind their key never reached the handler: giving them back must not count a delivery.
     * With {@code maxDeliveries(1)} a counted give-back dead-letters them unhandled.
     */
    @Test
    void messagesWaitingBehindTheirKeyAreGivenBackUncountedOnDispose() {
        ReactiveQueue<String> q = broker.queue(QueueSpec.named("keyed").maxDeliveries(1)
                .deadLetterQueue("keyed.dlq"), Codec.utf8()).block(WAIT);
        List<String> started = new CopyOnWriteArrayList<>();
        QueuePipeline p = q.pipeline(d -> {
            started.add(d.payload());
            return Mono.never();
        }).concurrency(3).keyOrdered().scheduler(vts).start();
        for (String x : List.of("k1", "k2", "k3")) {
            q.send(OutboundMessage.of(x).key("k")).block(WAIT);
        }
        assertThat(started).containsExactly("k1");
        assertThat(stats(q).inFlight()).isEqualTo(3);

        p.dispose();
        StepVerifier.create(p.onTerminate()).expectComplete().verify(WAIT);

        QueueStats s = stats(q);
        assertThat(s.inFlight()).isZero();
        assertThat(s.deadLettered()).as("only k1, whose handler ran, used up its delivery").isEqualTo(1);
        assertThat(s.ready()).isEqualTo(2);
        List<Delivery<String>> back = q.receive(ReceiveOptions.defaults().maxMessages(2)).collectList().block(WAIT);
        assertThat(back).extracting(Delivery::payload).containsExactly("k2", "k3");
        assertThat(back).extracting(Delivery::deliveryCount).containsExactly(1, 1);
    }

    /** The same after a drain whose grace ran out while the first message of the key was still running. */
    @Test
    void messagesWaitingBehindTheirKeyAreGivenBackUncountedWhenTheDrainGraceRunsOut() {
        ReactiveQueue<String> q = broker.queue(QueueSpec.named("keyed2"), Codec.utf8()).block(WAIT);
        QueuePipeline p = q.pipeline(d -> Mono.delay(Duration.ofMinutes(1), vts))
                .concurrency(2).keyOrdered().scheduler(vts).start();
        q.send(OutboundMessage.of("k1").key("k")).block(WAIT);
        q.send(OutboundMessage.of("k2").key("k")).block(WAIT);
        StepVerifier.create(p.drain(ofSeconds(10)))
                .then(() -> vts.advanceTimeBy(ofSeconds(10)))
                .expectComplete()
                .verify(WAIT);
        List<Delivery<String>> back = q.receive(ReceiveOptions.defaults().maxMessages(2)).collectList().block(WAIT);
        assertThat(back).extracting(Delivery::payload).containsExactly("k1", "k2");
        assertThat(back).extracting(Delivery::deliveryCount).as("k1 ran (counted), k2 never did").containsExactly(2, 1);
    }

    /**
     * A message waiting behind its key whose lease could not be extended (it is over: the queue was purged, or the
     * renewal came too late and the message went to another consumer) is no longer the pipeline's: it must not be
     * handled when its turn comes, and it must stop taking a slot of the concurrency.
     */
    @Test
    void aWaitingMessageWhoseLeaseCouldNotBeExtendedIsNotHandledLater() {
        ReactiveQueue<String> q = broker.queue(QueueSpec.named("keyed3").visibilityTimeout(ofSeconds(10)),
                Codec.utf8()).block(WAIT);
        List<String> started = new CopyOnWriteArrayList<>();
        QueuePipeline p = q.pipeline(d -> {
            started.add(d.payload());
            return d.payload().equals("k1") ? Mono.delay(ofSeconds(20), vts) : Mono.empty();
        }).concurrency(2).keyOrdered().scheduler(vts).start();
        try {
            q.send(OutboundMessage.of("k1").key("k")).block(WAIT);
            q.send(OutboundMessage.of("k2").key("k")).block(WAIT);
            assertThat(started).containsExactly("k1");
            assertThat(q.purge().block(WAIT)).isEqualTo(2); // both leases are over
            vts.advanceTimeBy(ofSeconds(5)); // the renewal finds them over
            assertThat(p.inFlight()).as("k2 let go, k1's handler still runs").isEqualTo(1);
            q.send(OutboundMessage.of("other")).block(WAIT);
            assertThat(started).as("the freed slot takes new work").containsExactly("k1", "other");

            vts.advanceTimeBy(ofSeconds(20)); // k1's handler ends (its ack fails: purged)
            assertThat(started).as("k2 was purged: never handled").containsExactly("k1", "other");
            assertThat(p.inFlight()).isZero();
        } finally {
            p.dispose();
        }
    }
}
