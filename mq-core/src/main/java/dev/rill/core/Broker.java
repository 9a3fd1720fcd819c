package dev.rill.core;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A registry of named queues that routes dead letters between them.
 *
 * <p>Thread-safe and non-blocking (a concurrent map; each queue has its own lock, and no call ever holds two
 * queue locks). Dead-letter queues are ordinary queues: declaring a queue whose spec names a dead-letter queue
 * that does not exist yet creates it with default settings, and a dead letter whose dead-letter queue was
 * deleted re-creates it, so dead letters are never lost.
 *
 * <p>Memory: with a {@link BrokerOptions#memoryBudget(long) memory budget} the queues share one count of the bytes
 * they hold, and a send that would take it above the budget is refused {@code FULL} (see {@link BrokerOptions}).
 */
public final class Broker {

    private final ConcurrentHashMap<String, MessageQueue<?>> queues = new ConcurrentHashMap<>();
    private final MessageQueue.DeadLetterSink sink = this::route;
    private final Hooks hooks; // null: in memory
    private final MemoryBudget budget; // null: none

    /** Durable brokers: told about every queue made (before it is visible) and every queue deleted. */
    interface Hooks {
        void created(MessageQueue<?> queue);

        void deleted(MessageQueue<?> queue);

        /** @return the spec of a dead-letter queue created implicitly (a recovered queue keeps its recorded one) */
        default QueueSpec implicitSpec(String name) {
            return QueueSpec.named(name);
        }

        /**
         * Makes (or finds) queue {@code name} through {@code make}, a compute of the queue map that may create it and
         * so call {@link #created}. A durable broker first decodes the name's recovered messages, with no lock held
         * (the codec and its recovery listener are user code), for {@code created} to take.
         */
        default <Q> Q making(String name, java.util.function.Supplier<Q> make) {
            return make.get();
        }

        /**
         * @return the dead-letter queue named by the spec {@link #implicitSpec} gives dormant queue {@code name}, or
         *     null when it names none (or {@code name} is not dormant)
         */
        default String dormantDeadLetterQueue(String name) {
            return null;
        }

        /**
         * Keeps a dead letter whose dead-letter queue is dormant and could not be brought back ({@code cause}) with
         * that queue's dormant state.
         *
         * @return whether it is kept (else the queue is no longer dormant: route it again)
         */
        default boolean keepDeadLetter(DeadLetter<?> deadLetter, RuntimeException cause) {
            throw cause;
        }

        /** @return names of queues that exist (e.g. recovered from a log) but are not live yet; never null */
        default List<String> dormant() {
            return List.of();
        }

        /** @return whether {@code name} is one of {@link #dormant()} */
        default boolean isDormant(String name) {
            return false;
        }

        /** @return the stats of a dormant queue, or null when {@code name} is not dormant */
        default QueueStats dormantStats(String name) {
            return null;
        }

        /** Purges a dormant queue; @return how many messages were removed, or -1 when {@code name} is not dormant */
        default long purgeDormant(String name) {
            return -1;
        }

        /** Deletes a dormant queue; @return whether {@code name} was dormant */
        default boolean deleteDormant(String name) {
            return false;
        }

        /**
         * @return what the dormant queues' messages count as the memory budget counts them (a budget counts them
         *     already: this is for a broker without one)
         */
        default long dormantMemory() {
            return 0;
        }
    }

    Broker(Hooks hooks, BrokerOptions options) {
        this.hooks = hooks;
        this.budget = options.newBudget();
    }

    private <T> MessageQueue<T> newQueue(QueueSpec spec) {
        MessageQueue<T> q = new MessageQueue<>(spec, sink, budget);
        if (hooks != null) {
            hooks.created(q);
        }
        return q;
    }

    /** @return a new, empty broker with the default options (no memory budget) */
    public static Broker create() {
        return new Broker(null, BrokerOptions.defaults());
    }

    /**
     * @param options broker-wide options (the memory budget)
     * @return a new, empty broker
     */
    public static Broker create(BrokerOptions options) {
        return new Broker(null, Objects.requireNonNull(options, "options"));
    }

    /** @return the bytes held and the memory budget: {@link #memoryUsed()} and {@link #memoryBudget()} */
    public MemoryStats memoryStats() {
        // exact, never below 0: a message gives back the bytes it was counted when stored, whatever its payload became
        return new MemoryStats(memoryUsed(), memoryBudget());
    }

    /** @return the memory budget shared by the queues, or null when none is set */
    MemoryBudget budget() {
        return budget;
    }

    /**
     * After a queue was made, outside every lock: a queue recovered from a log and declared again gave back what its
     * recovered state counted (see {@link DurableBroker}), so the queues waiting for the budget may fit now.
     */
    private void wakeBudgetWaiters() {
        if (budget != null && budget.maybeWaiters()) {
            budget.wake();
        }
    }

    /** @return the memory budget in bytes (see {@link BrokerOptions#memoryBudget(long)}), or empty when none is set */
    public OptionalLong memoryBudget() {
        return budget == null ? OptionalLong.empty() : OptionalLong.of(budget.limit);
    }

    /**
     * The bytes the broker's queues hold as the memory budget counts them: each message's payload size plus
     * {@link BrokerOptions#MESSAGE_OVERHEAD_BYTES}. With a budget this is the shared counter (O(1), may be above the
     * budget after dead letters, redrives or a recovery); without one it is added up from every queue's stats
     * (O(queues), each queue's lock taken in turn). Queues recovered from a log and not declared again are counted
     * from the open, each message its encoded payload's size plus the overhead; declared again, they count as their
     * queue counts them.
     *
     * @return the bytes held
     */
    public long memoryUsed() {
        if (budget != null) {
            return budget.used();
        }
        long sum = hooks == null ? 0 : hooks.dormantMemory();
        for (MessageQueue<?> q : queues.values()) {
            QueueStats st = q.stats();
            sum += st.bytes() + (st.ready() + st.inFlight() + st.delayed()) * BrokerOptions.MESSAGE_OVERHEAD_BYTES;
        }
        return sum;
    }

    /**
     * Creates a queue, or returns the existing one when its spec is equal (idempotent). Creates the spec's
     * dead-letter queue with default settings when it does not exist, after the queue; a durable broker's dead-letter
     * queue recovered from its log and not declared again yet comes back first, with its recorded spec, after the
     * recovered dead-letter queues that spec leads to (see {@link DurableBroker#declare(QueueSpec, Codec)}).
     *
     * @param spec the spec; {@link QueueSpec#validate() validated}
     * @param <T> the payload type (not checked: one name, one type, is the caller's contract)
     * @return the queue
     * @throws IllegalArgumentException if the spec is invalid, or a queue of that name exists with another spec
     *     (the message lists each differing field)
     */
    @SuppressWarnings("unchecked")
    public <T> MessageQueue<T> declare(QueueSpec spec) {
        Objects.requireNonNull(spec, "spec").validate();
        String dlq = spec.deadLetterQueue().orElse(null);
        // A dead-letter queue recovered from a log (and not live yet) comes back before the queue that routes to it,
        // each decoded and declared in turn: the two backlogs are not held decoded at once, and the queue is never live
        // while its dead-letter queue cannot be brought back (a dead letter would bring it back, or fail to, on the
        // thread that dead-letters). A declaration refused for its spec brings nothing back
        boolean dlqFirst = dlq != null && hooks != null && hooks.isDormant(dlq);
        if (dlqFirst) {
            MessageQueue<?> existing = queues.get(spec.name());
            if (existing != null && !existing.isClosed()) {
                checkSame(existing, spec);
            }
            ensureExists(dlq, spec.name());
        }
        MessageQueue<?> q = hooks == null ? createOrGet(spec) : hooks.making(spec.name(), () -> createOrGet(spec));
        wakeBudgetWaiters();
        if (dlq != null && !dlqFirst) {
            ensureExists(dlq);
        }
        return (MessageQueue<T>) q;
    }

    private MessageQueue<?> createOrGet(QueueSpec spec) {
        return queues.compute(spec.name(), (name, existing) -> {
            if (existing == null || existing.isClosed()) {
                return newQueue(spec);
            }
            checkSame(existing, spec);
            return existing;
        });
    }

    private static void checkSame(MessageQueue<?> existing, QueueSpec spec) {
        List<String> diff = existing.spec().differences(spec);
        if (!diff.isEmpty()) {
            throw new IllegalArgumentException("queue '" + spec.name() + "' exists with a different spec (existing vs "
                    + "requested): " + String.join("; ", diff));
        }
    }

    private MessageQueue<?> ensureExists(String name) {
        return ensureExists(name, null);
    }

    /**
     * Makes queue {@code name} if it does not exist. A dormant one comes back with its recorded spec, after the dormant
     * dead-letter queues that spec leads to, the far end of the chain first (each decoded and made in turn, as
     * {@link #declare} brings back a dead-letter queue): made with a spec that routes to a queue still dormant, its
     * dead letters would bring that one back on the thread that dead-letters, where it cannot be decoded. A chain that
     * leads back to a queue already in it, or to {@code declaring} (the queue whose declaration this is for), stops
     * there.
     */
    private MessageQueue<?> ensureExists(String name, String declaring) {
        if (hooks != null && hooks.isDormant(name)) {
            java.util.LinkedHashSet<String> chain = new java.util.LinkedHashSet<>();
            chain.add(name);
            String next = hooks.dormantDeadLetterQueue(name);
            while (next != null && !next.equals(declaring) && hooks.isDormant(next) && chain.add(next)) {
                next = hooks.dormantDeadLetterQueue(next);
            }
            List<String> farEndFirst = new ArrayList<>(chain);
            for (int i = farEndFirst.size() - 1; i > 0; i--) {
                ensureOne(farEndFirst.get(i));
            }
        }
        return ensureOne(name);
    }

    private MessageQueue<?> ensureOne(String name) {
        java.util.function.Supplier<MessageQueue<?>> make = () -> queues.compute(name, (n, existing) ->
                existing == null || existing.isClosed()
                        ? newQueue(hooks != null ? hooks.implicitSpec(n) : QueueSpec.named(n)) : existing);
        MessageQueue<?> q = hooks == null ? make.get() : hooks.making(name, make);
        wakeBudgetWaiters();
        return q;
    }

    /**
     * Looks a queue up.
     *
     * @param name the queue name
     * @param <T> the payload type
     * @return the queue, or empty
     */
    @SuppressWarnings("unchecked")
    public <T> Optional<MessageQueue<T>> get(String name) {
        return Optional.ofNullable((MessageQueue<T>) queues.get(Objects.requireNonNull(name, "name")));
    }

    private MessageQueue<Object> require(String name) {
        return this.<Object>get(name).orElseThrow(() -> new IllegalArgumentException(
                hooks != null && hooks.isDormant(name)
                        ? "queue '" + name + "' was recovered from the log but not declared again yet: declare it"
                                + " (with its codec) first"
                        : "no queue named '" + name + "'"));
    }

    /**
     * Deletes a queue and its messages; its outstanding handles become stale.
     *
     * @param name the queue name
     * @param now the caller's clock, millis
     * @return whether a queue was deleted
     */
    public boolean delete(String name, long now) {
        MessageQueue<?> q = queues.remove(Objects.requireNonNull(name, "name"));
        if (q == null) {
            return hooks != null && hooks.deleteDormant(name);
        }
        q.close();
        q.purge(now);
        if (hooks != null) {
            hooks.deleted(q);
        }
        return true;
    }

    /**
     * Deletes every message of a queue.
     *
     * @param name the queue name
     * @param now the caller's clock, millis
     * @return how many messages were removed
     * @throws IllegalArgumentException if there is no such queue
     */
    public long purge(String name, long now) {
        MessageQueue<Object> q = this.<Object>get(name).orElse(null);
        if (q == null && hooks != null) {
            long n = hooks.purgeDormant(name);
            if (n >= 0) {
                return n;
            }
        }
        return require(name).purge(now);
    }

    /**
     * Tells whether a queue of that name exists: live, or (durable brokers) recovered from the log and not declared
     * again yet.
     *
     * @param name the queue name
     * @return whether it exists
     */
    public boolean exists(String name) {
        Objects.requireNonNull(name, "name");
        return queues.containsKey(name) || hooks != null && hooks.isDormant(name);
    }

    /**
     * The queue names, sorted. A durable broker includes the queues recovered from its log that were not declared
     * again yet.
     *
     * @return the names
     */
    public List<String> list() {
        if (hooks == null) {
            List<String> names = new ArrayList<>(queues.keySet());
            names.sort(null);
            return names;
        }
        java.util.TreeSet<String> names = new java.util.TreeSet<>(queues.keySet());
        names.addAll(hooks.dormant());
        return new ArrayList<>(names);
    }

    /**
     * Every queue's stats, sorted by name. For a queue recovered from a log and not declared again yet: its ready
     * and delayed messages, their encoded size as bytes and its recorded capacity; its counters are zero.
     *
     * @return the stats
     */
    public List<QueueStats> stats() {
        List<QueueStats> out = new ArrayList<>();
        for (String n : list()) {
            MessageQueue<?> q = queues.get(n);
            if (q != null) {
                out.add(q.stats());
            } else if (hooks != null) {
                QueueStats s = hooks.dormantStats(n);
                if (s != null) {
                    out.add(s);
                }
            }
        }
        return out;
    }

    /**
     * Applies due timers on every queue (see {@link MessageQueue#advance(long)}).
     *
     * @param now the caller's clock, millis
     * @return the earliest next deadline over all queues, or {@link Long#MAX_VALUE}
     */
    public long advance(long now) {
        long next = Long.MAX_VALUE;
        for (MessageQueue<?> q : queues.values()) {
            next = Math.min(next, q.advance(now));
        }
        return next;
    }

    /**
     * Moves up to {@code max} messages from a dead-letter queue back to the queue each came from (its
     * {@link Message#HEADER_SOURCE_QUEUE} header), oldest first. Moved messages start over with no deliveries and
     * lose the {@code x-rill-*} dead-letter headers. Stops early when a source queue is full.
     *
     * @param deadLetterQueue the dead-letter queue's name
     * @param max at least 1
     * @param now the caller's clock, millis
     * @return how many messages were moved
     * @throws IllegalArgumentException if there is no such queue
     * @throws IllegalStateException if the next message has no source header or its source queue is gone (the
     *     message stays where it was)
     * @throws IllegalArgumentException if the destination refuses the next message (over its byte limit, or a durable
     *     queue whose codec cannot encode it); the message stays where it was
     */
    public int redrive(String deadLetterQueue, int max, long now) {
        return redrive(deadLetterQueue, null, max, now);
    }

    /**
     * Like {@link #redrive(String, int, long)}, moving every message to {@code target} regardless of its source.
     *
     * @param deadLetterQueue the dead-letter queue's name
     * @param target the destination queue's name, or null for each message's source queue
     * @param max at least 1
     * @param now the caller's clock, millis
     * @return how many messages were moved
     */
    public int redrive(String deadLetterQueue, String target, int max, long now) {
        if (max < 1) {
            throw new IllegalArgumentException("max must be >= 1, was " + max);
        }
        MessageQueue<Object> dlq = require(deadLetterQueue);
        int moved = 0;
        while (moved < max) {
            List<Lease<Object>> leases = dlq.receive(1, now);
            if (leases.isEmpty()) {
                break;
            }
            Lease<Object> lease = leases.get(0);
            Message<Object> m = lease.message();
            String dest = target != null ? target : m.headers().get(Message.HEADER_SOURCE_QUEUE);
            if (dest == null) {
                dlq.release(lease.handle(), now);
                throw new IllegalStateException("message " + m.id() + " in '" + deadLetterQueue
                        + "' has no " + Message.HEADER_SOURCE_QUEUE + " header (it was not dead-lettered): redrive it to"
                        + " a target queue (rill redrive --to QUEUE)");
            }
            MessageQueue<Object> to = this.<Object>get(dest).orElse(null);
            if (to == null || to.isClosed()) {
                dlq.release(lease.handle(), now);
                throw new IllegalStateException("message " + m.id() + " in '" + deadLetterQueue + "': queue '" + dest
                        + "' does not exist");
            }
            Map<String, String> headers = new HashMap<>(m.headers());
            headers.remove(Message.HEADER_DEAD_LETTER_REASON);
            headers.remove(Message.HEADER_SOURCE_QUEUE);
            headers.remove(Message.HEADER_DELIVERY_COUNT);
            headers.remove(Message.HEADER_ORIGINAL_ID);
            OutboundMessage<Object> out = OutboundMessage.of(m.payload()).priority(m.priority()).headers(headers);
            if (m.key() != null) {
                out = out.key(m.key());
            }
            SendOutcome o;
            try {
                // held already: the memory budget does not refuse it. A durable queue's codec may refuse the payload: it
                // stays in the dead-letter queue
                o = to.sendHeld(out, now);
            } catch (RuntimeException e) {
                dlq.release(lease.handle(), now);
                throw e;
            }
            if (o.status() != SendOutcome.Status.ENQUEUED) {
                dlq.release(lease.handle(), now);
                break;
            }
            dlq.ack(lease.handle(), now);
            moved++;
        }
        return moved;
    }

    private void route(DeadLetter<?> dl) {
        for (int attempt = 0; attempt < 100; attempt++) {
            MessageQueue<?> dlq;
            try {
                dlq = ensureExists(dl.deadLetterQueue());
            } catch (RuntimeException e) {
                if (hooks == null) {
                    throw e;
                }
                // a dormant dead-letter queue that cannot be brought back here (its codec cannot decode it): the
                // dead-lettering thread (a sender, a consumer, a timer) is not the place to say so, and the message
                // must not be lost
                if (hooks.keepDeadLetter(dl, e)) {
                    return;
                }
                continue; // it came back meanwhile
            }
            if (dlq.acceptDeadLetter(dl)) {
                return;
            }
            queues.remove(dl.deadLetterQueue(), dlq); // deleted under us: make a new one
        }
        throw new IllegalStateException("could not deliver a dead letter to '" + dl.deadLetterQueue() + "'");
    }
}
