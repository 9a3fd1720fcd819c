package dev.rill.bench.net;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;

/**
 * The floor of a blocking path: the frames of {@link Relay} over plain sockets with a thread per connection, shaped
 * like the Redis Streams peer's path. The load generator writes each SEND to its socket itself (and reads the
 * SEND_OKs itself, as Jedis reads a pipeline's replies); the server's thread of the producer's connection writes the
 * DELIVER to the consumer's socket itself; the consumer's thread reads, acks and reads the RESULTs. Three threads
 * touch a message (generator, server, consumer), against five on Rill's and {@link Relay}'s event-loop path.
 */
final class BlockingRelay {

    private BlockingRelay() {
    }

    /** Reads a SEND's or DELIVER's payload of {@code n} bytes into {@code into}, refusing one it cannot hold. */
    static void readPayload(DataInputStream in, int n, byte[] into) throws IOException {
        if (n < 0 || n > into.length) {
            throw new IOException("a payload of " + n + " bytes; the relay carries at most " + into.length);
        }
        in.readFully(into, 0, n);
    }

    /**
     * The server, in a JVM of its own: prints {@code READY <port>} once bound on 127.0.0.1 and stops when its
     * standard input closes.
     *
     * @param args the port (0: any free port)
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        try (Server server = Server.bind(args.length > 0 ? Integer.parseInt(args[0]) : 0)) {
            RillServerMain.readyUntilInputEnds(server.port());
        }
    }

    static final class Server implements AutoCloseable {

        private final ServerSocket socket;
        private volatile DataOutputStream consumer;

        private Server(ServerSocket socket) {
            this.socket = socket;
        }

        static Server bind(int port) throws IOException {
            Server s = new Server(new ServerSocket(port, 50, InetAddress.getLoopbackAddress()));
            Thread t = new Thread(s::accept, "blocking-relay-accept");
            t.setDaemon(true);
            t.start();
            return s;
        }

        int port() {
            return socket.getLocalPort();
        }

        private void accept() {
            try {
                for (;;) {
                    Socket c = socket.accept();
                    c.setTcpNoDelay(true);
                    Thread t = new Thread(() -> serve(c), "blocking-relay-conn");
                    t.setDaemon(true);
                    t.start();
                }
            } catch (IOException closed) {
                // the server socket closed
            }
        }

        private void serve(Socket c) {
            try (c) {
                DataInputStream in = new DataInputStream(new BufferedInputStream(c.getInputStream(), 65536));
                DataOutputStream out = new DataOutputStream(new BufferedOutputStream(c.getOutputStream(), 65536));
                long nextTag = 0;
                byte[] payload = new byte[Peer.PAYLOAD];
                for (;;) {
                    int len = in.readInt();
                    byte type = in.readByte();
                    if (type == Relay.HELLO) {
                        boolean isConsumer = in.readByte() == 1;
                        synchronized (out) {
                            out.writeInt(1);
                            out.writeByte(Relay.HELLO_OK);
                            out.flush();
                        }
                        if (isConsumer) {
                            consumer = out;
                        }
                    } else if (type == Relay.SEND) {
                        long id = in.readLong();
                        readPayload(in, len - 9, payload);
                        DataOutputStream d = consumer;
                        if (d != null) {
                            synchronized (d) {
                                d.writeInt(len); // type, tag and payload: as long as the SEND's type, id and payload
                                d.writeByte(Relay.DELIVER);
                                d.writeLong(nextTag++);
                                d.write(payload, 0, len - 9);
                                if (in.available() == 0) {
                                    d.flush();
                                }
                            }
                        }
                        synchronized (out) {
                            out.writeInt(9);
                            out.writeByte(Relay.SEND_OK);
                            out.writeLong(id);
                        }
                    } else if (type == Relay.ACK) {
                        int n = in.readInt();
                        in.skipNBytes(8L * n);
                        synchronized (out) { // DELIVERs from the producer's thread share this stream
                            out.writeInt(5);
                            out.writeByte(Relay.RESULT);
                            out.writeInt(n);
                        }
                    } else {
                        throw new IOException("unknown frame type " + type);
                    }
                    if (in.available() == 0) {
                        synchronized (out) {
                            out.flush();
                        }
                    }
                }
            } catch (IOException closed) {
                // the connection ended
            }
        }

        /** Stops accepting; a connection's thread ends when its client closes it. */
        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    /** The blocking relay as a {@link Peer}. */
    static final class BlockingRelayPeer implements Peer {

