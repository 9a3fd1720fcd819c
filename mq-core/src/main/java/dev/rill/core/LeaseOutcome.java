package dev.rill.core;

/** What an ack, nack, extend, reject or release did with a receipt handle. */
public enum LeaseOutcome {
    /** Done. */
    OK,
    /**
     * Nothing done: the handle's lease is over (deadline reached, already acknowledged, released, or the
     * message was redelivered under a newer handle), or the queue was closed.
     */
    STALE
}
