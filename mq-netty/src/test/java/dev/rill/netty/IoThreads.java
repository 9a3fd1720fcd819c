package dev.rill.netty;

import java.io.IOException;

/** Daemon threads for the socket relays of tests: an I/O error (a socket closed) ends one quietly. */
final class IoThreads {

    private IoThreads() {
    }

    /** What a relay thread does. */
    interface Body {
        void run() throws IOException;
    }

    /** Starts {@code body} on a daemon thread named {@code name}. */
    static void start(String name, Body body) {
        Thread t = new Thread(() -> {
            try {
                body.run();
            } catch (IOException e) {
                // closed
            }
        }, name);
        t.setDaemon(true);
        t.start();
    }
}
