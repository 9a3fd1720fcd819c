package dev.rill.netty;

/**
 * A right a token can hold on a queue. See {@link Permissions}.
 */
public enum Permission {

    /** Send messages to the queue. */
    SEND,

    /** Receive (lease), peek, settle (ack, nack, extend, reject) messages and read stats of the queue. */
    RECEIVE,

    /** Create the queue (declare a missing one), delete it, purge it, redrive from it. */
    MANAGE
}
