package dev.rill.core.internal;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The next message ids of queue names whose queue was deleted, so that a queue declared again under such a name
 * continues its ids instead of starting at 1 again (a dead letter's {@code x-rill-original-id}, or a client keying
 * on ids, would see one twice). Bounded: the {@value #MAX_NAMES} names deleted last keep their next id each; an older
 * one is folded into a <em>floor</em>, the highest next id of every name let go, that a queue of a name with nothing
 * else to go by starts from. Ids stay monotonic per name either way; only a queue of a fresh name can start above 1,
 * once more than {@value #MAX_NAMES} names were deleted.
 *
 * <p>Internal: shared by the durable broker and its log. Thread-safe.
 */
public final class RetiredIds {

    /** Names kept one by one. */
    public static final int MAX_NAMES = 1024;

    /**
     * The name under which the log records the floor: a DECLARE of it (with the floor as next id) followed by its
     * DELETE. No queue has it (a queue name has 1 to 200 characters).
     */
    public static final String FLOOR_NAME = "";

    private final int maxNames;
    /** Oldest deletion first. */
    private final LinkedHashMap<String, Long> names = new LinkedHashMap<>();
    private long floor = 1;

    /** Keeps {@value #MAX_NAMES} names. */
    public RetiredIds() {
        this(MAX_NAMES);
    }

    /**
     * @param maxNames how many names to keep one by one before folding the oldest into the floor
     */
    public RetiredIds(int maxNames) {
        if (maxNames < 0) {
            throw new IllegalArgumentException("maxNames must be >= 0, was " + maxNames);
        }
        this.maxNames = maxNames;
    }

    /**
     * Records that the queue of {@code name} was deleted with {@code nextId} as its next id (kept if higher than
     * what was recorded for the name before); the name becomes the most recently deleted one. A next id of 1 (no id
     * was given) records nothing.
     *
     * @param name the queue name
     * @param nextId its next id
     */
    public synchronized void retire(String name, long nextId) {
        if (nextId <= 1) {
            return; // no id was ever given under the name
        }
        Long old = names.remove(name);
        names.put(name, old == null ? nextId : Math.max(old, nextId));
        Iterator<Map.Entry<String, Long>> it = names.entrySet().iterator();
        while (names.size() > maxNames) {
            Map.Entry<String, Long> eldest = it.next();
            floor = Math.max(floor, eldest.getValue());
            it.remove();
        }
    }

    /**
     * Takes the name's own next id out (a queue of the name exists again, and its declaration carries the id).
     *
     * @param name the queue name
     * @return its recorded next id, or 0 if none is kept for it (see {@link #floor()})
     */
    public synchronized long take(String name) {
        Long n = names.remove(name);
        return n == null ? 0 : n;
    }

    /**
     * @return the lowest next id a queue of a name with no recorded next id and no state of its own may start at
     *     (1 until a name was let go)
     */
    public synchronized long floor() {
        return floor;
    }

    /**
     * Raises the floor (as recorded in the log).
     *
     * @param nextId a next id of a name that was let go
     */
    public synchronized void raiseFloor(long nextId) {
        floor = Math.max(floor, nextId);
    }

    /** @return the kept names and their next ids, oldest deletion first */
    public synchronized List<Map.Entry<String, Long>> names() {
        List<Map.Entry<String, Long>> out = new ArrayList<>(names.size());
        for (Map.Entry<String, Long> e : names.entrySet()) {
            out.add(Map.entry(e.getKey(), e.getValue()));
        }
        return out;
    }

    @Override
    public synchronized String toString() {
        return "RetiredIds{" + names.size() + " names, floor=" + floor + "}";
    }
}
