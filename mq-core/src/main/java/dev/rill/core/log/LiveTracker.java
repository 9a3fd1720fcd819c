package dev.rill.core.log;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which segment holds the SEND of every live message, so compaction knows when a segment holds nothing live,
 * and the latest declaration of every queue, re-written at the start of each segment so older segments can go.
 * Used by one thread at a time (recovery, then the writer thread).
 */
final class LiveTracker {

    /** One segment file and its live-message count. */
    static final class Segment {
        final Path path;
        final long firstSeq;
        long live;
        long keepUntil; // the latest dedup-window end of its messages
        long size;

        Segment(Path path, long firstSeq) {
            this.path = path;
            this.firstSeq = firstSeq;
        }

        @Override
        public String toString() {
            return path.getFileName() + "{live=" + live + "}";
        }
    }

    private record Key(String queue, long id) {
    }

    private final HashMap<String, HashMap<Long, Segment>> live = new HashMap<>();
    private final HashMap<Key, Segment> transit = new HashMap<>();
    private final LinkedHashMap<String, LogRecord.Declare> declarations = new LinkedHashMap<>();
    private final HashMap<String, Long> maxId = new HashMap<>();

    void apply(LogRecord r, Segment seg) {
        if (r instanceof LogRecord.Send s) {
            add(s.queue(), s.id(), seg);
            if (s.dedupExpiresAt() > seg.keepUntil) {
                seg.keepUntil = s.dedupExpiresAt();
            }
        } else if (r instanceof LogRecord.Ack a) {
            remove(a.queue(), a.id());
        } else if (r instanceof LogRecord.Drop d) {
            remove(d.queue(), d.id());
        } else if (r instanceof LogRecord.DeadLetter d) {
            if (d.routed()) {
                HashMap<Long, Segment> m = live.get(d.queue());
                Segment s = m == null ? null : m.remove(d.id());
                if (s != null) {
                    transit.put(new Key(d.queue(), d.id()), s); // still needed: the payload is read from it
                }
            } else {
                remove(d.queue(), d.id());
            }
        } else if (r instanceof LogRecord.Accept a) {
            Segment s = transit.remove(new Key(a.sourceQueue(), a.sourceId()));
            if (s != null) {
                live.computeIfAbsent(a.queue(), q -> new HashMap<>()).put(a.id(), s);
            }
            maxId.merge(a.queue(), a.id(), Math::max);
        } else if (r instanceof LogRecord.Purge p) {
            removeAll(p.queue());
        } else if (r instanceof LogRecord.Delete d) {
            removeAll(d.queue());
            declarations.remove(d.queue());
            maxId.remove(d.queue());
        } else if (r instanceof LogRecord.Declare d) {
            declarations.put(d.queue(), d);
        }
    }

    private void add(String queue, long id, Segment seg) {
        Segment old = live.computeIfAbsent(queue, q -> new HashMap<>()).put(id, seg);
        if (old != null) {
            old.live--;
        }
        seg.live++;
        maxId.merge(queue, id, Math::max);
    }

    private void remove(String queue, long id) {
        HashMap<Long, Segment> m = live.get(queue);
        Segment s = m == null ? null : m.remove(id);
        if (s != null) {
            s.live--;
        }
    }

    private void removeAll(String queue) {
        HashMap<Long, Segment> m = live.remove(queue);
        if (m != null) {
            for (Segment s : m.values()) {
                s.live--;
            }
        }
    }

    /** @return the declarations to write at the start of a new segment, with next ids brought up to date */
    List<LogRecord.Declare> snapshot() {
        List<LogRecord.Declare> out = new ArrayList<>(declarations.size());
        for (Map.Entry<String, LogRecord.Declare> e : declarations.entrySet()) {
            LogRecord.Declare d = e.getValue();
            long next = Math.max(d.nextId(), maxId.getOrDefault(d.queue(), 0L) + 1);
            out.add(next == d.nextId() ? d : new LogRecord.Declare(d.queue(), d.spec(), next));
        }
        return out;
    }
}
