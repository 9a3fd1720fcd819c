package dev.rill.core;

/** An intrusive doubly linked list of entries (through {@code prev}/{@code next}): O(1) add and remove. */
final class EntryList<T> {
    Entry<T> head;
    Entry<T> tail;
    int size;

    boolean isEmpty() {
        return head == null;
    }

    void addLast(Entry<T> e) {
        e.next = null;
        e.prev = tail;
        if (tail == null) {
            head = e;
        } else {
            tail.next = e;
        }
        tail = e;
        size++;
    }

    void addFirst(Entry<T> e) {
        e.prev = null;
        e.next = head;
        if (head == null) {
            tail = e;
        } else {
            head.prev = e;
        }
        head = e;
        size++;
    }

    void remove(Entry<T> e) {
        Entry<T> p = e.prev;
        Entry<T> n = e.next;
        if (p == null) {
            head = n;
        } else {
            p.next = n;
        }
        if (n == null) {
            tail = p;
        } else {
            n.prev = p;
        }
        e.prev = null;
        e.next = null;
        size--;
    }

    Entry<T> pollFirst() {
        Entry<T> e = head;
        if (e != null) {
            remove(e);
        }
        return e;
    }
}
