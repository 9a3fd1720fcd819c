package dev.rill.core;

import java.util.ArrayList;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes shared by all queues of one broker (see {@link BrokerOptions#memoryBudget(long)}): a counter that sends
 * reserve from with a CAS (never above the limit) and that removals give back to, and the queues whose sends were
 * refused for it, to be told (their writable edge) when another queue frees bytes.
 *
 * <p>Lock-free: queues change the counter under their own lock (a CAS or an add, never a wait) and wake waiters only
 * after they unlocked, so no queue's listener runs under another queue's lock.
 */
final class MemoryBudget {

    final long limit;
    private final AtomicLong used = new AtomicLong();
    private final ConcurrentLinkedQueue<MessageQueue<?>> waiters = new ConcurrentLinkedQueue<>();
    /** Set after a queue joins {@link #waiters}, cleared by a wake before it looks at them. */
    private volatile boolean maybeWaiters;

    MemoryBudget(long limit) {
        this.limit = limit;
    }

    /** @return what a message of payload size {@code sz} counts */
    static long charge(long sz) {
        return sz + BrokerOptions.MESSAGE_OVERHEAD_BYTES;
    }

    /** @return whether {@code n} bytes were reserved; false (nothing changed) when they would exceed the limit */
    boolean tryAcquire(long n) {
        AtomicLong u = used;
        for (;;) {
            long cur = u.get();
            if (cur + n > limit) {
                return false;
            }
            if (u.compareAndSet(cur, cur + n)) {
                return true;
            }
        }
    }

    /** Counts {@code n} bytes whatever the limit: what the broker already holds and must not refuse. */
    void force(long n) {
        used.addAndGet(n);
    }

    void release(long n) {
        used.addAndGet(-n);
    }

    long used() {
        return used.get();
    }

    /** @return whether {@code n} bytes would fit now */
    boolean fits(long n) {
        return n <= limit - used.get(); // not used + n: n may be Long.MAX_VALUE (nothing to fit)
    }

    boolean maybeWaiters() {
        return maybeWaiters;
    }

    /** A queue refused a send for the budget: it waits for bytes to be freed (joined once, see MessageQueue). */
    void await(MessageQueue<?> q) {
        waiters.add(q);
        maybeWaiters = true; // after the add: a wake that reads it false ran before and the queue re-checks (fits)
    }

    /**
     * Tells every waiting queue whose smallest refused send fits now that it may have room; the others keep
     * waiting. Runs after a queue freed bytes, outside every queue lock. O(waiting queues).
     */
    void wake() {
        while (maybeWaiters) {
            maybeWaiters = false;
            ArrayList<MessageQueue<?>> woken = null;
            ArrayList<MessageQueue<?>> still = null;
            MessageQueue<?> q;
            while ((q = waiters.poll()) != null) {
                if (fits(q.budgetNeed())) {
                    if (woken == null) {
                        woken = new ArrayList<>();
                    }
                    woken.add(q);
                } else {
                    if (still == null) {
                        still = new ArrayList<>();
                    }
                    still.add(q);
                }
            }
            if (still != null) {
                for (MessageQueue<?> s : still) {
                    await(s);
                }
            }
            if (woken != null) {
                for (MessageQueue<?> w : woken) {
                    w.budgetFreed();
                }
            }
            if (still == null) {
                return;
            }
            // While the queues kept waiting were out of the list, a call that freed bytes may have found the flag
            // cleared and woken nobody, and one of them may have lowered its need (a smaller send refused; it did not
            // join again, being in the list already): after putting them back (which sets the flag), read the needs
            // and the counter again
            long smallest = Long.MAX_VALUE;
            for (MessageQueue<?> s : still) {
                smallest = Math.min(smallest, s.budgetNeed());
            }
            if (!fits(smallest)) {
                return;
            }
        }
    }

    @Override
    public String toString() {
        return "MemoryBudget{used=" + used.get() + ", limit=" + limit + "}";
    }
}
