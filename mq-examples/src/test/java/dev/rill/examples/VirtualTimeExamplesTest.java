package dev.rill.examples;

import static java.time.Duration.ofHours;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofMinutes;
import static java.time.Duration.ofSeconds;
import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueEvent;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.PipelineError;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.RetryPolicy;
import dev.rill.reactive.Rill;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * StepVerifier examples to copy: queue timers (visibility timeout, delay, dead-lettering, retry backoff) tested on
 * virtual time, so "redelivered after 30 seconds" or "dead-lettered after an hour and a half" runs in milliseconds.
 *
 * <p>The recipe (see docs/testing.md):
 * <ol>
 *   <li>create a {@link VirtualTimeScheduler} and inject it: {@code Rill.inMemory(vts)}, and
 *       {@code .scheduler(vts)} on every pipeline;</li>
 *   <li>build the publisher under test inside {@code StepVerifier.withVirtualTime(() -> ..., () -> vts, n)}, so it
 *       is assembled and subscribed with virtual time installed;</li>
 *   <li>move time with {@code thenAwait(d)}; prove "not before" with {@code expectNoEvent(d)};</li>
 *   <li>always finish with {@code verify(Duration)}: a bug then fails the test instead of hanging it.</li>
 * </ol>
 */
class VirtualTimeExamplesTest {

    /** Real-time bound on every verification; virtual-time tests finish in milliseconds when they pass. */
    private static final Duration VERIFY_TIMEOUT = ofSeconds(5);

    private final VirtualTimeScheduler vts = VirtualTimeScheduler.create();
    private final ReactiveBroker broker = Rill.inMemory(vts); // every queue timer runs on virtual time
    private final List<Disposable> toDispose = new ArrayList<>();

    @AfterEach
    void tearDown() {
        toDispose.forEach(Disposable::dispose);
        broker.close().block(VERIFY_TIMEOUT);
        vts.dispose();
    }

    private ReactiveQueue<String> queue(QueueSpec spec) {
        return broker.queue(spec, Codec.utf8()).block(VERIFY_TIMEOUT);
    }

    private QueueStats stats(ReactiveQueue<?> q) {
        return q.stats().block(VERIFY_TIMEOUT);
    }

    @Test
    void redeliveredAfterTheVisibilityTimeoutAndNotBefore() {
        ReactiveQueue<String> q = queue(QueueSpec.named("jobs").visibilityTimeout(ofSeconds(30)));

        StepVerifier.withVirtualTime(() -> q.send(OutboundMessage.of("job"))
                                .thenMany(q.receive())
                                .map(Delivery::deliveryCount) // a consumer that crashed: it never acks
                                .take(2),
                        () -> vts, Long.MAX_VALUE)
                .expectNext(1)                                 // leased at t = 0
                .expectNoEvent(ofSeconds(30).minusMillis(1))   // still leased at 29.999 s: nobody else gets it
                .thenAwait(ofMillis(1))                        // the lease is over at 30 s
                .expectNext(2)                                 // redelivered, delivery count 2
                .expectComplete()
                .verify(VERIFY_TIMEOUT);

        assertThat(stats(q).expiredLeases()).isEqualTo(1);   // plain reads still work afterwards...
        assertThat(vts.isDisposed()).isTrue();   // ...but StepVerifier disposed vts: no time moves any more
    }

    @Test
    void delayedMessageIsInvisibleUntilItsDelayHasPassed() {
        ReactiveQueue<String> q = queue(QueueSpec.named("reminders"));

        StepVerifier.withVirtualTime(() -> q.send(OutboundMessage.of("call back").delay(ofMinutes(5)))
                                .thenMany(q.receive())
                                .map(Delivery::payload)
                                .take(1),
                        () -> vts, Long.MAX_VALUE)
                .expectSubscription()
                .then(() -> assertThat(stats(q).delayed()).isEqualTo(1)) // stored, but not deliverable yet
                .expectNoEvent(ofMinutes(5).minusMillis(1))
                .thenAwait(ofMillis(1))
                .expectNext("call back")
                .expectComplete()
                .verify(VERIFY_TIMEOUT);
    }

