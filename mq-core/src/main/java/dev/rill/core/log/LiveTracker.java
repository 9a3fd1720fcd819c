package dev.rill.core.log;

import dev.rill.core.internal.LongMap;
import dev.rill.core.internal.RetiredIds;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which segment holds the SEND of every live message, so compaction knows when a segment holds nothing live,
 * and the latest declaration of every queue, re-written at the start of each segment so older segments can go.
 * With the declarations go the next ids of deleted queues ({@link RetiredIds}: the names deleted last one by one,
 * the older ones as a floor), each as a DECLARE and DELETE of the name: so a queue declared again under the name
 * continues its ids after compaction has dropped the segment that held its DELETE.
 *
 * <p>For relocation (see {@link SegmentedLog}) it also keeps what a fresh copy of a live message needs beyond its
 * SEND record: the delivery count and ready time of messages that were delivered or nacked, and, for a message
 * that reached its queue through dead-lettering or redrive, where its payload is stored (its origin SEND) and the
 * headers, timestamp and expiry it got on arrival.
 *
 * <p>Used by one thread at a time (recovery, then the writer thread).
 */
final class LiveTracker {

    /** One segment file and its live-message count. */
    static final class Segment {
        final Path path;
        final long firstSeq;
        long live;
        long sends;
        long keepUntil; // the latest dedup-window end of its messages
        long size;
        long relocateAfterRoll; // SegmentedLog: no relocation attempt before this many segments were opened,
        long relocateAfterMillis; // or before this time on the log's clock

        Segment(Path path, long firstSeq) {
            this.path = path;
            this.firstSeq = firstSeq;
        }

        @Override
        public String toString() {
            return path.getFileName() + "{live=" + live + ", sends=" + sends + "}";
        }
    }

    record Key(String queue, long id) {
    }

    /** A message that arrived by ACCEPT: its payload is in the SEND of {@code origin}. */
    record Accepted(Key origin, long timestamp, long expiresAt, Map<String, String> headers) {
    }

    private record Transit(Segment segment, Key origin) {
    }

    /** By queue, by message id (no boxed id or entry per message: recovery puts every SEND of the log here). */
    private final HashMap<String, LongMap<Segment>> live = new HashMap<>();
    private final HashMap<Key, Transit> transit = new HashMap<>();
    private final LinkedHashMap<String, LogRecord.Declare> declarations = new LinkedHashMap<>();
    /** By queue: {the highest message id seen}. */
    private final HashMap<String, long[]> maxId = new HashMap<>();
    private final RetiredIds retired = new RetiredIds();
    /** Live messages delivered or nacked, by queue and id: {deliveryCount, readyAt}. */
    private final HashMap<String, LongMap<long[]>> state = new HashMap<>();
    /** Live messages that arrived by ACCEPT. */
    private final HashMap<Key, Accepted> accepted = new HashMap<>();
    /** The live message whose payload an origin SEND holds, for accepted messages. */
    private final HashMap<Key, Key> byOrigin = new HashMap<>();

    /**
     * {@link Segment#live} and {@link Segment#sends} summed over every segment of the log (the active one included),
     * kept up to date wherever one changes, so that the relocation policy reads the whole log's live share in O(1).
     * A segment compaction deletes leaves through {@link #dropped}.
     */
    private long liveTotal;
    private long sendsTotal;

    /** @return the live messages of every segment (each counted in the segment holding its SEND) */
    long liveTotal() {
        return liveTotal;
    }

    /** @return the SENDs of every segment of the log, live or not */
    long sendsTotal() {
        return sendsTotal;
    }

    /** {@code s} (nothing live in it) was deleted: its SENDs no longer count. */
    void dropped(Segment s) {
        liveTotal -= s.live;
        sendsTotal -= s.sends;
    }

