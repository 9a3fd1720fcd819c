package dev.rill.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.LazyInitializationBeanFactoryPostProcessor;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.SmartLifecycle;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/** QueuePipeline beans drain gracefully when the context closes. */
class RillPipelineLifecycleTests {

    private static final Duration T = Duration.ofSeconds(10);

    /** The application's own broker, so its state can be read after the context closed. */
    private final ReactiveBroker broker = Rill.inMemory();
    private final CountDownLatch handlerStarted = new CountDownLatch(1);
    private final Sinks.Empty<Void> release = Sinks.empty();

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(RillAutoConfiguration.class))
            .withBean(ReactiveBroker.class, () -> broker)
            .withPropertyValues("rill.queues.work.visibility-timeout=5m")
            .withBean("worker", QueuePipeline.class, () -> {
                // what an application writes: a pipeline bean on a declared queue
                ReactiveQueue<String> q = broker.queue(QueueSpec.named("work")
                        .visibilityTimeout(Duration.ofMinutes(5)), Codec.utf8()).block(T);
                return q.pipelineOnPayload(p -> {
                    handlerStarted.countDown();
                    return release.asMono();
                }).start();
            });

    @AfterEach
    void closeBroker() {
        broker.close().block(T);
    }

    @Test
    void withLazyInitializationPipelineBeansStillStartWithTheContext() throws Exception {
        // spring.main.lazy-initialization=true: a worker application whose pipelines nobody injects must still consume
        runner.withInitializer(c -> c.addBeanFactoryPostProcessor(new LazyInitializationBeanFactoryPostProcessor()))
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    queue().send(OutboundMessage.of("job")).block(T);
                    assertThat(handlerStarted.await(10, TimeUnit.SECONDS)).as("the lazy pipeline consumes").isTrue();
                    release.tryEmitEmpty();
                    await().atMost(T).until(() -> queue().stats().block(T).acked() == 1);
                });
    }

    @Test
    void closingTheContextWaitsForRunningHandlersAndAcksThem() throws Exception {
        runner.run(context -> {
            assertThat(context).hasNotFailed();
            QueuePipeline worker = context.getBean(QueuePipeline.class);
            assertThat(context.getBean(RillPipelineLifecycle.class).getPhase())
                    .isLessThan(SmartLifecycle.DEFAULT_PHASE - 2048); // after the web server stopped
            queue().send(OutboundMessage.of("job")).block(T);
            assertThat(handlerStarted.await(10, TimeUnit.SECONDS)).isTrue();

            ConfigurableApplicationContext ctx = context.getSourceApplicationContext();
            CompletableFuture<Void> closed = CompletableFuture.runAsync(ctx::close);
            await().atMost(T).until(worker::isDisposed); // the drain began: no new leases
            assertThat(closed).isNotDone(); // ... and the close waits for the running handler
            release.tryEmitEmpty();
            closed.get(10, TimeUnit.SECONDS);
            assertThat(worker.inFlight()).isZero();
        });
        QueueStats s = queue().stats().block(T);
        assertThat(s.acked()).isEqualTo(1);
        assertThat(s.size()).isZero();
    }

    @Test
    void handlersStillRunningAfterTheDrainTimeoutAreCancelledAndTheirMessagesGivenBack() throws Exception {
        runner.withPropertyValues("rill.shutdown.drain-timeout=0s").run(context -> {
            queue().send(OutboundMessage.of("job")).block(T);
            assertThat(handlerStarted.await(10, TimeUnit.SECONDS)).isTrue();
            QueuePipeline worker = context.getBean(QueuePipeline.class);
            context.getSourceApplicationContext().close(); // returns although the handler never completes
            assertThat(worker.isDisposed()).isTrue();
            assertThat(worker.inFlight()).isZero();
        });
        QueueStats s = queue().stats().block(T);
        assertThat(s.acked()).isZero();
        assertThat(s.ready()).isEqualTo(1); // back in the queue at once, for another consumer
        assertThat(s.inFlight()).isZero();
    }

    @Test
    void aContextStoppedAndStartedAgainKeepsConsuming() throws Exception {
        runner.run(context -> {
            ConfigurableApplicationContext ctx = context.getSourceApplicationContext();
            QueuePipeline worker = context.getBean(QueuePipeline.class);
            queue().send(OutboundMessage.of("before")).block(T);
            assertThat(handlerStarted.await(10, TimeUnit.SECONDS)).isTrue();
            CompletableFuture<Void> stopped = CompletableFuture.runAsync(ctx::stop);
            await().atMost(T).until(worker::isPaused); // no new leases while stopped
            assertThat(stopped).isNotDone(); // the stop waits for the running handler ...
            release.tryEmitEmpty();
            stopped.get(10, TimeUnit.SECONDS); // ... which is settled
            assertThat(queue().stats().block(T).acked()).isEqualTo(1);
            queue().send(OutboundMessage.of("while stopped")).block(T);
            ctx.start(); // e.g. a checkpoint/restore: the same pipeline beans consume again
            await().atMost(T).until(() -> queue().stats().block(T).acked() == 2);
            assertThat(worker.isDisposed()).isFalse();
        });
    }

    @Test
    void aContextClosedAfterAStopEndsThePausedPipelinesBeforeTheBrokerCloses() {
        ReactiveBroker[] managed = new ReactiveBroker[1];
        QueuePipeline[] worker = new QueuePipeline[1];
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(RillAutoConfiguration.class)) // the starter's broker
                .withPropertyValues("rill.queues.work.capacity=5")
                .withBean("worker", QueuePipeline.class, () -> managed[0].queue(QueueSpec.named("work").capacity(5),
                        Codec.utf8()).block(T).pipelineOnPayload(p -> Mono.<Void>empty()).start(),
                        d -> d.setDependsOn("rillQueues"))
                .withInitializer(ctx -> ctx.getBeanFactory().addBeanPostProcessor(new org.springframework.beans.factory
                        .config.BeanPostProcessor() {
                    @Override
                    public Object postProcessAfterInitialization(Object bean, String name) {
                        if (bean instanceof ReactiveBroker b) {
                            managed[0] = b;
                        }
                        return bean;
                    }
                }))
                .run(context -> {
                    worker[0] = context.getBean(QueuePipeline.class);
                    context.getSourceApplicationContext().stop();
                    assertThat(worker[0].isPaused()).isTrue();
                    context.getSourceApplicationContext().close();
                });
        assertThat(worker[0].isDisposed()).isTrue();
        // ended by the close, not by the broker closing under its receive stream (which would be an error)
        assertThat(worker[0].onTerminate().block(T)).isNull();
    }

    @Test
    void runningPipelinesKeepTheJvmAliveUntilTheContextCloses() {
        // a worker application without a web server: Reactor's threads are daemons, so without a thread of its own
        // the JVM exited (and drained the pipelines) right after "Started"
        Thread[] keepAlive = new Thread[1];
        runner.run(context -> {
            assertThat(context).hasNotFailed();
            keepAlive[0] = context.getBean(RillPipelineLifecycle.class).keepAliveThread();
            assertThat(keepAlive[0]).as("a thread that keeps the JVM running").isNotNull();
            assertThat(keepAlive[0].isDaemon()).isFalse();
            assertThat(keepAlive[0].isAlive()).isTrue();
            context.getSourceApplicationContext().stop(); // a pause is not the end: the JVM stays up
            assertThat(keepAlive[0].isAlive()).isTrue();
            context.getSourceApplicationContext().start();
        });
        await().atMost(T).until(() -> !keepAlive[0].isAlive()); // the close ends it
        // an application without pipeline beans is left to its own threads
        new ApplicationContextRunner().withConfiguration(AutoConfigurations.of(RillAutoConfiguration.class))
                .run(context -> assertThat(context.getBean(RillPipelineLifecycle.class).keepAliveThread()).isNull());
    }

    private ReactiveQueue<String> queue() {
        return broker.queue(QueueSpec.named("work").visibilityTimeout(Duration.ofMinutes(5)),
                Codec.utf8()).block(T);
    }
}
