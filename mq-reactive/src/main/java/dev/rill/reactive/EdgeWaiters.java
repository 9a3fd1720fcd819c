package dev.rill.reactive;

import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The receivers (or senders) of one queue waiting for its readable (or writable) edge, oldest first.
 *
 * <p>An edge wakes waiters one at a time and stops at the first that reports it found the queue blocked again
 * (nothing more to lease; full). Waking every waiter on each edge cost each of them an attempt that mostly failed:
 * with N idle consumers (or N senders at a full queue) every edge took the queue lock N times. No wake-up is lost
 * by stopping early: a waiter that is not woken stays registered, the next transition fires the edge again, and a
 * waiter registers before its last look at the queue, so it cannot miss one either. One pass is bounded by the
 * number registered when it starts. A woken waiter that finds the queue blocked again re-registers at the head,
 * so waiters are served in the order they started waiting.
 */
final class EdgeWaiters {

    /** Something waiting for an edge; registered at most once at a time. */
    interface Waiter {
        /**
         * Called at most once per registration, after it was taken off the waiters.
         *
         * @return true when its own last attempt found the queue blocked (waking further waiters would only make
         *     them find it blocked too); false when it got what it could, wanted nothing, or was busy elsewhere
         */
        boolean onEdge();
    }

    private final ConcurrentLinkedDeque<Waiter> waiters = new ConcurrentLinkedDeque<>();
    /** At least the number of entries (raised before an offer, lowered after a take). */
    private final AtomicInteger count = new AtomicInteger();

    /**
     * Registers a waiter.
     *
     * @param w the waiter
     * @param front true for a waiter that was just woken by an edge and found the queue blocked again: it keeps its
     *     place at the head, so waiters are served in the order they started waiting
     */
    void add(Waiter w, boolean front) {
        count.incrementAndGet();
        if (front) {
            waiters.offerFirst(w);
        } else {
            waiters.offerLast(w);
        }
    }

    void remove(Waiter w) {
        if (waiters.remove(w)) {
            count.decrementAndGet();
        }
    }

    /** The edge: wakes waiters oldest first until one reports the queue blocked again. */
    void wakeUntilBlocked() {
        int budget = count.get();
        Waiter w;
        while (budget-- > 0 && (w = waiters.pollFirst()) != null) {
            count.decrementAndGet();
            if (w.onEdge()) {
                return;
            }
        }
    }

    /** Wakes every waiter (the queue closed). */
    void wakeAll() {
        Waiter w;
        while ((w = waiters.pollFirst()) != null) {
            count.decrementAndGet();
            w.onEdge();
        }
    }

    /** @return waiters registered now (O(n): for tests) */
    int size() {
        return waiters.size();
    }
}