    /**
     * Tests: recounts, from the live messages and the dead letters in transit, what each of {@code segments} (every
     * segment of the log) holds live, and sums their counts, and compares both to the counts kept as records came.
     *
     * @return null when they agree, else what differs
     */
    String recount(Iterable<Segment> segments) {
        Map<Segment, long[]> counted = new java.util.IdentityHashMap<>();
        for (LongMap<Segment> m : live.values()) {
            m.forEachValue(s -> counted.computeIfAbsent(s, x -> new long[1])[0]++);
        }
        for (Transit t : transit.values()) {
            counted.computeIfAbsent(t.segment(), x -> new long[1])[0]++;
        }
        long liveSum = 0;
        long sendsSum = 0;
        StringBuilder diff = new StringBuilder();
        for (Segment s : segments) {
            long[] c = counted.remove(s);
            long n = c == null ? 0 : c[0];
            if (n != s.live) {
                diff.append(s).append(" has ").append(n).append(" live; ");
            }
            liveSum += s.live;
            sendsSum += s.sends;
        }
        if (!counted.isEmpty()) {
            diff.append("live in segments not in the log: ").append(counted.keySet()).append("; ");
        }
        if (liveSum != liveTotal || sendsSum != sendsTotal) {
            diff.append("totals live=").append(liveTotal).append(", sends=").append(sendsTotal)
                    .append(", recounted live=").append(liveSum).append(", sends=").append(sendsSum);
        }
        return diff.length() == 0 ? null : diff.toString();
    }

    /** @return the queues declared and not deleted */
    int queues() {
        return declarations.size();
    }

    /** @return the messages whose SEND is still needed: live in a queue, or dead-lettered and not yet arrived */
    long liveMessages() {
        long n = transit.size();
        for (LongMap<Segment> m : live.values()) {
            n += m.size();
        }
        return n;
    }

    void apply(LogRecord r, Segment seg) {
        if (r instanceof LogRecord.Send s) {
            if (!accepted.isEmpty()) {
                dropAccepted(new Key(s.queue(), s.id())); // a relocated copy of an accepted message is a plain SEND
            }
            add(s.queue(), s.id(), seg);
            seg.sends++;
            sendsTotal++;
            if (s.dedupExpiresAt() > seg.keepUntil) {
                seg.keepUntil = s.dedupExpiresAt();
            }
        } else if (r instanceof LogRecord.Ack a) {
            remove(a.queue(), a.id());
        } else if (r instanceof LogRecord.Drop d) {
            remove(d.queue(), d.id());
        } else if (r instanceof LogRecord.Nack n) {
            long[] st = stateOf(n.queue(), n.id());
            if (st != null) {
                st[1] = n.readyAt();
            }
        } else if (r instanceof LogRecord.Delivered d) {
            long[] st = stateOf(d.queue(), d.id());
            if (st != null) {
                if (st[0] != d.deliveryCount()) {
                    st[1] = 0; // leased (or given back): ready
                } // else a relocated copy's, replayed over its original: a NACK cut off after it keeps its time
                st[0] = d.deliveryCount();
            }
        } else if (r instanceof LogRecord.DeadLetter d) {
            if (d.routed()) {
                LongMap<Segment> m = live.get(d.queue());
                Segment s = m == null ? null : m.remove(d.id());
                if (s != null) {
                    Key k = new Key(d.queue(), d.id());
                    Accepted acc = dropAccepted(k);
                    removeState(d.queue(), d.id());
                    // still counted live in s: the payload is read from it when the ACCEPT arrives
                    transit.put(k, new Transit(s, acc == null ? k : acc.origin()));
                }
            } else {
                remove(d.queue(), d.id());
            }
        } else if (r instanceof LogRecord.Accept a) {
            Transit t = transit.remove(new Key(a.sourceQueue(), a.sourceId()));
            if (t != null) {
                Key k = new Key(a.queue(), a.id());
                Segment old = live.computeIfAbsent(a.queue(), q -> new LongMap<>()).put(a.id(), t.segment());
                if (old != null) {
                    dead(old);
                }
                accepted.put(k, new Accepted(t.origin(), a.timestamp(), a.expiresAt(), a.headers()));
                byOrigin.put(t.origin(), k);
            }
            raiseMaxId(a.queue(), a.id());
        } else if (r instanceof LogRecord.Purge p) {
            removeAll(p.queue());
        } else if (r instanceof LogRecord.Delete d) {
            removeAll(d.queue());
            LogRecord.Declare decl = declarations.remove(d.queue());
            long next = Math.max(decl == null ? 1 : decl.nextId(), maxId(d.queue()) + 1);
            maxId.remove(d.queue());
            retired.retire(d.queue(), next); // nothing for a retired name's own DELETE (next 1): see snapshot()
        } else if (r instanceof LogRecord.Declare d && d.spec().length == 0) {
            // a deleted name's next id, as a segment starts with it (see snapshot): no queue. Taken alone, for the
            // crash may have cut the DELETE that follows it
            if (d.queue().equals(RetiredIds.FLOOR_NAME)) {
                retired.raiseFloor(d.nextId());
            } else {
                retired.retire(d.queue(), d.nextId());
            }
        } else if (r instanceof LogRecord.Declare d) {
            long own = retired.take(d.queue());
            if (own > d.nextId()) {
                raiseMaxId(d.queue(), own - 1); // ids go on after the deleted queue's
            }
            declarations.put(d.queue(), d);
        }
    }

