package dev.rill.netty;

import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.FrameDecoder;
import dev.rill.netty.internal.protocol.FrameEncoder;
import dev.rill.netty.internal.protocol.FrameType;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP relay for tests, on 127.0.0.1, between one client and a server: it forwards both directions byte for byte
 * and counts the client's frames by type (length-prefixed frames: a u32 length, then the type byte), so a test can
 * see what the client put on the wire. Plain threads, not Reactor ones: it blocks on sockets.
 *
 * <p>With a highest version it stands in for a server of an older release: the client's HELLO reaches the server
 * without the versions above it, so the server chooses an older version and speaks it.
 */
final class FrameCountingRelay implements AutoCloseable {

    private final ServerSocket listener;
    private final int upstreamPort;
    private final int maxVersion;
    private final ConcurrentHashMap<Integer, AtomicLong> clientFrames = new ConcurrentHashMap<>();
    private volatile Socket client;
    private volatile Socket upstream;

    FrameCountingRelay(int upstreamPort) throws IOException {
        this(upstreamPort, Integer.MAX_VALUE);
    }

    /**
     * @param upstreamPort the server's port
     * @param maxVersion the highest protocol version of the client's HELLO passed on
     */
    FrameCountingRelay(int upstreamPort, int maxVersion) throws IOException {
        this.upstreamPort = upstreamPort;
        this.maxVersion = maxVersion;
        this.listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        Thread t = new Thread(this::acceptOne, "relay-accept");
        t.setDaemon(true);
        t.start();
    }

    int port() {
        return listener.getLocalPort();
    }

    /** @return how many frames of this type the client sent */
    long clientFrames(int type) {
        AtomicLong c = clientFrames.get(type);
        return c == null ? 0 : c.get();
    }

    private void acceptOne() {
        try {
            Socket c = listener.accept();
            c.setTcpNoDelay(true);
            Socket u = new Socket(InetAddress.getLoopbackAddress(), upstreamPort);
            u.setTcpNoDelay(true);
            client = c;
            upstream = u;
            start("relay-c2s", () -> countingPump(c.getInputStream(), u.getOutputStream()));
            start("relay-s2c", () -> pump(u.getInputStream(), c.getOutputStream()));
        } catch (IOException e) {
            // closed before a client came
        }
    }

    private interface Pump {
        void run() throws IOException;
    }

    private void start(String name, Pump p) {
        Thread t = new Thread(() -> {
            try {
                p.run();
            } catch (IOException e) {
                // a side closed
            } finally {
                close();
            }
        }, name);
        t.setDaemon(true);
        t.start();
    }

    private void countingPump(InputStream in, OutputStream socketOut) throws IOException {
        DataInputStream d = new DataInputStream(in);
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(socketOut, 64 * 1024));
        byte[] buf = new byte[64 * 1024];
        while (true) {
            int length = d.readInt();
            int type = d.readUnsignedByte();
            clientFrames.computeIfAbsent(type, k -> new AtomicLong()).incrementAndGet();
            if (type == FrameType.HELLO.code() && maxVersion != Integer.MAX_VALUE) {
                out.write(olderHello(d, length));
                out.flush();
                continue;
            }
            out.writeInt(length);
            out.write(type);
            for (int left = length - 1; left > 0; ) {
                int n = d.read(buf, 0, Math.min(buf.length, left));
                if (n < 0) {
                    throw new IOException("closed mid-frame");
                }
                out.write(buf, 0, n);
                left -= n;
            }
            out.flush();
        }
    }

    /** @return the HELLO whose type byte was just read, encoded again without the versions above the highest */
    private byte[] olderHello(DataInputStream d, int length) throws IOException {
        byte[] frame = new byte[length];
        frame[0] = (byte) FrameType.HELLO.code();
        d.readFully(frame, 1, length - 1);
        Frame.Hello h = (Frame.Hello) FrameDecoder.decodeBody(Unpooled.wrappedBuffer(frame));
        ByteBuf b = Unpooled.buffer();
        FrameEncoder.encode(new Frame.Hello(h.versions().stream().filter(v -> v <= maxVersion).toList(),
                h.clientName()), b);
        byte[] bytes = ByteBufUtil.getBytes(b);
        b.release();
        return bytes;
    }

    private static void pump(InputStream in, OutputStream out) throws IOException {
        byte[] buf = new byte[64 * 1024];
        int n;
        while ((n = in.read(buf)) >= 0) {
            out.write(buf, 0, n);
            out.flush();
        }
    }

    @Override
    public void close() {
        for (AutoCloseable c : new AutoCloseable[] {listener, client, upstream}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                // closing anyway
            }
        }
    }
}
