package dev.rill.core;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A slow, obviously-correct reference for {@link MessageQueue}, used by {@link ModelBasedTest}.
 *
 * <p>Every message ever sent stays in one list with a state; every decision is a linear scan over that list.
 * Ordering is expressed with plain numbers instead of data structures:
 * <ul>
 *   <li>ready order: highest priority first; within a priority the smallest id among the returned un-keyed
 *       message with the smallest id, the never-delivered un-keyed message that joined the tail first, and the
 *       head of the first ready key;</li>
 *   <li>a key's messages: a message returned to ready goes to the key's front, any other to its back;</li>
 *   <li>ready keys: a key takes the last place of its head's priority when it becomes ready, or when its head
 *       changes while it is ready;</li>
 *   <li>timers at the start of every call, one due time at a time in time order (as if advance ran at each
 *       due time): at each, due leases by id, then due delays by id, then due time-to-live by id.</li>
 * </ul>
 */
final class ReferenceModel {

    enum State { READY, DELAYED, LEASED, GONE }

    /** One message and its bookkeeping. */
    static final class Msg {
        final long id;
        final String payload;
        final String key; // ordering key: null unless key-ordered and sent with a key
        final String messageKey; // the key as sent, whatever the ordering
        final int priority;
        final long timestamp;
        State state;
        int deliveryCount;
        int leaseSeq;
        long deadline; // lease deadline while LEASED, due time while DELAYED
        long expiresAt; // 0: no TTL
        boolean inTtl; // still watched by the TTL sweep (dropped when the sweep finds it leased)
        boolean returned; // became ready through a return (expiry, nack, release): ordered by id
        long mainPos; // place in its priority's FIFO (un-keyed, never returned)
        long keyPos; // place in its key's FIFO

        Msg(long id, String payload, String key, String messageKey, int priority, long timestamp) {
            this.id = id;
            this.payload = payload;
            this.key = key;
            this.messageKey = messageKey;
            this.priority = priority;
            this.timestamp = timestamp;
        }

        long bytes() {
            return 2L * payload.length();
        }

        @Override
        public String toString() {
            return "#" + id + "(" + state + ",p" + priority + (key == null ? "" : ",k=" + key) + ",dc" + deliveryCount
                    + ",dl" + deadline + (expiresAt != 0 ? ",exp" + expiresAt : "") + ")";
        }
    }

    /** A receipt handle: the message and the lease it was issued for. */
    record Handle(Msg msg, int leaseSeq) {
    }

    /** What a receive hands out for one message. */
    record LeaseView(long id, String payload, String key, int priority, long timestamp, int deliveryCount,
            long deadline, Handle handle) {
    }

    /** A message handed to the dead-letter queue. */
    record DeadLetterView(long originalId, String payload, String key, int priority, String reason,
            int deliveryCount) {
    }

    private static final class KeyInfo {
        boolean ready;
        long headId;
        long seq;
    }

    record Outcome(SendOutcome.Status status, long id) {
    }

    // ---- configuration ----
    final String name;
    final boolean keyOrdered;
    final int capacity;
    final long maxBytes;
    final int maxDeliveries;
    final long visibility;
    final long dedupWindow;
    final long queueTtl;
    final boolean deadLetterOnExpiry;

    // ---- state ----
    final List<Msg> msgs = new ArrayList<>();
    private final Map<String, KeyInfo> keys = new HashMap<>();
    private final Map<String, long[]> dedup = new HashMap<>(); // dedup id -> {message id, expires at}
    final List<DeadLetterView> deadLetters = new ArrayList<>();
    final List<QueueEvent> events = new ArrayList<>();
    private long lastNow = Long.MIN_VALUE;
    private long nextId = 1;
    private long tailCounter;
    private long frontCounter;
    private long keySeqCounter;
    long sent;
    long duplicates;
    long delivered;
    long acked;
    long nacked;
    long expiredLeases;
    long deadLettered;
    long expired;
    long purged;

