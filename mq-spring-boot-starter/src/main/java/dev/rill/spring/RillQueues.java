package dev.rill.spring;

import dev.rill.core.Codec;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.internal.DeclareOnly;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import reactor.core.publisher.Mono;

/**
 * The queues declared from {@code rill.queues.*}, each already declared on the broker when this bean exists.
 *
 * <pre>{@code
 * @Bean
 * QueuePipeline ordersWorker(RillQueues queues) {
 *     return queues.queue("orders", Codec.utf8())
 *             .map(q -> q.pipelineOnPayload(this::handle).concurrency(8).start())
 *             .block();
 * }
 * }</pre>
 *
 * <p>{@link #queue(String, Codec)} uses the declared spec, so the application never restates (and never
 * contradicts) the properties. Queues named only as another queue's {@code dead-letter-queue} are created by the
 * broker with default settings; declare them under {@code rill.queues} too to get them here (and their meters).
 *
 * <p>Durable broker ({@code rill.data-dir}): the queues are not declared at startup but on their first
 * {@link #queue(String, Codec)}, because a queue recovered from the log decodes its messages with the codec of its
 * first declaration, which must be the application's. Until then a recovered queue is listed and counted by the
 * broker and can be purged or deleted. A dead-letter queue comes back with the first queue that routes to it, with
 * that queue's codec: declared just before it with its own {@code rill.queues.*} settings when it has some, else
 * created by the broker with default settings. Meters of a queue are bound on its first declaration.
 */
public final class RillQueues {

    private final ReactiveBroker broker;
    private final Map<String, QueueSpec> specs;
    private final boolean onFirstUse;
    /** With {@link #onFirstUse}: the first view of each queue declared, and who wants to know about them. */
    private final Map<String, ReactiveQueue<?>> firstViews = new LinkedHashMap<>();
    private final List<Consumer<ReactiveQueue<?>>> firstUseListeners = new ArrayList<>();

    RillQueues(ReactiveBroker broker, Map<String, QueueSpec> specs) {
        this(broker, specs, false);
    }

    RillQueues(ReactiveBroker broker, Map<String, QueueSpec> specs, boolean declareOnFirstUse) {
        this.broker = Objects.requireNonNull(broker, "broker");
        this.specs = Collections.unmodifiableMap(new LinkedHashMap<>(specs));
        this.onFirstUse = declareOnFirstUse;
    }

    /** @return whether queues are declared on their first {@link #queue(String, Codec)} rather than at startup */
    boolean declaresOnFirstUse() {
        return onFirstUse;
    }

    /**
     * Calls {@code listener} with the first view of every queue declared on first use: at once for those already
     * declared, later for the others. Only meaningful when {@link #declaresOnFirstUse()}.
     */
    void onFirstUse(Consumer<ReactiveQueue<?>> listener) {
        List<ReactiveQueue<?>> already;
        synchronized (firstViews) {
            firstUseListeners.add(listener);
            already = new ArrayList<>(firstViews.values());
        }
        already.forEach(listener);
    }

    private void firstUse(String name, ReactiveQueue<?> q) {
        List<Consumer<ReactiveQueue<?>>> listeners;
        synchronized (firstViews) {
            if (firstViews.putIfAbsent(name, q) != null) {
                return;
            }
            listeners = new ArrayList<>(firstUseListeners);
        }
        listeners.forEach(l -> l.accept(q));
    }

    /**
     * Turns properties into validated specs, in declaration order: a queue that serves as another declared queue's
     * dead-letter queue comes before it (so the broker never creates it with defaults first).
     *
     * @throws RillConfigurationException naming the property when a value is invalid
     */
    static Map<String, QueueSpec> specs(Map<String, RillProperties.Queue> queues) {
        Map<String, QueueSpec> byName = new LinkedHashMap<>();
        queues.forEach((name, q) -> byName.put(name, spec(name, q)));
        Map<String, QueueSpec> ordered = new LinkedHashMap<>();
        List<String> pending = new ArrayList<>(byName.keySet());
        while (!pending.isEmpty()) {
            boolean progress = false;
            for (var it = pending.iterator(); it.hasNext(); ) {
                QueueSpec s = byName.get(it.next());
                String dlq = s.deadLetterQueue().orElse(null);
                if (dlq == null || !byName.containsKey(dlq) || ordered.containsKey(dlq)) {
                    ordered.put(s.name(), s);
                    it.remove();
                    progress = true;
                }
            }
            if (!progress) { // each waits for the other to exist first: no order can declare them
                throw new RillConfigurationException("rill.queues." + pending.get(0) + ".dead-letter-queue",
                        "dead-letter queues form a cycle among " + pending
                                + "; a dead-letter queue must not route back to its source");
            }
        }
        return ordered;
    }

