package dev.rill.core;

/** An intrusive doubly linked list of keys ready to deliver their head message. */
final class KeyList<T> {
    KeyState<T> head;
    KeyState<T> tail;

    boolean isEmpty() {
        return head == null;
    }

    void addLast(KeyState<T> k) {
        k.next = null;
        k.prev = tail;
        if (tail == null) {
            head = k;
        } else {
            tail.next = k;
        }
        tail = k;
    }

    void remove(KeyState<T> k) {
        KeyState<T> p = k.prev;
        KeyState<T> n = k.next;
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
        k.prev = null;
        k.next = null;
    }
}
