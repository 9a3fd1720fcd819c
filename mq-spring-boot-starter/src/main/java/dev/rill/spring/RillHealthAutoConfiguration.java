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

/**
 * Contributes the {@code rill} health indicator (broker up, queue depths as details) when Spring Boot's health
 * support (Actuator) is on the class path; with several broker beans, one per broker under {@code rill}. Turn off with {@code management.health.rill.enabled=false}.
 */
@AutoConfiguration(after = RillAutoConfiguration.class)
@ConditionalOnClass(ReactiveHealthIndicator.class)
@ConditionalOnBean(ReactiveBroker.class)
@ConditionalOnEnabledHealthIndicator("rill")
public class RillHealthAutoConfiguration {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    /** Creates the auto-configuration; Spring Boot does this. */
    public RillHealthAutoConfiguration() {
    }

    /**
     * The health of the broker; with several broker beans, of each, by bean name ({@code rill/local},
     * {@code rill/remote}).
     */
    @Bean
    @ConditionalOnMissingBean(name = "rillHealthIndicator")
    ReactiveHealthContributor rillHealthIndicator(Map<String, ReactiveBroker> brokers) {
        if (brokers.size() == 1) {
            return new RillHealthIndicator(brokers.values().iterator().next(), TIMEOUT);
        }
        Map<String, ReactiveHealthIndicator> each = new TreeMap<>();
        brokers.forEach((name, broker) -> each.put(name, new RillHealthIndicator(broker, TIMEOUT)));
        return CompositeReactiveHealthContributor.fromMap(each);
    }
}