    @Test
    void deadLetteredWithItsReasonAfterMaxDeliveries() {
        ReactiveQueue<String> q = queue(QueueSpec.named("orders")
                .visibilityTimeout(ofSeconds(30))
                .maxDeliveries(3)
                .deadLetterQueue("orders.dlq"));
        ReactiveQueue<String> dlq = queue(QueueSpec.named("orders.dlq"));

        StepVerifier.withVirtualTime(() -> q.send(OutboundMessage.of("poison"))
                                .thenMany(q.receive().map(d -> "delivery " + d.deliveryCount()).take(3))
                                .concatWith(dlq.receive()
                                        .map(d -> "dead letter: " + d.payload() + ", "
                                                + d.message().headers().get(Message.HEADER_DEAD_LETTER_REASON))
                                        .take(1)),
                        () -> vts, Long.MAX_VALUE)
                .expectNext("delivery 1")                      // t = 0; never acked
                .thenAwait(ofSeconds(30))
                .expectNext("delivery 2")                      // t = 30 s
                .thenAwait(ofSeconds(30))
                .expectNext("delivery 3")                      // t = 60 s, the last one allowed
                .expectNoEvent(ofSeconds(30).minusMillis(1))   // not dead-lettered while the 3rd lease runs
                .thenAwait(ofMillis(1))                        // t = 90 s: out of deliveries
                .assertNext(s -> assertThat(s).startsWith("dead letter: poison, max deliveries reached"))
                .expectComplete()
                .verify(VERIFY_TIMEOUT);

        assertThat(stats(q).deadLettered()).isEqualTo(1);
        assertThat(stats(q).size()).isZero();
    }

    @Test
    void pipelineRetriesWithExponentialBackoffThenDeadLetters() {
        ReactiveQueue<String> q = queue(QueueSpec.named("payments").maxDeliveries(5).deadLetterQueue("payments.dlq"));
        RetryPolicy retry = RetryPolicy.exponential(ofSeconds(1), 2.0, ofMinutes(1)); // 1 s, 2 s, 4 s, 8 s
        List<PipelineError> handlerErrors = new CopyOnWriteArrayList<>();

        StepVerifier.withVirtualTime(() -> q.events()   // hot: subscribe before anything happens
                                .filter(e -> e.type() == QueueEvent.Type.LEASED
                                        || e.type() == QueueEvent.Type.DEAD_LETTERED)
                                .map(e -> e.type() + " at " + e.timestamp())
                                .take(6),
                        () -> vts, Long.MAX_VALUE)
                .then(() -> {
                    QueuePipeline pipeline = q.pipelineOnPayload(p -> Mono.error(new IllegalStateException("down")))
                            .retry(retry)
                            .scheduler(vts) // the pipeline's own timers (lease renewal, drain) on virtual time too
                            .start();
                    toDispose.add(pipeline);
                    toDispose.add(pipeline.errors().subscribe(handlerErrors::add)); // else each is logged
                    q.send(OutboundMessage.of("payment")).block(VERIFY_TIMEOUT);
                })
                .expectNext("LEASED at 0")
                .expectNoEvent(ofMillis(999))                  // 1st backoff: 1 s
                .thenAwait(ofMillis(1))
                .expectNext("LEASED at 1000")
                .expectNoEvent(ofMillis(1_999))                // 2nd backoff: 2 s
                .thenAwait(ofMillis(1))
                .expectNext("LEASED at 3000")
                .thenAwait(ofSeconds(4))
                .expectNext("LEASED at 7000")
                .thenAwait(ofSeconds(8))
                .expectNext("LEASED at 15000", "DEAD_LETTERED at 15000") // 5th failure: out of deliveries
                .expectComplete()
                .verify(VERIFY_TIMEOUT);

        assertThat(handlerErrors).hasSize(5).allSatisfy(e -> {
            assertThat(e.stage()).isEqualTo(PipelineError.Stage.HANDLER);
            assertThat(e.error()).hasMessage("down");
        });
        assertThat(handlerErrors).extracting(PipelineError::deliveryCount).containsExactly(1, 2, 3, 4, 5);
    }