    ReferenceModel(QueueSpec spec) {
        this.name = spec.name();
        this.keyOrdered = spec.ordering() == Ordering.KEY_ORDERED;
        this.capacity = spec.capacity();
        this.maxBytes = spec.maxBytes().orElse(Long.MAX_VALUE);
        this.maxDeliveries = spec.maxDeliveries().orElse(0);
        this.visibility = spec.visibilityTimeout().toMillis();
        this.dedupWindow = spec.dedupWindow().toMillis();
        this.queueTtl = spec.messageTtl().map(d -> d.toMillis()).orElse(0L);
        this.deadLetterOnExpiry = spec.expiryAction() == ExpiryAction.DEAD_LETTER;
    }

    // =========================================================================================== operations

    Outcome send(OutboundMessage<String> m, long now) {
        now = clock(now);
        runTimers(now);
        return sendOne(m, now);
    }

    List<Outcome> sendAll(List<OutboundMessage<String>> ms, long now) {
        now = clock(now);
        runTimers(now);
        List<Outcome> out = new ArrayList<>();
        boolean full = false;
        for (OutboundMessage<String> m : ms) {
            Outcome o = full ? new Outcome(SendOutcome.Status.FULL, 0) : sendOne(m, now);
            full = o.status() == SendOutcome.Status.FULL;
            out.add(o);
        }
        return out;
    }

    private Outcome sendOne(OutboundMessage<String> m, long now) {
        String dedupId = m.dedupId();
        if (dedupId != null) {
            dedup.values().removeIf(x -> x[1] <= now); // a send with a dedup id forgets every id past its window
            long[] r = dedup.get(dedupId);
            if (r != null && r[1] > now) {
                duplicates++;
                event(QueueEvent.Type.DEDUPLICATED, r[0], 0, dedupId, now);
                return new Outcome(SendOutcome.Status.DUPLICATE, r[0]);
            }
        }
        long sz = 2L * m.payload().length();
        if (size() >= capacity || bytes() + sz > maxBytes) {
            return new Outcome(SendOutcome.Status.FULL, 0);
        }
        Msg e = new Msg(nextId++, m.payload(), keyOrdered ? m.key() : null, m.key(), m.priority(), now);
        long ttl = queueTtl;
        if (m.ttl() != null) {
            ttl = ttl == 0 ? m.ttl().toMillis() : Math.min(ttl, m.ttl().toMillis());
        }
        if (ttl > 0) {
            e.expiresAt = now + Math.max(1, ttl);
            e.inTtl = true;
        }
        msgs.add(e);
        sent++;
        if (dedupId != null) {
            dedup.put(dedupId, new long[] {e.id, now + dedupWindow});
        }
        event(QueueEvent.Type.ENQUEUED, e.id, 0, null, now);
        long delay = m.delay().toMillis();
        if (delay > 0) {
            e.state = State.DELAYED;
            e.deadline = now + delay;
        } else {
            joinTail(e);
        }
        return new Outcome(SendOutcome.Status.ENQUEUED, e.id);
    }

    List<LeaseView> receive(int max, long visibilityMs, long now) {
        now = clock(now);
        runTimers(now);
        List<LeaseView> out = new ArrayList<>();
        Msg e;
        while (out.size() < max && (e = pickReady()) != null) {
            e.deliveryCount++;
            e.leaseSeq++;
            e.deadline = now + visibilityMs;
            e.state = State.LEASED;
            delivered++;
            event(QueueEvent.Type.LEASED, e.id, e.deliveryCount, null, now);
            touchKey(e.key);
            out.add(new LeaseView(e.id, e.payload, e.messageKey, e.priority, e.timestamp, e.deliveryCount, e.deadline,
                    new Handle(e, e.leaseSeq)));
        }
        return out;
    }

