package dev.rill.core;

/**
 * How a queue orders deliveries.
 *
 * <p>Both orderings honour message priority first (higher first) and deliver at least once.
 */
public enum Ordering {
    /** First in, first out within a priority; any number of messages may be leased at once. */
    FIFO,
    /**
     * At most one message per {@linkplain OutboundMessage#key() key} is leased at a time, and a key's
     * messages are delivered in the order they became ready. Different keys proceed independently:
     * a key whose head keeps failing never stalls the other keys. Messages without a key behave as in
     * {@link #FIFO}. Within one key, order wins over priority.
     */
    KEY_ORDERED
}