    private long[] stateOf(String queue, long id) {
        LongMap<Segment> m = live.get(queue);
        if (m == null || !m.containsKey(id)) {
            return null;
        }
        LongMap<long[]> q = state.computeIfAbsent(queue, n -> new LongMap<>());
        long[] st = q.get(id);
        if (st == null) {
            st = new long[2];
            q.put(id, st);
        }
        return st;
    }

    private void removeState(String queue, long id) {
        LongMap<long[]> q = state.get(queue);
        if (q != null) {
            q.remove(id);
        }
    }

    private long maxId(String queue) {
        long[] max = maxId.get(queue);
        return max == null ? 0 : max[0];
    }

    private void raiseMaxId(String queue, long id) {
        long[] max = maxId.get(queue);
        if (max == null) {
            maxId.put(queue, new long[] {id});
        } else if (id > max[0]) {
            max[0] = id;
        }
    }

    private Accepted dropAccepted(Key k) {
        if (accepted.isEmpty()) {
            return null;
        }
        Accepted acc = accepted.remove(k);
        if (acc != null) {
            byOrigin.remove(acc.origin());
        }
        return acc;
    }

    private void add(String queue, long id, Segment seg) {
        Segment old = live.computeIfAbsent(queue, q -> new LongMap<>()).put(id, seg);
        if (old != null) {
            dead(old);
        }
        seg.live++;
        liveTotal++;
        raiseMaxId(queue, id);
    }

    /** One message whose SEND {@code s} holds is no longer live. */
    private void dead(Segment s) {
        s.live--;
        liveTotal--;
    }

    private void remove(String queue, long id) {
        LongMap<Segment> m = live.get(queue);
        Segment s = m == null ? null : m.remove(id);
        if (s == null && !transit.isEmpty()) {
            // a dead letter that never reached its dead-letter queue, dropped (DurableBroker's recovery does that
            // when the queue is gone): its payload's segment no longer keeps it
            Transit t = transit.remove(new Key(queue, id));
            if (t != null) {
                dead(t.segment());
            }
            return;
        }
        if (s != null) {
            dead(s);
            removeState(queue, id);
            if (!accepted.isEmpty()) {
                dropAccepted(new Key(queue, id));
            }
        }
    }

    private void removeAll(String queue) {
        LongMap<Segment> m = live.remove(queue);
        if (m != null) {
            m.forEachValue(this::dead);
            state.remove(queue);
            accepted.entrySet().removeIf(e -> {
                if (e.getKey().queue().equals(queue)) {
                    byOrigin.remove(e.getValue().origin());
                    return true;
                }
                return false;
            });
        }
    }

