package dev.rill.spring;

import dev.rill.reactive.ReactiveBroker;
import java.time.Duration;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.ReactiveHealthIndicator;
import org.springframework.context.annotation.Bean;

/**
 * Contributes the {@code rill} health indicator (broker up, queue depths as details) when Spring Boot's health
 * support (Actuator) is on the class path. Turn off with {@code management.health.rill.enabled=false}.
 */
@AutoConfiguration(after = RillAutoConfiguration.class)
@ConditionalOnClass(ReactiveHealthIndicator.class)
@ConditionalOnBean(ReactiveBroker.class)
@ConditionalOnEnabledHealthIndicator("rill")
public class RillHealthAutoConfiguration {

    /** Creates the auto-configuration; Spring Boot does this. */
    public RillHealthAutoConfiguration() {
    }

    @Bean
    @ConditionalOnMissingBean(name = "rillHealthIndicator")
    ReactiveHealthIndicator rillHealthIndicator(ReactiveBroker broker) {
        return new RillHealthIndicator(broker, Duration.ofSeconds(10));
    }
}
