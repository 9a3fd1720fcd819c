package dev.rill.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.Rill;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.ConfigurableApplicationContext;
import reactor.core.publisher.Sinks;
import org.junit.jupiter.api.Test;

/**
 * Races between the starter's lifecycle (context stop and close) and the application still using the broker. Each
 * was reproduced every time with pauses injected at the racing points (see the commit messages).
 */
class LifecycleRacesTests {

    private static final Duration T = Duration.ofSeconds(10);

    @Test
    void aQueueFirstUsedWhileTheMetricsAreDestroyedLeavesNoRefreshRunning() throws Exception {
        ReactiveBroker broker = Rill.inMemory();
        try {
            RillQueues queues = new RillQueues(broker, Map.of("orders", QueueSpec.named("orders")), true);
            RillQueueMetrics metrics = new RillQueueMetrics(queues, List.of(new SimpleMeterRegistry()),
                    Duration.ofMillis(10), Duration.ofSeconds(5));
            CountDownLatch firstUse = new CountDownLatch(1);
            queues.onFirstUse(q -> firstUse.countDown()); // runs after the metrics' own listener started binding
            // the application uses the queue for the first time (the metrics bind to it) while the context closes
            Thread user = new Thread(() -> queues.queue("orders", Codec.utf8()).block(Duration.ofSeconds(5)));
            user.start();
            // destroy while the binding is under way (parked there when a pause is injected), or after it
            await().atMost(Duration.ofSeconds(2)).until(() -> firstUse.getCount() == 0
                    || user.getState() == Thread.State.TIMED_WAITING);
            metrics.destroy();
            user.join(2000);
            assertThat(user.isAlive()).isFalse();
            assertThat(metrics.binders()).isNotEmpty().allSatisfy(m -> assertThat(m.isDisposed())
                    .as("a binder still refreshing after destroy").isTrue());
        } finally {
            broker.close().block(Duration.ofSeconds(5));
        }
    }

    @Test
    void aContextStartedAgainRightAfterAStopThatWaitedForAHandlerIsRunning() throws Exception {
        ReactiveBroker broker = Rill.inMemory();
        CountDownLatch handlerStarted = new CountDownLatch(1);
        Sinks.Empty<Void> release = Sinks.empty();
        try {
            new ApplicationContextRunner()
                    .withConfiguration(AutoConfigurations.of(RillAutoConfiguration.class))
                    .withBean(ReactiveBroker.class, () -> broker)
                    .withBean("worker", QueuePipeline.class, () -> broker.queue(QueueSpec.named("work")
                            .visibilityTimeout(Duration.ofMinutes(5)), Codec.utf8()).block(T)
                            .pipelineOnPayload(p -> {
                                handlerStarted.countDown();
                                return release.asMono();
                            }).start())
                    .run(context -> {
                        broker.queue(QueueSpec.named("work").visibilityTimeout(Duration.ofMinutes(5)),
                                Codec.utf8()).flatMap(q -> q.send(OutboundMessage.of("job"))).block(T);
                        assertThat(handlerStarted.await(10, TimeUnit.SECONDS)).isTrue();
                        ConfigurableApplicationContext ctx = context.getSourceApplicationContext();
                        RillPipelineLifecycle lifecycle = context.getBean(RillPipelineLifecycle.class);
                        // stop (the pause waits for the handler), then start again at once
                        CompletableFuture<Void> restarted = CompletableFuture.runAsync(() -> {
                            ctx.stop();
                            ctx.start();
                        });
                        await().atMost(T).until(() -> context.getBean(QueuePipeline.class).isPaused());
                        release.tryEmitEmpty(); // the handler ends here: the stop completes
                        restarted.get(10, TimeUnit.SECONDS);
                        assertThat(lifecycle.isRunning()).as("running after the context started again").isTrue();
                    });
        } finally {
            broker.close().block(T);
        }
    }
}
