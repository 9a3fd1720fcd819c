package dev.rill.spring;

import dev.rill.reactive.ReactiveBroker;
import java.time.Duration;
import org.springframework.beans.factory.DisposableBean;

/**
 * Owns the broker the auto-configuration created and closes it when the context closes: after every
 * {@link org.springframework.context.SmartLifecycle} stopped, and after the pipelines' drain ended even when Spring
 * stopped waiting for it ({@code spring.lifecycle.timeout-per-shutdown-phase} shorter than the drain), so handlers
 * still within their drain timeout can settle what they hold. A broker the application defines itself is never
 * closed by the starter.
 */
final class ManagedBroker implements DisposableBean {

    private static final System.Logger LOG = System.getLogger(ManagedBroker.class.getName());

    private final ReactiveBroker broker;
    private final Duration timeout;
    private final RillPipelineLifecycle drains;

    ManagedBroker(ReactiveBroker broker, Duration timeout, RillPipelineLifecycle drains) {
        this.broker = broker;
        this.timeout = timeout;
        this.drains = drains;
    }

    ReactiveBroker broker() {
        return broker;
    }

    @Override
    public void destroy() {
        drains.awaitDrained();
        try {
            broker.close().block(timeout);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "closing the Rill broker failed", e);
        }
    }
}
