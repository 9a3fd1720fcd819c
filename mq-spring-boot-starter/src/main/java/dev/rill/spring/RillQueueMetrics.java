package dev.rill.spring;

import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.RillMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.springframework.beans.factory.DisposableBean;

/**
 * Binds {@link RillMetrics} of every queue declared in {@code rill.queues} to the registries, and stops their
 * event subscriptions and gauge refresh when the context closes (the meters stay registered).
 */
final class RillQueueMetrics implements DisposableBean {

    private final List<RillMetrics> bound = new CopyOnWriteArrayList<>();
    private volatile boolean destroyed;

    RillQueueMetrics(RillQueues queues, List<MeterRegistry> registries, Duration refresh, Duration timeout) {
        if (queues.declaresOnFirstUse()) {
            // a durable broker's queues are declared by the application, with its codec: bind on that first use
            // (refresh was checked by RillMetricsAutoConfiguration, which alone makes this binder)
            queues.onFirstUse(q -> bind(q, registries, refresh, queues));
            return;
        }
        for (String name : queues.specs().keySet()) {
            ReactiveQueue<?> q = queues.declareOnly(queues.spec(name)).block(timeout);
            bind(q, registries, refresh, queues);
        }
    }

    private void bind(ReactiveQueue<?> q, List<MeterRegistry> registries, Duration refresh, RillQueues queues) {
        if (destroyed) {
            return;
        }
        RillMetrics m = RillMetrics.of(q).refreshEvery(refresh, queues.broker().scheduler());
        // listed before destroyed is read again, while destroy() sets destroyed before it goes through the list:
        // either destroy() finds this binder or this sees destroyed (a binder disposed first never starts)
        bound.add(m);
        if (destroyed) {
            m.dispose();
            return;
        }
        registries.forEach(m::bindTo);
    }

    /** @return the binders, one per declared queue */
    List<RillMetrics> binders() {
        return bound;
    }

    @Override
    public void destroy() {
        destroyed = true;
        bound.forEach(RillMetrics::dispose);
    }
}
