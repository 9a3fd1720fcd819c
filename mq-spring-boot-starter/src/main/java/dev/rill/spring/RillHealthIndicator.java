package dev.rill.spring;

import dev.rill.core.QueueStats;
import dev.rill.reactive.ReactiveBroker;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.ReactiveHealthIndicator;
import reactor.core.publisher.Mono;

/**
 * Health of the Rill broker: {@code UP} when it answers a stats request within the timeout, with each queue's depth
 * ({@code ready}, {@code inFlight}, {@code delayed}, {@code capacity}) as details; {@code DOWN} with the error
 * otherwise (a remote server unreachable, say).
 */
final class RillHealthIndicator implements ReactiveHealthIndicator {

    private final ReactiveBroker broker;
    private final Duration timeout;

    RillHealthIndicator(ReactiveBroker broker, Duration timeout) {
        this.broker = broker;
        this.timeout = timeout;
    }

    @Override
    public Mono<Health> health() {
        return broker.stats()
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
                .onErrorResume(e -> Mono.just(Health.down(e).build()));
    }
}
