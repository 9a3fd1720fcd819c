package dev.rill.spring;

import dev.rill.reactive.QueuePipeline;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.Status;
import reactor.core.Disposable;

/**
 * Watches the application's {@link QueuePipeline} beans for the health indicator: each singleton pipeline bean is
 * registered by name as Spring creates it (lazy ones included, when they are first used), and its
 * {@link QueuePipeline#onTerminate()} is subscribed to once, so a health request only reads what is known (no bean
 * lookup, no subscription, nothing that waits).
 *
 * <p>Each pipeline's details: its {@code queue}, {@code state} and {@code inFlight} (deliveries held now).
 *
 * <p>A pipeline is {@code failed} once its receive stream failed (the queue was deleted, the broker closed under
 * it): that turns the health {@code DOWN}. {@code running}, {@code paused} (a context stop pauses the pipelines),
 * {@code stopping} and {@code stopped} (drained or disposed, as on shutdown) are no failures.
 *
 * <p>Handler errors ({@link QueuePipeline#errors()}) are not in the health: they do not stop the pipeline, and a count
 * would need a window to say anything about now. The pipeline's meters count them ({@code rill.pipeline.errors},
 * {@link RillPipelineMetrics}) without subscribing to them, which would turn their log entries from warnings into
 * debug messages (the pipeline logs at warning level only the errors nobody listens to).
 */
final class RillPipelineHealth extends PipelineBeanPostProcessor implements DisposableBean {

    private final Map<String, Watched> watched = new ConcurrentHashMap<>();

    @Override
    void found(String name, QueuePipeline pipeline) {
        Watched w = new Watched(pipeline);
        Watched replaced = watched.put(name, w);
        if (replaced != null) { // the bean was made again under its name (a refreshed scope)
            replaced.stop();
        }
        w.subscription = pipeline.onTerminate().subscribe(null, e -> w.failure = e, () -> w.ended = true);
    }

    /** @return whether any pipeline bean is known */
    boolean isEmpty() {
        return watched.isEmpty();
    }

    /**
     * The pipelines' health: {@code DOWN} when one failed, else {@code UP}; each pipeline's details (queue, state,
     * in flight, the error that ended a failed one) under its bean name, in name order.
     */
    Health health() {
        Map<String, Object> details = new TreeMap<>();
        boolean failed = false;
        for (Map.Entry<String, Watched> e : watched.entrySet()) {
            Watched w = e.getValue();
            Throwable failure = w.failure;
            String state = failure != null ? "failed"
                    : w.ended ? "stopped"
                    : w.pipeline.isDisposed() ? "stopping"
                    : w.pipeline.isPaused() ? "paused"
                    : "running";
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("queue", w.pipeline.queue());
            d.put("state", state);
            d.put("inFlight", w.pipeline.inFlight());
            if (failure != null) {
                failed = true;
                d.put("error", failure.getClass().getName() + ": " + failure.getMessage()); // as Health.down(e)
            }
            details.put(e.getKey(), d);
        }
        return Health.status(failed ? Status.DOWN : Status.UP).withDetails(details).build();
    }

    @Override
    public void destroy() {
        watched.values().forEach(Watched::stop);
    }

    /** One pipeline bean and how it ended, if it did. */
    private static final class Watched {

        final QueuePipeline pipeline;
        volatile Throwable failure;
        volatile boolean ended;
        volatile Disposable subscription;

        Watched(QueuePipeline pipeline) {
            this.pipeline = pipeline;
        }

        void stop() {
            Disposable s = subscription;
            if (s != null) {
                s.dispose();
            }
        }
    }
}
