package dev.rill.core.internal;

import java.util.function.Consumer;

/**
 * A hash map from {@code long} keys to non-null values, without a boxed key or an entry object per mapping: open
 * addressing with linear probing in two parallel arrays (a key and its value at the same index), deletion by
 * shifting the following run back (no tombstones), at most half full (it doubles beyond) and, once large, at least
 * an eighth full (it halves below). Made for the per-message maps of a log's
 * recovery, which hold a mapping for every live message of a queue: a {@code HashMap<Long, V>} costs a {@code Long}
 * and a node (48 bytes) per mapping besides its table, and chases both pointers on every lookup.
 *
 * <p>Iteration order is unspecified. Internal: shared by the durable broker and its log. Not thread-safe.
 *
 * @param <V> the value type
 */
public final class LongMap<V> {

    private static final int MIN_CAPACITY = 16;
    /**
     * A table shrinks only above this many slots (96 KiB): a map whose size swings by a few thousand (a queue that
     * fills and drains, as the replay of a consumed queue does) would otherwise shrink and grow again on every swing
     * (measured: 100 MiB more allocated by one open).
     */
    static final int SHRINK_ABOVE = 1 << 13;

    private long[] keys;
    private Object[] values; // null: a free slot
    private int size;
    private int mask;
    private int bits;

    /** An empty map. */
    public LongMap() {
        alloc(MIN_CAPACITY);
    }

    private void alloc(int capacity) {
        keys = new long[capacity];
        values = new Object[capacity];
        mask = capacity - 1;
        bits = Integer.numberOfTrailingZeros(capacity);
    }

    /**
     * The key's home slot: keys that differ only in their 3 low bits (8 consecutive ids, which a queue's messages
     * mostly are) share a block of 8 consecutive slots, one cache line of keys, in the order of those bits; the
     * blocks themselves are spread over the table (Fibonacci hashing of the rest of the key). A replay that adds and
     * removes ids in order so touches a new line of the table every 8 ids, where spreading every key made each
     * lookup a cache miss (measured slower than the boxed HashMap it replaced); and runs of occupied slots stay
     * short, where placing consecutive ids in consecutive slots made one run of every live id, which each removal
     * scanned to its end.
     */
    private int slot(long key) {
        int block = (int) (((key >>> 3) * 0x9E3779B97F4A7C15L) >>> (64 - (bits - 3)));
        return (block << 3) | (int) (key & 7);
    }

    /** @return the number of mappings */
    public int size() {
        return size;
    }

    /** Tests: the number of slots. */
    int capacity() {
        return mask + 1;
    }

    /** @return whether there is no mapping */
    public boolean isEmpty() {
        return size == 0;
    }

    /**
     * @param key the key
     * @return its value, or null
     */
    @SuppressWarnings("unchecked")
    public V get(long key) {
        Object[] vs = values;
        for (int i = slot(key);; i = (i + 1) & mask) {
            Object v = vs[i];
            if (v == null || keys[i] == key) {
                return (V) v;
            }
        }
    }

    /**
     * @param key the key
     * @return whether it has a value
     */
    public boolean containsKey(long key) {
        return get(key) != null;
    }

    /**
     * Maps {@code key} to {@code value}.
     *
     * @param key the key
     * @param value the value, not null
     * @return the value it had, or null
     */
    @SuppressWarnings("unchecked")
    public V put(long key, V value) {
        if (value == null) {
            throw new NullPointerException("value");
        }
        int i = slot(key);
        for (;; i = (i + 1) & mask) {
            Object v = values[i];
            if (v == null) {
                break;
            }
            if (keys[i] == key) {
                values[i] = value;
                return (V) v;
            }
        }
        keys[i] = key;
        values[i] = value;
        if (++size > (mask + 1) >> 1) {
            rehash((mask + 1) << 1);
        }
        return null;
    }

    /**
     * Removes {@code key}'s mapping.
     *
     * @param key the key
     * @return the value it had, or null
     */
    @SuppressWarnings("unchecked")
    public V remove(long key) {
        int i = slot(key);
        for (;; i = (i + 1) & mask) {
            Object v = values[i];
            if (v == null) {
                return null;
            }
            if (keys[i] == key) {
                shiftBack(i);
                size--;
                if (size < (mask + 1) >>> 3 && mask + 1 > SHRINK_ABOVE) {
                    rehash((mask + 1) >>> 1); // a burst drained: give the table back (a live tracker lives long)
                }
                return (V) v;
            }
        }
    }

    /** Empties slot {@code free} and moves back every key of the run after it that probing would no longer reach. */
    private void shiftBack(int free) {
        for (int j = (free + 1) & mask;; j = (j + 1) & mask) {
            Object v = values[j];
            if (v == null) {
                break;
            }
            int home = slot(keys[j]);
            // j's key stays unless its home lies cyclically in (free, j]
            if (((j - home) & mask) >= ((j - free) & mask)) {
                keys[free] = keys[j];
                values[free] = v;
                free = j;
            }
        }
        values[free] = null;
    }

    /** Removes every mapping. */
    public void clear() {
        alloc(MIN_CAPACITY);
        size = 0;
    }

    /**
     * Calls {@code action} with every value, in no particular order; the map must not change meanwhile.
     *
     * @param action the action
     */
    @SuppressWarnings("unchecked")
    public void forEachValue(Consumer<? super V> action) {
        for (Object v : values) {
            if (v != null) {
                action.accept((V) v);
            }
        }
    }

    private void rehash(int capacity) {
        long[] oldKeys = keys;
        Object[] oldValues = values;
        alloc(capacity);
        for (int i = 0; i < oldValues.length; i++) {
            Object v = oldValues[i];
            if (v != null) {
                int j = slot(oldKeys[i]);
                while (values[j] != null) {
                    j = (j + 1) & mask;
                }
                keys[j] = oldKeys[i];
                values[j] = v;
            }
        }
    }

    @Override
    public String toString() {
        return "LongMap{size=" + size + "}";
    }
}
