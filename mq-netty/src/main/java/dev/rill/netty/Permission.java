package dev.rill.netty;

/**
 * A right a token can hold on a queue. See {@link Permissions}.
 *
 * <p>Any one of them on a queue lets the token see the queue: its stats, its settings (a passive declare, which
 * attaches to the queue as it is) and its name in the list of queues.
 */
public enum Permission {

    /** Send messages to the queue, and move messages into it (the target of a redrive into a named queue). */
    SEND,

    /** Receive (lease) messages of the queue, settle them (ack, nack, extend, reject) and peek at them. */
    RECEIVE,

    /**
     * Create the queue (declare a missing one), purge it, delete it, redrive from it (a redrive into a named queue
     * also needs {@link #SEND} on that queue).
     */
    MANAGE
}