    LeaseOutcome ack(Handle h, long now) {
        now = clock(now);
        runTimers(now);
        return ackOne(h, now);
    }

    List<LeaseOutcome> ackAll(List<Handle> hs, long now) {
        now = clock(now);
        runTimers(now);
        List<LeaseOutcome> out = new ArrayList<>();
        for (Handle h : hs) {
            out.add(ackOne(h, now));
        }
        return out;
    }

    private LeaseOutcome ackOne(Handle h, long now) {
        Msg e = h.msg();
        if (stale(h, now)) {
            return LeaseOutcome.STALE;
        }
        acked++;
        event(QueueEvent.Type.ACKED, e.id, e.deliveryCount, null, now);
        finish(e);
        return LeaseOutcome.OK;
    }

    LeaseOutcome nack(Handle h, long delay, long now) {
        now = clock(now);
        runTimers(now);
        Msg e = h.msg();
        if (stale(h, now)) {
            return LeaseOutcome.STALE;
        }
        nacked++;
        event(QueueEvent.Type.NACKED, e.id, e.deliveryCount, Long.toString(delay), now);
        if (maxDeliveries > 0 && e.deliveryCount >= maxDeliveries) {
            deadLetter(e, "max deliveries reached (" + e.deliveryCount + ")", now);
        } else if (delay > 0 && !(e.expiresAt != 0 && e.expiresAt <= now)) {
            e.state = State.DELAYED; // still holds its key while backing off
            e.deadline = now + delay;
        } else {
            returnToReady(e, now);
        }
        return LeaseOutcome.OK;
    }

    LeaseOutcome extend(Handle h, long duration, long now) {
        now = clock(now);
        runTimers(now);
        Msg e = h.msg();
        if (stale(h, now)) {
            return LeaseOutcome.STALE;
        }
        e.deadline = now + duration;
        event(QueueEvent.Type.EXTENDED, e.id, e.deliveryCount, Long.toString(e.deadline), now);
        return LeaseOutcome.OK;
    }

    LeaseOutcome reject(Handle h, String reason, long now) {
        now = clock(now);
        runTimers(now);
        Msg e = h.msg();
        if (stale(h, now)) {
            return LeaseOutcome.STALE;
        }
        deadLetter(e, reason, now);
        return LeaseOutcome.OK;
    }

    LeaseOutcome release(Handle h, long now) {
        now = clock(now);
        runTimers(now);
        Msg e = h.msg();
        if (stale(h, now)) {
            return LeaseOutcome.STALE;
        }
        e.deliveryCount--;
        delivered--;
        event(QueueEvent.Type.RELEASED, e.id, e.deliveryCount, null, now);
        returnToReady(e, now);
        return LeaseOutcome.OK;
    }

    long advance(long now) {
        now = clock(now);
        runTimers(now);
        final long t = now;
        dedup.values().removeIf(r -> r[1] <= t);
        return nextDeadline();
    }

    long purge(long now) {
        now = clock(now);
        runTimers(now);
        long n = 0;
        for (Msg e : msgs) {
            if (e.state != State.GONE) {
                e.state = State.GONE;
                e.inTtl = false;
                n++;
            }
        }
        keys.clear();
        purged += n;
        event(QueueEvent.Type.PURGED, 0, 0, Long.toString(n), now);
        return n;
    }

    // =========================================================================================== observation

    long size() {
        return count(null);
    }

    long bytes() {
        long b = 0;
        for (Msg e : msgs) {
            if (e.state != State.GONE) {
                b += e.bytes();
            }
        }
        return b;
    }

    private long count(State s) {
        long n = 0;
        for (Msg e : msgs) {
            if (s == null ? e.state != State.GONE : e.state == s) {
                n++;
            }
        }
        return n;
    }

    QueueStats stats() {
        return new QueueStats(name, count(State.READY), count(State.LEASED), count(State.DELAYED), bytes(), capacity,
                sent, duplicates, delivered, acked, nacked, expiredLeases, deadLettered, expired, purged);
    }

