package dev.rill.reactive;

import dev.rill.core.Broker;
import dev.rill.core.Codec;
import dev.rill.core.MessageQueue;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;

/**
 * {@link ReactiveBroker} over mq-core's {@link Broker}, in one JVM: payload objects are kept as they are (the codec
 * is not used). One {@link InMemoryQueue} view per live core queue, created on first use; each runs its timers on
 * the broker's scheduler.
 */
final class InMemoryBroker implements ReactiveBroker {

    private final Scheduler scheduler;
    private final Broker core = Broker.create();
    private final ConcurrentHashMap<String, InMemoryQueue<?>> views = new ConcurrentHashMap<>();
    private volatile boolean closed;

    InMemoryBroker(Scheduler scheduler) {
        this.scheduler = scheduler;
    }

    long now() {
        return scheduler.now(TimeUnit.MILLISECONDS);
    }

    @Override
    public <T> Mono<ReactiveQueue<T>> queue(QueueSpec spec, Codec<T> codec) {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(codec, "codec");
        return Mono.fromCallable(() -> {
            if (closed) {
                throw new QueueClosedException(spec.name());
            }
            MessageQueue<T> q = core.declare(spec);
            spec.deadLetterQueue().ifPresent(this::view); // so dead letters get their timers too
            return view(q);
        });
    }

    /** The view of a core queue, created on first use; null when there is no such queue. */
    private InMemoryQueue<?> view(String name) {
        return core.get(name).map(this::view).orElse(null);
    }

    @SuppressWarnings("unchecked")
    private <T> InMemoryQueue<T> view(MessageQueue<T> q) {
        InMemoryQueue<?> existing = views.get(q.name());
        if (existing != null && existing.core == q) {
            return (InMemoryQueue<T>) existing;
        }
        return (InMemoryQueue<T>) views.compute(q.name(), (n, v) -> {
            if (v != null && v.core == q) {
                return v;
            }
            if (v != null) {
                v.close(); // its core queue was deleted and replaced
            }
            return new InMemoryQueue<>(q, this);
        });
    }

    /** Dead letters or redriven messages may have arrived in {@code name}: its timers may need to run sooner. */
    void touch(String name) {
        InMemoryQueue<?> v = views.get(name);
        if (v != null) {
            v.touched();
        }
    }

    @Override
    public Mono<Boolean> delete(String name) {
        Objects.requireNonNull(name, "name");
        return Mono.fromCallable(() -> {
            InMemoryQueue<?> v = views.remove(name);
            boolean deleted = core.delete(name, now());
            if (v != null) {
                v.close();
            }
            return deleted;
        });
    }

    @Override
    public Mono<Long> purge(String name) {
        Objects.requireNonNull(name, "name");
        return Mono.fromCallable(() -> {
            MessageQueue<Object> q = core.<Object>get(name).orElseThrow(() -> new QueueNotFoundException(name));
            return q.purge(now());
        });
    }

    @Override
    public Mono<List<String>> list() {
        return Mono.fromSupplier(core::list);
    }

    @Override
    public Mono<List<QueueStats>> stats() {
        return Mono.fromSupplier(core::stats);
    }

    @Override
    public Mono<Integer> redrive(String deadLetterQueue, int max) {
        Objects.requireNonNull(deadLetterQueue, "deadLetterQueue");
        return Mono.fromCallable(() -> {
            if (core.get(deadLetterQueue).isEmpty()) {
                throw new QueueNotFoundException(deadLetterQueue);
            }
            int moved = core.redrive(deadLetterQueue, max, now());
            if (moved > 0) {
                for (InMemoryQueue<?> v : views.values()) {
                    v.touched();
                }
            }
            return moved;
        });
    }

    @Override
    public Mono<Void> close() {
        return Mono.fromRunnable(() -> {
            if (closed) {
                return;
            }
            closed = true;
            for (String name : core.list()) {
                core.get(name).ifPresent(MessageQueue::close);
            }
            for (InMemoryQueue<?> v : views.values()) {
                v.close();
            }
            views.clear();
        });
    }

    @Override
    public Scheduler scheduler() {
        return scheduler;
    }

    @Override
    public String toString() {
        return "ReactiveBroker{in-memory, queues=" + core.list() + "}";
    }
}