    private static QueueSpec spec(String name, RillProperties.Queue q) {
        String p = "rill.queues." + name;
        QueueSpec cur = apply(p, () -> QueueSpec.named(name));
        if (q.getVisibilityTimeout() != null) {
            cur = apply(p + ".visibility-timeout", with(cur, x -> x.visibilityTimeout(q.getVisibilityTimeout())));
        }
        if (q.getDedupWindow() != null) {
            cur = apply(p + ".dedup-window", with(cur, x -> x.dedupWindow(q.getDedupWindow())));
        }
        if (q.getCapacity() != null) {
            cur = apply(p + ".capacity", with(cur, x -> x.capacity(q.getCapacity())));
        }
        if (q.getMaxBytes() != null) {
            cur = apply(p + ".max-bytes", with(cur, x -> x.maxBytes(q.getMaxBytes().toBytes())));
        }
        if (q.getMaxDeliveries() != null) {
            cur = apply(p + ".max-deliveries", with(cur, x -> x.maxDeliveries(q.getMaxDeliveries())));
        }
        if (q.getDeadLetterQueue() != null && q.isDiscardDeadLetters()) {
            throw new RillConfigurationException(p + ".discard-dead-letters",
                    "set either dead-letter-queue or discard-dead-letters=true, not both");
        }
        if (q.getDeadLetterQueue() != null) {
            cur = apply(p + ".dead-letter-queue", with(cur, x -> x.deadLetterQueue(q.getDeadLetterQueue())));
        }
        if (q.isDiscardDeadLetters()) {
            cur = cur.discardDeadLetters();
        }
        if (q.getMessageTtl() != null) {
            cur = apply(p + ".message-ttl", with(cur, x -> x.messageTtl(q.getMessageTtl())));
        }
        if (q.getOnExpiry() != null) {
            cur = cur.onExpiry(q.getOnExpiry());
        }
        if (q.getOrdering() != null) {
            cur = cur.ordering(q.getOrdering());
        }
        if (q.getOverflow() != null) {
            cur = cur.overflow(q.getOverflow());
        }
        return apply(p, with(cur, QueueSpec::validate));
    }

    private static Supplier<QueueSpec> with(QueueSpec s, UnaryOperator<QueueSpec> f) {
        return () -> f.apply(s);
    }

    private static QueueSpec apply(String property, Supplier<QueueSpec> step) {
        try {
            return step.get();
        } catch (IllegalArgumentException e) {
            throw new RillConfigurationException(property, asWritten(e.getMessage()), e);
        }
    }

    /** QueueSpec's "..., was PT0S" with the duration as a property is written ("0s"). */
    private static String asWritten(String message) {
        int at = message == null ? -1 : message.lastIndexOf(", was P");
        if (at < 0) {
            return message;
        }
        try {
            return message.substring(0, at + 6)
                    + RillAutoConfiguration.print(java.time.Duration.parse(message.substring(at + 6)));
        } catch (java.time.format.DateTimeParseException notADuration) {
            return message;
        }
    }

    /**
     * Declares every queue on the broker, in order, blocking the calling thread (application startup).
     *
     * @throws RillConfigurationException when the broker refuses a declaration (say, a remote server already has
     *     the queue with other settings)
     */
    void declare(Duration timeout) {
        if (onFirstUse) {
            return; // see the class comment: the application's codec must come first
        }
        for (QueueSpec spec : specs.values()) {
            try {
                declareOnly(spec).block(timeout);
            } catch (RuntimeException e) {
                throw new RillConfigurationException("rill.queues." + spec.name(),
                        "the broker refused to declare the queue: " + e.getMessage(), e);
            }
        }
    }

    /**
     * Declares a queue for what sees no payload (stats, events). On an in-memory broker this does not choose the
     * type its payloads are kept as: a queue keeps objects of the codec it is first declared with, and that must be
     * the application's (its own views then call no codec at all).
     */
    Mono<ReactiveQueue<?>> declareOnly(QueueSpec spec) {
        if (broker instanceof DeclareOnly d) {
            return d.declareOnly(spec);
        }
        return broker.queue(spec, Codec.bytes()).map(q -> q); // a remote broker keeps no payload objects
    }

    /** @return the declared queues' specs by name, in declaration order (unmodifiable) */
    public Map<String, QueueSpec> specs() {
        return specs;
    }

    /**
     * Returns the spec of a declared queue.
     *
     * @param name the queue's name, as under {@code rill.queues}
     * @return the spec
     * @throws IllegalArgumentException when no queue of that name is declared in the properties
     */
    public QueueSpec spec(String name) {
        Objects.requireNonNull(name, "name");
        QueueSpec s = specs.get(name);
        if (s == null) {
            throw new IllegalArgumentException("queue '" + name + "' is not declared under rill.queues; declared: "
                    + specs.keySet());
        }
        return s;
    }

    /**
     * Returns a view of a declared queue with its declared spec.
     *
     * <p>Errors: {@link IllegalArgumentException} (at once, not in the Mono) when no queue of that name is declared.
     *
     * @param name the queue's name, as under {@code rill.queues}
     * @param codec turns payloads into bytes (remote and durable brokers; an in-memory one keeps objects of the
     *     first codec a queue is used with and converts for views with another)
     * @param <T> the payload type
     * @return a Mono of the queue
     */
    public <T> Mono<ReactiveQueue<T>> queue(String name, Codec<T> codec) {
        QueueSpec spec = spec(name);
        Mono<ReactiveQueue<T>> q = broker.queue(spec, Objects.requireNonNull(codec, "codec"));
        if (!onFirstUse) {
            return q;
        }
        q = q.doOnNext(view -> firstUse(name, view));
        String dlq = spec.deadLetterQueue().orElse(null);
        if (dlq != null && specs.containsKey(dlq) && !firstUsed(dlq)) {
            // declared first, with its properties: the broker would create it with default settings on this
            // queue's declaration, and its own first use would then be refused as a different spec. The payloads
            // it receives are this queue's, so this queue's codec is the one it decodes them with (as the broker's
            // implicit declaration would choose)
            return queue(dlq, codec).then(q);
        }
        return q;
    }

    private boolean firstUsed(String name) {
        synchronized (firstViews) {
            return firstViews.containsKey(name);
        }
    }

    /** @return the broker the queues live on */
    public ReactiveBroker broker() {
        return broker;
    }

    @Override
    public String toString() {
        return "RillQueues" + specs.keySet();
    }
}
