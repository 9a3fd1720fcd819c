package dev.rill.netty;

import dev.rill.reactive.RillException;

/**
 * The server refused the client's token (bad or missing) and closed the connection. Reconnecting with the same
 * token would fail again, so the client does not retry.
 */
public final class AuthenticationException extends RillException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message the server's explanation
     */
    public AuthenticationException(String message) {
        super(message);
    }
}
