package dev.rill.core;

/** What happens to a message whose time to live ran out before it was acknowledged. */
public enum ExpiryAction {
    /** The message is removed and counted as expired (the default). */
    DROP,
    /** The message is moved to the queue's dead-letter queue with reason {@code "expired"}. */
    DEAD_LETTER
}
