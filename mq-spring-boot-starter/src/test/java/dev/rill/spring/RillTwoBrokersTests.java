package dev.rill.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.netty.RillClient;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import dev.rill.reactive.PipelineMetrics;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.Rill;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.health.contributor.CompositeReactiveHealthContributor;
import org.springframework.boot.health.contributor.ReactiveHealthContributor;
import org.springframework.boot.health.contributor.ReactiveHealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import reactor.core.publisher.Mono;

/** An application with two brokers of its own: an in-memory one and a connection to a Rill server. */
class RillTwoBrokersTests {

    private static final Duration T = Duration.ofSeconds(10);

    private RillServer server;
    private ReactiveBroker local;
    private ReactiveBroker remote;

    private ApplicationContextRunner runner;

    @BeforeEach
    void brokers() {
        server = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(0), T);
        local = Rill.inMemory();
        remote = RillClient.connect(java.net.URI.create("rill://127.0.0.1:" + server.port())).block(T);
        runner = new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(RillAutoConfiguration.class, RillMetricsAutoConfiguration.class,
                        RillHealthAutoConfiguration.class))
                .withBean(MeterRegistry.class, SimpleMeterRegistry::new);
    }

    @AfterEach
    void close() {
        local.close().block(T);
        remote.close().block(T);
        server.disposeNow(T);
    }

    @Test
    void twoBrokersAndNoQueuePropertiesStartWithTheHealthOfEach() {
        runner.withBean("local", ReactiveBroker.class, () -> local)
                .withBean("remote", ReactiveBroker.class, () -> remote)
                .run(context -> {
                    assertThat(context).hasNotFailed().doesNotHaveBean(RillQueues.class)
                            .doesNotHaveBean(ManagedBroker.class);
                    ReactiveHealthContributor health = context.getBean("rillHealthIndicator",
                            ReactiveHealthContributor.class);
                    assertThat(health).isInstanceOf(CompositeReactiveHealthContributor.class);
                    CompositeReactiveHealthContributor each = (CompositeReactiveHealthContributor) health;
                    for (String name : new String[] {"local", "remote"}) {
                        assertThat(((ReactiveHealthIndicator) each.getContributor(name)).health().block(T).getStatus())
                                .as(name).isEqualTo(Status.UP);
                    }
                });
    }

    @Test
    void queuePropertiesWithTwoBrokersAndNoPrimaryStopTheStartNamingTheBrokers() {
        runner.withBean("local", ReactiveBroker.class, () -> local)
                .withBean("remote", ReactiveBroker.class, () -> remote)
                .withPropertyValues("rill.queues.orders.capacity=5")
                .run(context -> {
                    assertThat(context).hasFailed();
                    assertThat(RillAutoConfigurationTests.rootCause(context.getStartupFailure()))
                            .isInstanceOf(RillConfigurationException.class)
                            .hasMessageStartingWith("rill.queues: ")
                            .hasMessageContaining("[local, remote]").hasMessageContaining("@Primary");
                });
        assertThat(local.list().block(T)).isEmpty();
        assertThat(server.broker().list().block(T)).isEmpty();
    }

    @Test
    void queuePropertiesGoToThePrimaryBroker() {
        runner.withBean("local", ReactiveBroker.class, () -> local, d -> d.setPrimary(true))
                .withBean("remote", ReactiveBroker.class, () -> remote)
                .withPropertyValues("rill.queues.orders.capacity=5")
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    assertThat(context.getBean(RillQueues.class).broker()).isSameAs(local);
                    assertThat(context.getBean(RillQueueMetrics.class).binders()).hasSize(1);
                });
        assertThat(local.list().block(T)).containsExactly("orders");
        assertThat(server.broker().list().block(T)).isEmpty();
    }

    @Test
    void withTwoBrokersAndNoQueuesBeanThePipelineBeansOfEachAreMeasured() {
        runner.withBean("local", ReactiveBroker.class, () -> local)
                .withBean("remote", ReactiveBroker.class, () -> remote)
                .withBean("localWorker", QueuePipeline.class, () -> worker(local, "jobs"))
                .withBean("remoteWorker", QueuePipeline.class, () -> worker(remote, "jobs"))
                .run(context -> {
                    assertThat(context).hasNotFailed().doesNotHaveBean(RillQueues.class)
                            .doesNotHaveBean(RillQueueMetrics.class);
                    MeterRegistry registry = context.getBean(MeterRegistry.class);
                    remote.queue(QueueSpec.named("jobs"), Codec.utf8()).block(T).send(OutboundMessage.of("a"))
                            .block(T);
                    await().atMost(T).untilAsserted(() -> assertThat(registry.get(PipelineMetrics.MESSAGES)
                            .tags("queue", "jobs", "pipeline", "remoteWorker", "outcome", "acked").counter().count())
                            .isEqualTo(1.0));
                    assertThat(registry.get(PipelineMetrics.MESSAGES)
                            .tags("queue", "jobs", "pipeline", "localWorker", "outcome", "acked").counter().count())
                            .isZero();
                });
    }

    private static QueuePipeline worker(ReactiveBroker broker, String queue) {
        return broker.queue(QueueSpec.named(queue), Codec.utf8()).block(T).pipelineOnPayload(p -> Mono.empty()).start();
    }
}
