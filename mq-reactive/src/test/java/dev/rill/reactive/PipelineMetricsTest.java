package dev.rill.reactive;

import static java.time.Duration.ofSeconds;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MockClock;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * {@link PipelineMetrics}: the queue's timers on a {@link VirtualTimeScheduler}, handler durations on the registry's
 * {@link MockClock}, both moved together by {@link #advance(Duration)}.
 */
class PipelineMetricsTest {

    private static final Duration WAIT = ofSeconds(5);

    private final VirtualTimeScheduler vts = VirtualTimeScheduler.create();
    private final ReactiveBroker broker = Rill.inMemory(vts);
    private final MockClock clock = new MockClock();
    private final MeterRegistry registry = new SimpleMeterRegistry(SimpleConfig.DEFAULT, clock);
    private final List<QueuePipeline> pipelines = new ArrayList<>();

    @AfterEach
    void tearDown() {
        pipelines.forEach(QueuePipeline::dispose);
        broker.close().block(WAIT);
        vts.dispose();
    }

    private ReactiveQueue<String> queue(QueueSpec spec) {
        return broker.queue(spec, Codec.utf8()).block(WAIT);
    }

    private QueuePipeline started(PipelineBuilder<String> builder) {
        QueuePipeline p = builder.scheduler(vts).start();
        pipelines.add(p);
        return p;
    }

    /** Moves the registry's clock, then the queue's: what completes on the queue's timers sees the new time. */
    private void advance(Duration d) {
        clock.add(d);
        vts.advanceTimeBy(d);
    }

    private static void send(ReactiveQueue<String> q, String... payloads) {
        for (String p : payloads) {
            q.send(OutboundMessage.of(p)).block(WAIT);
        }
    }

    private Timer handler(String outcome) {
        return registry.get(PipelineMetrics.HANDLER).tags("queue", "orders", "pipeline", "orders")
                .tag("outcome", outcome).timer();
    }

    private double messages(String outcome) {
        return registry.get(PipelineMetrics.MESSAGES).tags("queue", "orders", "pipeline", "orders")
                .tag("outcome", outcome).counter().count();
    }

    private double errors(String stage) {
        return registry.get(PipelineMetrics.ERRORS).tags("queue", "orders", "pipeline", "orders")
                .tag("stage", stage).counter().count();
    }

    private double inFlight() {
        return registry.get(PipelineMetrics.IN_FLIGHT).tags("queue", "orders", "pipeline", "orders").gauge().value();
    }

    private List<String> pipelineMeters() {
        return registry.getMeters().stream().map(m -> m.getId().getName())
                .filter(n -> n.startsWith("rill.pipeline.")).toList();
    }

    @Test
    void successesFailuresRetriesAndRejectsAreTimedAndCounted() {
        ReactiveQueue<String> q = queue(QueueSpec.named("orders").deadLetterQueue("orders.dlq"));
        QueuePipeline p = started(q.pipelineOnPayload(s -> s.equals("ok")
                        ? Mono.delay(ofSeconds(2), vts)
                        : Mono.error(new IllegalStateException("bad " + s)))
                .concurrency(4)
                .retry(RetryPolicy.fixed(ofSeconds(1)).maxAttempts(2)));
        PipelineMetrics.of(p).bindTo(registry);

        send(q, "ok", "bad");
        assertThat(inFlight()).isEqualTo(1); // bad failed at once and was nacked; ok runs for 2 s
        assertThat(messages("retried")).isEqualTo(1);
        advance(ofSeconds(1)); // bad again, its last attempt: rejected
        assertThat(messages("rejected")).isEqualTo(1);
        advance(ofSeconds(1)); // ok completes
        assertThat(messages("acked")).isEqualTo(1);
        assertThat(inFlight()).isZero();

        assertThat(handler("success").count()).isEqualTo(1);
        assertThat(handler("success").totalTime(TimeUnit.MILLISECONDS)).isEqualTo(2_000);
        assertThat(handler("failure").count()).isEqualTo(2);
        assertThat(handler("failure").totalTime(TimeUnit.MILLISECONDS)).isZero();
        assertThat(handler("timeout").count()).isZero();
        assertThat(errors("handler")).isEqualTo(2);
        assertThat(messages("returned") + messages("failed") + messages("expired")).isZero();
        assertThat(errors("ack") + errors("nack") + errors("reject") + errors("timeout")).isZero();
    }

    @Test
    void aTimeoutIsTimedAtTheHandlingTimeoutAndCountedAsSuch() {
        ReactiveQueue<String> q = queue(QueueSpec.named("orders").maxDeliveries(2).discardDeadLetters());
        QueuePipeline p = started(q.pipelineOnPayload(s -> Mono.never())
                .handlingTimeout(ofSeconds(3))
                .retry(RetryPolicy.immediate()));
        PipelineMetrics.of(p).bindTo(registry);

        send(q, "slow");
        assertThat(inFlight()).isEqualTo(1);
        advance(ofSeconds(3)); // times out, nacked, delivered again at once
        assertThat(messages("retried")).isEqualTo(1);
        assertThat(inFlight()).isEqualTo(1);
        advance(ofSeconds(3)); // times out again: out of deliveries
        assertThat(messages("rejected")).isEqualTo(1);
        assertThat(inFlight()).isZero();

        assertThat(handler("timeout").count()).isEqualTo(2);
        assertThat(handler("timeout").totalTime(TimeUnit.MILLISECONDS)).isEqualTo(6_000);
        assertThat(handler("success").count() + handler("failure").count()).isZero();
        assertThat(errors("timeout")).isEqualTo(2);
        assertThat(errors("handler")).isZero();
    }

    @Test
    void errorsAreCountedWithoutAnErrorsSubscriberSoTheyAreStillLoggedAsWarnings() {
        ReactiveQueue<String> q = queue(QueueSpec.named("orders").maxDeliveries(1).discardDeadLetters());
        QueuePipeline p = started(q.pipelineOnPayload(s -> Mono.error(new IllegalStateException("boom"))));
        PipelineMetrics.of(p).bindTo(registry);
        try (JulCapture log = new JulCapture(QueuePipeline.class.getName())) {
            send(q, "a");
            assertThat(errors("handler")).isEqualTo(1);
            assertThat(log.records()).extracting(LogRecord::getLevel).contains(Level.WARNING);
            assertThat(log.messages()).anySatisfy(m -> assertThat(m)
                    .startsWith("pipeline on queue 'orders': HANDLER failed for message "));
        }
    }

    @Test
    void theMetersAreRemovedWhenThePipelineIsDisposed() {
        ReactiveQueue<String> q = queue(QueueSpec.named("orders"));
        Sinks.Empty<Void> never = Sinks.empty();
        QueuePipeline p = started(q.pipelineOnPayload(s -> never.asMono()));
        PipelineMetrics metrics = PipelineMetrics.of(p);
        metrics.bindTo(registry);
        send(q, "held");
        Counter returned = registry.get(PipelineMetrics.MESSAGES).tag("outcome", "returned").counter();
        assertThat(pipelineMeters()).hasSize(17);

        p.dispose();
        p.onTerminate().block(WAIT);
        assertThat(pipelineMeters()).isEmpty();
        assertThat(returned.count()).isEqualTo(1); // counted before the meters went
        assertThat(metrics.isDisposed()).isTrue();
    }

    @Test
    void theMetersAreRemovedWhenThePipelineHasDrained() {
        ReactiveQueue<String> q = queue(QueueSpec.named("orders"));
        QueuePipeline p = started(q.pipelineOnPayload(s -> Mono.delay(ofSeconds(1), vts)));
        PipelineMetrics.of(p).bindTo(registry);
        send(q, "a");
        Timer success = handler("success");

        Mono<Void> drained = p.drain(ofSeconds(10));
        drained.subscribe();
        assertThat(pipelineMeters()).isNotEmpty(); // still draining: the handler runs
        advance(ofSeconds(1));
        drained.block(WAIT);
        assertThat(pipelineMeters()).isEmpty();
        assertThat(success.count()).isEqualTo(1);
    }

    @Test
    void theMetersAreRemovedWhenTheReceiveStreamFails() {
        ReactiveQueue<String> q = queue(QueueSpec.named("orders"));
        QueuePipeline p = started(q.pipelineOnPayload(s -> Mono.empty()));
        PipelineMetrics.of(p).bindTo(registry);
        Counter receive = registry.get(PipelineMetrics.ERRORS).tag("stage", "receive").counter();

        assertThat(broker.delete("orders").block(WAIT)).isTrue();
        assertThatThrownBy(() -> p.onTerminate().block(WAIT)).isInstanceOf(QueueClosedException.class);
        assertThat(pipelineMeters()).isEmpty();
        assertThat(receive.count()).isEqualTo(1);
    }

    @Test
    void bindingAnEndedPipelineRegistersNothing() {
        ReactiveQueue<String> q = queue(QueueSpec.named("orders"));
        QueuePipeline p = started(q.pipelineOnPayload(s -> Mono.empty()));
        p.dispose();
        p.onTerminate().block(WAIT);
        PipelineMetrics metrics = PipelineMetrics.of(p);
        metrics.bindTo(registry);
        assertThat(pipelineMeters()).isEmpty();
        assertThat(metrics.isDisposed()).isTrue();
    }

    @Test
    void disposingTheBinderRemovesTheMetersAndStopsMeasuringSoAnotherMayBind() {
        ReactiveQueue<String> q = queue(QueueSpec.named("orders"));
        QueuePipeline p = started(q.pipelineOnPayload(s -> Mono.empty()));
        PipelineMetrics first = PipelineMetrics.of(p);
        first.bindTo(registry);
        assertThatThrownBy(() -> PipelineMetrics.of(p).name("other").bindTo(new SimpleMeterRegistry()))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("measures");
        first.dispose();
        assertThat(pipelineMeters()).isEmpty();

        PipelineMetrics.of(p).bindTo(registry);
        send(q, "a");
        assertThat(messages("acked")).isEqualTo(1);
    }

    @Test
    void oneBinderFeedsEveryRegistryItIsBoundTo() {
        ReactiveQueue<String> q = queue(QueueSpec.named("orders"));
        QueuePipeline p = started(q.pipelineOnPayload(s -> Mono.empty()));
        MeterRegistry other = new SimpleMeterRegistry();
        PipelineMetrics metrics = PipelineMetrics.of(p);
        metrics.bindTo(registry);
        metrics.bindTo(other);
        send(q, "a", "b");
        assertThat(messages("acked")).isEqualTo(2);
        assertThat(other.get(PipelineMetrics.MESSAGES).tag("outcome", "acked").counter().count()).isEqualTo(2);
        p.dispose();
        p.onTerminate().block(WAIT);
        assertThat(other.find(PipelineMetrics.IN_FLIGHT).meters()).isEmpty();
    }

    @Test
    void pipelinesOfOneQueueNeedTheirOwnNamesInOneRegistry() {
        ReactiveQueue<String> q = queue(QueueSpec.named("orders"));
        PipelineBuilder<String> builder = q.pipelineOnPayload(s -> Mono.empty());
        PipelineMetrics.of(started(builder)).bindTo(registry);
        QueuePipeline second = started(builder);
        assertThatThrownBy(() -> PipelineMetrics.of(second).bindTo(registry))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("the registry has the meters of a pipeline named 'orders' on queue 'orders' already; "
                        + "give each pipeline its own name");
        PipelineMetrics.of(started(builder.name("second"))).bindTo(registry);
        PipelineMetrics.of(second).name("third").bindTo(registry);
        assertThat(registry.find(PipelineMetrics.IN_FLIGHT).gauges()).hasSize(3);
        assertThat(registry.get(PipelineMetrics.IN_FLIGHT).tags("queue", "orders", "pipeline", "third").gauge())
                .isNotNull();
    }

    @Test
    void onlyPipelinesStartedByABuilderCanBeMeasured() {
        QueuePipeline own = (QueuePipeline) java.lang.reflect.Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {QueuePipeline.class}, (proxy, method, args) -> "own");
        assertThatThrownBy(() -> PipelineMetrics.of(own)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("not a pipeline started by a PipelineBuilder: own");
    }

    @Test
    void aBindingRacingThePipelinesEndLeavesNoMeters() throws Exception {
        ReactiveQueue<String> q = queue(QueueSpec.named("orders"));
        for (int i = 0; i < 200; i++) {
            QueuePipeline p = q.pipelineOnPayload(s -> Mono.empty()).scheduler(vts).start();
            MeterRegistry fresh = new SimpleMeterRegistry();
            PipelineMetrics metrics = PipelineMetrics.of(p);
            CountDownLatch go = new CountDownLatch(1);
            CompletableFuture<Void> end = CompletableFuture.runAsync(() -> {
                await(go);
                p.dispose();
            });
            CompletableFuture<Void> bind = CompletableFuture.runAsync(() -> {
                await(go);
                metrics.bindTo(fresh);
            });
            go.countDown();
            CompletableFuture.allOf(end, bind).get(WAIT.toSeconds(), TimeUnit.SECONDS);
            p.onTerminate().block(WAIT);
            assertThat(fresh.getMeters()).as("round " + i).isEmpty();
            assertThat(metrics.isDisposed()).isTrue();
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            assertThat(latch.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
