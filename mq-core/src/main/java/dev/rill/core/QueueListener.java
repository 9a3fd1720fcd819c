package dev.rill.core;

import java.util.List;

/**
 * Callbacks from a {@link MessageQueue}, always invoked after the queue's lock is released, on the thread
 * whose call caused them. Implementations must be thread-safe, quick and must not throw.
 */
public interface QueueListener {

    /** Messages became receivable where none were (an edge, not a level). */
    default void onReadable() {
    }

    /**
     * The queue went from full to having room (an edge, not a level). With a broker {@link
     * BrokerOptions#memoryBudget(long) memory budget}, also when a send to this queue was refused for the budget and
     * another call (on any queue of the broker) then freed enough bytes: it runs on that call's thread, after that
     * queue's lock is released.
     */
    default void onWritable() {
    }

    /**
     * Events happened, in order. Called only while {@link #wantsEvents()} is true.
     *
     * @param events what happened, oldest first
     */
    default void onEvents(List<QueueEvent> events) {
    }

    /** @return whether the queue should record {@link QueueEvent}s; read at the start of every operation, before the lock is taken */
    default boolean wantsEvents() {
        return false;
    }
}
