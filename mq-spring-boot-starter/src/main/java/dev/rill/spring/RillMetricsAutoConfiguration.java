package dev.rill.spring;

import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.context.annotation.Bean;

/**
 * Registers {@link dev.rill.reactive.RillMetrics} meters ({@code rill.queue.*}, tagged {@code queue}) for every
 * queue of {@code rill.queues.*} when Micrometer is on the class path and a {@link MeterRegistry} bean exists.
 * Turn off with {@code rill.metrics.enabled=false}.
 *
 * <p>The meters go to the one registry (the primary one, such as Spring Boot's composite, when there are several),
 * or to each registry when there are several and none is primary.
 */
@AutoConfiguration(after = RillAutoConfiguration.class, afterName = {
        "org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration",
        "org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration"})
@ConditionalOnClass(MeterRegistry.class)
@ConditionalOnBean({MeterRegistry.class, RillQueues.class})
@ConditionalOnBooleanProperty(name = "rill.metrics.enabled", matchIfMissing = true)
public class RillMetricsAutoConfiguration {

    /** Creates the auto-configuration; Spring Boot does this. */
    public RillMetricsAutoConfiguration() {
    }

    @Bean
    RillQueueMetrics rillQueueMetrics(RillQueues queues, ObjectProvider<MeterRegistry> registries,
            RillProperties properties) {
        MeterRegistry unique = registries.getIfUnique();
        List<MeterRegistry> targets = unique != null ? List.of(unique) : registries.orderedStream().toList();
        try {
            return new RillQueueMetrics(queues, targets, properties.getMetrics().getRefreshInterval(),
                    properties.getConnectTimeout());
        } catch (IllegalArgumentException e) {
            throw new RillConfigurationException("rill.metrics.refresh-interval", e.getMessage(), e);
        }
    }
}
