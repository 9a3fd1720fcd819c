package dev.rill.spring;

import dev.rill.reactive.QueuePipeline;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.context.ApplicationContext;
import org.springframework.context.ApplicationContextAware;
import org.springframework.context.ApplicationListener;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.event.ContextClosedEvent;
import reactor.core.publisher.Mono;

/**
 * Drains every {@link QueuePipeline} bean when the context closes: each stops leasing, lets its running handlers
 * finish for up to {@code rill.shutdown.drain-timeout}, then gives back what is left. The pipelines drain
 * concurrently; the context goes on stopping once all are done.
 *
 * <p>A stop that is not a close ({@code context.stop()}, a checkpoint) pauses the pipelines instead and waits, for
 * the same timeout, until their running handlers are settled; {@code start()} resumes them, so the same pipeline
 * beans consume again. A pipeline still busy at the timeout is drained (stopped for good), as on close.
 *
 * <p>While the context runs with pipeline beans, a non-daemon thread keeps the JVM running, so a worker
 * application without a web server does not exit right after it started; it ends when the context closes, or when
 * its beans are destroyed after a failed start.
 *
 * <p>Phase {@link #PHASE}: it stops after the web server (so requests in progress can still publish), before the
 * broker is closed (a bean destruction, after every lifecycle stopped). Spring waits for the phase for at most
 * {@code spring.lifecycle.timeout-per-shutdown-phase}; when it gives up earlier, the auto-configured broker's close
 * still waits for the drain in progress ({@link #awaitDrained()}), so handlers within their drain timeout are never
 * cut off by a closed broker.
 */
