package dev.rill.core;

import java.util.Arrays;

/**
 * An indexed binary min-heap of entries: O(log n) add, remove-anywhere and poll, O(1) peek. The position of
 * each entry is kept in the entry ({@code heapIndex}, or {@code ttlIndex} for the TTL heap), so an entry can
 * be in one ordinary heap and the TTL heap at once.
 */
final class EntryHeap<T> {
    static final int BY_ID = 0;
    static final int BY_DEADLINE = 1;
    static final int BY_EXPIRY = 2;

    private final int order;
    @SuppressWarnings("unchecked")
    private Entry<T>[] items = new Entry[16];
    private int size;

    EntryHeap(int order) {
        this.order = order;
    }

    int size() {
        return size;
    }

    boolean isEmpty() {
        return size == 0;
    }

    Entry<T> peek() {
        return size == 0 ? null : items[0];
    }

    Entry<T> get(int i) {
        return items[i];
    }

    private boolean less(Entry<T> a, Entry<T> b) {
        switch (order) {
            case BY_ID:
                return a.id < b.id;
            case BY_DEADLINE:
                return a.deadline < b.deadline || (a.deadline == b.deadline && a.id < b.id);
            default:
                return a.expiresAt < b.expiresAt || (a.expiresAt == b.expiresAt && a.id < b.id);
        }
    }

    private void setIndex(Entry<T> e, int i) {
        if (order == BY_EXPIRY) {
            e.ttlIndex = i;
        } else {
            e.heapIndex = i;
        }
    }

    private int indexOf(Entry<T> e) {
        return order == BY_EXPIRY ? e.ttlIndex : e.heapIndex;
    }

    void add(Entry<T> e) {
        if (size == items.length) {
            items = Arrays.copyOf(items, size * 2);
        }
        items[size] = e;
        setIndex(e, size);
        size++;
        siftUp(size - 1);
    }

    Entry<T> poll() {
        if (size == 0) {
            return null;
        }
        Entry<T> top = items[0];
        removeAt(0);
        return top;
    }

    void remove(Entry<T> e) {
        int i = indexOf(e);
        if (i < 0 || i >= size || items[i] != e) {
            throw new IllegalStateException("entry " + e.id + " is not in this heap");
        }
        removeAt(i);
    }

    private void removeAt(int i) {
        Entry<T> removed = items[i];
        size--;
        if (i != size) {
            Entry<T> last = items[size];
            items[i] = last;
            setIndex(last, i);
            items[size] = null;
            siftDown(i);
            if (items[i] == last) {
                siftUp(i);
            }
        } else {
            items[size] = null;
        }
        setIndex(removed, -1);
        if (items.length > 64 && size < items.length / 4) {
            items = Arrays.copyOf(items, items.length / 2);
        }
    }

    private void siftUp(int i) {
        Entry<T> e = items[i];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            Entry<T> p = items[parent];
            if (!less(e, p)) {
                break;
            }
            items[i] = p;
            setIndex(p, i);
            i = parent;
        }
        items[i] = e;
        setIndex(e, i);
    }

    private void siftDown(int i) {
        Entry<T> e = items[i];
        int half = size >>> 1;
        while (i < half) {
            int child = 2 * i + 1;
            int right = child + 1;
            if (right < size && less(items[right], items[child])) {
                child = right;
            }
            if (!less(items[child], e)) {
                break;
            }
            items[i] = items[child];
            setIndex(items[i], i);
            i = child;
        }
        items[i] = e;
        setIndex(e, i);
    }

    /** Removes every entry, returning them in array order; indexes are reset. */
    @SuppressWarnings("unchecked")
    Entry<T>[] clear() {
        Entry<T>[] out = Arrays.copyOf(items, size);
        for (Entry<T> e : out) {
            setIndex(e, -1);
        }
        items = new Entry[16];
        size = 0;
        return out;
    }
}