    /**
     * @return the records to write at the start of a new segment: the declarations, with next ids brought up to date,
     *     then a DECLARE (no spec, the next id) and a DELETE for each retired name, oldest first, and for the floor
     *     under {@link RetiredIds#FLOOR_NAME} once it is above 1. A DECLARE with no spec is read as a retired name on
     *     its own (a queue's spec is never empty); its DELETE is for builds that do not know that, which read a queue
     *     declared and deleted.
     */
    List<LogRecord> snapshot() {
        List<LogRecord> out = new ArrayList<>(declarations.size());
        for (Map.Entry<String, LogRecord.Declare> e : declarations.entrySet()) {
            LogRecord.Declare d = e.getValue();
            long next = Math.max(d.nextId(), maxId(d.queue()) + 1);
            out.add(next == d.nextId() ? d : new LogRecord.Declare(d.queue(), d.spec(), next));
        }
        for (Map.Entry<String, Long> e : retired.names()) {
            out.add(new LogRecord.Declare(e.getKey(), NO_SPEC, e.getValue()));
            out.add(new LogRecord.Delete(e.getKey()));
        }
        if (retired.floor() > 1) {
            out.add(new LogRecord.Declare(RetiredIds.FLOOR_NAME, NO_SPEC, retired.floor()));
            out.add(new LogRecord.Delete(RetiredIds.FLOOR_NAME));
        }
        return out;
    }

    private static final byte[] NO_SPEC = new byte[0];

    // ---------------------------------------------------------------------------------------------------------
    // Relocation
    // ---------------------------------------------------------------------------------------------------------

    /**
     * The records that recreate, on replay, every message still live in {@code seg} whose SEND {@code origin} is:
     * a SEND copy (a plain SEND under the message's current queue and id; for a message that arrived by ACCEPT,
     * with the headers, timestamp and expiry it got then, and no dedup id: a segment is relocated only once its
     * dedup windows are over), then a DELIVERED with its delivery count and a NACK with its ready time when they
     * are not the defaults.
     *
     * @param origin a SEND record read from {@code seg}
     * @param seg the segment being relocated
     * @param into receives the records
     */
    void copiesOf(LogRecord.Send origin, Segment seg, List<LogRecord> into) {
        Key k = new Key(origin.queue(), origin.id());
        if (liveUnaccepted(origin.queue(), origin.id(), seg)) {
            into.add(new LogRecord.Send(origin.queue(), origin.id(), origin.timestamp(), origin.key(),
                    origin.priority(), origin.headers(), origin.payload(), origin.deliverAt(), origin.expiresAt(),
                    null, 0));
            stateCopies(k, into);
        }
        Key to = acceptedLiveFrom(k, seg);
        if (to != null) {
            Accepted acc = accepted.get(to);
            into.add(new LogRecord.Send(to.queue(), to.id(), acc.timestamp(), origin.key(), origin.priority(),
                    acc.headers(), origin.payload(), 0, acc.expiresAt(), null, 0));
            stateCopies(to, into);
        }
    }

    /**
     * Whether {@link #copiesOf} would copy anything for the SEND of {@code (queue, id)} read from {@code seg}: the
     * message is live there, or it is the origin of an accepted message live there. Relocation asks before it
     * decodes a SEND; most of a segment worth relocating is dead.
     */
    boolean copiesAny(String queue, long id, Segment seg) {
        return liveUnaccepted(queue, id, seg)
                || (!byOrigin.isEmpty() && acceptedLiveFrom(new Key(queue, id), seg) != null);
    }

    /** @return whether {@code (queue, id)} is live in {@code seg} and no accepted dead letter (copied with its origin) */
    private boolean liveUnaccepted(String queue, long id, Segment seg) {
        LongMap<Segment> m = live.get(queue);
        return m != null && m.get(id) == seg && (accepted.isEmpty() || !accepted.containsKey(new Key(queue, id)));
    }

    /** @return the message accepted from {@code origin} (its dead letter) when it is live in {@code seg}, else null */
    private Key acceptedLiveFrom(Key origin, Segment seg) {
        Key to = byOrigin.isEmpty() ? null : byOrigin.get(origin);
        return to != null && live(to) == seg ? to : null;
    }

    private void stateCopies(Key k, List<LogRecord> into) {
        LongMap<long[]> q = state.get(k.queue());
        long[] st = q == null ? null : q.get(k.id());
        if (st == null) {
            return;
        }
        if (st[0] != 0) {
            into.add(new LogRecord.Delivered(k.queue(), k.id(), (int) st[0]));
        }
        if (st[1] != 0) {
            into.add(new LogRecord.Nack(k.queue(), k.id(), st[1]));
        }
    }

    private Segment live(Key k) {
        LongMap<Segment> m = live.get(k.queue());
        return m == null ? null : m.get(k.id());
    }
}
