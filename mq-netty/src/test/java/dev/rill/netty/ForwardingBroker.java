package dev.rill.netty;

import dev.rill.core.Codec;
import dev.rill.core.MemoryStats;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import java.util.List;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;

/**
 * A broker the tests serve in front of a real one: everything goes to the delegate, but {@code close}, which does
 * nothing (the test closes the broker behind); a subclass overrides what its test changes (how queues are made, a
 * call that fails, a close that takes long). Public for other modules' tests: mq-netty publishes its test classes as
 * a test-jar.
 */
public abstract class ForwardingBroker implements ReactiveBroker {

    /** The broker behind. */
    protected final ReactiveBroker delegate;

    /**
     * Creates the broker.
     *
     * @param delegate the broker behind
     */
    protected ForwardingBroker(ReactiveBroker delegate) {
        this.delegate = delegate;
    }

    @Override
    public <T> Mono<ReactiveQueue<T>> queue(QueueSpec spec, Codec<T> codec) {
        return delegate.queue(spec, codec);
    }

    @Override
    public <T> Mono<ReactiveQueue<T>> lookup(String name, Codec<T> codec) {
        return delegate.lookup(name, codec);
    }

    @Override
    public Mono<Boolean> delete(String name) {
        return delegate.delete(name);
    }

    @Override
    public Mono<Long> purge(String name) {
        return delegate.purge(name);
    }

    @Override
    public Mono<List<String>> list() {
        return delegate.list();
    }

    @Override
    public Mono<List<QueueStats>> stats() {
        return delegate.stats();
    }

    @Override
    public Mono<MemoryStats> memory() {
        return delegate.memory();
    }

    @Override
    public Mono<Integer> redrive(String deadLetterQueue, int max) {
        return delegate.redrive(deadLetterQueue, max);
    }

    @Override
    public Mono<Integer> redrive(String deadLetterQueue, String targetQueue, int max) {
        return delegate.redrive(deadLetterQueue, targetQueue, max);
    }

    @Override
    public Mono<Void> close() {
        return Mono.empty(); // the test closes the broker behind
    }

    @Override
    public Scheduler scheduler() {
        return delegate.scheduler();
    }
}
