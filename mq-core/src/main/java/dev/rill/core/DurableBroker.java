package dev.rill.core;

import dev.rill.core.internal.LongMap;
import dev.rill.core.internal.RetiredIds;
import dev.rill.core.log.LogRecord;
import dev.rill.core.log.LogStats;
import dev.rill.core.log.RecoveryReport;
import dev.rill.core.log.SegmentedLog;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A {@link Broker} whose queues survive restarts: every state change of every queue (send, delivery count, ack,
 * nack with its delay, dead-letter move, TTL drop, purge, declare, delete) is appended to a
 * {@link SegmentedLog} in {@code dir}, and {@link #open} rebuilds the queues from it.
 *
 * <p>Payloads are encoded with the {@link Codec} given to {@link #declare(QueueSpec, Codec)} once per send call, on
 * the sender's thread before the queue's lock is taken (the codec is user code: never under a queue lock, never on
 * the log's writer thread); a dead-letter queue declared implicitly (created, or recovered and brought back,
 * by declaring a queue that routes to it) uses its source queue's codec, and a recovered one keeps its recorded spec. A
 * recovered queue comes back with its messages when it is declared again (with its codec): in id order, each
 * ready (or delayed until its recorded time), with its delivery count, its TTL and its dead-letter headers;
 * dedup ids whose window is still open are kept. Leases are not recovered: every un-acked message is ready
 * again after a restart.
 *
 * <p>A name whose queue is replaced (declared again while its old queue is being deleted, or in place of a closed
 * queue) is logged as deleted before the new queue's declaration, and the new queue's ids continue after the old
 * one's, so a restart brings back exactly the new queue. A queue deleted and declared again after a restart continues
 * its ids too, after compaction dropped the segment holding its DELETE as well: ids are monotonic per queue name
 * for the life of the data directory (the next ids of the 1024 names deleted last are kept one by one, older ones as a
 * floor that a queue of a name with nothing else to go by starts from). Queues made while {@link #close()} runs (a
 * dead letter re-creating its closed queue) are not journaled: the next open finishes such a move from its logged dead
 * letter; {@link #declare} after close is refused.
 *
 * <p>Durability: the queue methods return as soon as the state changed in memory; {@link #whenDurable(long)}
 * with {@link #lastSeq()} read after the call tells when the change is durable under the fsync policy
 * (the reactive layer completes a send's or an ack's {@code Mono} only then). Nothing blocks on the file but
 * {@link #open} and {@link #close()}.
 *
 * <p>A payload its codec cannot encode (the codec throws or returns null), or a message whose SEND record would take
 * more than {@link LogRecord.Send#MAX_STORED_BYTES} (256 MiB + 32 KiB) in the log, is refused: {@code send},
 * {@code sendAll} and {@code offerAll} throw {@link IllegalArgumentException} and store nothing (for a batch, none of
 * its messages), so nothing is logged for it and no {@code whenDurable} can confirm it. Messages that move between queues (dead
 * letters) are logged by reference to their stored bytes and are not encoded again; a redriven message is sent
 * again and encoded with its destination's codec.
 */
public final class DurableBroker implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(DurableBroker.class.getName());

    private final SegmentedLog log;
    private final Broker broker;
    private final DurabilityOptions options;
    private final ConcurrentHashMap<String, Codec<?>> codecs = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, QueueState> recovered;
    /**
     * The journal of each live queue name's current queue, until that queue is logged as deleted. Changed with
     * compute: a name's DELETE is always logged before the DECLARE of the next queue of that name.
     */
    private final ConcurrentHashMap<String, QueueJournal<?>> journals = new ConcurrentHashMap<>();
    /**
     * The next id of names whose queue was deleted (recovered from the log, then kept up to date), so a new queue of
     * the name does not reuse ids. Bounded: see {@link RetiredIds}.
     */
    private final RetiredIds retiredNextIds;
    private volatile boolean closing;

    private DurableBroker(SegmentedLog log, DurabilityOptions options, Map<String, QueueState> recovered,
            RetiredIds retired, BrokerOptions brokerOptions) {
        this.log = log;
        this.options = options;
        this.recovered = new ConcurrentHashMap<>(recovered);
        this.retiredNextIds = retired;
        this.broker = new Broker(new Hooks(), brokerOptions);
        // The recovered messages are in memory from now on: counted (never refused) until their queue is declared
        // again (which counts its own), purged or deleted
        long held = 0;
        for (QueueState st : this.recovered.values()) {
            held += st.count();
        }
        MemoryBudget budget = broker.budget();
        if (budget != null) {
            budget.force(held);
        }
    }

    /**
     * Opens (or creates) a durable broker on {@code dir}: replays the log (cutting off a torn tail, whose bytes are
     * kept next to its segment; progress goes to {@link DurabilityOptions#recoveryListener}) and holds the
     * directory's lock until {@link #close()}. Blocks on file I/O: call it at start-up, not on a Reactor thread.
     *
     * @param dir the data directory
     * @param options fsync policy, segment size, clock
     * @return the broker
     * @throws dev.rill.core.log.LogCorruptedException on damage before the tail (file and offset named) or an
     *     unknown format version
     * @throws IOException if the directory is used by another broker, is not writable or cannot be read
     */
    public static DurableBroker open(Path dir, DurabilityOptions options) throws IOException {
        return open(dir, options, BrokerOptions.defaults());
    }

    /**
     * Like {@link #open(Path, DurabilityOptions)}, with broker-wide options: with a memory budget, the recovered
     * messages are counted against it from the open but never refused (the broker may open above its budget; new
     * sends then wait until it is below again). A queue not declared again counts its messages' encoded payloads
     * (plus the per-message overhead) until it is declared again (then as its queue counts them), purged or deleted.
     *
     * @param dir the data directory
     * @param options fsync policy, segment size, clock
     * @param brokerOptions broker-wide options (the memory budget)
     * @return the broker
     * @throws dev.rill.core.log.LogCorruptedException as {@link #open(Path, DurabilityOptions)}
     * @throws IOException as {@link #open(Path, DurabilityOptions)}
     */
    public static DurableBroker open(Path dir, DurabilityOptions options, BrokerOptions brokerOptions)
            throws IOException {
        Objects.requireNonNull(dir, "dir");
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(brokerOptions, "brokerOptions");
        Replay replay = new Replay();
        SegmentedLog log = SegmentedLog.open(dir, options.logOptions(), replay::apply);
        List<LogRecord> completions = replay.finish();
        for (LogRecord r : completions) { // dead letters that left their queue but had not arrived yet
            log.append(r);
        }
        DurableBroker broker = new DurableBroker(log, options, replay.queues, replay.retired, brokerOptions);
        if (options.declareRecoveredWith().isPresent()) {
            try {
                broker.declareRecovered(options.declareRecoveredWith().get());
            } catch (RuntimeException e) {
                log.close();
                throw e;
            }
        }
        return broker;
    }

    /**
     * Declares again every queue found in the log that has not been declared again yet, with the spec recorded in
     * the log and {@code codec} (a dead-letter queue before the queues that route to it, so that it keeps its own
     * recorded spec). Use it when one codec fits every queue, as in a server that stores {@code byte[]} payloads:
     * the queues are then live (listed, counted, leased, their timers running) before any client declares them.
     *
     * The options' {@link DurabilityOptions#recoveryListener} is told how the rebuild goes
     * ({@link dev.rill.core.log.RecoveryListener#rebuildProgress}, {@link dev.rill.core.log.RecoveryListener#rebuilt}):
     * with many messages it takes noticeable time after the log's replay. It is called on this thread with no lock
     * held: each queue's messages are decoded before the queue is declared.
     *
     * @param codec decodes every recovered payload
     * @param <T> the payload type
     * @return the names of the queues declared, dead-letter queues first
     * @throws IllegalStateException if a recovered payload cannot be decoded, or a recorded spec is no longer valid
     *     (the message names the queue)
     */
    public <T> List<String> declareRecovered(Codec<T> codec) {
        Objects.requireNonNull(codec, "codec");
        List<String> done = new ArrayList<>();
        java.util.HashSet<String> visited = new java.util.HashSet<>();
        Rebuild rebuild = new Rebuild(options.recoveryListener(), options.nanoClock(), recovered, done);
        rebuilding.set(rebuild); // the queues' declarations, on this thread, report within a queue through it
        try {
            for (String name : new java.util.TreeSet<>(recovered.keySet())) {
                if (visited.contains(name)) {
                    continue; // a dead-letter queue, declared before its source queue
                }
                if (!visited.isEmpty()) {
                    rebuild.maybeReport();
                }
                declareRecovered(name, codec, done, visited);
            }
        } finally {
            rebuilding.remove();
        }
        rebuild.finished();
        return done;
    }

    /** How often a rebuild reports progress at most: 5 s (as the log's replay). */
    static final long REBUILD_PROGRESS_EVERY_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(5);
    /** Within a queue, the rebuild checks whether to report progress every this many messages read... */
    static final int REBUILD_STEP_MESSAGES = 4096;
    /** ...or this many bytes of their payloads, whichever comes first. */
    static final long REBUILD_STEP_BYTES = 16L << 20;

    /** The rebuild {@link #declareRecovered(Codec)} runs on this thread, if any: its queues' declarations report. */
    private final ThreadLocal<Rebuild> rebuilding = new ThreadLocal<>();

    /** {@link #declareRecovered(Codec)}'s calls to the recovery listener, paced by the options' nano clock. */
    private static final class Rebuild {
        private final dev.rill.core.log.RecoveryListener listener;
        private final java.util.function.LongSupplier nanos;
        private final long started;
        private final HashMap<String, Integer> sizes = new HashMap<>();
        private final long messages;
        /** The queues declared so far, in order (the list declareRecovered returns). */
        private final List<String> done;
        private long next;
        private int counted;
        private long messagesDone;
        /** Messages of the queue being declared read so far (0 between queues). */
        private long inQueue;
        /**
         * The queue {@link #declareRecovered(Codec)} is declaring (null between queues): only its decode reports, not
         * a queue the listener or the codec declares meanwhile on this thread.
         */
        String current;
        /** While {@link #current}'s messages are decoded. */
        private boolean reading;
        private int stepMessages;
        private long stepBytes;

        Rebuild(dev.rill.core.log.RecoveryListener listener, java.util.function.LongSupplier nanos,
                Map<String, QueueState> recovered, List<String> done) {
            this.listener = listener;
            this.nanos = nanos;
            this.done = done;
            this.started = nanos.getAsLong();
            this.next = started + REBUILD_PROGRESS_EVERY_NANOS;
            long n = 0;
            for (Map.Entry<String, QueueState> e : recovered.entrySet()) {
                int size = e.getValue().size();
                sizes.put(e.getKey(), size);
                n += size;
            }
            this.messages = n;
            if (!sizes.isEmpty()) {
                listener.rebuildProgress(new dev.rill.core.log.RebuildProgress(0, sizes.size(), 0, messages, 0));
            }
        }

        private long count(long now) {
            for (; counted < done.size(); counted++) {
                messagesDone += sizes.getOrDefault(done.get(counted), 0);
            }
            return java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(now - started);
        }

        /** Between queues, and within one every {@link #REBUILD_STEP_MESSAGES} or {@link #REBUILD_STEP_BYTES}. */
        void maybeReport() {
            long now = nanos.getAsLong();
            if (now - next >= 0) {
                next = now + REBUILD_PROGRESS_EVERY_NANOS;
                long millis = count(now);
                listener.rebuildProgress(new dev.rill.core.log.RebuildProgress(done.size(), sizes.size(),
                        messagesDone + inQueue, messages, millis));
            }
        }

        /**
         * @return whether the decode of {@code name}'s recovered messages is part of this rebuild (and reports to it):
         *     {@link #current}, and not a declaration made from within its decode
         */
        boolean covers(String name) {
            return !reading && name.equals(current);
        }

        /** A queue's declaration begins to read its recovered messages. */
        void queueStarted() {
            reading = true;
            inQueue = 0;
            stepMessages = 0;
            stepBytes = 0;
        }

        /** One more message of the queue being declared was read (its payload decoded). */
        void read(int payloadBytes) {
            inQueue++;
            stepBytes += payloadBytes;
            if (++stepMessages >= REBUILD_STEP_MESSAGES || stepBytes >= REBUILD_STEP_BYTES) {
                stepMessages = 0;
                stepBytes = 0;
                maybeReport();
            }
        }

        /** Its messages are decoded (the decode may have failed). */
        void queueRead() {
            reading = false;
        }

        /** The queue being declared is done (and in {@link #done}): its messages count as the queue's. */
        void queueDone() {
            inQueue = 0;
            current = null;
        }

        void finished() {
            if (!sizes.isEmpty()) {
                long millis = count(nanos.getAsLong());
                listener.rebuilt(new dev.rill.core.log.RebuildProgress(done.size(), sizes.size(), messagesDone,
                        messages, millis));
            }
        }
    }

    private <T> void declareRecovered(String name, Codec<T> codec, List<String> done, Set<String> visited) {
        if (!visited.add(name)) {
            return;
        }
        QueueState st = recovered.get(name);
        if (st == null) {
            return; // declared meanwhile
        }
        QueueSpec spec;
        try {
            spec = st.spec == null ? QueueSpec.named(name) : SpecFormat.decode(st.spec).validate();
        } catch (RuntimeException e) {
            throw new IllegalStateException("queue '" + name + "' recovered from the log: its recorded spec is not "
                    + "valid: " + e.getMessage(), e);
        }
        spec.deadLetterQueue().ifPresent(d -> declareRecovered(d, codec, done, visited));
        Rebuild rebuild = rebuilding.get();
        if (rebuild != null) {
            rebuild.current = name;
        }
        declare(spec, codec);
        done.add(name);
        if (rebuild != null) {
            rebuild.queueDone();
        }
    }

    /**
     * Declares a queue (or returns the existing one, as {@link Broker#declare(QueueSpec)}); a queue found in the
     * log comes back with its messages, decoded with {@code codec} on the calling thread before the queue is
     * declared, with no lock held. Its dead-letter queue, if declared implicitly, uses the same codec; one found in the
     * log comes back first, decoded and declared before this queue's messages are decoded, after the dead-letter
     * queues found in the log that its recorded spec leads to (the far end first; each uses the same codec unless its
     * name has one).
     *
     * @param spec the queue's spec
     * @param codec encodes payloads for the log and decodes recovered ones
     * @param <T> the payload type
     * @return the queue
     * @throws IllegalArgumentException if the spec is not valid (its codec is then not registered), or a queue of that
     *     name exists with another spec
     * @throws IllegalStateException if a recovered payload cannot be decoded: the queue stays as it was recovered (its
     *     dead-letter queue, brought back before it, stays live); the dead-letter queues given this codec and not
     *     brought back give it back, so a retry with another codec decodes them with that one
     */
    public <T> MessageQueue<T> declare(QueueSpec spec, Codec<T> codec) {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(codec, "codec");
        if (closing) {
            throw new IllegalStateException("durable broker on " + log.directory() + " is closed");
        }
        spec.validate(); // before the codec is registered: a spec refused registers nothing
        codecs.put(spec.name(), codec);
        List<String> lent = lendCodec(spec, codec);
        // a recovered queue (this one, or its dead-letter queues, first) is decoded by Hooks.making, with no lock held
        try {
            return broker.declare(spec);
        } catch (RuntimeException | Error e) {
            // the dead-letter queues this declaration lent its codec to and did not bring back give it back: a retry
            // with another codec decodes them with that one
            for (String d : lent) {
                if (broker.get(d).isEmpty()) {
                    codecs.remove(d, codec);
                }
            }
            throw e;
        }
    }

    /**
     * Registers {@code codec} for the dead-letter queue of {@code spec} when that has none, and for each recovered
     * dead-letter queue the chain leads to through recovered queues (their recorded specs), which the declaration
     * brings back with it: a dead-letter queue declared implicitly uses its source queue's codec. Stops where the
     * chain leads back to a queue in it.
     *
     * @return the names given the codec (none had one)
     */
    private List<String> lendCodec(QueueSpec spec, Codec<?> codec) {
        List<String> lent = new ArrayList<>(1);
        java.util.HashSet<String> seen = new java.util.HashSet<>();
        seen.add(spec.name());
        String d = spec.deadLetterQueue().orElse(null);
        while (d != null && seen.add(d)) {
            if (codecs.putIfAbsent(d, codec) == null) {
                lent.add(d);
            }
            d = recovered.containsKey(d) ? recordedDeadLetterQueue(d) : null;
        }
        return lent;
    }

    /** @return the dead-letter queue the recorded spec of recovered queue {@code name} names, or null */
    private String recordedDeadLetterQueue(String name) {
        QueueState st = recovered.get(name);
        byte[] spec = st == null ? null : st.spec;
        if (spec == null) {
            return null;
        }
        try {
            return SpecFormat.decode(spec).validate().deadLetterQueue().orElse(null);
        } catch (RuntimeException e) {
            return null; // brought back with default settings (Hooks.implicitSpec says so)
        }
    }

    /**
     * The recovered queue the declaration running on this thread brings back, decoded before it by
     * {@link Hooks#making} with no lock held; null outside such a declaration.
     */
    private final ThreadLocal<Decoded<?>> decoded = new ThreadLocal<>();

    /**
     * The signals owed by the queue a declaration running on this thread replaced, detached under the journals' and
     * the queue map's bin locks ({@link Hooks#created}): {@link Hooks#making} fires them after both; null when none.
     */
    private final ThreadLocal<Runnable> detachedSignals = new ThreadLocal<>();

    /**
     * A recovered queue's messages decoded with {@code codec}, from {@code state} as it was at {@code version} and
     * {@code accepted} (a purge after left it without messages; a dead letter accepted after added one).
     */
    private record Decoded<T>(String name, QueueState state, int version, int accepted, Codec<T> codec,
            Journal.RecoveredQueue<T> queue) {
    }

    /** A recovered state taken out of the map for its queue's declaration, with its messages decoded, or null. */
    private record Taken(QueueState state, Journal.RecoveredQueue<?> decoded) {
    }

    /**
     * Decodes the messages of {@code name}'s recovered queue, if it has one and a codec: on the caller's thread with
     * no lock held, reporting to the rebuild running on this thread when it declares that queue. The messages are
     * copied out of the queue's recovered state under its map's lock (references only), then decoded.
     *
     * @return them, or null when there is nothing to decode (its declaration says why, if anything is wrong)
     */
    private Decoded<?> decode(String name) {
        Codec<?> codec = codecs.get(name);
        if (codec == null) {
            return null; // its declaration says so (Hooks.created)
        }
        QueueState.Snapshot[] snap = new QueueState.Snapshot[1];
        recovered.computeIfPresent(name, (n, st) -> {
            snap[0] = st.snapshot();
            return st;
        });
        if (snap[0] == null) {
            return null;
        }
        Rebuild rebuild = rebuilding.get();
        return decoded(name, snap[0], codec, rebuild != null && rebuild.covers(name) ? rebuild : null);
    }

    private <T> Decoded<T> decoded(String name, QueueState.Snapshot snap, Codec<T> codec, Rebuild rebuild) {
        return new Decoded<>(name, snap.state(), snap.version(), snap.accepted(), codec,
                snap.decode(codec, options.clock().getAsLong(), rebuild));
    }

    /**
     * The codec a queue's payloads are logged with: the one given to its latest {@link #declare(QueueSpec, Codec)}
     * (for a dead-letter queue declared implicitly, its source queue's).
     *
     * @param name the queue name
     * @return the codec, or empty when no queue of that name was declared with one
     */
    public Optional<Codec<?>> codec(String name) {
        return Optional.ofNullable(codecs.get(Objects.requireNonNull(name, "name")));
    }

    /**
     * The broker behind: lookups, stats, purge, delete, redrive and {@code advance} go through it and are
     * journaled. Declare queues with {@link #declare(QueueSpec, Codec)}: a queue declared directly on it has no
     * codec, and its sends are refused ({@link IllegalArgumentException}), unless its name has one from an earlier
     * declaration (a failed one, or its source queue's); a recovered queue is then brought back as
     * {@link #declare(QueueSpec, Codec)} does, its messages decoded before with no lock held.
     *
     * @return the broker
     */
    public Broker broker() {
        return broker;
    }

    /** @return the sequence number of the last record appended so far (read it after a call to wait for it) */
    public long lastSeq() {
        return log.lastSeq();
    }

    /**
     * @return the highest sequence number durable under the fsync policy so far: {@link #whenDurable(long)} of it
     *     or of anything lower completes at once
     */
    public long durableSeq() {
        return log.durableSeq();
    }

    /** @return the failure that stopped the log (disk full, I/O error, closed), if any: nothing more becomes durable */
    public java.util.Optional<Throwable> failure() {
        return log.failure();
    }

    /**
     * Tells when every record up to {@code seq} is durable under the fsync policy. Never blocks.
     *
     * @param seq from {@link #lastSeq()}
     * @return completes on the log's writer thread, or exceptionally if the log failed (disk full, I/O error) or
     *     closed
     */
    public CompletableFuture<Void> whenDurable(long seq) {
        return log.whenDurable(seq);
    }

    /**
     * Names of queues found in the log that have not been declared again yet. They are listed by the broker's
     * {@link Broker#list()} and {@link Broker#stats()} and can be purged or deleted through it, but only a queue
     * declared again (with its codec) can be used or its messages read.
     *
     * @return the names
     */
    public Set<String> recoveredQueues() {
        return Set.copyOf(recovered.keySet());
    }

    /**
     * The spec recorded in the log for a queue recovered and not declared again yet (default settings when none
     * was recorded), so it can be declared again as it was without the caller knowing its settings.
     *
     * @param name the queue name
     * @return the recorded spec, or empty when no such queue waits to be declared again
     * @throws IllegalStateException if the recorded spec is no longer valid (the message names the queue)
     */
    public java.util.Optional<QueueSpec> recoveredSpec(String name) {
        Objects.requireNonNull(name, "name");
        QueueState st = recovered.get(name);
        if (st == null) {
            return java.util.Optional.empty();
        }
        try {
            return java.util.Optional.of(st.spec == null ? QueueSpec.named(name) : SpecFormat.decode(st.spec).validate());
        } catch (RuntimeException e) {
            throw new IllegalStateException("queue '" + name + "' recovered from the log: its recorded spec is not "
                    + "valid: " + e.getMessage(), e);
        }
    }

    /** @return what recovery found */
    public RecoveryReport recovery() {
        return log.recovery();
    }

    /** @return the log's counters */
    public LogStats logStats() {
        return log.stats();
    }

    /** @return the options */
    public DurabilityOptions options() {
        return options;
    }

    /**
     * Closes every queue, writes and syncs what is pending and releases the directory. Blocks on file I/O.
     *
     * @throws IOException if the last sync failed
     */
    @Override
    public void close() throws IOException {
        closing = true; // a queue made from now on (a dead letter's queue re-created) is not journaled
        for (String name : broker.list()) {
            broker.get(name).ifPresent(MessageQueue::close);
        }
        log.close();
    }

    @Override
    public String toString() {
        return "DurableBroker{" + log.directory() + ", " + options.fsync() + "}";
    }

    // =====================================================================================================
    // Journaling
    // =====================================================================================================

    private final class Hooks implements Broker.Hooks {
        @Override
        @SuppressWarnings({"unchecked", "rawtypes"})
        public void created(MessageQueue<?> q) {
            String name = q.name();
            if (closing) {
                // Closing: a dead letter re-creating its (closed) queue. Not journaled: its DEAD_LETTER record is in
                // the log, and the next open completes the move into the recorded queue, ids and all.
                return;
            }
            Decoded<?> made = decoded.get();
            Decoded<?> d = made != null && made.name().equals(name) ? made : null;
            journals.compute(name, (n, previous) -> {
                Taken taken = takeRecovered(name, d);
                QueueState st = taken == null ? null : taken.state();
                long nextId = 1;
                if (st != null) {
                    Journal.RecoveredQueue<?> messages;
                    if (taken.decoded() != null) {
                        messages = taken.decoded(); // decoded before, with no lock held (see making)
                    } else {
                        // its codec changed since it was decoded (another declaration with another codec): decoded
                        // again, once, here; st is out of the map, so this thread has it to itself
                        messages = decoded(name, st.snapshot(), codecs.get(name), null).queue();
                    }
                    ((MessageQueue) q).restore(messages);
                    nextId = st.nextId;
                    // the queue counted its messages: the recovered state's count goes (after, so that no send finds
                    // room in between that the restore then takes); Broker.declare wakes the queues it kept waiting
                    uncount(st);
                }
                if (previous != null) {
                    // The name's queue was closed, or is being deleted (Broker.delete logs its DELETE only after
                    // purging it, out of the map): its later changes are not logged, and it is logged as deleted
                    // now, before this queue's DECLARE. Logged after, that DELETE (or its PURGE) removed this
                    // queue's messages at the next open; and this queue's ids, from 1 again, named its messages.
                    // detached here, its signals fired once the queue map's lock is released too (see making)
                    Runnable owed = previous.queue.detachJournal();
                    Runnable before = detachedSignals.get();
                    detachedSignals.set(before == null ? owed : () -> {
                        before.run();
                        owed.run();
                    });
                    log.append(new LogRecord.Delete(name));
                    retiredNextIds.retire(name, previous.maxId + 1);
                }
                long retired = retiredNextIds.take(name);
                if (retired == 0 && st == null) {
                    // a name let go from the retired names (or never used): at least the floor of those let go
                    retired = retiredNextIds.floor();
                }
                if (retired > nextId) {
                    nextId = retired; // ids are not reused under a name: the log names messages by queue and id
                    ((MessageQueue) q).restore(new Journal.RecoveredQueue<>(List.of(), List.of(), nextId));
                }
                QueueJournal<?> j = new QueueJournal<>(name, q, nextId - 1);
                ((MessageQueue) q).setJournal(j);
                log.append(new LogRecord.Declare(name, SpecFormat.encode(q.spec()), nextId));
                return j;
            });
        }

        /**
         * Takes {@code name}'s recovered state out of the map, if any, for its queue's declaration (only when it can
         * be decoded), with the messages decoded before ({@code d}) that it comes back with: all of them; none when
         * it was purged after they were decoded (a purge is the only change a recovered state sees, so there is
         * nothing to decode again, however many purges came in between); or null, to decode now, when the name's
         * codec changed since, or a dead letter was accepted into the recovered state since (see
         * {@link #keepDeadLetter}).
         */
        private Taken takeRecovered(String name, Decoded<?> d) {
            Taken[] out = new Taken[1];
            recovered.computeIfPresent(name, (n, st) -> {
                Codec<?> codec = codecs.get(n);
                if (codec == null) {
                    throw new IllegalStateException("queue '" + n + "' has messages in the log: declare it "
                            + "with DurableBroker.declare(spec, codec) so they can be decoded");
                }
                Journal.RecoveredQueue<?> messages = null;
                if (d != null && d.state() == st && d.codec() == codec && d.accepted() == st.accepted) {
                    Journal.RecoveredQueue<?> q = d.queue();
                    messages = d.version() == st.version ? q
                            : new Journal.RecoveredQueue<>(List.of(), q.dedup(), q.nextId()); // purged since
                }
                out[0] = new Taken(st, messages);
                return null;
            });
            return out[0];
        }

        /**
         * Decodes {@code name}'s recovered messages, if any, before {@code make} runs (which may declare the queue,
         * see {@link #created}): with no lock held, once. Runs {@code make} alone when the name has no recovered
         * state or no codec.
         */
        @Override
        public <Q> Q making(String name, java.util.function.Supplier<Q> make) {
            Runnable outerSignals = detachedSignals.get(); // a declaration from user code run within another one's
            detachedSignals.remove();
            try {
                return decodeAndMake(name, make);
            } finally {
                Runnable owed = detachedSignals.get();
                if (outerSignals == null) {
                    detachedSignals.remove();
                } else {
                    detachedSignals.set(outerSignals);
                }
                if (owed != null) {
                    owed.run(); // the queue map's compute has returned: no lock held
                }
            }
        }

        private <Q> Q decodeAndMake(String name, java.util.function.Supplier<Q> make) {
            if (!recovered.containsKey(name) || !codecs.containsKey(name)) {
                return make.get();
            }
            Decoded<?> d = decode(name);
            Decoded<?> outer = decoded.get(); // a declaration from user code that runs within another one's decode
            decoded.set(d);
            try {
                return make.get();
            } finally {
                if (outer == null) {
                    decoded.remove();
                } else {
                    decoded.set(outer);
                }
            }
        }

        /**
         * A dead letter whose dead-letter queue is recovered and could not be brought back (its codec cannot decode
         * it, or it has none) joins that queue's recovered state, as the next open would put it there: logged as
         * accepted, counted, and brought back with the queue. Its payload is encoded with its source queue's codec, on
         * this thread before the state's lock (it was stored so; dead letters are logged by reference to their source's
         * stored bytes). Without that codec, or when the codec cannot encode it, it is left to the next open, which
         * finishes the move the log holds (the source's DEAD_LETTER has no ACCEPT yet).
         *
         * @return false when the dead-letter queue is no longer recovered (it came back meanwhile): route it again
         */
        @Override
        @SuppressWarnings("unchecked")
        public boolean keepDeadLetter(DeadLetter<?> dl, RuntimeException cause) {
            String to = dl.deadLetterQueue();
            Codec<Object> codec = (Codec<Object>) codecs.get(dl.sourceQueue());
            byte[] payload = null;
            if (codec != null) {
                try {
                    payload = codec.encode(dl.payload());
                } catch (RuntimeException e) {
                    cause.addSuppressed(e);
                }
            }
            if (payload != null && !closing) {
                byte[] bytes = payload;
                // its recorded spec (fixed since the replay) read before the lock: a spec not valid is logged
                long ttl = implicitSpec(to).messageTtl().map(java.time.Duration::toMillis).orElse(0L);
                Map<String, String> frozen = MessageQueue.deadLetterHeaders(dl.headers(), dl.reason(),
                        dl.sourceQueue(), dl.deliveryCount(), dl.originalId());
                boolean[] kept = {false};
                recovered.computeIfPresent(to, (n, st) -> {
                    long expiresAt = ttl > 0 ? MessageQueue.saturatedAdd(dl.now(), ttl) : 0;
                    long id = st.nextId++;
                    st.put(new Msg(id, dl.now(), dl.key(), dl.priority(), frozen, bytes, 0, expiresAt, 0));
                    st.accepted++;
                    long charge = MemoryBudget.charge(bytes.length);
                    st.counted += charge;
                    MemoryBudget budget = broker.budget();
                    if (budget != null) {
                        budget.force(charge); // held already: never refused
                    }
                    log.append(new LogRecord.Accept(n, id, dl.sourceQueue(), dl.originalId(), dl.now(), expiresAt,
                            frozen));
                    kept[0] = true;
                    return st;
                });
                if (kept[0]) {
                    LOG.log(Level.WARNING, "dead letter " + dl.sourceQueue() + "#" + dl.originalId() + " joined its "
                            + "dead-letter queue '" + to + "', recovered from the log and not declared again, which "
                            + "could not be brought back (" + cause.getMessage() + ")");
                    return true;
                }
                if (!recovered.containsKey(to)) {
                    return false;
                }
            }
            LOG.log(Level.WARNING, "dead letter " + dl.sourceQueue() + "#" + dl.originalId() + " could not be put in "
                    + "its dead-letter queue '" + to + "', recovered from the log and not declared again ("
                    + cause.getMessage() + "): it stays in the log as in transit, and the next open puts it there",
                    cause);
            return true;
        }

        @Override
        public String dormantDeadLetterQueue(String name) {
            return recordedDeadLetterQueue(name);
        }

        @Override
        public boolean isDormant(String name) {
            return recovered.containsKey(name);
        }

        @Override
        public void deleted(MessageQueue<?> q) {
            Runnable[] owed = new Runnable[1];
            journals.compute(q.name(), (n, current) -> {
                owed[0] = q.detachJournal(); // its signals after the lock: the listener is user code
                if (current == null || current.queue != q) {
                    return current; // already logged as deleted, when a new queue took its name
                }
                log.append(new LogRecord.Delete(n));
                retiredNextIds.retire(n, current.maxId + 1);
                return null;
            });
            if (owed[0] != null) {
                owed[0].run();
            }
        }

        @Override
        public QueueSpec implicitSpec(String name) {
            QueueState st = recovered.get(name);
            if (st != null && st.spec != null) {
                try {
                    return SpecFormat.decode(st.spec).validate();
                } catch (RuntimeException e) {
                    LOG.log(Level.WARNING, "log: the recorded spec of queue '" + name + "' is not valid ("
                            + e.getMessage() + "); it comes back with default settings");
                }
            }
            return QueueSpec.named(name);
        }

        @Override
        public List<String> dormant() {
            return List.copyOf(recovered.keySet());
        }

        @Override
        public QueueStats dormantStats(String name) {
            QueueStats[] out = new QueueStats[1];
            recovered.computeIfPresent(name, (n, st) -> {
                out[0] = st.stats(n, options.clock().getAsLong());
                return st;
            });
            return out[0];
        }

        @Override
        public long purgeDormant(String name) {
            long[] out = {-1};
            recovered.computeIfPresent(name, (n, st) -> {
                out[0] = st.size();
                uncount(st);
                st.clear();
                log.append(new LogRecord.Purge(n));
                return st;
            });
            wakeBudgetWaiters();
            return out[0];
        }

        @Override
        public boolean deleteDormant(String name) {
            boolean[] out = {false};
            recovered.computeIfPresent(name, (n, st) -> {
                out[0] = true;
                uncount(st);
                log.append(new LogRecord.Delete(n));
                retiredNextIds.retire(n, st.nextId);
                return null;
            });
            wakeBudgetWaiters();
            return out[0];
        }

        @Override
        public long dormantMemory() {
            long sum = 0;
            for (QueueState st : recovered.values()) {
                sum += st.counted;
            }
            return sum;
        }
    }

    /**
     * A recovered state leaves the memory count (its queue was declared again, purged or deleted): gives what it
     * counted back to the budget. Under the state's map lock, or with the state out of the map.
     */
    private void uncount(QueueState st) {
        long n = st.counted;
        st.counted = 0;
        MemoryBudget budget = broker.budget();
        if (budget != null && n != 0) {
            budget.release(n);
        }
    }

    /** After {@link #uncount}, outside every lock: the queues waiting for the budget may fit now. */
    private void wakeBudgetWaiters() {
        MemoryBudget budget = broker.budget();
        if (budget != null && budget.maybeWaiters()) {
            budget.wake();
        }
    }

    /**
     * Encodes a payload for its queue's SEND record with the queue's codec, on the sender's thread (see
     * {@link QueueJournal#prepare}).
     *
     * @throws IllegalArgumentException if the codec throws or returns null, or the queue has no codec
     */
    private byte[] encode(String queue, Object payload) {
        @SuppressWarnings("unchecked")
        Codec<Object> c = (Codec<Object>) codecs.get(queue);
        if (c == null) {
            throw new IllegalArgumentException("queue '" + queue + "' has no codec, so the message cannot be logged; "
                    + "it was not stored (declare the queue with DurableBroker.declare(spec, codec))");
        }
        byte[] b;
        try {
            b = c.encode(payload);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("queue '" + queue + "': its codec cannot encode the payload (" + e
                    + "), so the message cannot be logged; it was not stored", e);
        }
        if (b == null) {
            throw new IllegalArgumentException("queue '" + queue + "': its codec encoded the payload as null, so the "
                    + "message cannot be logged; it was not stored");
        }
        return b;
    }

    /**
     * Hands each change of one queue to the log; runs under the queue's lock, so it only allocates and links. The
     * payload of a SEND comes encoded by {@link #prepare}, on the sender's thread before the lock: the log's writer
     * thread runs no user code for sends.
     */
    private final class QueueJournal<T> implements Journal<T> {
        private final String name;
        final MessageQueue<?> queue;
        /** The highest id journaled (or recovered); written under the queue's lock, read after setJournal(null). */
        long maxId;

        QueueJournal(String name, MessageQueue<?> queue, long maxId) {
            this.name = name;
            this.queue = queue;
            this.maxId = maxId;
        }

        @Override
        public byte[] prepare(OutboundMessage<T> message) {
            byte[] b = encode(name, message.payload());
            // Refused here, before anything is stored: a record the log cannot read back (the limit guards recovery
            // against damaged lengths) would make the next open refuse the whole log
            long stored = LogRecord.Send.storedBytes(name, message.key(), message.headers(), b.length,
                    message.dedupId());
            if (stored > LogRecord.Send.MAX_STORED_BYTES) {
                throw new IllegalArgumentException("queue '" + name + "': the message would take " + stored
                        + " bytes in the log, more than the " + LogRecord.Send.MAX_STORED_BYTES + " (256 MiB + 32 KiB)"
                        + " a message may take; it was not stored");
            }
            return b;
        }

        @Override
        public void sent(Entry<T> e, byte[] payload, String dedupId, long dedupExpiresAt) {
            long id = e.id;
            if (id > maxId) {
                maxId = id;
            }
            long ts = e.timestamp;
            String key = e.messageKey;
            int priority = e.priority;
            Map<String, String> headers = e.headers;
            long deliverAt = e.state == Entry.DELAYED ? e.deadline : 0;
            log.append(new LogRecord.Send(name, id, ts, key, priority, headers, payload, deliverAt, e.expiresAt,
                    dedupId, dedupExpiresAt));
        }

        @Override
        public void accepted(Entry<T> e, String sourceQueue, long sourceId) {
            if (e.id > maxId) {
                maxId = e.id;
            }
            log.append(new LogRecord.Accept(name, e.id, sourceQueue, sourceId, e.timestamp, e.expiresAt, e.headers));
        }

        @Override
        public void delivered(long id, int deliveryCount) {
            log.append(new LogRecord.Delivered(name, id, deliveryCount));
        }

        @Override
        public void acked(long id) {
            log.append(new LogRecord.Ack(name, id));
        }

        @Override
        public void nacked(long id, long readyAt) {
            log.append(new LogRecord.Nack(name, id, readyAt));
        }

        @Override
        public void deadLettered(long id, int deliveryCount, String reason, boolean routed) {
            log.append(new LogRecord.DeadLetter(name, id, deliveryCount, reason == null ? "" : reason, routed));
        }

        @Override
        public void dropped(long id) {
            log.append(new LogRecord.Drop(name, id));
        }

        @Override
        public void purged() {
            log.append(new LogRecord.Purge(name));
        }
    }

    // =====================================================================================================
    // Recovery
    // =====================================================================================================

    /** A message as rebuilt from the log. */
    private static final class Msg {
        final long id;
        final long timestamp;
        final String key;
        final int priority;
        final Map<String, String> headers;
        byte[] payload; // null once acked, dropped or replaced (QueueState's arrival order may still hold it)
        final long expiresAt;
        long readyAt;
        int deliveryCount;
        String deadLetterReason; // while in transit to a dead-letter queue
        boolean gone; // removed from its queue (QueueState's arrival order still holds it until compacted)

        Msg(long id, long timestamp, String key, int priority, Map<String, String> headers, byte[] payload,
                long readyAt, long expiresAt, int deliveryCount) {
            this.id = id;
            this.timestamp = timestamp;
            this.key = key;
            this.priority = priority;
            this.headers = headers;
            this.payload = payload;
            this.readyAt = readyAt;
            this.expiresAt = expiresAt;
            this.deliveryCount = deliveryCount;
        }
    }

    /** One queue as rebuilt from the log, until it is declared again. */
    private static final class QueueState {
        byte[] spec;
        long nextId = 1;
        /** Counts the purges after the replay (under its map's lock): messages decoded before one are stale. */
        int version;
        /**
         * Counts the dead letters put in it after the replay (under its map's lock, see {@link Hooks#keepDeadLetter}):
         * messages decoded before one lack it.
         */
        int accepted;
        /**
         * What its messages count against the memory budget (and {@link Broker#memoryUsed()}) while it waits to be
         * declared again: each encoded payload's size plus {@link BrokerOptions#MESSAGE_OVERHEAD_BYTES}; 0 once its
         * queue is declared, purged or deleted. Volatile: {@code memoryUsed} adds it up without the map's locks.
         */
        volatile long counted;
        /** By id (no boxed id or tree node per message: every SEND of the log passes through here). */
        private final LongMap<Msg> messages = new LongMap<>();
        /**
         * The messages in the order they were put, with those removed since ({@link Msg#gone}) until there are as
         * many of them as live ones: ids arrive in increasing order but for relocated copies and dead letters, so
         * the queue is rebuilt in id order by walking this (sorting only when ids came out of order), reading the
         * messages in the order they were allocated, instead of looking each id up in the map.
         */
        private Msg[] arrived = new Msg[16];
        private int arrivedCount;
        private boolean arrivedInOrder = true;

        int size() {
            return messages.size();
        }

        /** After the replay: sets (and returns) what its messages count, see {@link #counted}. */
        long count() {
            long[] sum = {0};
            messages.forEachValue(m -> sum[0] += MemoryBudget.charge(m.payload.length));
            counted = sum[0];
            return sum[0];
        }

        Msg get(long id) {
            return messages.get(id);
        }

        /** Puts {@code m} under its id; returns the message it replaces, or null. */
        Msg put(Msg m) {
            Msg old = messages.put(m.id, m);
            if (old != null) {
                old.gone = true;
                old.payload = null; // replaced by a relocated copy, which has its own
            }
            if (arrivedCount == arrived.length) {
                if (arrivedCount >= 2 * messages.size()) {
                    compactArrived();
                }
                if (arrivedCount == arrived.length) {
                    arrived = Arrays.copyOf(arrived, arrived.length * 2);
                }
            }
            if (arrivedCount > 0 && arrived[arrivedCount - 1].id >= m.id) {
                arrivedInOrder = false;
            }
            arrived[arrivedCount++] = m;
            return old;
        }

        Msg remove(long id) {
            Msg m = messages.remove(id);
            if (m != null) {
                m.gone = true;
            }
            return m;
        }

        void clear() {
            version++;
            messages.clear();
            Arrays.fill(arrived, 0, arrivedCount, null);
            arrivedCount = 0;
            arrivedInOrder = true;
        }

        private void compactArrived() {
            int n = 0;
            for (int i = 0; i < arrivedCount; i++) {
                Msg m = arrived[i];
                if (!m.gone) {
                    arrived[n++] = m;
                }
            }
            Arrays.fill(arrived, n, arrivedCount, null);
            arrivedCount = n;
        }

        /** @return the messages in id order */
        private Msg[] inIdOrder() {
            compactArrived();
            Msg[] ms = Arrays.copyOf(arrived, arrivedCount);
            if (!arrivedInOrder) {
                Arrays.sort(ms, (a, b) -> Long.compare(a.id, b.id)); // runs in order: TimSort merges them
            }
            return ms;
        }
        final HashMap<String, Journal.RecoveredDedup> dedup = new HashMap<>();

        QueueStats stats(String name, long now) {
            long[] delayedAndBytes = new long[2];
            messages.forEachValue(m -> {
                if (m.readyAt > now) {
                    delayedAndBytes[0]++;
                }
                delayedAndBytes[1] += m.payload.length;
            });
            long delayed = delayedAndBytes[0];
            long bytes = delayedAndBytes[1];
            long ready = messages.size() - delayed;
            long capacity;
            try {
                capacity = (spec == null ? QueueSpec.named(name) : SpecFormat.decode(spec)).capacity();
            } catch (RuntimeException e) {
                capacity = QueueSpec.named(name).capacity();
            }
            return new QueueStats(name, ready, 0, delayed, bytes, capacity, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        }

        /**
         * Under its map's lock (or with the state out of the map): what a declaration decodes, copied. The messages
         * themselves do not change after the replay: a purge drops them from the state, not their fields.
         */
        Snapshot snapshot() {
            List<Journal.RecoveredDedup> ds = new ArrayList<>(dedup.values());
            return new Snapshot(this, version, accepted, inIdOrder(), ds, nextId);
        }

        /** The messages of a queue state in id order, its dedup ids and next id, as they were at {@code version}. */
        record Snapshot(QueueState state, int version, int accepted, Msg[] messages, List<Journal.RecoveredDedup> dedup,
                long nextId) {

            /**
             * The messages decoded, for {@link MessageQueue#restore}; each one read is told to {@code rebuild}
             * ({@link DurableBroker#declareRecovered(Codec)}'s, or null), which may report progress: call it with no
             * lock held.
             */
            <T> Journal.RecoveredQueue<T> decode(Codec<T> codec, long now, Rebuild rebuild) {
                List<Journal.Recovered<T>> ms = new ArrayList<>(messages.length);
                if (rebuild != null) {
                    rebuild.queueStarted();
                }
                try {
                    for (Msg m : messages) { // the queue takes them in id order
                        T payload;
                        try {
                            payload = codec.decode(m.payload);
                        } catch (RuntimeException e) {
                            throw new IllegalStateException("message " + m.id + ": the codec cannot decode its "
                                    + "recovered payload of " + m.payload.length + " bytes", e);
                        }
                        ms.add(new Journal.Recovered<>(m.id, m.timestamp, payload, m.key, m.priority, m.headers,
                                m.deliveryCount, m.readyAt > now ? m.readyAt : 0, m.expiresAt));
                        if (rebuild != null) {
                            rebuild.read(m.payload.length);
                        }
                    }
                } finally {
                    if (rebuild != null) {
                        rebuild.queueRead();
                    }
                }
                List<Journal.RecoveredDedup> ds = new ArrayList<>();
                for (Journal.RecoveredDedup d : dedup) {
                    if (d.expiresAt() > now) {
                        ds.add(d);
                    }
                }
                return new Journal.RecoveredQueue<>(ms, ds, nextId);
            }
        }
    }

    private record Key(String queue, long id) {
    }

    /** Applies recovered records in order. */
    private static final class Replay {
        final HashMap<String, QueueState> queues = new HashMap<>();
        final HashMap<Key, Msg> transit = new HashMap<>();
        /**
         * The next id of names whose queue the log deleted (and did not declare again). A queue declared again under
         * such a name continues its ids: dead letters of the old queue may still name their origin by its id.
         */
        final RetiredIds retired = new RetiredIds();

        private QueueState state(String q) {
            QueueState st = queues.get(q);
            if (st == null) {
                st = new QueueState();
                st.nextId = Math.max(st.nextId, retired.take(q));
                queues.put(q, st);
            }
            return st;
        }

        void apply(LogRecord r) {
            if (r instanceof LogRecord.Declare d && d.spec().length == 0) {
                // not a queue: the next id of a deleted name (or the floor), as the log starts each segment with them
                // (its DELETE follows, unless the crash cut it off)
                if (d.queue().equals(RetiredIds.FLOOR_NAME)) {
                    retired.raiseFloor(d.nextId());
                } else {
                    retired.retire(d.queue(), d.nextId());
                }
                return;
            }
            if (r instanceof LogRecord.Declare d) {
                QueueState st = state(d.queue());
                st.spec = d.spec();
                st.nextId = Math.max(st.nextId, d.nextId());
            } else if (r instanceof LogRecord.Delete d) {
                QueueState st = queues.remove(d.queue());
                if (st != null) {
                    retired.retire(d.queue(), st.nextId);
                }
            } else if (r instanceof LogRecord.Send s) {
                QueueState st = state(s.queue());
                Msg m = new Msg(s.id(), s.timestamp(), s.key(), s.priority(), s.headers(), s.payload(),
                        s.deliverAt(), s.expiresAt(), 0);
                Msg original = st.put(m);
                if (original != null) {
                    // A relocated copy replayed after its original (the crash came before the original's segment
                    // was deleted). The original's state is the state the copy was made from; the copy's
                    // DELIVERED and NACK that follow may have been cut off by the crash, and without them the copy
                    // made a nacked message ready at once and reset its delivery count.
                    m.deliveryCount = original.deliveryCount;
                    m.readyAt = original.readyAt;
                }
                st.nextId = Math.max(st.nextId, s.id() + 1);
                if (s.dedupId() != null) {
                    st.dedup.put(s.dedupId(), new Journal.RecoveredDedup(s.dedupId(), s.id(), s.dedupExpiresAt()));
                }
            } else if (r instanceof LogRecord.Ack a) {
                Msg m = remove(a.queue(), a.id());
                if (m != null) {
                    m.payload = null; // gone for good: not kept until the arrival order is compacted
                }
            } else if (r instanceof LogRecord.Drop d) {
                Msg m = remove(d.queue(), d.id());
                if (m != null) {
                    m.payload = null;
                } else {
                    transit.remove(new Key(d.queue(), d.id())); // a dead letter dropped by an earlier open's finish()
                }
            } else if (r instanceof LogRecord.Nack n) {
                Msg m = find(n.queue(), n.id());
                if (m != null) {
                    m.readyAt = n.readyAt();
                }
            } else if (r instanceof LogRecord.Delivered d) {
                Msg m = find(d.queue(), d.id());
                if (m != null) {
                    if (d.deliveryCount() != m.deliveryCount) {
                        m.readyAt = 0; // it was ready when leased (or given back)
                    } // else a relocated copy's over its original: a NACK cut off after it must not be lost
                    m.deliveryCount = d.deliveryCount();
                }
            } else if (r instanceof LogRecord.DeadLetter d) {
                Msg m = remove(d.queue(), d.id());
                if (m != null && d.routed()) {
                    m.deliveryCount = d.deliveryCount();
                    m.deadLetterReason = d.reason();
                    transit.put(new Key(d.queue(), d.id()), m);
                }
            } else if (r instanceof LogRecord.Accept a) {
                Msg src = transit.remove(new Key(a.sourceQueue(), a.sourceId()));
                QueueState st = state(a.queue());
                st.nextId = Math.max(st.nextId, a.id() + 1);
                if (src == null) {
                    LOG.log(Level.WARNING, "log: dead letter " + a.queue() + "#" + a.id() + " from " + a.sourceQueue()
                            + "#" + a.sourceId() + " has no source message; skipped");
                    return;
                }
                st.put(new Msg(a.id(), a.timestamp(), src.key, src.priority, a.headers(),
                        src.payload, 0, a.expiresAt(), 0));
            } else if (r instanceof LogRecord.Purge p) {
                QueueState st = queues.get(p.queue());
                if (st != null) {
                    st.clear();
                }
            }
        }

        private Msg find(String q, long id) {
            QueueState st = queues.get(q);
            return st == null ? null : st.get(id);
        }

        private Msg remove(String q, long id) {
            QueueState st = queues.get(q);
            return st == null ? null : st.remove(id);
        }

        /** Finishes dead-letter moves cut by the crash; returns the ACCEPT records to log for them. */
        List<LogRecord> finish() {
            List<LogRecord> out = new ArrayList<>();
            for (Map.Entry<Key, Msg> e : transit.entrySet()) {
                Key k = e.getKey();
                Msg m = e.getValue();
                QueueState src = queues.get(k.queue());
                String dlq = src == null || src.spec == null ? null
                        : SpecFormat.decode(src.spec).deadLetterQueue().orElse(null);
                if (dlq == null) {
                    LOG.log(Level.WARNING, "log: dead letter " + k.queue() + "#" + k.id() + " has no dead-letter "
                            + "queue any more; dropped");
                    out.add(new LogRecord.Drop(k.queue(), k.id())); // else the log counts it live for ever
                    continue;
                }
                QueueState to = queues.get(dlq);
                if (to == null) { // a dead-letter queue not in the log: at least the floor of the names let go
                    to = state(dlq);
                    to.nextId = Math.max(to.nextId, retired.floor());
                }
                long id = to.nextId++;
                Map<String, String> headers = MessageQueue.deadLetterHeaders(m.headers, m.deadLetterReason,
                        k.queue(), m.deliveryCount, k.id());
                LogRecord.Accept a = new LogRecord.Accept(dlq, id, k.queue(), k.id(), m.timestamp, 0, headers);
                to.put(new Msg(id, m.timestamp, m.key, m.priority, a.headers(), m.payload, 0, 0, 0));
                out.add(a);
            }
            transit.clear();
            return out;
        }
    }
}
