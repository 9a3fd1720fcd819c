package dev.rill.spring;

import dev.rill.reactive.ReactiveBroker;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.CompositeReactiveHealthContributor;
import org.springframework.boot.health.contributor.ReactiveHealthContributor;
import org.springframework.boot.health.contributor.ReactiveHealthIndicator;
import org.springframework.context.annotation.Bean;
import reactor.core.publisher.Mono;

/**
 * Contributes the {@code rill} health indicator when Spring Boot's health support (Actuator) is on the class path:
 * the broker (up, queue depths as details) and the application's {@link dev.rill.reactive.QueuePipeline} beans
 * ({@code DOWN} when one failed, each one's state as details). With several broker beans, one entry per broker under
 * {@code rill} and one for the pipelines ({@code rill/pipelines}). Turn off with
 * {@code management.health.rill.enabled=false}; {@code rill.health.timeout} bounds the wait for the broker.
 */
@AutoConfiguration(after = RillAutoConfiguration.class)
@ConditionalOnClass(ReactiveHealthIndicator.class)
@ConditionalOnBean(ReactiveBroker.class)
@ConditionalOnEnabledHealthIndicator("rill")
public class RillHealthAutoConfiguration {

    /** The entry of the pipelines beside the brokers' when there are several brokers. */
    static final String PIPELINES = "pipelines";

    /** Creates the auto-configuration; Spring Boot does this. */
    public RillHealthAutoConfiguration() {
    }

    /** Watches the pipeline beans as Spring creates them (static: a bean post-processor, made before the others). */
    @Bean
    static RillPipelineHealth rillPipelineHealth() {
        return new RillPipelineHealth();
    }

    /**
     * The health of the broker and the pipelines; with several broker beans, of each broker by bean name
     * ({@code rill/local}, {@code rill/remote}) and of the pipelines ({@code rill/pipelines}).
     *
     * @throws RillConfigurationException naming {@code rill.health.timeout} when it is not positive
     */
    @Bean
    @ConditionalOnMissingBean(name = "rillHealthIndicator")
    ReactiveHealthContributor rillHealthIndicator(Map<String, ReactiveBroker> brokers, RillProperties properties,
            RillPipelineHealth pipelines) {
        Duration timeout = RillBrokers.positive("rill.health.timeout", properties.getHealth().getTimeout());
        if (brokers.size() == 1) {
            return new RillHealthIndicator(brokers.values().iterator().next(), timeout, pipelines);
        }
        Map<String, ReactiveHealthIndicator> each = new TreeMap<>();
        brokers.forEach((name, broker) -> each.put(name, new RillHealthIndicator(broker, timeout)));
        // a broker bean named "pipelines" keeps its name; the pipelines' entry gives way
        each.put(each.containsKey(PIPELINES) ? "pipelineBeans" : PIPELINES,
                () -> Mono.fromSupplier(pipelines::health));
        return CompositeReactiveHealthContributor.fromMap(each);
    }
}
