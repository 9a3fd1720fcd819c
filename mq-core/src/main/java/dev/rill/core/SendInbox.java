package dev.rill.core;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A queue's lock-free front for plain sends (see {@link MessageQueue#send}): a stack of {@link Pushed} nodes that
 * producers push with one CAS and the queue's lock holder drains, plus the two counters the two sides exchange.
 * The fields sit on cache lines of their own, away from the queue's lock-guarded state: the producer writes
 * {@link #head} on every send, the lock holder writes {@link #freed} on every ack, and sharing a line with the state
 * the lock holder works on would cost both sides a cache miss per message.
 */
final class SendInbox extends SendInboxFreed {
    long p40, p41, p42, p43, p44, p45, p46, p47;

    private static final VarHandle HEAD;
    private static final VarHandle FREED;
    private static final VarHandle IDLE;
    private static final VarHandle REFUSED;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            HEAD = l.findVarHandle(SendInboxHead.class, "head", Pushed.class);
            FREED = l.findVarHandle(SendInboxFreed.class, "freed", long.class);
            IDLE = l.findVarHandle(SendInboxIdle.class, "idle", int.class);
            REFUSED = l.findVarHandle(SendInboxIdle.class, "refused", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Head while a lock holder assigns ids itself: pushes fall back to the lock. */
    static final Pushed OWNED = Pushed.marker(0, 0);
    /** Head of a closed queue, for good. */
    static final Pushed CLOSED = Pushed.marker(0, 0);

    /**
     * Pushes above the last marker at most: the next send takes the lock and drains. This bounds the work a locked
     * call may find waiting (about 20 µs of stores) and the heap of undrained nodes (48 B each), whatever the
     * queue's capacity, at one lock acquisition per this many sends when no other call drains.
     */
    static final int MAX_PENDING = 1024;

    /** What {@link #push} returns for a send refused as full without the lock. */
    static final long FULL = -1;

    SendInbox(int capacity, boolean timersMayFree, Pushed start, QueueListener listener, MemoryBudget budget) {
        this.capacity = capacity;
        this.budget = budget;
        this.timersMayFree = timersMayFree;
        this.head = start;
        this.idle = 1;
        this.pushable = true;
        this.listener = listener;
    }

    /**
     * Pushes a plain message: claims the next id and a unit of capacity and publishes the message, all with one CAS.
     *
     * <p>A full queue refuses here, without the lock, only when a refusal under the lock would have done nothing
     * else: {@code now} is not past the clock of the last finished locked call (so every timer due at the call's
     * time has run; no clock to move), and no timer can free capacity anyway (no TTL'd message was ever stored
     * and lease expiry never dead-letters). The send is then linearized where {@link #freed} was read: the queue
     * was full and not closed there. Otherwise, or when a lock holder owns the ids, it returns 0 and the caller
     * sends under the lock.
     *
     * @return the message's id; {@link #FULL}; or 0 to send under the lock
     */
    long push(OutboundMessage<?> m, long now) {
        for (;;) {
            Pushed h = head;
            if (h == OWNED || h == CLOSED) {
                return 0;
            }
            if (h.admitted - freedSeen >= capacity) {
                // only when the cached count says full: one miss, not one per send. No spinning for room here: a
                // producer re-reading freed while the consumer writes it slowed one-at-a-time 2x (measured)
                long committed = clock; // before freed: a clock no later than the state freed shows
                long f = (long) FREED.getAcquire(this);
                freedSeen = f; // racy among producers; any value read is a lower bound, so a stale one only refuses
                if (h.admitted - f >= capacity) {
                    if (timersMayFree || now > committed) {
                        return 0;
                    }
                    // Dekker with the lock holder, which stores freed, unlocks (a full fence), then reads refused
                    // (MessageQueue.fire): either it sees this flag and signals writable, or this read sees room
                    if (refused == 0) {
                        refused = 1;
                    }
                    f = (long) FREED.getVolatile(this);
                    freedSeen = f;
                    if (h.admitted - f < capacity) {
                        continue; // room after all
                    }
                    // full when freed was read; CLOSED is for good, so a head that is not CLOSED now was not then
                    return head == CLOSED ? 0 : FULL;
                }
            }
            int depth = h.message == null ? 1 : h.depth + 1; // resets at a marker: after a send under the lock
            if (depth > MAX_PENDING) {
                return 0;
            }
            Pushed p = new Pushed(m, h.nextId + 1, h.admitted + 1, now, h, depth);
            if (HEAD.compareAndSet(this, h, p)) {
                return h.nextId;
            }
        }
    }

    /** @return whether a send was refused without the lock since the last writable signal; clears it if so */
    boolean takeRefused() {
        return refused != 0 && REFUSED.compareAndSet(this, 1, 0);
    }

    /** @return whether this push is the one to signal readable (the lock holder left the queue idle) */
    boolean takeIdle() {
        return idle != 0 && IDLE.compareAndSet(this, 1, 0);
    }

    /** @return whether the queue is marked idle (nothing ready as the last lock holder left it) */
    boolean isIdle() {
        return idle != 0;
    }

    /** Under the queue's lock: nothing is ready; the next push must signal readable. */
    void markIdle() {
        idle = 1;
    }

    boolean casHead(Pushed expected, Pushed next) {
        return HEAD.compareAndSet(this, expected, next);
    }

    /** Under the queue's lock: publishes the total of messages that left the queue. */
    void publishFreed(long total) {
        FREED.setRelease(this, total);
    }
}

abstract class SendInboxPad0 {
    long p00, p01, p02, p03, p04, p05, p06, p07;
}

/** Written by producers on every send; read by the lock holder once per call. */
abstract class SendInboxHead extends SendInboxPad0 {
    volatile Pushed head; // the newest pushed send, or a marker (OWNED, CLOSED, or one the lock holder left)
    long freedSeen; // producers' cached lower bound of freed
    int capacity;
    volatile boolean pushable; // false once a journal is attached or the queue closed: send under the lock
    volatile QueueListener listener; // the queue's listener, mirrored here so a send reads no line the lock holder writes
    volatile boolean timersMayFree; // expiry may dead-letter, or a TTL'd message was stored: refuse under the lock only
    MemoryBudget budget; // the broker's memory budget (null: none), read by every push: here, not on the queue's lines
    int pad; // fills the gap after capacity's slot so no later field lands on this line
}

abstract class SendInboxPad1 extends SendInboxHead {
    long p10, p11, p12, p13, p14, p15, p16, p17;
}

/** Read by every push; written when the queue empties (lock holder) or refills (the push that signals). */
abstract class SendInboxIdle extends SendInboxPad1 {
    volatile int idle; // 1: the lock holder left nothing ready, the next push signals readable. An int, not a
    // boolean: the layout would fit a boolean into the head section's padding gap, on the head's line
    volatile int refused; // 1: a push refused a send as full; the next locked call that frees signals writable
}

abstract class SendInboxPad2 extends SendInboxIdle {
    long p20, p21, p22, p23, p24, p25, p26, p27;
}

/** Written by the lock holder on every removal; read by producers only when the queue looks full. */
abstract class SendInboxFreed extends SendInboxPad2 {
    volatile long freed; // messages that left the queue ever (acked, dead-lettered, expired, purged)
    volatile long clock = Long.MIN_VALUE; // the queue's clock as the last finished locked call left it
}

/**
 * A send pushed onto the inbox without the lock, or a marker. Pushes form a stack through {@link #older}; the lock
 * holder takes everything above the head it drained last and stores it oldest first. Every node carries the id
 * counter and the admitted count as of itself, so a push claims its id and its capacity with the one CAS that
 * publishes it: ids follow the queue's FIFO order exactly, and the queue never holds more than its capacity.
 */
final class Pushed {
    final OutboundMessage<?> message; // null for a marker
    final long nextId; // the id after this node's (its own id is nextId - 1)
    final long admitted; // messages admitted ever, this one included
    final long now; // the sender's clock
    final int depth; // pushes since the last marker, this one included (0 for a marker)
    Pushed older; // the head this push replaced; cut below the head by the drain

    Pushed(OutboundMessage<?> message, long nextId, long admitted, long now, Pushed older, int depth) {
        this.message = message;
        this.nextId = nextId;
        this.admitted = admitted;
        this.now = now;
        this.older = older;
        this.depth = depth;
    }

    /** A marker: the lock holder's next id and admitted count, for pushes to build on. */
    static Pushed marker(long nextId, long admitted) {
        return new Pushed(null, nextId, admitted, 0, null, 0);
    }
}

/**
 * The first fields of a {@link MessageQueue}: the only one a lock-free send reads ({@code inbox}), with padding on
 * both sides, so that the lock holder's writes to the queue's state never invalidate the line a producer reads on
 * every send. (The layout places a class's own fields after its superclass's, filling gaps first: the int fields
 * take the gaps.)
 */
abstract class QueueFront {
    long f00, f01, f02, f03, f04, f05, f06, f07;
    final SendInbox inbox; // null: sends always take the lock
    int fgap;

    QueueFront(SendInbox inbox) {
        this.inbox = inbox;
    }
}

abstract class QueueFrontPad extends QueueFront {
    long f10, f11, f12, f13, f14, f15, f16, f17;
    int fgap2;

    QueueFrontPad(SendInbox inbox) {
        super(inbox);
    }
}
