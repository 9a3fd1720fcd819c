package dev.rill.reactive.internal;

import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;

/**
 * For transports, not for applications: lets the caller of a {@link StoreFirst#sendStored store-first send} ask it to
 * withdraw, and learn atomically whether the message can still be stored. Cancelling the send's {@code Mono} cannot
 * tell: the send may be storing the message on another thread (a send waiting for room is tried again on the thread
 * whose ack freed it) and its result is then dropped, so a server would answer "not stored" for a stored message.
 *
 * <p>States: OPEN (not storing), STORING (a store is under way or over: stored, refused or failed), WITHDRAWN (the
 * send will never store). The send moves OPEN to STORING right before each try to store and back to OPEN when that
 * try found the queue full and it waits again; {@link #withdraw()} moves OPEN to WITHDRAWN. One withdrawal asked for
 * while a try is under way is remembered: if that try then finds the queue full, the send ends with
 * {@link WithdrawnException} instead of waiting again.
 *
 * <p>A transport may extend this class to keep its own per-send state in the same object (one allocation).
 */
public class Withdrawable {

    private static final int OPEN = 0;
    private static final int STORING = 1;
    private static final int WITHDRAWN = 2;
    /** STORING, with a withdrawal asked for meanwhile. */
    private static final int STORING_ASKED = 3;

    private static final AtomicIntegerFieldUpdater<Withdrawable> STATE =
            AtomicIntegerFieldUpdater.newUpdater(Withdrawable.class, "state");

    private volatile int state;

    /**
     * Asks the send to withdraw.
     *
     * @return true when the send will never store its message (its {@code Mono} will not signal: dispose it); false
     *     when a store is under way or over: the send's {@code Mono} signals its result (stored, or an error, which is
     *     {@link WithdrawnException} when the store found the queue full and the send would have waited again)
     */
    public final boolean withdraw() {
        for (;;) {
            int s = state;
            if (s == WITHDRAWN) {
                return true;
            }
            if (s == STORING_ASKED) {
                return false;
            }
            if (STATE.compareAndSet(this, s, s == OPEN ? WITHDRAWN : STORING_ASKED)) {
                return s == OPEN;
            }
        }
    }

    /**
     * Called by the send right before it tries to store.
     *
     * @return false when withdrawn: the send must not store, and ends without a signal
     */
    public final boolean beginStore() {
        return STATE.compareAndSet(this, OPEN, STORING);
    }

    /**
     * Called by the send when its try found the queue full and it is about to wait for room again.
     *
     * @return false when a withdrawal was asked for during the try: the send must end with
     *     {@link WithdrawnException} instead of waiting
     */
    public final boolean storeRefusedFull() {
        return STATE.compareAndSet(this, STORING, OPEN);
    }

    /**
     * The error of a send that was asked to withdraw while it tried to store, and found the queue full: not stored.
     */
    public static final class WithdrawnException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        /** Creates the exception (without a stack trace: it is an outcome, not a fault). */
        public WithdrawnException() {
            super("withdrawn: not stored", null, false, false);
        }
    }
}
