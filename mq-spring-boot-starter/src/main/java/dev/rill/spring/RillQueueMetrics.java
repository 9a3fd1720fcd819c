package dev.rill.spring;

import dev.rill.core.Codec;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.RillMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.springframework.beans.factory.DisposableBean;

/**
 * Binds {@link RillMetrics} of every queue declared in {@code rill.queues} to the registries, and stops their
 * event subscriptions and gauge refresh when the context closes (the meters stay registered).
 */
final class RillQueueMetrics implements DisposableBean {

    private final List<RillMetrics> bound = new ArrayList<>();

    RillQueueMetrics(RillQueues queues, List<MeterRegistry> registries, Duration refresh, Duration timeout) {
        for (String name : queues.specs().keySet()) {
            ReactiveQueue<byte[]> q = queues.queue(name, Codec.bytes()).block(timeout);
            RillMetrics m = RillMetrics.of(q).refreshEvery(refresh, queues.broker().scheduler());
            registries.forEach(m::bindTo);
            bound.add(m);
        }
    }

    /** @return the binders, one per declared queue */
    List<RillMetrics> binders() {
        return bound;
    }

    @Override
    public void destroy() {
        bound.forEach(RillMetrics::dispose);
    }
}
