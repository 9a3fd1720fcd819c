package dev.rill.core;

/**
 * What a reactive send does when the queue is at capacity. The core itself always answers
 * {@link SendOutcome.Status#FULL}; this setting is read by the layers above it.
 */
public enum Overflow {
    /** The send waits, without parking a thread, until space frees (the default). */
    WAIT,
    /** The send fails at once with a queue-full error. */
    FAIL
}
