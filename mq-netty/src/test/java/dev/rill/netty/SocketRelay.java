package dev.rill.netty;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A relay for tests between clients and a server on 127.0.0.1, one connection to the server per client connection,
 * whose subclass pumps the bytes (and meddles with them); on plain threads.
 */
abstract class SocketRelay implements AutoCloseable {

    private final ServerSocket listener;
    private final int upstreamPort;
    private final AtomicInteger connections = new AtomicInteger();
    private final List<Socket> open = new CopyOnWriteArrayList<>();

    /** @param upstreamPort the server's port */
    SocketRelay(int upstreamPort) throws IOException {
        this.upstreamPort = upstreamPort;
        this.listener = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
    }

    /** Starts accepting; called by the subclass once it is set up. */
    final void start() {
        IoThreads.start("relay-accept", this::acceptLoop);
    }

    /**
     * Starts pumping one connection's bytes (on threads of its own, {@link IoThreads}).
     *
     * @param client the client's socket
     * @param upstream the socket to the server
     * @param n the connection's number, from 1
     */
    abstract void relay(Socket client, Socket upstream, int n);

    /** Decides about one frame of the client's. */
    interface FrameFilter {
        /**
         * @param frame the frame after its length (type, id, body)
         * @return whether it goes on to the server
         */
        boolean pass(byte[] frame) throws IOException;
    }

    /** Copies the client's frames to the server, those {@code filter} passes, until a side closes. */
    static void pumpFrames(Socket client, Socket upstream, FrameFilter filter) throws IOException {
        DataInputStream in = new DataInputStream(client.getInputStream());
        DataOutputStream out = new DataOutputStream(upstream.getOutputStream());
        while (true) {
            int length = in.readInt();
            byte[] frame = new byte[length];
            in.readFully(frame);
            if (filter.pass(frame)) {
                out.writeInt(length);
                out.write(frame);
                out.flush();
            }
        }
    }

    final int port() {
        return listener.getLocalPort();
    }

    final int connections() {
        return connections.get();
    }

    /** Closes the connections open now. */
    final void cut() throws IOException {
        for (Socket s : open) {
            s.close();
        }
        open.clear();
    }

    private void acceptLoop() throws IOException {
        while (true) {
            Socket c = listener.accept();
            Socket u = new Socket(InetAddress.getLoopbackAddress(), upstreamPort);
            int n = connections.incrementAndGet();
            open.add(c);
            open.add(u);
            relay(c, u, n);
        }
    }

    @Override
    public void close() throws IOException {
        listener.close();
        cut();
    }
}
