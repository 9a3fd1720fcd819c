package dev.rill.spring;

import dev.rill.reactive.ReactiveBroker;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.io.ApplicationResourceLoader;
import org.springframework.boot.ssl.SslBundles;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.io.ResourceLoader;

/**
 * Auto-configures Rill: a {@link ReactiveBroker} (unless the application defines one), the queues of
 * {@code rill.queues.*} ({@link RillQueues}) and the graceful drain of {@link dev.rill.reactive.QueuePipeline} beans
 * when the application stops. See {@link RillProperties} for the properties.
 *
 * <p>The broker is in-memory ({@code Rill.inMemory()}) unless {@code rill.url} names a server, in which case it is a
 * {@link dev.rill.netty.RillClient} connection (with {@code rill.token} and {@code rill.tls.*}), made while the
 * application starts. A broker created here is closed when the context closes, after the pipelines drained.
 */
@AutoConfiguration(afterName = "org.springframework.boot.autoconfigure.ssl.SslAutoConfiguration")
@EnableConfigurationProperties(RillProperties.class)
public class RillAutoConfiguration {

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
    public RillQueues rillQueues(ReactiveBroker broker, RillProperties properties,
            ObjectProvider<ManagedBroker> managed) {
        boolean durable = properties.getDataDir() != null && managed.getIfAvailable() != null;
        RillQueues queues = new RillQueues(broker, RillQueues.specs(properties.getQueues()), durable);
        queues.declare(properties.getConnectTimeout());
        return queues;
    }

    /**
     * Drains the application's pipelines on shutdown.
     *
     * @param beans the bean factory, to find the pipeline beans at shutdown
     * @param properties the properties
     * @return the lifecycle
     */
    @Bean
    RillPipelineLifecycle rillPipelineLifecycle(ListableBeanFactory beans, RillProperties properties) {
        if (properties.getShutdown().getDrainTimeout().isNegative()) {
            throw new RillConfigurationException("rill.shutdown.drain-timeout", "must be zero or more, was "
                    + properties.getShutdown().getDrainTimeout());
        }
        return new RillPipelineLifecycle(beans, properties.getShutdown().getDrainTimeout());
    }

    /** The broker, when the application defines none. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnMissingBean(ReactiveBroker.class)
    static class BrokerConfiguration {

        @Bean
        ManagedBroker rillManagedBroker(RillProperties properties, ResourceLoader resourceLoader,
                ObjectProvider<SslBundles> sslBundles, ObjectProvider<RillClientOptionsCustomizer> customizers) {
            // plain paths are files, "classpath:" and URL prefixes work too
            ReactiveBroker broker = RillBrokers.create(properties, ApplicationResourceLoader.get(resourceLoader.getClassLoader()),
                    sslBundles.getIfAvailable(), customizers.orderedStream().toList());
            return new ManagedBroker(broker, properties.getConnectTimeout());
        }

        // closed by ManagedBroker, once: never by an inferred close() on this bean
        @Bean(destroyMethod = "")
        ReactiveBroker rillBroker(ManagedBroker managed) {
            return managed.broker();
        }
    }
}
