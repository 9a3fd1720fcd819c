package dev.rill.examples.webflux;

import org.springframework.boot.web.server.context.WebServerGracefulShutdownLifecycle;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * Ends the open {@code GET /orders/stream} responses when the application stops, just before the web server's
 * graceful shutdown begins. A server-sent event stream never completes on its own, so without this the graceful
 * shutdown would wait its whole phase timeout ({@code spring.lifecycle.timeout-per-shutdown-phase}, 30 s) for it
 * before the worker pipeline could drain.
 */
@Component
class EventStreams implements SmartLifecycle {

    private final Sinks.Empty<Void> closing = Sinks.empty();
    private volatile boolean running;

    /** @return completes when the application begins to stop */
    Mono<Void> closing() {
        return closing.asMono();
    }

    @Override
    public void start() {
        running = true;
    }

    @Override
    public void stop() {
        running = false;
        closing.tryEmitEmpty();
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    /** Stops before the web server's graceful shutdown (a higher phase stops first). */
    @Override
    public int getPhase() {
        return WebServerGracefulShutdownLifecycle.SMART_LIFECYCLE_PHASE + 1;
    }
}
