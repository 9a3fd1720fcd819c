package dev.rill.spring;

import dev.rill.core.QueueStats;
import dev.rill.reactive.ReactiveBroker;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.ReactiveHealthIndicator;
import org.springframework.boot.health.contributor.Status;
import reactor.core.publisher.Mono;

/**
 * Health of the Rill broker: {@code UP} when it answers a stats request within the timeout
 * ({@code rill.health.timeout}), with each queue's depth ({@code ready}, {@code inFlight}, {@code delayed},
 * {@code capacity}) as details; {@code DOWN} with the error otherwise (a remote server unreachable, say: the request
 * waits while the client reconnects, so the error says the broker gave no answer within the timeout).
 *
 * <p>With the application's pipelines (the one broker of an application): their state under {@code pipelines} too,
 * by bean name, and {@code DOWN} when one of them failed ({@link RillPipelineHealth}).
 */
final class RillHealthIndicator implements ReactiveHealthIndicator {

    private final ReactiveBroker broker;
    private final Duration timeout;
    private final RillPipelineHealth pipelines; // null: the broker only

    RillHealthIndicator(ReactiveBroker broker, Duration timeout) {
        this(broker, timeout, null);
    }

    RillHealthIndicator(ReactiveBroker broker, Duration timeout, RillPipelineHealth pipelines) {
        this.broker = broker;
        this.timeout = timeout;
        this.pipelines = pipelines;
    }

    @Override
    public Mono<Health> health() {
        Mono<Health> health = broker.stats()
                .timeout(timeout)
                .map(all -> {
                    Map<String, Object> queues = new LinkedHashMap<>();
                    for (QueueStats s : all) {
                        Map<String, Object> q = new LinkedHashMap<>();
                        q.put("ready", s.ready());
                        q.put("inFlight", s.inFlight());
                        q.put("delayed", s.delayed());
                        q.put("capacity", s.capacity());
                        queues.put(s.name(), q);
                    }
                    return Health.up().withDetail("queues", queues).build();
                })
                .onErrorResume(TimeoutException.class, e -> Mono.just(Health.down().withDetail("error",
                        "no answer from the broker within " + print(timeout) + " (a remote broker reconnects while "
                                + "its server is unreachable)").build()))
                .onErrorResume(e -> Mono.just(Health.down(e).build()));
        return pipelines == null ? health : health.map(this::withPipelines);
    }

    private Health withPipelines(Health broker) {
        if (pipelines.isEmpty()) {
            return broker;
        }
        Health p = pipelines.health();
        return Health.status(Status.DOWN.equals(p.getStatus()) ? Status.DOWN : broker.getStatus())
                .withDetails(broker.getDetails())
                .withDetail("pipelines", p.getDetails())
                .build();
    }

    private static String print(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
    }
}