    long nextDeadline() {
        long next = Long.MAX_VALUE;
        for (Msg e : msgs) {
            if (e.state == State.LEASED || e.state == State.DELAYED) {
                next = Math.min(next, e.deadline);
            }
            if (e.inTtl) {
                next = Math.min(next, e.expiresAt);
            }
        }
        for (long[] r : dedup.values()) {
            next = Math.min(next, r[1]);
        }
        return next;
    }

    Msg find(long id) {
        for (Msg e : msgs) {
            if (e.id == id) {
                return e;
            }
        }
        return null;
    }

    /** @return the dead letters in the order the dead-letter queue (a default FIFO queue) hands them out */
    List<DeadLetterView> deadLettersInDeliveryOrder() {
        List<DeadLetterView> out = new ArrayList<>(deadLetters);
        out.sort(Comparator.comparingInt(DeadLetterView::priority).reversed()); // stable: FIFO within a priority
        return out;
    }

    // =========================================================================================== rules

    private long clock(long now) {
        if (now > lastNow) {
            lastNow = now;
        }
        return lastNow;
    }

    private boolean stale(Handle h, long now) {
        Msg e = h.msg();
        return e.state != State.LEASED || e.leaseSeq != h.leaseSeq() || now >= e.deadline;
    }

    /** Timers fall due one due time at a time, in time order, each handled at its own time. */
    private void runTimers(long now) {
        while (true) {
            long t = Long.MAX_VALUE;
            for (Msg e : msgs) {
                if (e.state == State.LEASED || e.state == State.DELAYED) {
                    t = Math.min(t, e.deadline);
                }
                if (e.inTtl) {
                    t = Math.min(t, e.expiresAt);
                }
            }
            if (t > now) {
                return;
            }
            runTimersAt(t);
        }
    }

    private void runTimersAt(long now) {
        for (Msg e : due(State.LEASED, now)) {
            expiredLeases++;
            event(QueueEvent.Type.EXPIRED, e.id, e.deliveryCount, null, now);
            if (maxDeliveries > 0 && e.deliveryCount >= maxDeliveries) {
                deadLetter(e, "max deliveries reached (" + e.deliveryCount + ")", now);
            } else {
                returnToReady(e, now);
            }
        }
        for (Msg e : due(State.DELAYED, now)) {
            if (e.deliveryCount > 0) {
                returnToReady(e, now); // a nack's backoff ran out
            } else if (e.expiresAt != 0 && e.expiresAt <= now) {
                e.state = State.GONE; // a delayed send that outlived its TTL before it was ever ready
                expireTtl(e, now);
            } else {
                joinTail(e);
            }
        }
        List<Msg> ttlDue = new ArrayList<>();
        for (Msg e : msgs) {
            if (e.inTtl && e.expiresAt <= now) {
                ttlDue.add(e);
            }
        }
        ttlDue.sort(Comparator.<Msg>comparingLong(m -> m.expiresAt).thenComparingLong(m -> m.id));
        for (Msg e : ttlDue) {
            e.inTtl = false;
            if (e.state == State.LEASED) {
                continue; // decided when the lease ends
            }
            e.state = State.GONE;
            touchKey(e.key);
            expireTtl(e, now);
        }
    }

    private List<Msg> due(State s, long now) {
        List<Msg> out = new ArrayList<>();
        for (Msg e : msgs) {
            if (e.state == s && e.deadline <= now) {
                out.add(e);
            }
        }
        out.sort(Comparator.<Msg>comparingLong(m -> m.deadline).thenComparingLong(m -> m.id));
        return out;
    }

    /** Never-delivered message becomes ready: the back of its priority's FIFO, or of its key. */
    private void joinTail(Msg e) {
        e.state = State.READY;
        e.returned = false;
        e.mainPos = ++tailCounter;
        e.keyPos = e.mainPos;
        touchKey(e.key);
    }

