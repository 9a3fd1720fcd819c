package dev.rill.spring;

import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.List;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.context.annotation.Bean;

/**
 * Registers {@link dev.rill.reactive.RillMetrics} meters ({@code rill.queue.*}, tagged {@code queue}) for every
 * queue of {@code rill.queues.*}, and {@link dev.rill.reactive.PipelineMetrics} meters ({@code rill.pipeline.*},
 * tagged {@code queue} and {@code pipeline}, the bean name) for every singleton
 * {@link dev.rill.reactive.QueuePipeline} bean, when Micrometer is on the class path and a {@link MeterRegistry}
 * bean exists. Turn off with {@code rill.metrics.enabled=false}.
 *
 * <p>The meters go to the one registry (the primary one, such as Spring Boot's composite, when there are several),
 * or to each registry when there are several and none is primary.
 */
@AutoConfiguration(after = RillAutoConfiguration.class, afterName = {
        "org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration",
        "org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration"})
@ConditionalOnClass(MeterRegistry.class)
@ConditionalOnBean(MeterRegistry.class)
@ConditionalOnBooleanProperty(name = "rill.metrics.enabled", matchIfMissing = true)
public class RillMetricsAutoConfiguration {

    /** Creates the auto-configuration; Spring Boot does this. */
    public RillMetricsAutoConfiguration() {
    }

    @Bean
    @ConditionalOnBean(RillQueues.class)
    RillQueueMetrics rillQueueMetrics(RillQueues queues, ObjectProvider<MeterRegistry> registries,
            RillProperties properties) {
        Duration refresh = properties.getMetrics().getRefreshInterval();
        if (refresh.toMillis() < 1) { // said as written, not as Duration.toString's PT0S
            throw new RillConfigurationException("rill.metrics.refresh-interval",
                    "must be at least 1ms, was " + RillAutoConfiguration.print(refresh));
        }
        return new RillQueueMetrics(queues, targets(registries), refresh, properties.getConnectTimeout());
    }

    /**
     * Measures the pipeline beans as Spring creates them (static: a bean post-processor, made before the others; the
     * registries are looked up only when the first pipeline bean is measured).
     */
    @Bean
    static RillPipelineMetrics rillPipelineMetrics(ObjectProvider<MeterRegistry> registries) {
        return new RillPipelineMetrics(() -> targets(registries));
    }

    /** The one registry (the primary one among several), or each of several when none is primary. */
    private static List<MeterRegistry> targets(ObjectProvider<MeterRegistry> registries) {
        MeterRegistry unique = registries.getIfUnique();
        return unique != null ? List.of(unique) : registries.orderedStream().toList();
    }
}
