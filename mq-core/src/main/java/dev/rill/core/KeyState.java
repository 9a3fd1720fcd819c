package dev.rill.core;

/** Per-key state of a key-ordered queue: the key's ready FIFO and the one message it has out (leased or backing off). */
final class KeyState<T> {
    final String key;
    final EntryList<T> list = new EntryList<>();
    /** The key's message that is leased or waiting out a retry delay; null when none. */
    Entry<T> held;
    KeyState<T> prev;
    KeyState<T> next;
    /** The priority level whose ready-key list holds this key; -1 when not in one. */
    int level = -1;

    KeyState(String key) {
        this.key = key;
    }
}
