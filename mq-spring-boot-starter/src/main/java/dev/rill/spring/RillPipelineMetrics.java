package dev.rill.spring;

import dev.rill.reactive.PipelineMetrics;
import dev.rill.reactive.QueuePipeline;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.springframework.beans.factory.DisposableBean;

/**
 * Binds {@link PipelineMetrics} to each singleton {@link QueuePipeline} bean as Spring creates it (lazy ones
 * included, once made), tagged {@code pipeline=<bean name>}. The meters go away when the pipeline ends (the
 * drain on shutdown, say) or the context closes.
 *
 * <p>A pipeline the application measures itself, or one whose meters would collide with another's in the registry,
 * is left as it is (logged); so is a {@link QueuePipeline} that no {@link dev.rill.reactive.PipelineBuilder}
 * started (a wrapper of the application's).
 */
final class RillPipelineMetrics extends PipelineBeanPostProcessor implements DisposableBean {

    private static final System.Logger LOG = System.getLogger(RillPipelineMetrics.class.getName());

    /** Resolved when the first pipeline bean is measured, not when this post-processor is made. */
    private final Supplier<List<MeterRegistry>> registries;
    private final Map<String, PipelineMetrics> bound = new ConcurrentHashMap<>();

    RillPipelineMetrics(Supplier<List<MeterRegistry>> registries) {
        this.registries = registries;
    }

    @Override
    void found(String name, QueuePipeline pipeline) {
        PipelineMetrics metrics;
        try {
            metrics = PipelineMetrics.of(pipeline).name(name);
        } catch (IllegalArgumentException e) {
            LOG.log(System.Logger.Level.DEBUG, "pipeline bean '" + name + "' has no meters: " + e.getMessage());
            return;
        }
        PipelineMetrics replaced = bound.remove(name); // the bean was made again under its name (a refreshed scope)
        if (replaced != null) {
            replaced.dispose();
        }
        try {
            registries.get().forEach(metrics::bindTo);
        } catch (IllegalStateException e) {
            metrics.dispose();
            LOG.log(System.Logger.Level.WARNING, "pipeline bean '" + name + "' has no meters: " + e.getMessage());
            return;
        }
        bound.put(name, metrics);
    }

    /** @return the binders by bean name */
    Map<String, PipelineMetrics> binders() {
        return bound;
    }

    @Override
    public void destroy() {
        bound.values().forEach(PipelineMetrics::dispose);
    }
}
