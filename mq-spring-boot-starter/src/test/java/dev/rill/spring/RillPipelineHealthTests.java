package dev.rill.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.PipelineError;
import dev.rill.reactive.QueueClosedException;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.health.contributor.CompositeReactiveHealthContributor;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.ReactiveHealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.ApplicationContext;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/** The health indicator tells whether the application's QueuePipeline beans still consume. */
class RillPipelineHealthTests {

    private static final Duration T = Duration.ofSeconds(10);

    /** The application's own broker, so that its queues can be deleted under the pipelines. */
    private final ReactiveBroker broker = Rill.inMemory();

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(RillAutoConfiguration.class, RillHealthAutoConfiguration.class))
            .withBean(ReactiveBroker.class, () -> broker)
            .withPropertyValues("rill.queues.orders.capacity=10", "rill.queues.audit.capacity=10")
            .withBean("ordersWorker", QueuePipeline.class, () -> worker("orders"), d -> d.setDependsOn("rillQueues"))
            .withBean("auditWorker", QueuePipeline.class, () -> worker("audit"), d -> d.setDependsOn("rillQueues"));

    @AfterEach
    void closeBroker() {
        broker.close().block(T);
    }

    @Test
    void aPipelineWhoseQueueWasDeletedTurnsTheHealthDownNamingItsBeanAndTheError() {
        runner.run(context -> {
            assertThat(context).hasNotFailed();
            Health up = health(context);
            assertThat(up.getStatus()).isEqualTo(Status.UP);
            assertThat(pipelines(up)).containsOnlyKeys("auditWorker", "ordersWorker");
            assertThat(pipelines(up).get("ordersWorker")).containsEntry("queue", "orders")
                    .containsEntry("state", "running").containsEntry("inFlight", 0);
            assertThat(pipelines(up).get("auditWorker")).containsEntry("queue", "audit");

            broker.delete("orders").block(T); // the receive stream of ordersWorker fails: it ends
            await().atMost(T).until(() -> context.getBean("ordersWorker", QueuePipeline.class).isDisposed());
            await().atMost(T).untilAsserted(() -> assertThat(health(context).getStatus()).isEqualTo(Status.DOWN));
            Health down = health(context);
            assertThat(pipelines(down).get("ordersWorker")).containsEntry("state", "failed")
                    .containsEntry("inFlight", 0)
                    .containsEntry("error", QueueClosedException.class.getName()
                            + ": queue 'orders' is closed or was deleted");
            assertThat(pipelines(down).get("auditWorker")).containsEntry("state", "running")
                    .doesNotContainKey("error");
            assertThat(down.getDetails()).containsKey("queues"); // the broker part is still there
        });
    }

    @Test
    void pausedStoppedAndDrainedPipelinesAreNoFailure() {
        ReactiveHealthIndicator[] indicator = new ReactiveHealthIndicator[1];
        runner.run(context -> {
            indicator[0] = context.getBean("rillHealthIndicator", ReactiveHealthIndicator.class);
            context.getSourceApplicationContext().stop(); // a stop that is not a close pauses them
            Health paused = health(context);
            assertThat(paused.getStatus()).isEqualTo(Status.UP);
            assertThat(pipelines(paused).get("ordersWorker")).containsEntry("state", "paused");
            context.getSourceApplicationContext().start();
            assertThat(pipelines(health(context)).get("ordersWorker")).containsEntry("state", "running");

            QueuePipeline audit = context.getBean("auditWorker", QueuePipeline.class);
            audit.dispose(); // the application stopped it itself
            audit.onTerminate().block(T);
            Health one = health(context);
            assertThat(one.getStatus()).isEqualTo(Status.UP);
            assertThat(pipelines(one).get("auditWorker")).containsEntry("state", "stopped");
            assertThat(pipelines(one).get("ordersWorker")).containsEntry("state", "running");
        });
        // drained when the context closed, before the broker (the application's) was touched
        Health closed = indicator[0].health().block(T);
        assertThat(closed.getStatus()).isEqualTo(Status.UP);
        assertThat(pipelines(closed).values()).allSatisfy(p -> assertThat(p).containsEntry("state", "stopped"));
    }

    @Test
    void aPipelineDrainingOnShutdownIsStoppingWithWhatItHolds() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        Sinks.Empty<Void> release = Sinks.empty();
        runner.withBean("slowWorker", QueuePipeline.class, () -> queue("slow").pipelineOnPayload(p -> {
                    started.countDown();
                    return release.asMono();
                }).start(), d -> d.setDependsOn("rillQueues"))
                .run(context -> {
                    queue("slow").send(OutboundMessage.of("job")).block(T);
                    assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
                    ReactiveHealthIndicator indicator = context.getBean("rillHealthIndicator",
                            ReactiveHealthIndicator.class);
                    QueuePipeline slow = context.getBean("slowWorker", QueuePipeline.class);
                    CompletableFuture<Void> closed = CompletableFuture.runAsync(
                            context.getSourceApplicationContext()::close);
                    await().atMost(T).until(slow::isDisposed); // the drain began
                    Health draining = indicator.health().block(T);
                    assertThat(draining.getStatus()).isEqualTo(Status.UP);
                    assertThat(pipelines(draining).get("slowWorker")).containsEntry("state", "stopping")
                            .containsEntry("inFlight", 1);
                    release.tryEmitEmpty();
                    closed.get(10, TimeUnit.SECONDS);
                });
    }

    @Test
    void eachPipelineIsWatchedThroughOneSubscriptionWhateverTheNumberOfHealthRequests() {
        AtomicInteger terminateSubscriptions = new AtomicInteger();
        AtomicInteger errorSubscriptions = new AtomicInteger();
        runner.withBean("countedWorker", QueuePipeline.class, () -> new Counted(worker("orders"),
                        terminateSubscriptions, errorSubscriptions), d -> d.setDependsOn("rillQueues"))
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    for (int i = 0; i < 20; i++) {
                        assertThat(pipelines(health(context))).containsKey("countedWorker");
                    }
                    assertThat(terminateSubscriptions).hasValue(1);
                    // the pipeline logs handler errors as warnings only while nobody listens to errors()
                    assertThat(errorSubscriptions).hasValue(0);
                });
    }

    @Test
    void prototypePipelineBeansAreLeftOutAsTheDrainLeavesThemOut() {
        runner.withBean("perUse", QueuePipeline.class, () -> worker("orders"), d -> {
            d.setScope(org.springframework.beans.factory.config.BeanDefinition.SCOPE_PROTOTYPE);
            d.setDependsOn("rillQueues");
        }).run(context -> {
            QueuePipeline one = context.getBean("perUse", QueuePipeline.class);
            QueuePipeline two = context.getBean("perUse", QueuePipeline.class);
            assertThat(one).isNotSameAs(two); // one name, several pipelines: no single state to report
            assertThat(pipelines(health(context))).containsOnlyKeys("auditWorker", "ordersWorker");
            one.dispose();
            two.dispose();
        });
    }

    @Test
    void withoutPipelineBeansTheHealthIsTheBrokersAlone() {
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(RillAutoConfiguration.class, RillHealthAutoConfiguration.class))
                .withPropertyValues("rill.queues.orders.capacity=10")
                .run(context -> assertThat(health(context).getDetails()).containsOnlyKeys("queues"));
    }

    @Test
    void withSeveralBrokersThePipelinesHaveAnEntryOfTheirOwn() {
        ReactiveBroker other = Rill.inMemory();
        try {
            twoBrokers("local", other)
                    .withBean("ordersWorker", QueuePipeline.class, () -> worker("orders"))
                    .run(context -> {
                        assertThat(context).hasNotFailed();
                        CompositeReactiveHealthContributor rill = context.getBean("rillHealthIndicator",
                                CompositeReactiveHealthContributor.class);
                        ReactiveHealthIndicator entry = (ReactiveHealthIndicator) rill.getContributor("pipelines");
                        assertThat(entry.health().block(T).getStatus()).isEqualTo(Status.UP);
                        broker.delete("orders").block(T);
                        await().atMost(T).untilAsserted(() ->
                                assertThat(entry.health().block(T).getStatus()).isEqualTo(Status.DOWN));
                        assertThat(entry.health().block(T).getDetails().get("ordersWorker"))
                                .asInstanceOf(org.assertj.core.api.InstanceOfAssertFactories.MAP)
                                .containsEntry("state", "failed");
                        for (String name : new String[] {"local", "other"}) { // the brokers themselves are fine
                            assertThat(((ReactiveHealthIndicator) rill.getContributor(name)).health().block(T)
                                    .getStatus()).as(name).isEqualTo(Status.UP);
                        }
                    });
        } finally {
            other.close().block(T);
        }
    }

    @Test
    void aBrokerBeanNamedPipelinesKeepsItsEntry() {
        ReactiveBroker other = Rill.inMemory();
        try {
            twoBrokers("pipelines", other).run(context -> {
                CompositeReactiveHealthContributor rill = context.getBean("rillHealthIndicator",
                        CompositeReactiveHealthContributor.class);
                assertThat(((ReactiveHealthIndicator) rill.getContributor("pipelines")).health().block(T)
                        .getDetails()).containsKey("queues"); // the broker's
                assertThat(rill.getContributor("pipelineBeans")).isNotNull();
            });
        } finally {
            other.close().block(T);
        }
    }

    /** An application with two brokers: {@link #broker} under {@code name}, and {@code other}. */
    private ApplicationContextRunner twoBrokers(String name, ReactiveBroker other) {
        return new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(RillAutoConfiguration.class, RillHealthAutoConfiguration.class))
                .withBean(name, ReactiveBroker.class, () -> broker)
                .withBean("other", ReactiveBroker.class, () -> other);
    }

    private QueuePipeline worker(String queue) {
        return queue(queue).pipelineOnPayload(p -> Mono.<Void>empty()).start();
    }

    private ReactiveQueue<String> queue(String name) {
        return broker.queue(QueueSpec.named(name).capacity(10), Codec.utf8()).block(T);
    }

    private static Health health(ApplicationContext context) {
        return context.getBean("rillHealthIndicator", ReactiveHealthIndicator.class).health().block(T);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Map<String, Object>> pipelines(Health health) {
        Object p = health.getDetails().get("pipelines");
        assertThat(p).as("pipelines in " + health).isNotNull();
        return (Map<String, Map<String, Object>>) p;
    }

    /** A pipeline that counts who subscribes to its end and to its errors. */
    private static final class Counted implements QueuePipeline {

        private final QueuePipeline p;
        private final AtomicInteger terminate;
        private final AtomicInteger errors;

        Counted(QueuePipeline p, AtomicInteger terminate, AtomicInteger errors) {
            this.p = p;
            this.terminate = terminate;
            this.errors = errors;
        }

        @Override
        public Mono<Void> onTerminate() {
            return p.onTerminate().doOnSubscribe(s -> terminate.incrementAndGet());
        }

        @Override
        public Flux<PipelineError> errors() {
            return p.errors().doOnSubscribe(s -> errors.incrementAndGet());
        }

        @Override
        public void pause() {
            p.pause();
        }

        @Override
        public void resume() {
            p.resume();
        }

        @Override
        public boolean isPaused() {
            return p.isPaused();
        }

        @Override
        public Mono<Void> drain(Duration grace) {
            return p.drain(grace);
        }

        @Override
        public void dispose() {
            p.dispose();
        }

        @Override
        public boolean isDisposed() {
            return p.isDisposed();
        }

        @Override
        public int inFlight() {
            return p.inFlight();
        }

        @Override
        public String queue() {
            return p.queue();
        }

        @Override
        public String name() {
            return p.name();
        }

        @Override
        public Mono<Void> idle() {
            return p.idle();
        }
    }
}
