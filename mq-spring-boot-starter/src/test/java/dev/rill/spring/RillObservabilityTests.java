package dev.rill.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.reactive.PipelineMetrics;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.RetryPolicy;
import dev.rill.reactive.RillMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.search.RequiredSearch;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.ReactiveHealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ReactiveWebApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import reactor.core.publisher.Mono;

/** Micrometer meters and the Actuator health indicator, each present only under its conditions. */
class RillObservabilityTests {

    private static final Duration T = Duration.ofSeconds(10);

    private final ReactiveWebApplicationContextRunner runner = new ReactiveWebApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(RillAutoConfiguration.class, RillMetricsAutoConfiguration.class,
                    RillHealthAutoConfiguration.class))
            .withPropertyValues("rill.queues.orders.capacity=100", "rill.queues.audit.capacity=10",
                    "rill.metrics.refresh-interval=50ms");

    @Test
    void metersAreRegisteredForEveryDeclaredQueueWhenAMeterRegistryBeanExists() {
        runner.withBean(MeterRegistry.class, SimpleMeterRegistry::new).run(context -> {
            assertThat(context).hasNotFailed().hasSingleBean(RillQueueMetrics.class);
            MeterRegistry registry = context.getBean(MeterRegistry.class);
            ReactiveQueue<String> orders = context.getBean(RillQueues.class).queue("orders", Codec.utf8()).block(T);
            orders.send(OutboundMessage.of("a")).block(T);
            orders.send(OutboundMessage.of("b")).block(T);
            await().atMost(T).untilAsserted(() -> {
                assertThat(registry.get(RillMetrics.SENT).tag("queue", "orders").counter().count()).isEqualTo(2.0);
                assertThat(registry.get(RillMetrics.READY).tag("queue", "orders").gauge().value()).isEqualTo(2.0);
                assertThat(registry.get(RillMetrics.READY).tag("queue", "audit").gauge().value()).isEqualTo(0.0);
            });
        });
    }

    @Test
    void metersFollowSpringBootsOwnMetricsAutoConfiguration() {
        runner.withConfiguration(AutoConfigurations.of(MetricsAutoConfiguration.class,
                        SimpleMetricsExportAutoConfiguration.class, CompositeMeterRegistryAutoConfiguration.class))
                .run(context -> {
                    assertThat(context).hasNotFailed().hasSingleBean(RillQueueMetrics.class);
                    MeterRegistry registry = context.getBean(MeterRegistry.class);
                    assertThat(registry.find(RillMetrics.ACKED).tag("queue", "orders").counter()).isNotNull();
                    assertThat(registry.find(RillMetrics.LEASE_TO_ACK).tag("queue", "audit").timer()).isNotNull();
                });
    }

    @Test
    void noMetersWithoutARegistryBean() {
        runner.run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(RillQueueMetrics.class));
    }

    @Test
    void noMetersWithoutMicrometerOnTheClassPath() {
        runner.withClassLoader(new FilteredClassLoader(MeterRegistry.class))
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(RillQueueMetrics.class)
                        .hasSingleBean(RillQueues.class));
    }

    @Test
    void noMetersWhenTurnedOff() {
        runner.withBean(MeterRegistry.class, SimpleMeterRegistry::new).withPropertyValues("rill.metrics.enabled=false")
                .run(context -> {
                    assertThat(context).hasNotFailed().doesNotHaveBean(RillQueueMetrics.class);
                    assertThat(context.getBean(MeterRegistry.class).find(RillMetrics.SENT).meters()).isEmpty();
                });
    }

    @Test
    void metersStopWithTheContext() {
        RillQueueMetrics[] metrics = new RillQueueMetrics[1];
        runner.withBean(MeterRegistry.class, SimpleMeterRegistry::new).run(context -> {
            metrics[0] = context.getBean(RillQueueMetrics.class);
            assertThat(metrics[0].binders()).hasSize(2).noneMatch(RillMetrics::isDisposed);
        });
        assertThat(metrics[0].binders()).allMatch(RillMetrics::isDisposed);
    }

    /** The application's pipelines: one on "orders", built with a name of its own, and one on "audit". */
    @Configuration(proxyBeanMethods = false)
    static class Pipelines {

        @Bean
        QueuePipeline ordersWorker(RillQueues queues) {
            return queues.queue("orders", Codec.utf8()).block(T).pipelineOnPayload(p -> p.equals("bad")
                            ? Mono.error(new IllegalStateException("bad")) : Mono.empty())
                    .name("its-own-name").retry(RetryPolicy.fixed(Duration.ofMinutes(5))).start();
        }

        @Bean
        QueuePipeline auditWorker(RillQueues queues) {
            return queues.queue("audit", Codec.utf8()).block(T).pipelineOnPayload(p -> Mono.empty()).start();
        }
    }

    @Test
    void pipelineBeansAreMeasuredUnderTheirBeanNameUntilTheyEnd() {
        MeterRegistry[] registry = new MeterRegistry[1];
        runner.withBean(MeterRegistry.class, SimpleMeterRegistry::new).withUserConfiguration(Pipelines.class)
                .run(context -> {
                    assertThat(context).hasNotFailed().hasSingleBean(RillPipelineMetrics.class);
                    registry[0] = context.getBean(MeterRegistry.class);
                    ReactiveQueue<String> orders = context.getBean(RillQueues.class).queue("orders", Codec.utf8())
                            .block(T);
                    orders.send(OutboundMessage.of("good")).block(T);
                    orders.send(OutboundMessage.of("bad")).block(T);
                    await().atMost(T).untilAsserted(() -> {
                        assertThat(pipelineMeter(registry[0], PipelineMetrics.MESSAGES, "ordersWorker")
                                .tag("outcome", "acked").counter().count()).isEqualTo(1.0);
                        assertThat(pipelineMeter(registry[0], PipelineMetrics.MESSAGES, "ordersWorker")
                                .tag("outcome", "retried").counter().count()).isEqualTo(1.0);
                    });
                    assertThat(pipelineMeter(registry[0], PipelineMetrics.ERRORS, "ordersWorker")
                            .tag("stage", "handler").counter().count()).isEqualTo(1.0);
                    assertThat(pipelineMeter(registry[0], PipelineMetrics.HANDLER, "ordersWorker")
                            .tag("outcome", "success").timer().count()).isEqualTo(1);
                    assertThat(pipelineMeter(registry[0], PipelineMetrics.IN_FLIGHT, "ordersWorker").gauge().value())
                            .isZero();
                    // the bean name wins over the name the pipeline was built with
                    assertThat(registry[0].find(PipelineMetrics.IN_FLIGHT).tag("pipeline", "its-own-name").meters())
                            .isEmpty();
                    assertThat(pipelineMeter(registry[0], PipelineMetrics.IN_FLIGHT, "auditWorker").gauge())
                            .isNotNull();
                });
        // drained on close: their meters are gone, the queues' stay
        assertThat(registry[0].find(PipelineMetrics.IN_FLIGHT).meters()).isEmpty();
        assertThat(registry[0].find(PipelineMetrics.MESSAGES).meters()).isEmpty();
        assertThat(registry[0].find(RillMetrics.SENT).tag("queue", "orders").counter()).isNotNull();
    }

    private static RequiredSearch pipelineMeter(MeterRegistry registry, String name, String pipeline) {
        return registry.get(name).tags("queue", pipeline.equals("auditWorker") ? "audit" : "orders",
                "pipeline", pipeline);
    }

    @Test
    void pipelineBeansWithoutARegistryOrMicrometerOrWhenTurnedOffRunUnmeasured() {
        runner.withUserConfiguration(Pipelines.class).run(context -> assertThat(context).hasNotFailed()
                .doesNotHaveBean(RillPipelineMetrics.class).hasBean("ordersWorker"));
        runner.withUserConfiguration(Pipelines.class).withClassLoader(new FilteredClassLoader(MeterRegistry.class))
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(RillPipelineMetrics.class)
                        .hasBean("ordersWorker"));
        runner.withUserConfiguration(Pipelines.class).withBean(MeterRegistry.class, SimpleMeterRegistry::new)
                .withPropertyValues("rill.metrics.enabled=false").run(context -> {
                    assertThat(context).hasNotFailed().doesNotHaveBean(RillPipelineMetrics.class);
                    assertThat(context.getBean(MeterRegistry.class).find(PipelineMetrics.IN_FLIGHT).meters())
                            .isEmpty();
                });
    }

    /** A pipeline the application measures itself, and a QueuePipeline of its own that no builder started. */
    @Configuration(proxyBeanMethods = false)
    static class Unmeasurable {

        static final MeterRegistry OWN = new SimpleMeterRegistry();

        @Bean
        QueuePipeline selfMeasured(RillQueues queues) {
            QueuePipeline p = queues.queue("orders", Codec.utf8()).block(T).pipelineOnPayload(x -> Mono.empty())
                    .start();
            PipelineMetrics.of(p).bindTo(OWN);
            return p;
        }

        @Bean
        QueuePipeline wrapper() {
            return (QueuePipeline) java.lang.reflect.Proxy.newProxyInstance(getClass().getClassLoader(),
                    new Class<?>[] {QueuePipeline.class}, (proxy, method, args) -> switch (method.getName()) {
                        case "toString" -> "wrapper";
                        case "drain", "onTerminate", "idle" -> Mono.empty();
                        case "inFlight", "hashCode" -> 0;
                        case "isPaused", "isDisposed", "equals" -> false;
                        default -> null;
                    });
        }
    }

    @Test
    void pipelineBeansThatCannotBeMeasuredAreLeftAsTheyAre() {
        runner.withBean(MeterRegistry.class, SimpleMeterRegistry::new).withUserConfiguration(Unmeasurable.class)
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    assertThat(context.getBean(RillPipelineMetrics.class).binders()).isEmpty();
                    assertThat(context.getBean(MeterRegistry.class).find(PipelineMetrics.IN_FLIGHT).meters())
                            .isEmpty();
                    assertThat(Unmeasurable.OWN.get(PipelineMetrics.IN_FLIGHT).tag("pipeline", "orders").gauge())
                            .isNotNull();
                });
    }

    @Test
    void invalidRefreshIntervalStopsTheStart() {
        for (String[] written : new String[][] {{"0ms", "0s"}, {"500us", "500000ns"}, {"-2s", "-2s"}}) {
            runner.withBean(MeterRegistry.class, SimpleMeterRegistry::new)
                    .withPropertyValues("rill.metrics.refresh-interval=" + written[0]).run(context -> {
                        assertThat(context).hasFailed();
                        assertThat(RillAutoConfigurationTests.rootCause(context.getStartupFailure()))
                                .isInstanceOf(RillConfigurationException.class)
                                .hasMessage("rill.metrics.refresh-interval: must be at least 1ms, was " + written[1]);
                    });
        }
    }

    @Test
    void healthIsUpWithEachQueuesDepth() {
        runner.run(context -> {
            assertThat(context).hasNotFailed().hasBean("rillHealthIndicator");
            ReactiveQueue<String> orders = context.getBean(RillQueues.class).queue("orders", Codec.utf8()).block(T);
            orders.send(OutboundMessage.of("a")).block(T);
            orders.send(OutboundMessage.of("b")).block(T);
            orders.receiveOne(Duration.ZERO).block(T); // one in flight
            Health health = context.getBean("rillHealthIndicator", ReactiveHealthIndicator.class).health().block(T);
            assertThat(health.getStatus()).isEqualTo(Status.UP);
            @SuppressWarnings("unchecked")
            Map<String, Map<String, Object>> queues = (Map<String, Map<String, Object>>) health.getDetails()
                    .get("queues");
            assertThat(queues).containsOnlyKeys("audit", "orders");
            assertThat(queues.get("orders")).containsEntry("ready", 1L).containsEntry("inFlight", 1L)
                    .containsEntry("delayed", 0L).containsEntry("capacity", 100L);
            assertThat(queues.get("audit")).containsEntry("ready", 0L).containsEntry("capacity", 10L);
        });
    }

    @Test
    void healthIsDownWhenTheBrokerFailsToAnswer() {
        Health health = healthOf(brokerAnswering("failing broker", Mono.error(new IllegalStateException(
                "connection lost"))));
        assertThat(health.getStatus()).isEqualTo(Status.DOWN);
        assertThat(health.getDetails().get("error").toString()).contains("connection lost");
    }

    @Test
    void healthSaysPlainlyThatTheBrokerDidNotAnswerInTime() {
        // a remote broker whose server is down (reconnecting) holds the stats request: the indicator times out
        ReactiveBroker silent = brokerAnswering("silent broker", Mono.never());
        Health health = new RillHealthIndicator(silent, Duration.ofMillis(50)).health().block(T);
        assertThat(health.getStatus()).isEqualTo(Status.DOWN);
        // not Reactor's "Did not observe any item or terminal signal within 50ms in 'flatMap' ..."
        assertThat(health.getDetails()).containsEntry("error", "no answer from the broker within 50ms (a remote "
                + "broker reconnects while its server is unreachable)");
    }

    @Test
    void theHealthTimeoutIsAProperty() {
        Health health = healthOf(brokerAnswering("silent broker", Mono.never()), "rill.health.timeout=50ms");
        assertThat(health.getStatus()).isEqualTo(Status.DOWN);
        assertThat(health.getDetails().get("error").toString()).startsWith("no answer from the broker within 50ms");
    }

    /** A broker whose stats and queue declarations answer {@code answer}: a remote one failing, or holding. */
    private ReactiveBroker brokerAnswering(String name, Mono<?> answer) {
        return (ReactiveBroker) java.lang.reflect.Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {ReactiveBroker.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "stats", "queue" -> answer;
                    case "toString" -> name;
                    case "hashCode" -> 1;
                    case "equals" -> proxy == args[0];
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    /** The health the auto-configured indicator reports for an application with this broker. */
    private static Health healthOf(ReactiveBroker broker, String... properties) {
        Health[] health = new Health[1];
        new ReactiveWebApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(RillAutoConfiguration.class, RillHealthAutoConfiguration.class))
                .withBean(ReactiveBroker.class, () -> broker)
                .withPropertyValues(properties)
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    health[0] = context.getBean("rillHealthIndicator", ReactiveHealthIndicator.class).health()
                            .block(T);
                });
        return health[0];
    }

    @Test
    void aHealthTimeoutThatIsNotPositiveStopsTheStart() {
        for (String value : new String[] {"0s", "-1s"}) {
            runner.withPropertyValues("rill.health.timeout=" + value).run(context -> {
                assertThat(context).hasFailed();
                assertThat(RillAutoConfigurationTests.rootCause(context.getStartupFailure()))
                        .isInstanceOf(RillConfigurationException.class)
                        .hasMessage("rill.health.timeout: must be positive, was " + value);
            });
        }
    }

    @Test
    void noHealthIndicatorWithoutSpringBootHealthOnTheClassPath() {
        runner.withClassLoader(new FilteredClassLoader(ReactiveHealthIndicator.class))
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean("rillHealthIndicator")
                        .hasSingleBean(ReactiveBroker.class));
    }

    @Test
    void noHealthIndicatorWhenTurnedOff() {
        runner.withPropertyValues("management.health.rill.enabled=false")
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean("rillHealthIndicator"));
    }

    @Test
    void anApplicationHealthIndicatorNamedRillReplacesOurs() {
        ReactiveHealthIndicator own = () -> Mono.just(Health.outOfService().build());
        runner.withBean("rillHealthIndicator", ReactiveHealthIndicator.class, () -> own)
                .run(context -> assertThat(context.getBean("rillHealthIndicator")).isSameAs(own));
    }
}
