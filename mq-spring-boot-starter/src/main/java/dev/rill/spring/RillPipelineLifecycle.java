package dev.rill.spring;

import dev.rill.reactive.QueuePipeline;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.context.SmartLifecycle;
import reactor.core.publisher.Mono;

/**
 * Drains every {@link QueuePipeline} bean when the context stops: each stops leasing, lets its running handlers
 * finish for up to {@code rill.shutdown.drain-timeout}, then gives back what is left. The pipelines drain
 * concurrently; the context goes on stopping once all are done.
 *
 * <p>Phase {@link #PHASE}: it stops after the web server (so requests in progress can still publish), before the
 * broker is closed (a bean destruction, after every lifecycle stopped).
 */
final class RillPipelineLifecycle implements SmartLifecycle {

    /** Below the web server's graceful-shutdown and stop phases, so it stops after them. */
    static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 4096;

    private static final System.Logger LOG = System.getLogger(RillPipelineLifecycle.class.getName());

    private final ListableBeanFactory beans;
    private final Duration grace;
    private volatile boolean running;

    RillPipelineLifecycle(ListableBeanFactory beans, Duration grace) {
        this.beans = beans;
        this.grace = grace;
    }

    @Override
    public void start() {
        running = true;
    }

    @Override
    public void stop() {
        drainAll().block(grace.plusSeconds(10));
    }

    @Override
    public void stop(Runnable callback) {
        drainAll().subscribe(null, e -> callback.run(), callback);
    }

    private Mono<Void> drainAll() {
        // existing singletons only: a lazy pipeline that never started is not created just to be stopped
        List<Mono<Void>> drains = new ArrayList<>();
        beans.getBeansOfType(QueuePipeline.class, false, false).forEach((name, p) -> drains.add(p.drain(grace)
                .onErrorResume(e -> {
                    LOG.log(System.Logger.Level.WARNING, "pipeline bean '" + name + "' ended with an error while "
                            + "draining", e);
                    return Mono.empty();
                })));
        return Mono.when(drains)
                .timeout(grace.plusSeconds(10))
                .doOnError(e -> LOG.log(System.Logger.Level.WARNING, "Rill pipelines did not drain in time", e))
                .onErrorResume(e -> Mono.empty())
                // before the completion goes on to the callback (doFinally would run after it): a start() the context
                // makes once the callback ran must find this stopped, or it is skipped and then undone
                .doOnTerminate(() -> running = false)
                .doOnCancel(() -> running = false);
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    @Override
    public int getPhase() {
        return PHASE;
    }
}
