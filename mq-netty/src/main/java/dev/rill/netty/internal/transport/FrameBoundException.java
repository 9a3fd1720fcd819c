package dev.rill.netty.internal.transport;

import dev.rill.reactive.RillException;

/**
 * The server announced a maximum frame size above the client's own bound ({@code ClientOptions.maxFrameSize}): a
 * message between the two would end the connection on every delivery, so the client refuses the server instead, and
 * does not reconnect (like a refused token, retrying cannot help).
 */
final class FrameBoundException extends RillException {

    private static final long serialVersionUID = 1L;

    FrameBoundException(java.net.InetSocketAddress server, int serverMax, int clientMax) {
        super("the server at " + server.getHostString() + ":" + server.getPort() + " accepts frames of up to " + serverMax + " bytes, more than this client's "
                + "maxFrameSize of " + clientMax + ": a message larger than " + clientMax + " bytes would end the "
                + "connection on every delivery. Raise ClientOptions.maxFrameSize to " + serverMax + " or leave it "
                + "unset to follow the server");
    }
}