    @Test
    void jitterSpreadsEachBackoffWithinItsBounds() {
        // Without StepVerifier: record what happens, advance the clock, then check the record.
        ReactiveQueue<String> q = queue(QueueSpec.named("flaky").maxDeliveries(6).discardDeadLetters());
        RetryPolicy retry = RetryPolicy.exponential(ofSeconds(1), 2.0, ofMinutes(1)).jitter(0.5);
        List<Long> leasedAt = new CopyOnWriteArrayList<>();
        toDispose.add(q.events()
                .filter(e -> e.type() == QueueEvent.Type.LEASED)
                .subscribe(e -> leasedAt.add(e.timestamp())));
        QueuePipeline pipeline = q.pipelineOnPayload(p -> Mono.error(new IllegalStateException("flaky")))
                .retry(retry)
                .scheduler(vts)
                .start();
        toDispose.add(pipeline);
        List<PipelineError> handlerErrors = new CopyOnWriteArrayList<>();
        toDispose.add(pipeline.errors().subscribe(handlerErrors::add));
        q.send(OutboundMessage.of("job")).block(VERIFY_TIMEOUT);

        vts.advanceTimeBy(ofMinutes(2)); // runs every timer due in the next two minutes, in order, at once

        assertThat(leasedAt).hasSize(6);
        assertThat(handlerErrors).hasSize(6);
        assertThat(stats(q).deadLettered()).isEqualTo(1); // the 6th failure: out of deliveries (discarded)
        for (int n = 1; n < leasedAt.size(); n++) {
            long base = 1_000L << (n - 1);                   // 1 s, 2 s, 4 s, 8 s, 16 s
            assertThat(leasedAt.get(n) - leasedAt.get(n - 1))
                    .as("backoff after failure %d", n)
                    .isBetween(base / 2, base * 3 / 2);      // d * (1 - 0.5) .. d * (1 + 0.5)
        }
    }

    @Test
    void requestZeroThenOneLeasesExactlyOne() {
        // Demand, not time: start with request(0) and prove that request(n) leases n.
        ReactiveQueue<String> q = queue(QueueSpec.named("demand"));
        q.sendMany(Flux.just("a", "b", "c").map(OutboundMessage::of)).then().block(VERIFY_TIMEOUT);

        StepVerifier.create(q.receive().map(Delivery::payload), 0)
                .expectSubscription()
                .then(() -> assertThat(stats(q).inFlight()).isZero())  // no demand, no lease
                .thenRequest(1)
                .expectNext("a")
                .then(() -> assertThat(stats(q).inFlight()).isEqualTo(1))
                .thenCancel()
                .verify(VERIFY_TIMEOUT);

        assertThat(stats(q).ready()).isEqualTo(2);
    }

    @Test
    void aBrokerCreatedInsideTheSupplierPicksUpVirtualTimeByItself() {
        // Alternative to injecting: assemble everything inside withVirtualTime, where Schedulers.parallel() (the
        // default of Rill.inMemory() and of pipelines) is the virtual-time scheduler.
        AtomicReference<ReactiveBroker> created = new AtomicReference<>();
        StepVerifier.withVirtualTime(() -> {
                    ReactiveBroker b = Rill.inMemory(); // Schedulers.parallel(), here backed by virtual time
                    created.set(b);
                    return b.queue(QueueSpec.named("later"), Codec.utf8())
                            .flatMapMany(q -> q.send(OutboundMessage.of("in an hour").delay(ofHours(1)))
                                    .thenMany(q.receive().map(Delivery::payload).take(1)));
                })
                .expectSubscription()
                .expectNoEvent(ofHours(1).minusMillis(1))
                .thenAwait(ofMillis(1))
                .expectNext("in an hour")
                .expectComplete()
                .verify(VERIFY_TIMEOUT);

        created.get().close().block(VERIFY_TIMEOUT);
    }
}
