package dev.rill.netty;

/**
 * A listener for tests on 127.0.0.1 that closes every connection at once and counts them: bound where a server was,
 * each reconnect attempt of a client fails fast, and the count says how many were made. On its own event loop.
 */
final class ClosingListener implements AutoCloseable {

    private final ListeningPeer peer;

    /** @param port the port to listen on (where a server was: bound with SO_REUSEADDR) */
    ClosingListener(int port) {
        peer = new ListeningPeer(port, ch -> ch.close());
    }

    /** @return how many connections were accepted (and closed) so far */
    int accepted() {
        return peer.accepted().size();
    }

    /** Stops listening and frees the port; idempotent. */
    @Override
    public void close() {
        peer.close();
    }
}
