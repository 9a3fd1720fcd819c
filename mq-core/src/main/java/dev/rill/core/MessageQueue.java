package dev.rill.core;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One queue: a lock-protected state machine that stores messages, leases them to receivers for a visibility
 * timeout, and deletes them on explicit acknowledgment.
 *
 * <p>Contract shared by every method: thread-safe; never blocks on I/O or waits for anything but the queue's
 * own short critical section; never calls user code while holding the lock (listener callbacks and dead-letter
 * hand-over run after it is released, on the calling thread); takes the current time as {@code now} (millis on
 * any monotonic clock the caller chooses; a {@code now} earlier than one already seen is treated as the latest
 * seen). Timers that are due at {@code now} (lease expiry, delays, TTL) are applied at the start of every call,
 * so the observable state depends on the calls and their times only, not on whether {@link #advance(long)} ran.
 *
 * <p>Cost: send, receive (per message), ack, reject and release are O(1) for plain messages; delayed messages,
 * retry returns, TTL'd messages and leases with non-default deadlines cost O(log n); {@link #advance(long)}
 * costs in proportion to what falls due.
 *
 * <p>Leases: a lease is over when {@code now >= deadline}; its handle is stale from then on. A stale handle
 * never changes anything and reports {@link LeaseOutcome#STALE}.
 *
 * @param <T> the payload type
 */
public final class MessageQueue<T> extends QueueFrontPad {

    private static final System.Logger LOG = System.getLogger(MessageQueue.class.getName());
    private static final int LEVELS = OutboundMessage.MAX_PRIORITY + 1;
    private static final QueueListener NO_LISTENER = new QueueListener() { };
    private static final int LOCK_SPINS = 64; // see lockForBatch
    private static final int MAX_DRAIN_BUFFER = 1024;
    /** A code of {@link #sendLocked}: it would store the message, but its payload is not encoded for the journal. */
    private static final long NOT_ENCODED = Long.MIN_VALUE;

    private final ReentrantLock lock = new ReentrantLock();
    private final QueueSpec spec;
    private final String name;
    private final long visibilityMs;
    private final long dedupWindowMs;
    private final long queueTtlMs; // 0: none
    private final int capacity;
    private final long maxBytes;
    private final int maxDeliveries; // 0: unlimited
    private final boolean keyOrdered;
    private final boolean deadLetterOnExpiry;
    private final DeadLetterSink deadLetterSink; // null: dead letters are discarded (spec says so)
    private volatile QueueListener listener = NO_LISTENER;
    private Journal<T> journal; // durable brokers only: guarded by lock, enqueues log records in memory only
    /**
     * The journal again, read by senders before they take the lock, to encode their payloads there (the codec is
     * user code). Written with {@link #journal}. A broker attaches a journal before the queue is visible and only
     * ever detaches it afterwards, so a sender that reads null here finds no journal under the lock either (see
     * {@link #sendLocked}); one that reads a journal and finds it gone under the lock just drops its bytes.
     */
    private volatile Journal<T> encoder;
    /** The broker's memory budget, shared by its queues; null: none (nothing is charged, nothing extra is sized). */
    private final MemoryBudget budget;
    /**
     * With a budget: the smallest charge refused for the budget since this queue last waited for it, or
     * {@link Long#MAX_VALUE} when it does not wait (see {@link #awaitBudget}); null without a budget.
     */
    private final AtomicLong budgetNeed;
    private long budgetRefused; // guarded by lock: smallest charge this call refused for the budget, 0: none
    private boolean budgetReleased; // guarded by lock: bytes went back to the budget since the last signals()

    // ---- the send inbox: plain sends that skip the lock (see send and drainInbox) ----
    // inbox (in QueueFront): ring queues without a byte limit; null for others
    private Pushed lastDrained; // guarded by lock: the head as of the last drain; older pushes are stored
    private Pushed[] drainBuffer = new Pushed[16]; // guarded by lock: scratch for drainInbox, kept up to 1024
    private boolean owned; // guarded by lock: head is OWNED by this call, so nextId and admitted are authoritative
    private long admitted; // guarded by lock while owned: messages admitted ever (pushed or stored under the lock)

    // ---- state guarded by lock ----
    private long lastNow = Long.MIN_VALUE;
    private Sizes.Cached sizeKind = Sizes.NOTHING_CACHED; // read and written with or without the lock: immutable
    private long timersDue = Long.MAX_VALUE; // no timer falls due before this (a lower bound; exact after runTimers)
    private long nextId = 1;
    private boolean closed;
    private final ReadyLevel<T>[] levels;
    private int readyMask; // bit p set when level p has something receivable
    private final HashMap<String, KeyState<T>> keys;
    private final EntryList<T> leaseList = new EntryList<>();
    private final EntryHeap<T> leaseHeap = new EntryHeap<>(EntryHeap.BY_DEADLINE);
    private final EntryHeap<T> delayHeap = new EntryHeap<>(EntryHeap.BY_DEADLINE);
    private final EntryHeap<T> ttlHeap = new EntryHeap<>(EntryHeap.BY_EXPIRY);
    private final HashMap<String, DedupRecord> dedup = new HashMap<>();
    private final ArrayDeque<DedupRecord> dedupOrder = new ArrayDeque<>();
    private final FifoRing<T> ring; // plain FIFO fast lane (see FifoRing); null for key-ordered or TTL queues;
    // unused while a journal is attached (journals record entries)
    private HashMap<Long, Entry<T>> moved; // ring leases moved out to entries while running, by id (see Entry.moved)
    private Entry<T> freeEntries; // acked entries kept for reuse by send, linked through next
    private int freeCount;
    private final int maxFree; // at most min(capacity, 1024) entries (~88 KiB) kept
    private boolean sendRefused; // a send saw FULL since the last writable signal
    private long refusedBytes; // smallest payload refused since then: writable once it fits
    private long size;
    private long ready;
    private long inFlight;
    private long delayed;
    private long bytes;
    private long sent;
    private long duplicates;
    private long delivered;
    private long acked;
    private long nacked;
    private long expiredLeases;
    private long deadLettered;
    private long expired;
    private long purged;
    // per call, handed out after unlock
    private ArrayList<DeadLetter<T>> pendingDeadLetters;
    private ArrayList<QueueEvent> pendingEvents;
    private boolean recordEvents;

    private record DedupRecord(String dedupId, long messageId, long expiresAt) {
    }

    /** Receives dead letters after the source queue's lock is released. */
    interface DeadLetterSink {
        void accept(DeadLetter<?> deadLetter);
    }

    @SuppressWarnings("unchecked")
    MessageQueue(QueueSpec spec, DeadLetterSink deadLetterSink) {
        this(spec, deadLetterSink, null);
    }

    @SuppressWarnings("unchecked")
    MessageQueue(QueueSpec spec, DeadLetterSink deadLetterSink, MemoryBudget budget) {
        super(newInbox(spec, budget));
        this.budget = budget;
        this.budgetNeed = budget == null ? null : new AtomicLong(Long.MAX_VALUE);
        this.spec = Objects.requireNonNull(spec, "spec").validate();
        this.name = spec.name();
        this.visibilityMs = spec.visibilityTimeout().toMillis();
        this.dedupWindowMs = spec.dedupWindow().toMillis();
        this.queueTtlMs = spec.messageTtl().map(Duration::toMillis).orElse(0L);
        this.capacity = spec.capacity();
        this.maxBytes = spec.maxBytesRaw();
        this.maxDeliveries = spec.maxDeliveriesRaw();
        this.maxFree = Math.min(capacity, 1024);
        this.keyOrdered = spec.ordering() == Ordering.KEY_ORDERED;
        this.deadLetterOnExpiry = spec.expiryAction() == ExpiryAction.DEAD_LETTER;
        this.deadLetterSink = spec.deadLetterQueue().isPresent() ? Objects.requireNonNull(deadLetterSink,
                "deadLetterSink") : null;
        this.levels = new ReadyLevel[LEVELS];
        for (int i = 0; i < LEVELS; i++) {
            levels[i] = new ReadyLevel<>();
        }
        this.keys = keyOrdered ? new HashMap<>() : null;
        this.ring = keyOrdered || queueTtlMs > 0 ? null : new FifoRing<>();
        this.lastDrained = inbox == null ? null : inbox.head;
    }

    /** The inbox of queues whose plain sends can skip the lock: those with a ring (see below) and no byte limit. */
    private static SendInbox newInbox(QueueSpec spec, MemoryBudget budget) {
        Objects.requireNonNull(spec, "spec").validate();
        boolean ringQueue = spec.ordering() != Ordering.KEY_ORDERED
                && spec.messageTtl().map(Duration::toMillis).orElse(0L) == 0; // as the ring in the constructor
        if (!ringQueue || spec.maxBytesRaw() != Long.MAX_VALUE) {
            return null;
        }
        return new SendInbox(spec.capacity(), spec.maxDeliveriesRaw() > 0, Pushed.marker(1, 0), NO_LISTENER, budget);
    }


    /**
     * Creates a stand-alone queue, outside any {@link Broker}. A stand-alone queue cannot dead-letter into
     * another queue: use a {@link Broker} for specs that name a dead-letter queue.
     *
     * @param spec the queue's spec; {@link QueueSpec#validate() validated}
     * @param <T> the payload type
     * @return a new, empty queue
     * @throws IllegalArgumentException if the spec is invalid or names a dead-letter queue
     */
    public static <T> MessageQueue<T> create(QueueSpec spec) {
        if (spec.deadLetterQueue().isPresent()) {
            throw new IllegalArgumentException("queue '" + spec.name() + "': deadLetterQueue="
                    + spec.deadLetterQueue().get() + " needs a Broker to route dead letters; use Broker.declare");
        }
        return new MessageQueue<>(spec, null);
    }

    /** @return the queue's name */
    public String name() {
        return name;
    }

    /** @return the queue's spec */
    public QueueSpec spec() {
        return spec;
    }

    /**
     * Sets the listener for readable/writable edges and events, replacing any earlier one.
     *
     * @param listener the listener, or null to remove it
     */
    public void setListener(QueueListener listener) {
        QueueListener l = listener == null ? NO_LISTENER : listener;
        this.listener = l;
        if (inbox != null) {
            inbox.listener = l;
        }
    }

    // =====================================================================================================
    // Send
    // =====================================================================================================

    /**
     * Stores a message at the tail of its priority (or in the delay heap when it has a delay).
     *
     * <p>O(1); O(log n) with a delay or TTL. A plain message (no dedup id, priority, delay or TTL) sent while nobody
     * wants events takes no lock: one CAS publishes it and claims its id and capacity, and the next call that takes
     * the lock stores it first (the queue's send inbox, {@code SendInbox}); no call can observe the difference.
     *
     * @param message the message
     * @param now the caller's clock, millis
     * @return {@code ENQUEUED} with the new id; {@code DUPLICATE} with the original id when its dedup id was sent
     *     within the dedup window; {@code FULL} at capacity; {@code CLOSED} when the queue is closed
     * @throws IllegalArgumentException if the payload alone exceeds {@link QueueSpec#maxBytes(long)}, or (a queue of a
     *     {@link DurableBroker}) its codec cannot encode the payload for the log; nothing is stored. A durable queue
     *     encodes the payload on the calling thread, before the lock, at most once per call (not when the queue is
     *     full: a send refused {@code FULL} encodes nothing).
     */
    public SendOutcome send(OutboundMessage<T> message, long now) {
        return send(message, now, false);
    }

    /**
     * A send the broker's memory budget does not refuse (it is counted, and may take the broker above it): for
     * messages the broker already holds and moves (redrive). Otherwise as {@link #send(OutboundMessage, long)}.
     */
    SendOutcome sendHeld(OutboundMessage<T> message, long now) {
        return send(message, now, true);
    }

    private SendOutcome send(OutboundMessage<T> message, long now, boolean held) {
        Objects.requireNonNull(message, "message");
        SendInbox in = inbox;
        if (in != null && in.pushable && !held && message.dedupId() == null && message.priority() == 0
                && message.ttl() == null && message.delay().isZero()) {
            QueueListener l = in.listener;
            if (!l.wantsEvents()) {
                MemoryBudget b = in.budget; // the inbox's copy: the queue's own fields share lines the consumer writes
                long charge = 0;
                // with a budget the push reserves its bytes first (a CAS on the broker's counter, no lock); when the
                // budget is short the send goes under the lock, which refuses it and makes the queue wait for bytes.
                // A payload whose size may change (see fixedSize) goes under the lock too: a push is sized again when
                // it is stored, and the bytes reserved here must be the bytes it is stored with
                if (b == null || fixedSize(message.payload())
                        && b.tryAcquire(charge = budgetCharge(message.payload()))) {
                    long id = in.push(message, now);
                    if (id != 0 && id != SendInbox.FULL) {
                        if (in.takeIdle()) { // see signals: the lock holder that set idle looked at the inbox after
                            fire(READABLE);
                        }
                        return SendOutcomes.outcome(id);
                    }
                    if (charge != 0) { // not pushed: give the bytes back, and wake whoever they kept out meanwhile
                        b.release(charge);
                        b.wake();
                    }
                    if (id == SendInbox.FULL) {
                        return SendOutcome.FULL;
                    }
                }
            }
        }
        long sz = sizeOf(message.payload());
        checkFits(sz);
        // Durable: the payload is encoded here, outside the lock (the codec is user code). Not when the queue looks
        // full (a racy read, only a hint: the lock decides): a producer waiting for room tries again on every
        // writable edge, and a send refused FULL needs no bytes. If the lock finds room after all, the send encodes
        // and goes round once more.
        Journal<T> j = encoder;
        byte[] encoded = j == null || size >= capacity ? null : j.prepare(message);
        for (;;) {
            long code;
            Signals s;
            boolean ev = listener.wantsEvents(); // user code: outside the lock
            lock.lock();
            try {
                now = clock(now, ev);
                boolean wasReadable = readyMask != 0;
                runTimers(now);
                code = sendLocked(message, sz, encoded, now, held);
                s = signals(wasReadable);
            } finally {
                unlockOwned();
            }
            fire(s);
            if (code != NOT_ENCODED) {
                return SendOutcomes.outcome(code); // allocated outside the lock
            }
            j = encoder; // a journal is never attached again once detached: this loop ends
            encoded = j == null ? null : j.prepare(message);
        }
    }

    /**
     * Stores the pushed sends (under the lock), oldest first, each as a send under the lock at its own time would
     * have: the clock moves to its time, due timers run, then it is stored. Every locked call drains before it
     * reads or changes anything, so pushes are never observably late.
     */
    private void drainInbox() {
        drainInbox(inbox.head);
    }

    /** Stores the pushes from {@code h} (a head read or replaced by this lock holder) down to the last drained. */
    private void drainInbox(Pushed h) {
        Pushed last = lastDrained;
        if (h == last || h.message == null) { // nothing new, or a marker (closed; or OWNED by this very call)
            return;
        }
        // Collect newest first into a scratch array, then store oldest first. The nodes are read, not rewired: a write
        // to a node a producer still has in its cache costs that producer a miss on its next push.
        Pushed[] buf = drainBuffer;
        int n = 0;
        for (Pushed p = h; p != last; p = p.older) {
            if (n == buf.length) {
                buf = Arrays.copyOf(buf, n * 2);
            }
            buf[n++] = p;
        }
        // Cut the chain below the head so that only the head and one node stay reachable (the head itself is read by
        // producers: it is not written). Without this the head kept its whole drained batch alive until the next
        // drain (SendInboxTest.drainedPushesAreNotKeptAlive).
        if (n >= 2) {
            buf[1].older = null;
        }
        last.older = null; // earlier batches become garbage (last is no longer the head: no producer reads it)
        lastDrained = h;
        for (int i = n - 1; i >= 0; i--) {
            Pushed p = buf[i];
            buf[i] = null;
            long t = p.now > lastNow ? (lastNow = p.now) : lastNow;
            runTimers(t);
            @SuppressWarnings("unchecked")
            OutboundMessage<T> m = (OutboundMessage<T>) p.message;
            boolean ev = recordEvents;
            recordEvents = false; // a push is made only while nobody wants events: its send had none to report
            store(m, p.nextId - 1, -1, t, null, null); // pushed only while no journal is attached
            recordEvents = ev;
        }
        if (buf.length <= MAX_DRAIN_BUFFER) {
            drainBuffer = buf;
        }
    }

    /**
     * Takes over id assignment for this locked call: swaps the inbox's head for {@link SendInbox#OWNED}, so no push
     * can claim an id or capacity until {@link #unlockOwned}, then stores everything pushed up to the swap. No-op
     * without an inbox (nextId is then always authoritative) or when already owned.
     */
    private void own() {
        SendInbox in = inbox;
        if (in == null || owned) {
            return;
        }
        for (;;) {
            Pushed h = in.head;
            if (h == SendInbox.CLOSED) {
                return; // closed: this call stores nothing
            }
            if (in.casHead(h, SendInbox.OWNED)) {
                drainInbox(h); // everything pushed up to the swap (found by Lincheck: draining before it lost one)
                nextId = h.nextId;
                admitted = h.admitted;
                owned = true;
                return;
            }
        }
    }

    /** Hands id assignment back to pushes (a new marker head, when this call owned it) and unlocks. */
    private void unlockOwned() {
        try {
            if (owned) {
                owned = false;
                Pushed m = Pushed.marker(nextId, admitted);
                lastDrained = m;
                inbox.head = m;
            }
        } finally {
            lock.unlock();
        }
    }

    /** Under the lock: {@code k} messages left the queue (acked, dead-lettered, expired, purged). */
    private void freed(long k) {
        size -= k;
        if (inbox != null) {
            inbox.publishFreed(inbox.freed + k); // only lock holders write it
        }
    }

    /**
     * Sends many messages under one lock acquisition, in order; stops storing at the first {@code FULL} (later
     * messages report {@code FULL} too, so order is never broken).
     *
     * @param messages the messages
     * @param now the caller's clock, millis
     * @return one outcome per message, in order
     * @throws IllegalArgumentException if a payload alone exceeds {@link QueueSpec#maxBytes(long)}, or (a queue of a
     *     {@link DurableBroker}) its codec cannot encode one of the payloads: nothing is stored
     */
    public List<SendOutcome> sendAll(List<OutboundMessage<T>> messages, long now) {
        Objects.requireNonNull(messages, "messages");
        int n = messages.size();
        // Sizes are needed up front only to refuse an oversized payload before anything is stored; without a byte
        // limit they are computed under the lock for stored messages only, so a batch refused as FULL after its
        // first message (a producer woken for every freed slot) costs O(1) per stored message, not O(batch).
        long[] sizes = maxBytes == Long.MAX_VALUE && budget == null ? null : new long[n];
        for (int i = 0; i < n; i++) {
            OutboundMessage<T> m = messages.get(i);
            if (m == null) { // not requireNonNull(m, "messages[" + i + "]"): that builds the string for every message
                throw new NullPointerException("messages[" + i + "]");
            }
            if (sizes != null) {
                sizes[i] = sizeOf(m.payload());
                checkFits(sizes[i]);
            }
        }
        byte[][] encoded = encodeAll(messages); // durable: user code, outside the lock; null in memory
        long[] out = new long[n]; // outcome codes (see SendOutcomes); 0 (FULL) for the messages after a FULL
        Signals s;
        boolean ev = listener.wantsEvents(); // user code: outside the lock
        lockForBatch(n);
        try {
            now = clock(now, ev);
            boolean wasReadable = readyMask != 0;
            runTimers(now);
            for (int i = 0; i < n; i++) {
                long code = sendLocked(messages.get(i), sizes == null ? -1 : sizes[i],
                        encoded == null ? null : encoded[i], now, false);
                if (code == NOT_ENCODED) {
                    throw notEncoded();
                }
                if (code == SendOutcomes.FULL) {
                    break;
                }
                out[i] = code;
            }
            s = signals(wasReadable);
        } finally {
            unlockOwned();
        }
        fire(s);
        return new SendOutcomes(out);
    }

    /**
     * Sends many messages under one lock acquisition like {@link #sendAll(List, long)}, without per-message outcomes:
     * for producers that need no message ids it allocates nothing per message beyond the stored message. Messages are
     * stored in order until the first one refused for capacity; that one and every later one are not stored.
     *
     * @param messages the messages
     * @param now the caller's clock, millis
     * @return how many messages from the start of the list were accepted (stored, or recognised as duplicates within
     *     the dedup window); {@code messages.size()} when all were; -1 when the queue is closed (nothing stored)
     * @throws IllegalArgumentException if a payload alone exceeds {@link QueueSpec#maxBytes(long)}, or (a queue of a
     *     {@link DurableBroker}) its codec cannot encode one of the payloads (nothing stored)
     */
    public int offerAll(List<OutboundMessage<T>> messages, long now) {
        Objects.requireNonNull(messages, "messages");
        int n = messages.size();
        long[] sizes = maxBytes == Long.MAX_VALUE && budget == null ? null : new long[n]; // see sendAll
        for (int i = 0; i < n; i++) {
            OutboundMessage<T> m = messages.get(i);
            if (m == null) {
                throw new NullPointerException("messages[" + i + "]");
            }
            if (sizes != null) {
                sizes[i] = sizeOf(m.payload());
                checkFits(sizes[i]);
            }
        }
        byte[][] encoded = encodeAll(messages); // see sendAll
        int accepted = 0;
        Signals s;
        boolean ev = listener.wantsEvents(); // user code: outside the lock
        lockForBatch(n);
        try {
            now = clock(now, ev);
            boolean wasReadable = readyMask != 0;
            runTimers(now);
            if (closed) {
                accepted = -1;
            } else {
                long code;
                while (accepted < n
                        && (code = sendLocked(messages.get(accepted), sizes == null ? -1 : sizes[accepted],
                                encoded == null ? null : encoded[accepted], now, false)) != SendOutcomes.FULL) {
                    if (code == NOT_ENCODED) {
                        throw notEncoded();
                    }
                    accepted++;
                }
            }
            s = signals(wasReadable);
        } finally {
            unlockOwned();
        }
        fire(s);
        return accepted;
    }

    /**
     * Durable queues: encodes every payload of a batch for the log, on the caller's thread before the lock (the codec
     * is user code); a payload that cannot be encoded refuses the whole batch before anything is stored.
     *
     * @return the encoded payloads in order, or null when no journal is attached (in memory: nothing is encoded)
     */
    private byte[][] encodeAll(List<OutboundMessage<T>> messages) {
        Journal<T> j = encoder;
        if (j == null) {
            return null;
        }
        int n = messages.size();
        byte[][] out = new byte[n][];
        for (int i = 0; i < n; i++) {
            out[i] = j.prepare(messages.get(i));
        }
        return out;
    }

    /** A batch encodes before the lock whenever a journal is attached, and one is attached before the queue is visible. */
    private IllegalStateException notEncoded() {
        return new IllegalStateException("queue '" + name + "': a journal was attached while it was in use");
    }

    private void checkFits(long sz) {
        if (sz > maxBytes) {
            throw new IllegalArgumentException("queue '" + name + "': payload of " + sz + " bytes exceeds maxBytes="
                    + maxBytes);
        }
        if (budget != null && MemoryBudget.charge(sz) > budget.limit) {
            throw new IllegalArgumentException("queue '" + name + "': payload of " + sz + " bytes (+"
                    + BrokerOptions.MESSAGE_OVERHEAD_BYTES + " per message) exceeds the broker's memory budget of "
                    + budget.limit + " bytes");
        }
    }

    /** With a budget: what a send of {@code payload} reserves; refuses one that could never fit, as checkFits. */
    private long budgetCharge(Object payload) {
        long sz = sizeOf(payload);
        checkFits(sz);
        return MemoryBudget.charge(sz);
    }

    /**
     * @param encoded the payload as {@link Journal#prepare} encoded it before the lock, or null (not encoded)
     * @return an outcome code of {@link SendOutcomes}: the new id, FULL, CLOSED or a duplicate's code; or
     *     {@link #NOT_ENCODED} (nothing changed) when it would be stored but a journal is attached and it has no bytes
     */
    private long sendLocked(OutboundMessage<T> m, long sz, byte[] encoded, long now, boolean held) {
        if (closed) {
            return SendOutcomes.CLOSED;
        }
        String dedupId = m.dedupId();
        if (dedupId != null) {
            expireDedup(now);
            DedupRecord r = dedup.get(dedupId);
            if (r != null && r.expiresAt > now) {
                duplicates++;
                event(QueueEvent.Type.DEDUPLICATED, r.messageId, 0, dedupId, now);
                return SendOutcomes.duplicate(r.messageId);
            }
        }
        own(); // no push claims ids or capacity from here to the unlock
        if (size >= capacity || bytes + Math.max(sz, 0) > maxBytes) {
            long need = Math.max(sz, 0); // sz < 0: not sized (no byte limit), so bytes never decide writability
            refusedBytes = sendRefused ? Math.min(refusedBytes, need) : need;
            sendRefused = true;
            return SendOutcomes.FULL;
        }
        if (encoded == null && journal != null) {
            return NOT_ENCODED; // nothing changed: the caller encodes outside the lock and comes back
        }
        if (budget != null) {
            if (sz < 0) {
                sz = sizeOf(m.payload()); // not reached: with a budget every send sizes its payloads before the lock
            }
            long c = MemoryBudget.charge(sz);
            if (held) {
                budget.force(c);
            } else if (!budget.tryAcquire(c)) {
                budgetRefused = budgetRefused == 0 ? c : Math.min(budgetRefused, c);
                return SendOutcomes.FULL; // the queue itself has room: it waits for the budget (see awaitBudget)
            }
        }
        long id = nextId++;
        admitted++;
        return store(m, id, sz, now, dedupId, encoded);
    }

    /**
     * Stores an admitted message under its id: the part of a send after dedup, capacity and id.
     *
     * @param encoded its payload encoded for the journal (null: no journal)
     */
    private long store(OutboundMessage<T> m, long id, long sz, long now, String dedupId, byte[] encoded) {
        if (sz < 0) {
            sz = sizeOf(m.payload());
        }
        if (ring != null && journal == null && m.priority() == 0 && m.ttl() == null && m.delay().isZero()
                && levels[0].main.isEmpty() && fixedSize(m.payload())) {
            // the fast lane: behind every ready message of priority 0 in send order, as the main FIFO would be
            FifoRing<T> g = ring;
            if (g.isFull()) {
                makeRoom(g);
            }
            g.append(id, now, m.payload(), m.key(), m.headers());
            size++;
            bytes += sz;
            sent++;
            ready++;
            readyMask |= 1;
            if (dedupId != null) {
                DedupRecord r = new DedupRecord(dedupId, id, saturatedAdd(now, dedupWindowMs));
                dedup.put(dedupId, r);
                dedupOrder.addLast(r);
            }
            event(QueueEvent.Type.ENQUEUED, id, 0, null, now);
            return id;
        }
        Entry<T> e = newEntry(id, now, m.payload(), m.key(), m.priority(), m.headers(), sz);
        long ttl = queueTtlMs;
        if (m.ttl() != null) {
            long t = m.ttl().toMillis();
            ttl = ttl == 0 ? t : Math.min(ttl, t);
        }
        if (ttl > 0) {
            e.expiresAt = saturatedAdd(now, Math.max(1, ttl));
            if (inbox != null && !inbox.timersMayFree) {
                inbox.timersMayFree = true; // before the message exists: see SendInbox.push
            }
        }
        size++;
        bytes += sz;
        sent++;
        if (dedupId != null) {
            DedupRecord r = new DedupRecord(dedupId, id, saturatedAdd(now, dedupWindowMs));
            dedup.put(dedupId, r);
            dedupOrder.addLast(r);
        }
        event(QueueEvent.Type.ENQUEUED, id, 0, null, now);
        Duration delay = m.delay();
        long delayMs = delay.isZero() ? 0 : delay.toMillis();
        if (delayMs > 0) {
            e.state = Entry.DELAYED;
            e.deadline = saturatedAdd(now, delayMs);
            delayHeap.add(e);
            due(e.deadline);
            delayed++;
        } else {
            enqueueNew(e);
        }
        if (e.expiresAt != 0) {
            ttlHeap.add(e);
            due(e.expiresAt);
        }
        if (journal != null) {
            journal.sent(e, encoded, dedupId, dedupId == null ? 0 : saturatedAdd(now, dedupWindowMs));
        }
        return id;
    }

    private Entry<T> newEntry(long id, long timestamp, T payload, String messageKey, int priority,
            Map<String, String> headers, long size) {
        Entry<T> e = freeEntries;
        if (e != null) { // reuse an acked entry: one object less per message for the collector
            freeEntries = e.next;
            e.next = null;
            freeCount--;
            e.init(id, timestamp, payload, messageKey, priority, headers, size);
            return e;
        }
        return new Entry<>(id, timestamp, payload, messageKey, priority, headers, size);
    }

    /** @return the key {@code e} is ordered by: its message's key in a key-ordered queue, else null */
    private String keyOf(Entry<T> e) {
        return keyOrdered ? e.messageKey : null;
    }

    /**
     * The ring is full: when at least half of it is holes (acked slots kept behind older leases that are still
     * running), moves those oldest leases out to entries so their holes are reclaimed; otherwise doubles it. Each
     * ring message moves out at most once, so this is O(1) amortized per send.
     */
    private void makeRoom(FifoRing<T> g) {
        if (g.holes * 2 >= g.length()) {
            while (g.holes * 4 > g.length() && g.hasLeased()) {
                promote(g, g.base, true);
            }
        } else {
            g.grow();
        }
    }

    /**
     * Moves a ring lease out to an entry in the lease list or heap, same id, deadline and delivery count; with
     * {@code stillHeld}, the lease goes on (extend, compaction) and its ring handle finds the entry through
     * {@link #moved}.
     */
    private Entry<T> promote(FifoRing<T> g, long position, boolean stillHeld) {
        int i = g.slot(position);
        Entry<T> e = entryOf(g, i);
        e.deliveryCount = 1;
        e.deadline = g.deadlines[i];
        insertLeased(e);
        if (stillHeld) {
            register(e);
        }
        g.remove(position);
        return e;
    }

    private void register(Entry<T> e) {
        if (moved == null) {
            moved = new HashMap<>();
        }
        moved.put(e.id, e);
        e.moved = true;
    }

    /** Takes the ring's oldest ready message out as a ready entry (not in any structure yet). */
    private Entry<T> takeRingHead(FifoRing<T> g) {
        Entry<T> e = entryOf(g, g.slot(g.readyHead));
        g.pollReady();
        return e;
    }

    /**
     * An entry holding the message of ring slot {@code i} (priority 0, no ordering key: ring queues have none). Its
     * size is its payload's now, as it was when stored: the ring holds only payloads of a fixed size (see store).
     */
    private Entry<T> entryOf(FifoRing<T> g, int i) {
        T p = g.payload(i);
        return newEntry(g.ids[i], g.times[i], p, g.key(i), 0, g.headers(i), sizeOf(p));
    }

    /**
     * Stores a dead letter from another queue. Dead letters bypass capacity (refusing them would lose them or
     * stall the source) and dedup.
     *
     * @return false when this queue is closed
     */
    boolean acceptDeadLetter(DeadLetter<?> dl) {
        @SuppressWarnings("unchecked")
        T payload = (T) dl.payload();
        Map<String, String> frozen = deadLetterHeaders(dl.headers(), dl.reason(), dl.sourceQueue(),
                dl.deliveryCount(), dl.originalId());
        long sz = sizeOf(payload);
        Signals s;
        boolean ev = listener.wantsEvents(); // user code: outside the lock
        lock.lock();
        try {
            if (closed) {
                return false;
            }
            long now = clock(dl.now(), ev);
            boolean wasReadable = readyMask != 0;
            runTimers(now);
            own();
            long id = nextId++;
            admitted++;
            Entry<T> e = new Entry<>(id, now, payload, dl.key(), dl.priority(), frozen, sz);
            if (queueTtlMs > 0) {
                e.expiresAt = saturatedAdd(now, queueTtlMs);
            }
            size++;
            bytes += sz;
            if (budget != null) {
                budget.force(MemoryBudget.charge(sz)); // held already: never refused
            }
            sent++;
            event(QueueEvent.Type.ENQUEUED, id, 0, "dead letter from " + dl.sourceQueue(), now);
            enqueueNew(e);
            if (e.expiresAt != 0) {
                ttlHeap.add(e);
                due(e.expiresAt);
            }
            if (journal != null) {
                journal.accepted(e, dl.sourceQueue(), dl.originalId());
            }
            s = signals(wasReadable);
        } finally {
            unlockOwned();
        }
        fire(s);
        return true;
    }

    /**
     * @return the headers of a dead letter in its dead-letter queue: the message's own, with why it was dead-lettered,
     *     where from, after how many deliveries and its id there (the one place they are written: a live dead letter,
     *     one kept for a recovered dead-letter queue, one finished by a replay)
     */
    static Map<String, String> deadLetterHeaders(Map<String, String> own, String reason, String sourceQueue,
            int deliveryCount, long originalId) {
        Map<String, String> headers = new HashMap<>(own);
        headers.put(Message.HEADER_DEAD_LETTER_REASON, truncate(reason));
        headers.put(Message.HEADER_SOURCE_QUEUE, sourceQueue);
        headers.put(Message.HEADER_DELIVERY_COUNT, Integer.toString(deliveryCount));
        headers.put(Message.HEADER_ORIGINAL_ID, Long.toString(originalId));
        return Map.copyOf(headers);
    }

    /**
     * @return a dead-letter reason as its header keeps it: "unspecified" when there is none, else cut to
     *     {@link OutboundMessage#MAX_STRING_LENGTH} characters, never between the two halves of a surrogate pair (a
     *     lone half has no UTF-8 form, so no remote consumer could be handed the dead letter)
     */
    static String truncate(String s) {
        if (s == null || s.isEmpty()) {
            return "unspecified";
        }
        int end = s.length() <= OutboundMessage.MAX_STRING_LENGTH ? s.length()
                : Character.isHighSurrogate(s.charAt(OutboundMessage.MAX_STRING_LENGTH - 1))
                        ? OutboundMessage.MAX_STRING_LENGTH - 1 : OutboundMessage.MAX_STRING_LENGTH;
        // A lone surrogate (free text cut by the caller's own code) has no UTF-8 form: a header holding one could not
        // be sent to a remote consumer of the dead-letter queue, whose subscription would end at that message.
        StringBuilder b = null;
        for (int i = 0; i < end; i++) {
            char c = s.charAt(i);
            if (Character.isSurrogate(c)) {
                if (Character.isHighSurrogate(c) && i + 1 < end && Character.isLowSurrogate(s.charAt(i + 1))) {
                    if (b != null) {
                        b.append(c).append(s.charAt(i + 1));
                    }
                    i++;
                    continue;
                }
                if (b == null) {
                    b = new StringBuilder(end).append(s, 0, i);
                }
                b.append('\uFFFD');
            } else if (b != null) {
                b.append(c);
            }
        }
        return b != null ? b.toString() : end == s.length() ? s : s.substring(0, end);
    }

    // =====================================================================================================
    // Receive
    // =====================================================================================================

    /**
     * Leases up to {@code max} ready messages for the queue's visibility timeout: highest priority first, FIFO
     * within a priority, one per key at a time for key-ordered queues.
     *
     * <p>O(1) per message (O(log n) for a message returned by an expired lease or nack).
     *
     * @param max at least 1
     * @param now the caller's clock, millis
     * @return the leases, possibly empty (nothing ready, or the queue is closed); never null
     */
    public List<Lease<T>> receive(int max, long now) {
        return receiveMillis(max, visibilityMs, now);
    }

    /**
     * Like {@link #receive(int, long)} with a visibility timeout for these leases only.
     *
     * @param max at least 1
     * @param visibility positive lease length (rounded up to whole millis; saturates like {@link #extend})
     * @param now the caller's clock, millis
     * @return the leases, possibly empty
     */
    public List<Lease<T>> receive(int max, Duration visibility, long now) {
        Objects.requireNonNull(visibility, "visibility");
        if (visibility.isNegative() || visibility.isZero()) {
            throw new IllegalArgumentException("visibility must be positive, was " + visibility);
        }
        return receiveMillis(max, leaseMillis(visibility), now);
    }

    private List<Lease<T>> receiveMillis(int max, long visMs, long now) {
        if (max < 1) {
            throw new IllegalArgumentException("max must be >= 1, was " + max);
        }
        List<Lease<T>> out;
        Signals s;
        boolean ev = listener.wantsEvents(); // user code: outside the lock
        lockForBatch(max);
        try {
            now = clock(now, ev);
            boolean wasReadable = readyMask != 0;
            runTimers(now);
            if (closed || readyMask == 0) {
                out = Collections.emptyList();
            } else if (max == 1) {
                out = List.of(leaseNext(visMs, now)); // the common one-at-a-time case: one less object
            } else {
                ArrayList<Lease<T>> list = new ArrayList<>((int) Math.min(max, ready)); // no more can come out
                while (list.size() < max && readyMask != 0) {
                    list.add(leaseNext(visMs, now));
                }
                out = list;
            }
            s = signals(wasReadable);
        } finally {
            lock.unlock();
        }
        fire(s);
        return out;
    }

    /** Leases the next ready message (there is one): from the ring when it comes first, else from the entries. */
    private Lease<T> leaseNext(long visMs, long now) {
        FifoRing<T> g = ring;
        if (g != null && g.hasReady() && ringFirst(g)) {
            long deadline = saturatedAdd(now, visMs);
            ready--;
            if (deadline >= g.lastDeadline) { // ring leases must end in position order (see FifoRing)
                long pos = g.leaseHead(deadline);
                due(deadline);
                inFlight++;
                delivered++;
                if (!g.hasReady()) {
                    clearLevelIfEmpty(0);
                }
                Lease<T> l = new Lease<>(this, g, pos, deadline);
                event(QueueEvent.Type.LEASED, l.id, 1, null, now);
                return l;
            }
            Entry<T> e = takeRingHead(g); // a shorter lease than the previous ring lease: as an entry
            clearLevelIfEmpty(0);
            return lease(e, visMs, now);
        }
        return lease(pollReady(), visMs, now);
    }

    /** @return whether the ring's head is the next message to deliver: nothing of a higher priority, no older retry */
    private boolean ringFirst(FifoRing<T> g) {
        if (readyMask > 1) {
            return false;
        }
        EntryHeap<T> r = levels[0].retry;
        Entry<T> rh = r == null ? null : r.peek();
        return rh == null || g.ids[g.slot(g.readyHead)] < rh.id;
    }

    private Lease<T> lease(Entry<T> e, long visMs, long now) {
        e.deliveryCount++;
        e.leaseSeq++;
        e.deadline = saturatedAdd(now, visMs);
        insertLeased(e);
        inFlight++;
        delivered++;
        if (journal != null) {
            journal.delivered(e.id, e.deliveryCount);
        }
        event(QueueEvent.Type.LEASED, e.id, e.deliveryCount, null, now);
        return new Lease<>(this, e, e.deadline);
    }

    private void insertLeased(Entry<T> e) {
        Entry<T> tail = leaseList.tail;
        if (tail == null || tail.deadline < e.deadline || (tail.deadline == e.deadline && tail.id < e.id)) {
            e.state = Entry.LEASED_LIST; // the list stays sorted by (deadline, id), like the heap
            leaseList.addLast(e);
        } else {
            e.state = Entry.LEASED_HEAP;
            leaseHeap.add(e);
        }
        due(e.deadline);
    }

    private void removeLeased(Entry<T> e) {
        if (e.moved) { // the ring handle's lease ends here (extend re-registers)
            e.moved = false;
            moved.remove(e.id);
        }
        if (e.state == Entry.LEASED_LIST) {
            leaseList.remove(e);
        } else {
            leaseHeap.remove(e);
        }
        inFlight--;
    }

    // =====================================================================================================
    // Settle: ack, nack, extend, reject, release
    // =====================================================================================================

    /**
     * Deletes the leased message (the Delete step). O(1) (O(log n) for TTL'd messages).
     *
     * @param handle the receipt handle of the current lease
     * @param now the caller's clock, millis
     * @return {@code OK}, or {@code STALE} when the handle's lease is over (deleted nothing)
     * @throws IllegalArgumentException if the handle was issued by another queue
     */
    public LeaseOutcome ack(ReceiptHandle handle, long now) {
        return settle(handle, OP_ACK, 0, null, now);
    }

    /**
     * Acknowledges many handles under one lock acquisition.
     *
     * @param handles receipt handles of this queue
     * @param now the caller's clock, millis
     * @return one outcome per handle, in order
     */
    public List<LeaseOutcome> ackAll(List<ReceiptHandle> handles, long now) {
        Objects.requireNonNull(handles, "handles");
        int n = handles.size();
        for (int i = 0; i < n; i++) {
            checkHandle(handles.get(i));
        }
        LeaseOutcome[] out = null; // created at the first STALE: all OK is one small immutable list
        Signals s;
        boolean ev = listener.wantsEvents(); // user code: outside the lock
        lockForBatch(n);
        try {
            now = clock(now, ev);
            boolean wasReadable = readyMask != 0;
            runTimers(now);
            for (int i = 0; i < n; i++) {
                LeaseOutcome o = settleLocked(handles.get(i), OP_ACK, 0, null, now);
                if (out == null && o != LeaseOutcome.OK) {
                    out = new LeaseOutcome[n];
                    Arrays.fill(out, 0, i, LeaseOutcome.OK);
                }
                if (out != null) {
                    out[i] = o;
                }
            }
            s = signals(wasReadable);
        } finally {
            lock.unlock();
        }
        fire(s);
        return out == null ? Collections.nCopies(n, LeaseOutcome.OK) : Arrays.asList(out);
    }

    /**
     * Gives the message back for redelivery, now or after {@code delay}; its delivery count is kept. A message
     * that has had {@code maxDeliveries} deliveries is dead-lettered instead.
     *
     * @param handle the receipt handle of the current lease
     * @param delay zero for at once, else the backoff before it is ready again (whole millis; a delay too long for
     *     millis saturates instead of failing)
     * @param now the caller's clock, millis
     * @return {@code OK} or {@code STALE}
     */
    public LeaseOutcome nack(ReceiptHandle handle, Duration delay, long now) {
        Objects.requireNonNull(delay, "delay");
        if (delay.isNegative()) {
            throw new IllegalArgumentException("delay must be >= 0, was " + delay);
        }
        return settle(handle, OP_NACK, delayMillis(delay), null, now);
    }

    /**
     * Sets the lease deadline to {@code now + duration} (still working on it). May shorten the lease too. The
     * duration is rounded up to whole milliseconds (a positive duration never leaves the lease over at once) and the
     * deadline saturates at {@link Long#MAX_VALUE}, as every deadline of the queue does; the handle's
     * {@link Lease#deadline()} then tells the new deadline.
     *
     * @param handle the receipt handle of the current lease
     * @param duration positive
     * @param now the caller's clock, millis
     * @return {@code OK} or {@code STALE} (an expired lease cannot be extended)
     * @throws IllegalArgumentException if {@code duration} is zero or negative
     */
    public LeaseOutcome extend(ReceiptHandle handle, Duration duration, long now) {
        Objects.requireNonNull(duration, "duration");
        if (duration.isNegative() || duration.isZero()) {
            throw new IllegalArgumentException("duration must be positive, was " + duration);
        }
        return settle(handle, OP_EXTEND, leaseMillis(duration), null, now);
    }

    /**
     * A positive lease length in whole millis, rounded up (a positive duration under a millisecond made a lease that
     * was over when it began) and saturated at {@link Long#MAX_VALUE} ({@link Duration#toMillis()} throws past it).
     */
    static long leaseMillis(Duration d) {
        long s = d.getSeconds();
        if (s >= Long.MAX_VALUE / 1000) {
            return Long.MAX_VALUE;
        }
        int nanos = d.getNano();
        return s * 1000 + (nanos + 999_999) / 1_000_000;
    }

    /** A delay in whole millis, saturated at {@link Long#MAX_VALUE} instead of throwing. */
    static long delayMillis(Duration d) {
        return d.getSeconds() >= Long.MAX_VALUE / 1000 ? Long.MAX_VALUE : d.toMillis();
    }

    /**
     * Never retry this message: move it to the dead-letter queue with {@code reason}, or drop it when the queue
     * has none. O(1).
     *
     * @param handle the receipt handle of the current lease
     * @param reason why, kept in the {@link Message#HEADER_DEAD_LETTER_REASON} header (cut to 1024 characters; an
     *        unpaired surrogate, which has no UTF-8 form, becomes U+FFFD)
     * @param now the caller's clock, millis
     * @return {@code OK} or {@code STALE}
     */
    public LeaseOutcome reject(ReceiptHandle handle, String reason, long now) {
        return settle(handle, OP_REJECT, 0, reason == null ? "rejected" : reason, now);
    }

    /**
     * Gives back a lease that never reached its consumer (for instance a stream cancelled before emitting it):
     * the message is ready again at once and the delivery is not counted.
     *
     * @param handle the receipt handle of the current lease
     * @param now the caller's clock, millis
     * @return {@code OK} or {@code STALE}
     */
    public LeaseOutcome release(ReceiptHandle handle, long now) {
        return settle(handle, OP_RELEASE, 0, null, now);
    }

    private static final int OP_ACK = 0;
    private static final int OP_NACK = 1;
    private static final int OP_EXTEND = 2;
    private static final int OP_REJECT = 3;
    private static final int OP_RELEASE = 4;

    private void checkHandle(ReceiptHandle h) {
        Objects.requireNonNull(h, "handle");
        if (h.queue != this) {
            throw new IllegalArgumentException("receipt handle " + h + " belongs to queue '" + h.queueName()
                    + "', not '" + name + "'");
        }
    }

    private LeaseOutcome settle(ReceiptHandle h, int op, long arg, String reason, long now) {
        checkHandle(h);
        LeaseOutcome out;
        Signals s;
        boolean ev = listener.wantsEvents(); // user code: outside the lock
        lock.lock();
        try {
            now = clock(now, ev);
            boolean wasReadable = readyMask != 0;
            runTimers(now);
            out = settleLocked(h, op, arg, reason, now);
            s = signals(wasReadable);
        } finally {
            lock.unlock();
        }
        fire(s);
        return out;
    }

    @SuppressWarnings("unchecked")
    private LeaseOutcome settleLocked(ReceiptHandle h, int op, long arg, String reason, long now) {
        Entry<T> e = (Entry<T>) h.entry;
        if (e == null) { // a ring lease
            if (closed) {
                return LeaseOutcome.STALE;
            }
            FifoRing<T> g = ring;
            long pos = h.ringPosition;
            if (g != null && g.isLeased(pos, h.id)) {
                int i = g.slot(pos);
                if (now >= g.deadlines[i]) {
                    return LeaseOutcome.STALE;
                }
                if (op == OP_ACK) {
                    inFlight--;
                    acked++;
                    event(QueueEvent.Type.ACKED, h.id, 1, null, now);
                    freed(1);
                    long sz = sizeOf(g.payloads[i]); // as stored: the ring holds only payloads of a fixed size
                    bytes -= sz;
                    if (budget != null) {
                        releaseBudget(MemoryBudget.charge(sz));
                    }
                    g.remove(pos);
                    return LeaseOutcome.OK;
                }
                e = promote(g, pos, op == OP_EXTEND);
            } else if (moved == null || (e = moved.get(h.id)) == null || now >= e.deadline) {
                return LeaseOutcome.STALE;
            }
        } else if (closed || e.id != h.id || !e.leased() || e.leaseSeq != h.leaseSeq || now >= e.deadline) {
            return LeaseOutcome.STALE;
        }
        switch (op) {
            case OP_ACK -> {
                removeLeased(e);
                acked++;
                if (journal != null) {
                    journal.acked(e.id);
                }
                event(QueueEvent.Type.ACKED, e.id, e.deliveryCount, null, now);
                finish(e);
                recycle(e);
            }
            case OP_NACK -> {
                removeLeased(e);
                nacked++;
                event(QueueEvent.Type.NACKED, e.id, e.deliveryCount, Long.toString(arg), now);
                if (maxDeliveries > 0 && e.deliveryCount >= maxDeliveries) {
                    deadLetter(e, "max deliveries reached (" + e.deliveryCount + ")", now);
                } else if (arg > 0 && (e.expiresAt == 0 || e.expiresAt > now)) { // past its TTL: expires now
                    e.state = Entry.DELAYED;
                    e.deadline = saturatedAdd(now, arg);
                    delayHeap.add(e);
                    due(e.deadline);
                    delayed++;
                    if (journal != null) {
                        journal.nacked(e.id, e.deadline);
                    }
                } else {
                    if (journal != null) {
                        journal.nacked(e.id, 0);
                    }
                    returnToReady(e, now);
                }
            }
            case OP_EXTEND -> {
                boolean wasMoved = e.moved;
                removeLeased(e);
                e.deadline = saturatedAdd(now, arg);
                insertLeased(e);
                if (wasMoved) {
                    register(e);
                }
                ((Lease<?>) h).extendedTo(e.deadline); // every handle is a Lease; readers see the core's order
                inFlight++;
                event(QueueEvent.Type.EXTENDED, e.id, e.deliveryCount, Long.toString(e.deadline), now);
            }
            case OP_REJECT -> {
                removeLeased(e);
                deadLetter(e, reason, now);
            }
            case OP_RELEASE -> {
                removeLeased(e);
                e.deliveryCount--;
                delivered--;
                if (journal != null) {
                    journal.delivered(e.id, e.deliveryCount);
                }
                event(QueueEvent.Type.RELEASED, e.id, e.deliveryCount, null, now);
                returnToReady(e, now);
            }
            default -> throw new IllegalStateException("op " + op);
        }
        return LeaseOutcome.OK;
    }

    // =====================================================================================================
    // Time
    // =====================================================================================================

    /**
     * Applies every timer due at {@code now}: expired leases return to ready ahead of newer messages of their
     * priority or key (or are dead-lettered once {@code maxDeliveries} is reached), due delayed messages become
     * ready, messages past their TTL are dropped or dead-lettered, and dedup ids past their window are forgotten.
     *
     * <p>Cost: proportional to what falls due, plus O(1).
     *
     * @param now the caller's clock, millis
     * @return the next time something falls due, or {@link Long#MAX_VALUE} when nothing is pending
     */
    public long advance(long now) {
        long next;
        Signals s;
        boolean ev = listener.wantsEvents(); // user code: outside the lock
        lock.lock();
        try {
            now = clock(now, ev);
            boolean wasReadable = readyMask != 0;
            runTimers(now);
            expireDedup(now);
            next = nextDeadlineLocked();
            s = signals(wasReadable);
        } finally {
            lock.unlock();
        }
        fire(s);
        return next;
    }

    /**
     * Tells when the next timer falls due (lease, delay, TTL or dedup window).
     *
     * @return millis on the caller's clock, or {@link Long#MAX_VALUE} when nothing is pending
     */
    public long nextDeadline() {
        long next;
        Signals s;
        lock.lock();
        try {
            s = drainForRead();
            next = nextDeadlineLocked();
        } finally {
            lock.unlock();
        }
        fire(s);
        return next;
    }

    private long nextDeadlineLocked() {
        long next = nextTimerDue();
        DedupRecord r = dedupOrder.peekFirst();
        return r == null ? next : Math.min(next, r.expiresAt);
    }

    private long clock(long now, boolean eventsWanted) {
        recordEvents = eventsWanted;
        if (inbox != null) {
            drainInbox(); // before the clock moves: pushes carry their own times
        }
        if (now > lastNow) {
            lastNow = now;
            return now;
        }
        return lastNow;
    }

    /** Applies due timers one due time at a time, in time order, exactly as if advance had run at each. */
    private void runTimers(long now) {
        if (now < timersDue) { // the common case: one comparison instead of peeking at every timer structure
            return;
        }
        long t;
        while ((t = nextTimerDue()) <= now) {
            runTimersAt(t);
        }
        timersDue = t;
    }

    /** Sizes a payload (see {@link Sizes}) through a one-entry cache of its class's kind: one compare per call. */
    private long sizeOf(Object p) {
        return Sizes.of(p, kindOf(p));
    }

    /** The {@link Sizes} kind of a payload, through a one-entry cache of its class's kind. */
    private int kindOf(Object p) {
        Class<?> c = p.getClass();
        Sizes.Cached k = sizeKind;
        if (k.type() != c) {
            k = new Sizes.Cached(c, Sizes.kind(c));
            sizeKind = k;
        }
        return k.kind();
    }

    /**
     * @return whether the payload's size cannot change while the queue holds it ({@code byte[]}, {@code String},
     *     types sized 0): the ring stores only such payloads, sized again when they leave, where an entry keeps the
     *     size it was stored with (see {@link Entry#size})
     */
    private boolean fixedSize(Object p) {
        return Sizes.fixed(kindOf(p));
    }

    /**
     * Takes the lock for a call on {@code n} messages. For a batch, a thread that finds the lock held spins briefly
     * (reading, not writing) before it queues and parks in {@code ReentrantLock}: the holder's critical section is
     * bounded work with no I/O and no user code, and a hand-over between a producer and a consumer on two cores then
     * costs no futex wake-up and no context switch (measured, 1 producer + 1 consumer in batches of 64: 0.64x ->
     * 1.3x {@code ArrayBlockingQueue}). Calls on one message park at once, as {@code ReentrantLock} does: spinning
     * there made a barging convoy (the faster side re-takes the lock while the other spins out and parks), measured
     * 0.37x -> 0.16x of {@code ArrayBlockingQueue} one at a time.
     */
    private void lockForBatch(int n) {
        ReentrantLock l = lock;
        if (n <= 1) {
            l.lock();
            return;
        }
        if (l.tryLock()) {
            return;
        }
        for (int i = 0; i < LOCK_SPINS; i++) {
            Thread.onSpinWait();
            if (!l.isLocked() && l.tryLock()) {
                return;
            }
        }
        l.lock();
    }

    /** A deadline was set: {@link #runTimers} must look again by then. */
    private void due(long t) {
        if (t < timersDue) {
            timersDue = t;
        }
    }

    private long nextTimerDue() {
        long t = Long.MAX_VALUE;
        Entry<T> e;
        if ((e = leaseList.head) != null) {
            t = e.deadline;
        }
        if ((e = leaseHeap.peek()) != null) {
            t = Math.min(t, e.deadline);
        }
        if ((e = delayHeap.peek()) != null) {
            t = Math.min(t, e.deadline);
        }
        if ((e = ttlHeap.peek()) != null) {
            t = Math.min(t, e.expiresAt);
        }
        FifoRing<T> g = ring;
        if (g != null && g.hasLeased()) {
            t = Math.min(t, g.deadlines[g.slot(g.base)]);
        }
        return t;
    }

    private void runTimersAt(long now) {
        Entry<T> e;
        while (true) { // due leases in (deadline, id) order across list and heap, as if advance ran at each deadline
            Entry<T> l = leaseList.head;
            e = leaseHeap.peek();
            if (l != null && (e == null || l.deadline < e.deadline || (l.deadline == e.deadline && l.id < e.id))) {
                e = l;
            }
            FifoRing<T> g = ring;
            if (g != null && g.hasLeased()) { // the ring's first lease is its first to end
                int i = g.slot(g.base);
                long rd = g.deadlines[i];
                if (rd <= now && (e == null || rd < e.deadline || (rd == e.deadline && g.ids[i] < e.id))) {
                    expireLease(promote(g, g.base, false), now);
                    continue;
                }
            }
            if (e == null || e.deadline > now) {
                break;
            }
            expireLease(e, now);
        }
        while ((e = delayHeap.peek()) != null && e.deadline <= now) {
            delayHeap.poll();
            delayed--;
            if (e.deliveryCount > 0) {
                returnToReady(e, now);
            } else if (e.expiresAt != 0 && e.expiresAt <= now) {
                expireTtl(e, now);
            } else {
                enqueueNew(e);
            }
        }
        while ((e = ttlHeap.peek()) != null && e.expiresAt <= now) {
            ttlHeap.poll();
            if (e.leased()) {
                continue; // decided when its lease ends
            }
            unlinkReadyOrDelayed(e);
            expireTtl(e, now);
        }
    }

    private void expireLease(Entry<T> e, long now) {
        removeLeased(e);
        expiredLeases++;
        event(QueueEvent.Type.EXPIRED, e.id, e.deliveryCount, null, now);
        if (maxDeliveries > 0 && e.deliveryCount >= maxDeliveries) {
            deadLetter(e, "max deliveries reached (" + e.deliveryCount + ")", now);
        } else {
            returnToReady(e, now);
        }
    }

    private void expireDedup(long now) {
        DedupRecord r;
        while ((r = dedupOrder.peekFirst()) != null && r.expiresAt <= now) {
            dedupOrder.pollFirst();
            dedup.remove(r.dedupId, r);
        }
    }

    private void expireTtl(Entry<T> e, long now) {
        event(QueueEvent.Type.TTL_EXPIRED, e.id, e.deliveryCount, null, now);
        if (deadLetterOnExpiry) {
            deadLetter(e, "expired", now);
        } else {
            expired++;
            if (journal != null) {
                journal.dropped(e.id);
            }
            finish(e);
        }
    }

    // =====================================================================================================
    // Ready structures
    // =====================================================================================================

    /** A message becomes ready for the first time (new send, or a delayed send falling due): tail of its FIFO. */
    private void enqueueNew(Entry<T> e) {
        ready++;
        String key = keyOf(e);
        if (key != null) {
            KeyState<T> k = keys.get(key);
            if (k == null) {
                k = new KeyState<>(key);
                keys.put(key, k);
            }
            e.state = Entry.READY_KEY;
            k.list.addLast(e);
            if (k.held == null && k.level < 0) {
                makeKeyReady(k);
            }
        } else {
            e.state = Entry.READY_MAIN;
            levels[e.priority].main.addLast(e);
            readyMask |= 1 << e.priority;
        }
    }

    /** A delivered message comes back (lease expired, nack, release): ahead of newer messages of its FIFO. */
    private void returnToReady(Entry<T> e, long now) {
        if (e.expiresAt != 0 && e.expiresAt <= now) {
            if (e.ttlIndex >= 0) {
                ttlHeap.remove(e);
            }
            if (keyOf(e) != null) {
                KeyState<T> k = keys.get(keyOf(e));
                if (k.held == e) {
                    k.held = null;
                    settleKey(k);
                }
            }
            expireTtl(e, now);
            return;
        }
        ready++;
        if (keyOf(e) != null) {
            KeyState<T> k = keys.get(keyOf(e));
            if (k.held == e) {
                k.held = null;
            }
            e.state = Entry.READY_KEY;
            k.list.addFirst(e);
            if (k.level >= 0) { // its old head's priority no longer applies
                levels[k.level].keys.remove(k);
                clearLevelIfEmpty(k.level);
                k.level = -1;
            }
            if (k.held == null) {
                makeKeyReady(k);
            }
        } else {
            e.state = Entry.READY_RETRY;
            ReadyLevel<T> level = levels[e.priority];
            if (level.retry == null) {
                level.retry = new EntryHeap<>(EntryHeap.BY_ID);
            }
            level.retry.add(e);
            readyMask |= 1 << e.priority;
        }
    }

    private void makeKeyReady(KeyState<T> k) {
        int p = k.list.head.priority;
        levels[p].keys.addLast(k);
        k.level = p;
        readyMask |= 1 << p;
    }

    /** After a key's held message left: make the key ready if it has messages, forget it if it is empty. */
    private void settleKey(KeyState<T> k) {
        if (k.held != null) {
            return;
        }
        if (k.list.isEmpty()) {
            if (k.level >= 0) {
                levels[k.level].keys.remove(k);
                clearLevelIfEmpty(k.level);
                k.level = -1;
            }
            keys.remove(k.key);
        } else if (k.level < 0) {
            makeKeyReady(k);
        }
    }

    private Entry<T> pollReady() {
        int p = 31 - Integer.numberOfLeadingZeros(readyMask);
        ReadyLevel<T> level = levels[p];
        Entry<T> r = level.retry == null ? null : level.retry.peek();
        // the ring holds the oldest ready messages of priority 0: the main list's come after them (see sendLocked)
        Entry<T> m = p == 0 && ring != null && ring.hasReady() ? null : level.main.head;
        KeyState<T> k = level.keys.head;
        Entry<T> kh = k == null ? null : k.list.head;
        Entry<T> pick = r;
        if (m != null && (pick == null || m.id < pick.id)) {
            pick = m;
        }
        if (kh != null && (pick == null || kh.id < pick.id)) {
            pick = kh;
        }
        if (pick == r) {
            level.retry.poll();
        } else if (pick == m) {
            level.main.remove(m);
        } else {
            k.list.remove(kh);
            level.keys.remove(k);
            k.level = -1;
            k.held = kh;
        }
        ready--;
        clearLevelIfEmpty(p);
        return pick;
    }

    private void clearLevelIfEmpty(int p) {
        if (levels[p].isEmpty() && (p != 0 || ring == null || !ring.hasReady())) {
            readyMask &= ~(1 << p);
        }
    }

    /** Removes a READY_* or DELAYED entry from its structure (TTL expiry, purge). */
    private void unlinkReadyOrDelayed(Entry<T> e) {
        switch (e.state) {
            case Entry.READY_MAIN -> {
                levels[e.priority].main.remove(e);
                ready--;
                clearLevelIfEmpty(e.priority);
            }
            case Entry.READY_RETRY -> {
                levels[e.priority].retry.remove(e);
                ready--;
                clearLevelIfEmpty(e.priority);
            }
            case Entry.READY_KEY -> {
                KeyState<T> k = keys.get(keyOf(e));
                boolean wasHead = k.list.head == e;
                k.list.remove(e);
                ready--;
                if (wasHead && k.level >= 0) {
                    levels[k.level].keys.remove(k);
                    clearLevelIfEmpty(k.level);
                    k.level = -1;
                }
                settleKey(k);
            }
            case Entry.DELAYED -> {
                delayHeap.remove(e);
                delayed--;
                if (keyOf(e) != null) {
                    KeyState<T> k = keys.get(keyOf(e));
                    if (k != null && k.held == e) {
                        k.held = null;
                        settleKey(k);
                    }
                }
            }
            default -> throw new IllegalStateException("entry " + e.id + " in state " + e.state);
        }
    }

    /** Deletes an entry that has left every structure: frees capacity and releases its key. */
    private void finish(Entry<T> e) {
        if (e.ttlIndex >= 0) {
            ttlHeap.remove(e);
        }
        e.state = Entry.GONE;
        freed(1);
        long sz = e.size(); // as counted when stored, whatever the payload became since
        bytes -= sz;
        if (budget != null) {
            releaseBudget(MemoryBudget.charge(sz));
        }
        if (keyOf(e) != null) {
            KeyState<T> k = keys.get(keyOf(e));
            if (k != null && k.held == e) {
                k.held = null;
                settleKey(k);
            }
        }
    }

    /**
     * Keeps an acked entry (GONE, in no structure) for the next send, up to {@link #maxFree}. Its handles stay stale:
     * the entry's next message has another id and its lease sequence keeps counting.
     */
    private void recycle(Entry<T> e) {
        if (freeCount < maxFree) {
            e.clear();
            e.next = freeEntries;
            freeEntries = e;
            freeCount++;
        }
    }

    private void deadLetter(Entry<T> e, String reason, long now) {
        deadLettered++;
        if (journal != null) {
            journal.deadLettered(e.id, e.deliveryCount, reason, deadLetterSink != null);
        }
        event(QueueEvent.Type.DEAD_LETTERED, e.id, e.deliveryCount, reason, now);
        finish(e);
        if (deadLetterSink != null) {
            if (pendingDeadLetters == null) {
                pendingDeadLetters = new ArrayList<>();
            }
            pendingDeadLetters.add(new DeadLetter<>(name, spec.deadLetterQueue().get(), e.id, e.payload,
                    e.messageKey, e.priority, e.headers, e.deliveryCount, reason, now));
        }
    }

    // =====================================================================================================
    // Admin
    // =====================================================================================================

    /**
     * Deletes every message, ready, delayed and leased; outstanding handles become stale. Dedup ids are kept
     * (their window still applies). O(n).
     *
     * @param now the caller's clock, millis
     * @return how many messages were removed
     */
    public long purge(long now) {
        long n;
        Signals s;
        boolean ev = listener.wantsEvents(); // user code: outside the lock
        lock.lock();
        try {
            now = clock(now, ev);
            boolean wasReadable = readyMask != 0;
            runTimers(now); // what fell due before the purge (expiry, dead letters) still happens
            n = purgeLocked();
            if (journal != null) {
                journal.purged();
            }
            event(QueueEvent.Type.PURGED, 0, 0, Long.toString(n), now);
            s = signals(wasReadable);
        } finally {
            lock.unlock();
        }
        fire(s);
        return n;
    }

    private long purgeLocked() {
        long n = size;
        for (Entry<T> e = leaseList.head; e != null; ) {
            Entry<T> next = e.next;
            e.prev = null;
            e.next = null;
            e.state = Entry.GONE;
            e = next;
        }
        leaseList.head = null;
        leaseList.tail = null;
        leaseList.size = 0;
        for (Entry<T> e : leaseHeap.clear()) {
            e.state = Entry.GONE;
        }
        for (Entry<T> e : delayHeap.clear()) {
            e.state = Entry.GONE;
        }
        for (Entry<T> e : ttlHeap.clear()) {
            e.ttlIndex = -1;
        }
        for (int p = 0; p < LEVELS; p++) {
            ReadyLevel<T> level = levels[p];
            for (Entry<T> e = level.main.head; e != null; ) {
                Entry<T> next = e.next;
                e.prev = null;
                e.next = null;
                e.state = Entry.GONE;
                e = next;
            }
            level.main = new EntryList<>();
            if (level.retry != null) {
                for (Entry<T> e : level.retry.clear()) {
                    e.state = Entry.GONE;
                }
            }
            level.keys = new KeyList<>();
        }
        if (keys != null) {
            for (KeyState<T> k : keys.values()) {
                for (Entry<T> e = k.list.head; e != null; ) {
                    Entry<T> next = e.next;
                    e.prev = null;
                    e.next = null;
                    e.state = Entry.GONE;
                    e = next;
                }
            }
            keys.clear();
        }
        if (ring != null) {
            ring.clear();
        }
        if (moved != null) {
            for (Entry<T> e : moved.values()) {
                e.moved = false;
            }
            moved.clear();
        }
        readyMask = 0;
        freed(n);
        ready = 0;
        inFlight = 0;
        delayed = 0;
        if (budget != null && n > 0) {
            releaseBudget(bytes + n * BrokerOptions.MESSAGE_OVERHEAD_BYTES);
        }
        bytes = 0;
        purged += n;
        return n;
    }

    /**
     * Closes the queue: sends report {@code CLOSED}, receives return nothing, handles are stale. Messages are
     * kept (see {@link #purge(long)}); closing twice is harmless.
     */
    public void close() {
        Signals s = null;
        lock.lock();
        try {
            if (inbox != null && !closed) {
                inbox.pushable = false;
                Pushed h;
                do {
                    h = inbox.head;
                } while (!inbox.casHead(h, SendInbox.CLOSED)); // no push after this
                recordEvents = false;
                drainInbox(h); // sends pushed before the close are stored like any other
                lastDrained = SendInbox.CLOSED;
                s = signals(true);
            }
            closed = true;
        } finally {
            lock.unlock();
        }
        fire(s);
    }

    /**
     * Under the lock, for calls that take no {@code now}: stores pushed sends first, so the call sees every send
     * that returned before it started. Timers that fell due before a push run as they would have for it.
     *
     * @return what the drain signalled (dead letters from those timers), for {@link #fire} after the unlock
     */
    private Signals drainForRead() {
        if (inbox == null) {
            return null;
        }
        Pushed h = inbox.head;
        if (h == lastDrained || h.message == null) {
            return null;
        }
        recordEvents = false; // pushes are made only while nobody wants events
        drainInbox();
        return signals(true);
    }

    /**
     * Durable brokers: sets (or, with null, detaches) the journal; after this returns no call uses the old one. Attach
     * before the queue is visible to any sender (senders encode with it before they take the lock), detach at any time.
     */
    void setJournal(Journal<T> journal) {
        fire(swapJournal(journal));
    }

    /**
     * Durable brokers: detaches the journal as {@code setJournal(null)} does, for a caller under a lock of its own
     * (the journals' compute, which must log the name's DELETE before the next DECLARE): the signals the detach owes the
     * listener are fired by the returned task, to run after that lock.
     *
     * @return fires the signals (and a writable owed to a send refused without the lock); run it once, with no lock held
     */
    Runnable detachJournal() {
        Signals s = swapJournal(null);
        return () -> fire(s);
    }

    private Signals swapJournal(Journal<T> journal) {
        Signals s;
        lock.lock();
        try {
            s = drainForRead(); // what was pushed before the journal came is not in it, as if sent before
            this.journal = journal;
            this.encoder = journal;
            if (inbox != null) {
                inbox.pushable = journal == null;
            }
            // journals record entries: the ring's messages move out, and new ones stay out while one is attached
            if (ring != null && journal != null) {
                drainRing(ring);
            }
        } finally {
            lock.unlock();
        }
        return s;
    }

    /** Moves every ring message out to entries: leases keep running, ready ones go ahead of the main list's. */
    private void drainRing(FifoRing<T> g) {
        while (g.hasLeased()) {
            promote(g, g.base, true);
        }
        ArrayList<Entry<T>> out = new ArrayList<>((int) g.readyCount());
        while (g.hasReady()) {
            Entry<T> e = takeRingHead(g);
            e.state = Entry.READY_MAIN;
            out.add(e);
        }
        EntryList<T> main = levels[0].main;
        for (int i = out.size() - 1; i >= 0; i--) {
            main.addFirst(out.get(i));
        }
    }

    /**
     * Durable brokers: puts messages rebuilt from the log back, before the queue is used. Every message is ready
     * (or delayed until its {@code readyAt}): leases are not recovered. O(n log n).
     *
     * @param state the messages in id order, the dedup ids still in their window, and the next id at least
     */
    void restore(Journal.RecoveredQueue<T> state) {
        lock.lock();
        try {
            own();
            for (Journal.Recovered<T> m : state.messages()) {
                long sz = sizeOf(m.payload());
                Entry<T> e = new Entry<>(m.id(), m.timestamp(), m.payload(), m.key(), m.priority(), m.headers(), sz);
                e.deliveryCount = m.deliveryCount();
                e.expiresAt = m.expiresAt();
                if (e.expiresAt != 0 && inbox != null) {
                    inbox.timersMayFree = true;
                }
                size++;
                admitted++;
                bytes += sz;
                if (budget != null) {
                    budget.force(MemoryBudget.charge(sz)); // recovered: held already, never refused
                }
                if (m.readyAt() > 0) {
                    e.state = Entry.DELAYED;
                    e.deadline = m.readyAt();
                    delayHeap.add(e);
                    due(e.deadline);
                    delayed++;
                } else {
                    enqueueNew(e);
                }
                if (e.expiresAt != 0) {
                    ttlHeap.add(e);
                    due(e.expiresAt);
                }
                nextId = Math.max(nextId, m.id() + 1);
            }
            ArrayList<Journal.RecoveredDedup> ds = new ArrayList<>(state.dedup());
            ds.sort((a, b) -> Long.compare(a.expiresAt(), b.expiresAt()));
            for (Journal.RecoveredDedup d : ds) {
                DedupRecord r = new DedupRecord(d.dedupId(), d.messageId(), d.expiresAt());
                dedup.put(d.dedupId(), r);
                dedupOrder.addLast(r);
            }
            nextId = Math.max(nextId, state.nextId());
        } finally {
            unlockOwned();
        }
    }

    /** @return whether {@link #close()} was called */
    public boolean isClosed() {
        lock.lock();
        try {
            return closed;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Browses ready messages without leasing them, roughly in delivery order (by priority, then returned
     * messages, then FIFO, then key-ordered messages by key). O(max + returned messages).
     *
     * @param max at least 1
     * @return up to {@code max} messages
     */
    public List<Message<T>> peek(int max) {
        if (max < 1) {
            throw new IllegalArgumentException("max must be >= 1, was " + max);
        }
        ArrayList<Message<T>> out = new ArrayList<>(Math.min(max, 256));
        Signals s;
        lock.lock();
        try {
            s = drainForRead();
            for (int p = LEVELS - 1; p >= 0 && out.size() < max; p--) {
                ReadyLevel<T> level = levels[p];
                if (level.retry != null && !level.retry.isEmpty()) {
                    ArrayList<Entry<T>> rs = new ArrayList<>(level.retry.size());
                    for (int i = 0; i < level.retry.size(); i++) {
                        rs.add(level.retry.get(i));
                    }
                    rs.sort((a, b) -> Long.compare(a.id, b.id));
                    for (int i = 0; i < rs.size() && out.size() < max; i++) {
                        out.add(rs.get(i).toMessage());
                    }
                }
                if (p == 0 && ring != null) {
                    FifoRing<T> g = ring;
                    for (long q = g.readyHead; q < g.tail && out.size() < max; q++) {
                        int i = g.slot(q);
                        out.add(new Message<>(g.ids[i], g.payload(i), g.key(i), 0, g.headers(i), g.times[i]));
                    }
                }
                for (Entry<T> e = level.main.head; e != null && out.size() < max; e = e.next) {
                    out.add(e.toMessage());
                }
            }
            if (keys != null) {
                for (KeyState<T> k : keys.values()) {
                    for (Entry<T> e = k.list.head; e != null && out.size() < max; e = e.next) {
                        out.add(e.toMessage());
                    }
                }
            }
        } finally {
            lock.unlock();
        }
        fire(s);
        return out;
    }

    /**
     * Reads the queue's depth and counters.
     *
     * @return a snapshot as of the last call
     */
    public QueueStats stats() {
        QueueStats st;
        Signals s;
        lock.lock();
        try {
            s = drainForRead();
            st = new QueueStats(name, ready, inFlight, delayed, bytes, capacity, sent, duplicates, delivered, acked,
                    nacked, expiredLeases, deadLettered, expired, purged);
        } finally {
            lock.unlock();
        }
        fire(s);
        return st;
    }

    /** @return messages held (ready, leased and delayed) */
    public long size() {
        long n;
        Signals s;
        lock.lock();
        try {
            s = drainForRead();
            n = size;
        } finally {
            lock.unlock();
        }
        fire(s);
        return n;
    }

    /** Tests: sends pushed and not yet stored (walks the inbox under the lock without draining it). */
    int undrainedPushes() {
        lock.lock();
        try {
            int n = 0;
            if (inbox != null) {
                for (Pushed p = inbox.head; p != lastDrained && p.message != null; p = p.older) {
                    n++;
                }
            }
            return n;
        } finally {
            lock.unlock();
        }
    }

    /** Tests: the ring's length in slots (0 without a ring), to check that it stays bounded. */
    int ringLength() {
        int n;
        Signals s;
        lock.lock();
        try {
            s = drainForRead();
            n = ring == null ? 0 : ring.length();
        } finally {
            lock.unlock();
        }
        fire(s);
        return n;
    }

    /** @return whether a plain send would be refused for capacity now */
    public boolean isFull() {
        boolean full;
        Signals s;
        lock.lock();
        try {
            s = drainForRead();
            full = size >= capacity || bytes >= maxBytes;
        } finally {
            lock.unlock();
        }
        fire(s);
        return full;
    }

    // =====================================================================================================
    // Signals after unlock
    // =====================================================================================================

    /**
     * What a call hands over after its unlock. {@code budgetRefused}: the smallest charge it refused for the broker's
     * memory budget (0: none), so the queue waits for the budget; {@code budgetFreed}: it gave bytes back to the
     * budget while other queues wait for it, so they are woken.
     */
    private record Signals(boolean readable, boolean writable, List<DeadLetter<?>> deadLetters,
            List<QueueEvent> events, long budgetRefused, boolean budgetFreed) {
        Signals(boolean readable, boolean writable, List<DeadLetter<?>> deadLetters, List<QueueEvent> events) {
            this(readable, writable, deadLetters, events, 0, false);
        }
    }

    private static final Signals READABLE = new Signals(true, false, null, null);
    private static final Signals WRITABLE = new Signals(false, true, null, null);
    private static final Signals READABLE_WRITABLE = new Signals(true, true, null, null);

    private void event(QueueEvent.Type type, long id, int deliveryCount, String detail, long now) {
        if (recordEvents) {
            if (pendingEvents == null) {
                pendingEvents = new ArrayList<>();
            }
            pendingEvents.add(new QueueEvent(type, name, id, deliveryCount, detail, now));
        }
    }

    /** Computes the edges of this call and hands over what was collected; must run under the lock. */
    @SuppressWarnings("unchecked")
    private Signals signals(boolean wasReadable) {
        boolean readable = !wasReadable && readyMask != 0;
        SendInbox in = inbox;
        if (in != null) {
            if (in.clock != lastNow) {
                in.clock = lastNow; // once per clock tick at most: see SendInbox.push
            }
            if (readyMask == 0) {
                if (!in.isIdle()) {
                    // Dekker with push: set idle, then look at the inbox. A push that CAS'd before this look is seen
                    // here (and signalled by this call); one after it sees idle and signals itself.
                    in.markIdle();
                    Pushed h = in.head;
                    readable = h != lastDrained && h.message != null;
                }
            } else if (in.takeIdle()) {
                // something is ready where nothing was: the edge is this call's to signal, also for a push that
                // saw idle but lost the flag to this CAS (it then signals nothing)
                readable = true;
            }
        }
        boolean writable = false;
        if (sendRefused && size < capacity && refusedBytes <= maxBytes - bytes) {
            sendRefused = false;
            writable = true;
        }
        List<DeadLetter<?>> dl = (List<DeadLetter<?>>) (List<?>) pendingDeadLetters;
        List<QueueEvent> ev = pendingEvents;
        if (dl != null) { // no store when there is nothing: the line stays clean for a thread spinning nearby
            pendingDeadLetters = null;
        }
        if (ev != null) {
            pendingEvents = null;
        }
        if (budget != null && (budgetRefused != 0 || budgetReleased)) {
            long refused = budgetRefused;
            boolean wake = budgetReleased && budget.maybeWaiters();
            budgetRefused = 0;
            budgetReleased = false;
            if (refused != 0 || wake) {
                return new Signals(readable, writable, dl, ev, refused, wake);
            }
        }
        if (dl == null && ev == null) { // the common case allocates nothing
            return readable ? (writable ? READABLE_WRITABLE : READABLE) : (writable ? WRITABLE : null);
        }
        return new Signals(readable, writable, dl, ev);
    }

    private void fire(Signals s) {
        boolean writableAfterRefusal = writableAfterRefusal();
        if (s == null) {
            if (!writableAfterRefusal) {
                return;
            }
            s = WRITABLE;
        }
        if (s.deadLetters != null) {
            for (DeadLetter<?> dl : s.deadLetters) {
                deadLetterSink.accept(dl);
            }
        }
        if (s.budgetFreed) {
            budget.wake(); // other queues' listeners: after this queue's lock is released, as every signal
        }
        if (s.budgetRefused != 0) {
            awaitBudget(s.budgetRefused);
        }
        QueueListener l = listener;
        try {
            if (s.events != null) {
                l.onEvents(s.events);
            }
            if (s.readable) {
                l.onReadable();
            }
            if (s.writable || writableAfterRefusal) {
                l.onWritable();
            }
        } catch (RuntimeException ex) {
            LOG.log(Level.WARNING, "queue '" + name + "': listener threw", ex);
        }
    }

    /**
     * Whether a send refused without the lock is owed its writable signal now (and takes it if so). Runs after the
     * unlock, a full fence after this call's stores to freed: see SendInbox.push. Owed once there is room; while a
     * lock holder owns the head, its own call comes here after it.
     */
    private boolean writableAfterRefusal() {
        SendInbox in = inbox;
        if (in == null || in.refused == 0) {
            return false;
        }
        Pushed h = in.head;
        return (h == SendInbox.CLOSED || h != SendInbox.OWNED && h.admitted - in.freed < capacity) && in.takeRefused();
    }

    // =====================================================================================================
    // The broker's memory budget
    // =====================================================================================================

    /** Under the lock: gives {@code charge} bytes back to the budget; the call's signals wake the queues waiting. */
    private void releaseBudget(long charge) {
        budget.release(charge);
        budgetReleased = true;
    }

    /**
     * After the unlock of a call that refused a send of {@code charge} bytes for the budget: the queue waits for the
     * budget (joins its waiters once, keeping the smallest charge refused), then looks again, so bytes freed between
     * the refusal and the join are not missed: a queue that frees bytes after the join wakes it (Dekker on the
     * budget's counter and its waiters flag, see {@link MemoryBudget#await}).
     */
    private void awaitBudget(long charge) {
        if (budgetNeed.getAndAccumulate(charge, Math::min) == Long.MAX_VALUE) {
            budget.await(this);
        }
        if (budget.fits(charge)) {
            budget.wake(); // room after all: this queue is woken (and any other that fits)
        }
    }

    /** With a budget: the smallest send this queue waits to fit in the budget, {@link Long#MAX_VALUE} if none. */
    long budgetNeed() {
        return budgetNeed.get();
    }

    /**
     * Called by {@link MemoryBudget#wake()} outside every queue lock, on the thread of the call that freed bytes:
     * the queue no longer waits, and its producers are told to try again (its writable edge).
     */
    void budgetFreed() {
        budgetNeed.set(Long.MAX_VALUE);
        try {
            listener.onWritable();
        } catch (RuntimeException ex) {
            LOG.log(Level.WARNING, "queue '" + name + "': listener threw", ex);
        }
    }

    static long saturatedAdd(long a, long b) {
        long r = a + b;
        return ((a ^ r) & (b ^ r)) < 0 ? Long.MAX_VALUE : r;
    }

    /** Everything receivable at one priority. */
    private static final class ReadyLevel<T> {
        EntryList<T> main = new EntryList<>();
        EntryHeap<T> retry; // created on first return
        KeyList<T> keys = new KeyList<>();

        boolean isEmpty() {
            return main.isEmpty() && (retry == null || retry.isEmpty()) && keys.isEmpty();
        }
    }

    @Override
    public String toString() {
        return "MessageQueue{" + name + "}";
    }
}