    /** A delivered message comes back: ordered by id ahead of never-delivered ones, front of its key. */
    private void returnToReady(Msg e, long now) {
        if (e.expiresAt != 0 && e.expiresAt <= now) {
            e.state = State.GONE;
            e.inTtl = false;
            touchKey(e.key);
            expireTtl(e, now);
            return;
        }
        e.state = State.READY;
        e.returned = true;
        e.keyPos = --frontCounter;
        touchKey(e.key);
    }

    private void expireTtl(Msg e, long now) {
        event(QueueEvent.Type.TTL_EXPIRED, e.id, e.deliveryCount, null, now);
        if (deadLetterOnExpiry) {
            deadLetter(e, "expired", now);
        } else {
            expired++;
            finish(e);
        }
    }

    private void deadLetter(Msg e, String reason, long now) {
        deadLettered++;
        event(QueueEvent.Type.DEAD_LETTERED, e.id, e.deliveryCount, reason, now);
        finish(e);
        deadLetters.add(new DeadLetterView(e.id, e.payload, e.messageKey, e.priority, reason, e.deliveryCount));
    }

    private void finish(Msg e) {
        e.state = State.GONE;
        e.inTtl = false;
        touchKey(e.key);
    }

    /** Re-derives whether a key is ready; a key that became ready or got a new head goes to the back of its level. */
    private void touchKey(String key) {
        if (key == null) {
            return;
        }
        KeyInfo k = keys.computeIfAbsent(key, x -> new KeyInfo());
        Msg head = keyHead(key);
        boolean ready = head != null && !keyHeld(key);
        if (ready && (!k.ready || k.headId != head.id)) {
            k.seq = ++keySeqCounter;
        }
        k.ready = ready;
        k.headId = ready ? head.id : 0;
    }

    private boolean keyHeld(String key) {
        for (Msg e : msgs) {
            if (key.equals(e.key) && (e.state == State.LEASED || (e.state == State.DELAYED && e.deliveryCount > 0))) {
                return true;
            }
        }
        return false;
    }

    private Msg keyHead(String key) {
        Msg head = null;
        for (Msg e : msgs) {
            if (e.state == State.READY && key.equals(e.key) && (head == null || e.keyPos < head.keyPos)) {
                head = e;
            }
        }
        return head;
    }

    private Msg pickReady() {
        for (int p = OutboundMessage.MAX_PRIORITY; p >= 0; p--) {
            Msg retry = null;
            Msg main = null;
            for (Msg e : msgs) {
                if (e.state != State.READY || e.key != null || e.priority != p) {
                    continue;
                }
                if (e.returned) {
                    if (retry == null || e.id < retry.id) {
                        retry = e;
                    }
                } else if (main == null || e.mainPos < main.mainPos) {
                    main = e;
                }
            }
            Msg keyHead = null;
            long bestSeq = Long.MAX_VALUE;
            for (Map.Entry<String, KeyInfo> en : keys.entrySet()) {
                KeyInfo k = en.getValue();
                if (!k.ready) {
                    continue;
                }
                Msg head = keyHead(en.getKey());
                if (head == null || head.id != k.headId || keyHeld(en.getKey())) {
                    throw new AssertionError("model: key " + en.getKey() + " marked ready but head=" + head);
                }
                if (head.priority == p && k.seq < bestSeq) {
                    bestSeq = k.seq;
                    keyHead = head;
                }
            }
            Msg pick = null;
            for (Msg c : new Msg[] {retry, main, keyHead}) {
                if (c != null && (pick == null || c.id < pick.id)) {
                    pick = c;
                }
            }
            if (pick != null) {
                return pick;
            }
        }
        return null;
    }

    private void event(QueueEvent.Type type, long id, int deliveryCount, String detail, long now) {
        events.add(new QueueEvent(type, name, id, deliveryCount, detail, now));
    }
}
