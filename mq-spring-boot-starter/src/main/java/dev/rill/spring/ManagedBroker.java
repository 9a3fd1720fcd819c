package dev.rill.spring;

import dev.rill.reactive.ReactiveBroker;
import java.time.Duration;
import org.springframework.beans.factory.DisposableBean;

/**
 * Owns the broker the auto-configuration created and closes it when the context closes: after every
 * {@link org.springframework.context.SmartLifecycle} stopped, so pipelines have drained first. A broker the
 * application defines itself is never closed by the starter.
 */
final class ManagedBroker implements DisposableBean {

    private static final System.Logger LOG = System.getLogger(ManagedBroker.class.getName());

    private final ReactiveBroker broker;
    private final Duration timeout;

    ManagedBroker(ReactiveBroker broker, Duration timeout) {
        this.broker = broker;
        this.timeout = timeout;
    }

    ReactiveBroker broker() {
        return broker;
    }

    @Override
    public void destroy() {
        try {
            broker.close().block(timeout);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "closing the Rill broker failed", e);
        }
    }
}
