package dev.rill.netty.internal.transport;

import dev.rill.reactive.RillException;

/**
 * The server and the client share no protocol version: the server answered HELLO with ERROR(UNSUPPORTED_VERSION), or
 * chose in HELLO_OK a version the client did not offer. Connecting again to that server cannot help, so a reconnect
 * that meets it ends at once (like a refused token, {@link FrameBoundException}).
 */
final class VersionRefusedException extends RillException {

    private static final long serialVersionUID = 1L;

    VersionRefusedException(String message) {
        super(message);
    }
}
