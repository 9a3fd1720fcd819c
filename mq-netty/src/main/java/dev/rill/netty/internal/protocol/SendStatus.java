package dev.rill.netty.internal.protocol;

/** Per-message status in a SEND_RESULT or SEND_RECEIPTS frame; the ordinal is the wire value (u8). */
public enum SendStatus {
    /** Stored; the receipt carries the new message id. */
    ENQUEUED,
    /** Not stored again: same dedup id within the dedup window; the receipt carries the original id. */
    DUPLICATE,
    /** Not stored: the queue is at capacity. */
    FULL,
    /** Not stored: the queue is closed or deleted. */
    CLOSED,
    /**
     * Not stored: refused for the reason in the receipt's error code (e.g. INVALID_ARGUMENT, FORBIDDEN) and, in a
     * SEND_RECEIPTS frame, its reason text.
     */
    ERROR,
    /** Not stored: the client cancelled the SEND (CANCEL_SEND) while it was waiting for room. */
    CANCELLED
}
