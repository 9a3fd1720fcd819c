package dev.rill.reactive;

import static java.time.Duration.ofSeconds;
import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.StepVerifier;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * {@link QueuePipeline#idle()}: completes once the pipeline is paused or stopped and holds nothing, the signal a
 * lifecycle waits on after {@link QueuePipeline#pause()} (instead of polling {@link QueuePipeline#inFlight()}).
 */
class PipelineIdleTest {

    private static final Duration WAIT = ofSeconds(5);

    private final VirtualTimeScheduler vts = VirtualTimeScheduler.create();
    private final ReactiveBroker broker = Rill.inMemory(vts);

    @AfterEach
    void tearDown() {
        broker.close().block(WAIT);
        vts.dispose();
    }

    @Test
    void idleWaitsForTheHandlersRunningAtThePauseThenCompletes() {
        ReactiveQueue<String> q = broker.queue(QueueSpec.named("idle1"), Codec.utf8()).block(WAIT);
        List<Sinks.Empty<Void>> running = new CopyOnWriteArrayList<>();
        QueuePipeline p = q.pipeline(d -> {
            Sinks.Empty<Void> s = Sinks.empty();
            running.add(s);
            return s.asMono();
        }).concurrency(2).scheduler(vts).start();
        q.send(OutboundMessage.of("a")).block(WAIT);
        q.send(OutboundMessage.of("b")).block(WAIT);
        assertThat(running).hasSize(2);

        StepVerifier idle = StepVerifier.create(p.idle()).expectSubscription().expectComplete().verifyLater();
        p.pause();
        running.get(0).tryEmitEmpty();
        assertThat(p.inFlight()).isEqualTo(1);
        StepVerifier.create(p.idle()).expectSubscription().expectNoEvent(Duration.ofMillis(50)).thenCancel()
                .verify(WAIT);
        running.get(1).tryEmitEmpty();
        idle.verify(WAIT);
        assertThat(p.inFlight()).isZero();
        assertThat(q.stats().block(WAIT).inFlight()).as("both acked").isZero();
        assertThat(q.stats().block(WAIT).ready()).isZero();
    }

    @Test
    void idleCompletesAtOnceWhenPausedAndHoldingNothing() {
        ReactiveQueue<String> q = broker.queue(QueueSpec.named("idle2"), Codec.utf8()).block(WAIT);
        QueuePipeline p = q.pipeline(d -> Mono.empty()).scheduler(vts).start();
        p.pause();
        StepVerifier.create(p.idle()).expectComplete().verify(WAIT);
        StepVerifier.create(p.idle()).as("again").expectComplete().verify(WAIT);
    }

    @Test
    void idleDoesNotCompleteWhileThePipelineRunsEvenWithNothingHeld() {
        ReactiveQueue<String> q = broker.queue(QueueSpec.named("idle3"), Codec.utf8()).block(WAIT);
        QueuePipeline p = q.pipeline(d -> Mono.empty()).scheduler(vts).start();
        q.send(OutboundMessage.of("a")).block(WAIT);
        assertThat(p.inFlight()).isZero();
        StepVerifier.create(p.idle())
                .expectSubscription()
                .expectNoEvent(Duration.ofMillis(50))
                .then(p::pause)
                .expectComplete()
                .verify(WAIT);
        p.resume();
        StepVerifier.create(p.idle())
                .expectSubscription().as("running again: waits for the next pause").expectNoEvent(Duration.ofMillis(50)).thenCancel().verify(WAIT);
    }

    @Test
    void idleCompletesWhenTheDisposedPipelineHasGivenEverythingBack() {
        ReactiveQueue<String> q = broker.queue(QueueSpec.named("idle4"), Codec.utf8()).block(WAIT);
        QueuePipeline p = q.pipeline(d -> Mono.never()).concurrency(3).scheduler(vts).start();
        for (String x : List.of("a", "b", "c")) {
            q.send(OutboundMessage.of(x)).block(WAIT);
        }
        assertThat(p.inFlight()).isEqualTo(3);
        StepVerifier idle = StepVerifier.create(p.idle()).expectSubscription().expectComplete().verifyLater();
        p.dispose();
        idle.verify(WAIT);
        assertThat(q.stats().block(WAIT).ready()).as("given back").isEqualTo(3);
        StepVerifier.create(p.idle()).as("after the end").expectComplete().verify(WAIT);
    }

    @Test
    void manyWaitersThatGiveUpLeaveNothingBehindAndTheNextPauseStillCompletesTheRest() {
        ReactiveQueue<String> q = broker.queue(QueueSpec.named("idle5"), Codec.utf8()).block(WAIT);
        QueuePipeline p = q.pipeline(d -> Mono.empty()).scheduler(vts).start();
        for (int i = 0; i < 1_000; i++) {
            p.idle().subscribe().dispose();
        }
        StepVerifier stays = StepVerifier.create(p.idle()).expectSubscription().expectComplete().verifyLater();
        p.pause();
        stays.verify(WAIT);
    }
}
