package dev.rill.reactive;

/**
 * Base type of every error Rill signals through {@code onError}. Unchecked, like Reactor's own errors.
 */
public class RillException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception with a message.
     *
     * @param message what went wrong
     */
    public RillException(String message) {
        super(message);
    }

    /**
     * Creates an exception with a message and a cause.
     *
     * @param message what went wrong
     * @param cause the underlying error
     */
    public RillException(String message, Throwable cause) {
        super(message, cause);
    }
}
