package dev.rill.reactive;

import dev.rill.core.Broker;
import dev.rill.core.BrokerOptions;
import dev.rill.core.Codec;
import dev.rill.core.DurableBroker;
import dev.rill.core.MemoryStats;
import dev.rill.core.MessageQueue;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.reactive.internal.DeclareOnly;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.concurrent.TimeUnit;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * {@link ReactiveBroker} over mq-core's {@link Broker}, in one JVM. One {@link InMemoryQueue} view per live core
 * queue, created on first use; each runs its timers on the broker's scheduler.
 *
 * <p>Payloads: each queue keeps its payloads as objects of its <em>stored codec</em>, the codec it was first
 * declared with (for a queue recovered from the log, the codec it was recovered with; for a dead-letter queue, its
 * first source queue's). A view declared with that same codec instance is the {@link InMemoryQueue} itself and
 * calls no codec; a view with another codec (a server's {@code Codec.bytes()} view next to the application's typed
 * one) is a {@link TranscodingQueue} that converts through bytes.
 */
final class InMemoryBroker implements ReactiveBroker, DeclareOnly {

    private final Scheduler scheduler;
    private final Broker core;
    /** Null for an in-memory broker; else every change is logged, and sends and acks wait for durability. */
    private final DurableBroker durable;
    private final ConcurrentHashMap<String, InMemoryQueue<?>> views = new ConcurrentHashMap<>();
    /** Each queue's stored codec: the type its payload objects have (see the class comment). */
    private final ConcurrentHashMap<String, Codec<?>> storedCodecs = new ConcurrentHashMap<>();
    /** Durable broker: callers waiting for their records to be durable ({@link #afterDurable(long, Runnable, Consumer)}). */
    private final ConcurrentLinkedQueue<Waiting> waiting = new ConcurrentLinkedQueue<>();
    /** Whether a log callback is armed (at most one at a time). */
    private final AtomicBoolean armed = new AtomicBoolean();
    /** Dispatch passes asked for and not finished (one runs at a time). */
    private final AtomicInteger dispatching = new AtomicInteger();
    private volatile boolean closed;
    /** Set by the first close(); a later close() waits for {@link #closeDone} instead of ending at once. */
    private final AtomicBoolean closeStarted = new AtomicBoolean();
    /** Completes when the first close() has finished (the log closed and the directory released). */
    private final CompletableFuture<Void> closeDone = new CompletableFuture<>();
    /** Raised after each view is registered; {@link #close()} reads it between setting closed and closing views. */
    private final AtomicLong viewsRegistered = new AtomicLong();

    InMemoryBroker(Scheduler scheduler, BrokerOptions options) {
        this.scheduler = scheduler;
        this.core = Broker.create(options);
        this.durable = null;
    }

    InMemoryBroker(Scheduler scheduler, DurableBroker durable) {
        this.scheduler = scheduler;
        this.core = durable.broker();
        this.durable = durable;
        for (String name : core.list()) {
            view(name); // queues already live at open (DurabilityOptions.declareRecoveredWith): their timers run
        }
    }

    /**
     * Runs {@code ok} once every change made so far by the calling thread is durable (at once for an in-memory
     * broker), or {@code error} if the log failed. Never blocks: the log's writer thread completes the wait and
     * the callbacks then run on {@link Schedulers#parallel()}, never on the writer thread.
     */
    void afterDurable(Runnable ok, Consumer<Throwable> error) {
        if (durable == null) {
            ok.run();
            return;
        }
        afterDurable(durable.lastSeq(), ok, error);
    }

    /** @return {@code value} once every change made so far (when this is called) is durable */
    <V> Mono<V> durableAfter(V value) {
        long seq = durable.lastSeq();
        return Mono.create(sink -> afterDurable(seq, () -> sink.success(value), sink::error));
    }

    /** A caller waiting for the log to make {@code seq} durable. */
    private record Waiting(long seq, Runnable ok, Consumer<Throwable> error) {
    }

    /**
     * Waits for {@code seq}. Callers are not given a future each: they join one list, and at most one log callback
     * is armed at a time; when it fires, one task on {@link Schedulers#parallel()} completes every waiting caller
     * whose record is durable by then and arms the next callback for the highest record still waited for. Per
     * confirmed send that is a list node instead of a waiter in the log's skip list, a future, a callback and a task
     * of its own.
     *
     * <p>No caller is forgotten: a caller joins the list before it tries to arm; a dispatch disarms before it reads
     * the list, so a caller either is seen by that dispatch or finds the callback disarmed and arms it itself.
     */
    private void afterDurable(long seq, Runnable ok, Consumer<Throwable> error) {
        if (seq <= durable.durableSeq()) {
            complete(durable.whenDurable(seq), ok, error);
            return;
        }
        waiting.add(new Waiting(seq, ok, error));
        if (armed.compareAndSet(false, true)) {
            arm(seq);
        }
    }

    private void arm(long seq) {
        durable.whenDurable(seq).whenComplete((v, t) -> Schedulers.parallel().schedule(this::dispatch));
    }

    /**
     * Completes every waiting caller whose record is durable, or every one when the log failed or closed. Runs one
     * pass at a time (a call while a pass runs makes it go round once more), so only a pass removes callers and it
     * can unlink them through its iterator: one walk of the list, not a search per completed caller.
     */
    private void dispatch() {
        if (dispatching.getAndIncrement() != 0) {
            return;
        }
        int missed = 1;
        do {
            armed.set(false);
            long d = durable.durableSeq();
            boolean failed = durable.failure().isPresent();
            long later = -1;
            for (Iterator<Waiting> it = waiting.iterator(); it.hasNext(); ) {
                Waiting w = it.next();
                if (w.seq > d && !failed) {
                    later = Math.max(later, w.seq);
                } else {
                    it.remove();
                    // durable: completes at once (exceptionally for a record that could not be encoded); a failed
                    // or closed log: exceptionally at once
                    complete(durable.whenDurable(w.seq), w.ok, w.error);
                }
            }
            if (later >= 0 && armed.compareAndSet(false, true)) {
                arm(later);
            }
            missed = dispatching.addAndGet(-missed);
        } while (missed != 0);
    }

    private static void complete(CompletableFuture<Void> f, Runnable ok, Consumer<Throwable> error) {
        Throwable t = f.handle((v, e) -> e).join();
        if (t == null) {
            ok.run();
        } else {
            error.accept(new RillException("not durable: " + t.getMessage(), t));
        }
    }

    boolean isDurable() {
        return durable != null;
    }

    /** @return completes once every change made so far is durable (at once for an in-memory broker) */
    Mono<Void> durable() {
        if (durable == null) {
            return Mono.empty();
        }
        return Mono.create(sink -> afterDurable(sink::success, sink::error));
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
            String name = spec.name();
            // a queue live since the log was opened (DurabilityOptions.declareRecoveredWith) holds objects of the
            // codec it was recovered with
            Codec<?> stored = storedCodecs.computeIfAbsent(name,
                    n -> durable != null && core.exists(n) ? durable.codec(n).orElse(codec) : codec);
            MessageQueue<T> q;
            try {
                q = durable != null ? declareDurable(spec, stored) : core.declare(spec);
            } catch (RuntimeException e) {
                if (!core.exists(name)) {
                    storedCodecs.remove(name, stored); // not declared: the next declare chooses again
                }
                throw e;
            }
            spec.deadLetterQueue().ifPresent(d -> {
                storedCodecs.putIfAbsent(d, stored); // dead letters keep their source queue's payload objects
                view(d); // so dead letters get their timers too
            });
            InMemoryQueue<T> v = view(q);
            if (closed) {
                throw new QueueClosedException(name); // closed meanwhile: view(q) closed the queue
            }
            return viewWith(v, stored, codec);
        });
    }

    @Override
    public Mono<ReactiveQueue<?>> declareOnly(QueueSpec spec) {
        Objects.requireNonNull(spec, "spec");
        return Mono.fromCallable(() -> {
            if (closed) {
                throw new QueueClosedException(spec.name());
            }
            if (durable != null) {
                throw new UnsupportedOperationException("a durable broker needs the codec of queue '" + spec.name()
                        + "' when it is declared: declare it with broker.queue(spec, codec)");
            }
            MessageQueue<Object> q = core.declare(spec); // no stored codec chosen: the first typed declare will
            spec.deadLetterQueue().ifPresent(this::view);
            InMemoryQueue<Object> v = view(q);
            if (closed) {
                throw new QueueClosedException(spec.name()); // closed meanwhile: view(q) closed the queue
            }
            return v;
        });
    }

    @SuppressWarnings("unchecked")
    private <T> MessageQueue<T> declareDurable(QueueSpec spec, Codec<?> stored) {
        return (MessageQueue<T>) durable.declare(spec, (Codec<Object>) stored);
    }

    /** The queue itself when the view's codec is the stored one, else a view that converts through bytes. */
    @SuppressWarnings("unchecked")
    private static <T> ReactiveQueue<T> viewWith(InMemoryQueue<T> queue, Codec<?> stored, Codec<T> codec) {
        if (stored == codec) {
            return queue;
        }
        return new TranscodingQueue<>((InMemoryQueue<Object>) queue, (Codec<Object>) stored, codec);
    }

    @Override
    public <T> Mono<ReactiveQueue<T>> lookup(String name, Codec<T> codec) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(codec, "codec");
        return Mono.defer(() -> {
            if (closed) {
                return Mono.error(new QueueClosedException(name));
            }
            // declaring the spec it has returns the existing queue; a queue recovered from the log and not declared
            // again yet comes back with its recorded spec (and this codec)
            java.util.Optional<QueueSpec> spec = core.<T>get(name).map(MessageQueue::spec);
            if (spec.isEmpty() && durable != null) {
                spec = durable.recoveredSpec(name);
            }
            return spec.map(s -> queue(s, codec)).orElseGet(() -> Mono.error(new QueueNotFoundException(name)));
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
        InMemoryQueue<T> view = (InMemoryQueue<T>) views.compute(q.name(), (n, v) -> {
            if (v != null && v.core == q) {
                return v;
            }
            if (v != null) {
                v.close(); // its core queue was deleted and replaced
            }
            return new InMemoryQueue<>(q, this);
        });
        // A close() racing with this call may have listed the core queues and the views before q or this view was
        // there: it would stay open, and its receivers would wait for ever. Registered first (counted), closed read
        // after; close() sets closed, then reads the count, then closes what it finds: either it finds this view,
        // or this read sees it closed and closes the view and its core queue here.
        viewsRegistered.incrementAndGet();
        if (closed) {
            q.close();
            view.close();
            views.remove(q.name(), view);
        }
        return view;
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
            storedCodecs.remove(name); // declared again, it may store another type
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
            if (!core.exists(name)) {
                throw new QueueNotFoundException(name);
            }
            return core.purge(name, now()); // a queue recovered from the log and not declared yet can be purged too
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
    public Mono<MemoryStats> memory() {
        return Mono.fromSupplier(core::memoryStats);
    }

    @Override
    public Mono<Integer> redrive(String deadLetterQueue, int max) {
        Objects.requireNonNull(deadLetterQueue, "deadLetterQueue");
        return redriveTo(deadLetterQueue, null, max);
    }

    @Override
    public Mono<Integer> redrive(String deadLetterQueue, String targetQueue, int max) {
        Objects.requireNonNull(deadLetterQueue, "deadLetterQueue");
        Objects.requireNonNull(targetQueue, "targetQueue");
        return redriveTo(deadLetterQueue, targetQueue, max);
    }

    /** Both redrives: to each message's source queue ({@code target} null) or to {@code target}. */
    private Mono<Integer> redriveTo(String deadLetterQueue, String target, int max) {
        return Mono.fromCallable(() -> {
            if (max < 1) {
                throw new IllegalArgumentException("max must be >= 1, was " + max);
            }
            if (deadLetterQueue.equals(target)) {
                throw new IllegalArgumentException("cannot redrive queue '" + deadLetterQueue + "' into itself");
            }
            for (String q : target == null ? List.of(deadLetterQueue) : List.of(deadLetterQueue, target)) {
                if (!core.exists(q)) {
                    throw new QueueNotFoundException(q);
                }
            }
            int moved = core.redrive(deadLetterQueue, target, max, now());
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
        // Every close() ends when the first one has finished (the log synced, the directory released): a close()
        // that found another under way used to end at once, before the log was closed, so opening the directory
        // again failed as in use. The first one's work goes on even if its subscriber cancels, so that nobody waits
        // for ever; each waits on a copy, so that cancelling one cancels nothing else.
        return Mono.defer(() -> {
            if (closeStarted.compareAndSet(false, true)) {
                if (durable != null) {
                    Schedulers.boundedElastic().schedule(this::closeNow); // syncs the log: blocking
                } else {
                    closeNow();
                }
            }
            return Mono.fromFuture(closeDone.copy());
        });
    }

    /** The first close(): closes the queues, then the log; completes {@link #closeDone}. */
    private void closeNow() {
        try {
            closed = true;
            viewsRegistered.get(); // see view(MessageQueue): every view counted before this read is closed below
            for (String name : core.list()) {
                core.get(name).ifPresent(MessageQueue::close);
            }
            for (InMemoryQueue<?> v : views.values()) {
                v.close();
            }
            views.clear();
            if (durable != null) {
                try {
                    durable.close(); // syncs what is pending: blocking, hence on boundedElastic above
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
            closeDone.complete(null);
        } catch (Throwable e) {
            closeDone.completeExceptionally(e);
        }
    }

    @Override
    public Scheduler scheduler() {
        return scheduler;
    }

    @Override
    public String toString() {
        return "ReactiveBroker{" + (durable != null ? durable.toString() : "in-memory") + ", queues=" + core.list() + "}";
    }
}
