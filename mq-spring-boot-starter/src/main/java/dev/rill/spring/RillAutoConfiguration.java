package dev.rill.spring;

import dev.rill.reactive.ReactiveBroker;
import java.time.Duration;
import java.util.List;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnSingleCandidate;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.io.ApplicationResourceLoader;
import org.springframework.boot.ssl.SslBundles;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;
import org.springframework.core.io.ResourceLoader;

/**
 * Auto-configures Rill: a {@link ReactiveBroker} (unless the application defines one), the queues of
 * {@code rill.queues.*} ({@link RillQueues}) and the graceful drain of {@link dev.rill.reactive.QueuePipeline} beans
 * when the application stops. See {@link RillProperties} for the properties.
 *
 * <p>The broker is in-memory ({@code Rill.inMemory()}) unless {@code rill.url} names a server, in which case it is a
 * {@link dev.rill.netty.RillClient} connection (with {@code rill.token} and {@code rill.tls.*}), made while the
 * application starts. A broker created here is closed when the context closes, after the pipelines drained.
 *
 * <p>An application may define several brokers (say an in-memory one and a {@code RillClient}): the queues of
 * {@code rill.queues.*} are then declared on the {@code @Primary} one, and without one they stop the start; the
 * health indicator reports each broker by bean name.
 */
@AutoConfiguration(afterName = "org.springframework.boot.autoconfigure.ssl.SslAutoConfiguration")
@EnableConfigurationProperties(RillProperties.class)
public class RillAutoConfiguration {

    private static final System.Logger LOG = System.getLogger(RillAutoConfiguration.class.getName());

    /** Creates the auto-configuration; Spring Boot does this. */
    public RillAutoConfiguration() {
    }

    /**
     * Declares the queues of {@code rill.queues.*} on the broker, validated.
     *
     * @param broker the broker
     * @param properties the properties
     * @param managed the broker this auto-configuration created, if it did
     * @return the declared queues (on a durable broker of {@code rill.data-dir}: declared on first use, see
     *     {@link RillQueues})
     */
    @Bean
    @ConditionalOnMissingBean
    @ConditionalOnSingleCandidate(ReactiveBroker.class)
    public RillQueues rillQueues(ReactiveBroker broker, RillProperties properties,
            ObjectProvider<ManagedBroker> managed, Environment environment) {
        RillPropertyNames.check(environment);
        boolean durable = properties.getDataDir() != null && managed.getIfAvailable() != null;
        Duration timeout = RillBrokers.connectTimeout(properties);
        RillQueues queues = new RillQueues(broker, RillQueues.specs(properties.getQueues()), durable);
        queues.declare(timeout);
        return queues;
    }

    /**
     * Stops the start when {@code rill.queues.*} are set but no {@link RillQueues} could be made: the application has
     * several brokers and none is {@code @Primary}, so which one the queues belong to is not known. Without queue
     * properties, several brokers are fine (no {@link RillQueues} bean).
     *
     * @param beans the bean factory, to name the brokers
     * @param properties the properties
     * @return a marker
     * @throws RillConfigurationException naming {@code rill.queues} when queues are declared
     */
    @Bean
    @ConditionalOnMissingBean(RillQueues.class) // declared after rillQueues: applies only when that one did not
    static QueuesNeedOneBroker rillQueuesNeedOneBroker(ListableBeanFactory beans, RillProperties properties) {
        if (!properties.getQueues().isEmpty()) {
            throw new RillConfigurationException("rill.queues", "the queues " + properties.getQueues().keySet()
                    + " are declared, but the application has several ReactiveBroker beans "
                    + List.of(beans.getBeanNamesForType(ReactiveBroker.class)) + " and none is @Primary; mark the "
                    + "one the queues belong to @Primary, or define a RillQueues bean");
        }
        return new QueuesNeedOneBroker();
    }

    /** Present when no {@link RillQueues} bean could be made and none was needed. */
    static final class QueuesNeedOneBroker {
    }

    /**
     * Drains the application's pipelines on shutdown.
     *
     * @param beans the bean factory, to find the pipeline beans at shutdown
     * @param properties the properties
     * @param environment the environment, for Spring's shutdown phase timeout
     * @return the lifecycle
     */
    @Bean
    RillPipelineLifecycle rillPipelineLifecycle(ListableBeanFactory beans, RillProperties properties,
            Environment environment) {
        RillPropertyNames.check(environment); // before the broker is made: it depends on this bean
        return new RillPipelineLifecycle(beans, drainTimeout(properties, environment));
    }

