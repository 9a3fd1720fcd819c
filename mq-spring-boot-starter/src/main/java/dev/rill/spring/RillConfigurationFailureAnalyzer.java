package dev.rill.spring;

import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/** Turns a {@link RillConfigurationException} into Spring Boot's "APPLICATION FAILED TO START" report. */
final class RillConfigurationFailureAnalyzer extends AbstractFailureAnalyzer<RillConfigurationException> {

    @Override
    protected FailureAnalysis analyze(Throwable rootFailure, RillConfigurationException cause) {
        return new FailureAnalysis("Invalid Rill configuration: " + cause.getMessage(),
                "Fix the property '" + cause.property() + "' in your configuration (application.properties, "
                        + "application.yaml, environment variables...).",
                cause);
    }
}
