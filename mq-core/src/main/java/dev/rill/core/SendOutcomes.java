package dev.rill.core;

import java.util.AbstractList;
import java.util.RandomAccess;

/**
 * The outcomes of one {@code sendAll}, kept as one {@code long} per message and turned into {@link SendOutcome}
 * values on {@link #get(int)}: a batch costs one array, not one object per message under the queue's lock. Codes:
 * a positive message id for {@code ENQUEUED}, {@link #FULL}, {@link #CLOSED}, or {@code -(id + 1)} (at most -2)
 * for a {@code DUPLICATE} of message {@code id}. Immutable once returned.
 */
final class SendOutcomes extends AbstractList<SendOutcome> implements RandomAccess {
    static final long FULL = 0;
    static final long CLOSED = -1;

    private final long[] codes;

    SendOutcomes(long[] codes) {
        this.codes = codes;
    }

    static long duplicate(long originalId) {
        return -(originalId + 1);
    }

    static SendOutcome outcome(long code) {
        if (code > 0) {
            return new SendOutcome(SendOutcome.Status.ENQUEUED, code);
        }
        if (code == FULL) {
            return SendOutcome.FULL;
        }
        if (code == CLOSED) {
            return SendOutcome.CLOSED;
        }
        return new SendOutcome(SendOutcome.Status.DUPLICATE, -code - 1);
    }

    @Override
    public SendOutcome get(int index) {
        return outcome(codes[index]);
    }

    @Override
    public int size() {
        return codes.length;
    }
}
