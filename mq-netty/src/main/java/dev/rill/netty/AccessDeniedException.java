package dev.rill.netty;

import dev.rill.reactive.RillException;

/**
 * The server refused an operation: the client's token does not grant the right it needs (send, receive or manage)
 * on the queue. The connection stays open.
 */
public final class AccessDeniedException extends RillException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message the server's explanation, naming the queue and the right
     */
    public AccessDeniedException(String message) {
        super(message);
    }
}