final class RillPipelineLifecycle implements SmartLifecycle, ApplicationListener<ContextClosedEvent>,
        ApplicationContextAware, DisposableBean {

    /** Below the web server's graceful-shutdown and stop phases, so it stops after them. */
    static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 4096;

    /** What the drain may take beyond the grace period (cancelling, giving back) before the stop goes on anyway. */
    private static final Duration SETTLE = Duration.ofSeconds(10);

    private static final System.Logger LOG = System.getLogger(RillPipelineLifecycle.class.getName());

    private final ListableBeanFactory beans;
    private final Duration grace;
    private volatile boolean running;
    /** Set when this context is closing: its stop is for good (drain), not a pause. */
    private volatile boolean closing;
    private volatile ApplicationContext context;
    /** Counted down when this context closes; the keep-alive thread waits for it. */
    private final CountDownLatch closed = new CountDownLatch(1);
    private volatile Thread keepAlive;
    /** The last drain begun; completes once it ended (done, timed out or failed). */
    private volatile CompletableFuture<Void> drained = CompletableFuture.completedFuture(null);

    RillPipelineLifecycle(ListableBeanFactory beans, Duration grace) {
        this.beans = beans;
        this.grace = grace;
    }

    /** @return the grace period handlers get when the context stops */
    Duration grace() {
        return grace;
    }

    @Override
    public void setApplicationContext(ApplicationContext context) {
        this.context = context;
    }

    @Override
    public void onApplicationEvent(ContextClosedEvent event) {
        // published before the lifecycle beans stop; a child context's close reaches its parent's listeners too
        if (event.getApplicationContext() == context) {
            closing = true;
            closed.countDown(); // the keep-alive thread ends: the close itself runs on its own thread
            if (!running) { // stopped before (paused, holding nothing): Spring will not stop it again; end them here
                pipelines().values().forEach(QueuePipeline::dispose);
            }
        }
    }

    @Override
    public void start() {
        if (!closing) {
            Map<String, QueuePipeline> pipelines = pipelines();
            pipelines.values().forEach(QueuePipeline::resume); // does nothing to a drained one
            if (!pipelines.isEmpty()) {
                keepAlive();
            }
        }
        running = true;
    }

    /**
     * Starts the thread that keeps the JVM running while pipelines consume, once: Reactor's and Netty's threads are
     * daemons, so an application without a web server (a worker) would otherwise exit as soon as it started. It ends
     * when the context closes, as Spring Boot's own {@code spring.main.keep-alive} does.
     */
    private synchronized void keepAlive() {
        if (keepAlive != null || closing) {
            return;
        }
        Thread t = new Thread(() -> {
            try {
                closed.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "rill-keep-alive");
        t.setDaemon(false);
        t.start();
        keepAlive = t;
    }

    /**
     * Ends the keep-alive thread when the context is destroyed without a close: a refresh that fails after this
     * lifecycle started (the web server's port is taken, and its start comes after this one's) destroys the beans but
     * publishes no {@link ContextClosedEvent}, and Spring does not stop the lifecycles it started; the thread would
     * keep the JVM running after "APPLICATION FAILED TO START".
     */
    @Override
    public void destroy() {
        closing = true;
        closed.countDown();
    }

    /** @return the thread keeping the JVM running, or null when none was started */
    Thread keepAliveThread() {
        return keepAlive;
    }

    @Override
    public void stop() {
        stopping().block(grace.plus(SETTLE));
    }

    @Override
    public void stop(Runnable callback) {
        stopping().subscribe(null, e -> callback.run(), callback);
    }

    private Mono<Void> stopping() {
        return closing ? drainAll() : pauseAll();
    }

    /** Pauses every pipeline and waits until it holds nothing; one still busy after the grace period is drained. */
    private Mono<Void> pauseAll() {
        List<Mono<Void>> pauses = new ArrayList<>();
        pipelines().forEach((name, p) -> {
            p.pause();
            pauses.add(p.idle()
                    .timeout(grace)
                    .onErrorResume(e -> {
                        LOG.log(System.Logger.Level.WARNING, "pipeline bean '" + name + "' still ran handlers "
                                + grace + " after the context stopped; drained (it will not resume)");
                        return p.drain(Duration.ZERO).onErrorResume(x -> Mono.empty());
                    }));
        });
        return Mono.when(pauses)
                .doOnTerminate(() -> running = false)
                .doOnCancel(() -> running = false);
    }

    private Map<String, QueuePipeline> pipelines() {
        // singletons, lazy ones included: start() creates them, so with spring.main.lazy-initialization a worker whose
        // pipelines nobody injects still consumes (and a stop finds them created already); prototypes are left out
        return beans.getBeansOfType(QueuePipeline.class, false, false);
    }

    /**
     * Waits (blocking) for the drain in progress, if any, to end: at most its grace period plus the time it may take
     * to give back what is left, counted from its start. Returns at once when no drain runs.
     */
    void awaitDrained() {
        try {
            drained.get(grace.plus(SETTLE).plusSeconds(5).toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            LOG.log(System.Logger.Level.WARNING, "Rill pipelines did not drain in time", e);
        }
    }

    private Mono<Void> drainAll() {
        List<Mono<Void>> drains = new ArrayList<>();
        pipelines().forEach((name, p) -> drains.add(p.drain(grace)
                .onErrorResume(e -> {
                    LOG.log(System.Logger.Level.WARNING, "pipeline bean '" + name + "' ended with an error while "
                            + "draining", e);
                    return Mono.empty();
                })));
        CompletableFuture<Void> done = new CompletableFuture<>();
        return Mono.when(drains)
                .timeout(grace.plus(SETTLE))
                .doOnError(e -> LOG.log(System.Logger.Level.WARNING, "Rill pipelines did not drain in time", e))
                .onErrorResume(e -> Mono.empty())
                // before the completion goes on to the callback (doFinally would run after it): a start() the context
                // makes once the callback ran must find this stopped, or it is skipped and then undone
                .doOnTerminate(() -> {
                    running = false;
                    done.complete(null);
                })
                .doOnCancel(() -> {
                    running = false;
                    done.complete(null);
                })
                .doOnSubscribe(s -> drained = done);
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
