package dev.rill.server;

/**
 * A command failure with a message for the user and the exit code to end with (see {@link ExitCodes}).
 */
final class CliException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final int exitCode;

    /**
     * Creates the failure.
     *
     * @param exitCode one of {@link ExitCodes}
     * @param message what went wrong and, where possible, what to do
     */
    CliException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    /**
     * Creates the failure with a cause.
     *
     * @param exitCode one of {@link ExitCodes}
     * @param message what went wrong
     * @param cause the cause
     */
    CliException(int exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    /** @return the exit code */
    int exitCode() {
        return exitCode;
    }
}
