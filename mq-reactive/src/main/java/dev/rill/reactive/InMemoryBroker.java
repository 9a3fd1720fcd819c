package dev.rill.reactive;

import dev.rill.core.Codec;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import java.util.List;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;

/** In-memory broker over mq-core's Broker (work in progress). */
final class InMemoryBroker implements ReactiveBroker {

    private final Scheduler scheduler;

    InMemoryBroker(Scheduler scheduler) {
        this.scheduler = scheduler;
    }

    @Override
    public <T> Mono<ReactiveQueue<T>> queue(QueueSpec spec, Codec<T> codec) {
        return Mono.error(new UnsupportedOperationException("not implemented yet"));
    }

    @Override
    public Mono<Boolean> delete(String name) {
        return Mono.error(new UnsupportedOperationException("not implemented yet"));
    }

    @Override
    public Mono<Long> purge(String name) {
        return Mono.error(new UnsupportedOperationException("not implemented yet"));
    }

    @Override
    public Mono<List<String>> list() {
        return Mono.error(new UnsupportedOperationException("not implemented yet"));
    }

    @Override
    public Mono<List<QueueStats>> stats() {
        return Mono.error(new UnsupportedOperationException("not implemented yet"));
    }

    @Override
    public Mono<Integer> redrive(String deadLetterQueue, int max) {
        return Mono.error(new UnsupportedOperationException("not implemented yet"));
    }

    @Override
    public Mono<Void> close() {
        return Mono.empty();
    }

    @Override
    public Scheduler scheduler() {
        return scheduler;
    }
}