    /** Spring Boot's default of {@value #PHASE_TIMEOUT_PROPERTY}. */
    static final Duration DEFAULT_PHASE_TIMEOUT = Duration.ofSeconds(30);

    static final String PHASE_TIMEOUT_PROPERTY = "spring.lifecycle.timeout-per-shutdown-phase";

    /**
     * The drain timeout: {@code rill.shutdown.drain-timeout}, or Spring's shutdown phase timeout less
     * {@link #settleMargin(Duration)} when unset. A configured one that leaves less than that margin of the phase is
     * logged as a warning: Spring stops waiting for the phase at its timeout and goes on stopping the application.
     *
     * @throws RillConfigurationException naming the property when a value is negative
     */
    static Duration drainTimeout(RillProperties properties, Environment environment) {
        Duration phase;
        try {
            phase = Binder.get(environment).bind(PHASE_TIMEOUT_PROPERTY, Duration.class).orElse(DEFAULT_PHASE_TIMEOUT);
        } catch (RuntimeException e) { // Spring Boot's own binding reports it too; this one may come first
            throw new RillConfigurationException(PHASE_TIMEOUT_PROPERTY, "not a duration: " + e.getMessage(), e);
        }
        Duration fit = phase.minus(settleMargin(phase));
        Duration drain = properties.getShutdown().getDrainTimeout();
        if (drain == null) {
            return fit.isNegative() ? Duration.ZERO : fit;
        }
        if (drain.isNegative()) {
            throw new RillConfigurationException("rill.shutdown.drain-timeout", "must be zero or more, was " + print(drain));
        }
        if (drain.compareTo(fit) > 0) {
            LOG.log(System.Logger.Level.WARNING, "rill.shutdown.drain-timeout=" + print(drain)
                    + " does not fit in " + PHASE_TIMEOUT_PROPERTY + "=" + print(phase)
                    + " with " + print(settleMargin(phase)) + " to spare for giving back what "
                    + "is left: Spring stops waiting for the drain at the phase timeout and goes on stopping the "
                    + "application (other beans) while handlers still run. Set " + PHASE_TIMEOUT_PROPERTY + " to at "
                    + "least " + print(drain.plus(settleMargin(phase))) + ", or leave "
                    + "rill.shutdown.drain-timeout unset to derive it from the phase timeout.");
        }
        return drain;
    }

    /** Prints as the properties are written: 30s, 200ms. */
    static String print(Duration d) {
        if (d.getNano() % 1_000_000 != 0) { // finer than a millisecond
            return d.toNanos() + "ns";
        }
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
    }

    /** What the drain keeps of the phase for cancelling handlers and giving their messages back: 5 s, at most half. */
    static Duration settleMargin(Duration phase) {
        Duration half = phase.dividedBy(2);
        return half.compareTo(Duration.ofSeconds(5)) < 0 ? half : Duration.ofSeconds(5);
    }

    /** The broker, when the application defines none. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnMissingBean(ReactiveBroker.class)
    static class BrokerConfiguration {

        // depends on the drain so that it is destroyed first: its close waits for a drain Spring stopped waiting for
        @Bean
        ManagedBroker rillManagedBroker(RillProperties properties, ResourceLoader resourceLoader,
                ObjectProvider<SslBundles> sslBundles, ObjectProvider<RillClientOptionsCustomizer> customizers,
                RillPipelineLifecycle drains) {
            // plain paths are files, "classpath:" and URL prefixes work too
            ReactiveBroker broker = RillBrokers.create(properties, ApplicationResourceLoader.get(resourceLoader.getClassLoader()),
                    sslBundles.getIfAvailable(), customizers.orderedStream().toList());
            return new ManagedBroker(broker, properties.getConnectTimeout(), drains);
        }

        // closed by ManagedBroker, once: never by an inferred close() on this bean
        @Bean(destroyMethod = "")
        ReactiveBroker rillBroker(ManagedBroker managed) {
            return managed.broker();
        }
    }
}