        private final int port;
        private Socket producer;
        private DataInputStream producerIn;
        private DataOutputStream producerOut;
        private Socket consumer;
        private int unconfirmed;
        private long nextId;

        BlockingRelayPeer(int port) {
            this.port = port;
        }

        @Override
        public String name() {
            return "Blocking relay (floor of a Redis-shaped path)";
        }

        @Override
        public boolean calibration() {
            return true;
        }

        @Override
        public String setup() {
            return "not a message system: the relay's frames over blocking sockets, a thread per connection; the "
                    + "generator writes its SENDs and reads their SEND_OKs itself, the server's producer thread writes "
                    + "the DELIVER to the consumer's socket (3 threads per message, as Redis Streams' path)";
        }

        @Override
        public void open(Listener listener) throws Exception {
            consumer = connect();
            DataInputStream cin = new DataInputStream(new BufferedInputStream(consumer.getInputStream(), 65536));
            DataOutputStream cout = new DataOutputStream(new BufferedOutputStream(consumer.getOutputStream(), 65536));
            hello(cout, cin, 1);
            producer = connect();
            producerIn = new DataInputStream(new BufferedInputStream(producer.getInputStream(), 65536));
            producerOut = new DataOutputStream(new BufferedOutputStream(producer.getOutputStream(), 65536));
            hello(producerOut, producerIn, 0);
            Thread consumerThread = new Thread(() -> consume(cin, cout, listener), "blocking-relay-consumer");
            consumerThread.setDaemon(true);
            consumerThread.start();
        }

        private Socket connect() throws IOException {
            Socket s = new Socket(InetAddress.getLoopbackAddress(), port);
            s.setTcpNoDelay(true);
            return s;
        }

        private static void hello(DataOutputStream out, DataInputStream in, int role) throws IOException {
            out.writeInt(2);
            out.writeByte(Relay.HELLO);
            out.writeByte(role);
            out.flush();
            in.readInt();
            if (in.readByte() != Relay.HELLO_OK) {
                throw new IOException("the relay did not answer HELLO");
            }
        }

        private static void consume(DataInputStream in, DataOutputStream out, Listener listener) {
            long[] tags = new long[64];
            int acks = 0;
            byte[] payload = new byte[Peer.PAYLOAD];
            try {
                for (;;) {
                    int len = in.readInt();
                    byte type = in.readByte();
                    if (type == Relay.DELIVER) {
                        long tag = in.readLong();
                        readPayload(in, len - 9, payload);
                        listener.consumed(Peer.stamp(payload));
                        if (acks == tags.length) {
                            tags = Arrays.copyOf(tags, acks * 2);
                        }
                        tags[acks++] = tag;
                    } else {
                        in.skipNBytes(len - 1L);
                    }
                    if (acks > 0 && in.available() == 0) {
                        out.writeInt(5 + 8 * acks);
                        out.writeByte(Relay.ACK);
                        out.writeInt(acks);
                        for (int i = 0; i < acks; i++) {
                            out.writeLong(tags[i]);
                        }
                        out.flush();
                        acks = 0;
                    }
                }
            } catch (IOException closed) {
                // the peer closed
            }
        }

        @Override
        public void send(long intendedNanos) throws Exception {
            while (unconfirmed >= RillPeer.WINDOW || producerIn.available() >= 13) {
                if (unconfirmed >= RillPeer.WINDOW) {
                    producerOut.flush();
                }
                readConfirmation();
            }
            byte[] p = Peer.payload(intendedNanos);
            producerOut.writeInt(9 + p.length);
            producerOut.writeByte(Relay.SEND);
            producerOut.writeLong(nextId++);
            producerOut.write(p);
            unconfirmed++;
        }

        private void readConfirmation() throws IOException {
            producerIn.readInt();
            producerIn.readByte();
            producerIn.readLong();
            unconfirmed--;
        }

        @Override
        public void flush() throws Exception {
            producerOut.flush();
        }

        @Override
        public void close() {
            closeQuietly(producer);
            closeQuietly(consumer); // ends the consumer's thread
        }

        private static void closeQuietly(Socket s) {
            if (s != null) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // closing anyway
                }
            }
        }
    }
}
