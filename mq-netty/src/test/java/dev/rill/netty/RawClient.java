package dev.rill.netty;

import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.FrameDecoder;
import dev.rill.netty.internal.protocol.FrameEncoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;

/** A plain blocking socket speaking (or abusing) the protocol, for hostile-input tests. Test thread only. */
final class RawClient implements AutoCloseable {

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final ByteBuf buffer = Unpooled.buffer();

    RawClient(int port) throws IOException {
        socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        socket.setSoTimeout(10_000);
        in = socket.getInputStream();
        out = socket.getOutputStream();
    }

    /** @return the local port: the one the server sees this client at */
    int localPort() {
        return socket.getLocalPort();
    }

    void send(Frame f) throws IOException {
        sendBytes(encode(f));
    }

    /** @return {@code f} encoded */
    static byte[] encode(Frame f) {
        ByteBuf b = Unpooled.buffer();
        FrameEncoder.encode(f, b);
        byte[] bytes = new byte[b.readableBytes()];
        b.readBytes(bytes);
        return bytes;
    }

    /** @return {@code f} encoded {@code times} times back to back */
    static byte[] repeated(Frame f, int times) {
        byte[] one = encode(f);
        byte[] all = new byte[one.length * times];
        for (int i = 0; i < times; i++) {
            System.arraycopy(one, 0, all, i * one.length, one.length);
        }
        return all;
    }

    /** @return 512 random bytes (always the same) starting like a frame of 40 bytes of an unknown type (0xEE) */
    static byte[] garbage() {
        byte[] garbage = new byte[512];
        new java.util.Random(42).nextBytes(garbage);
        garbage[0] = 0; // a small length so the decoder reaches the type and body checks
        garbage[1] = 0;
        garbage[2] = 0;
        garbage[3] = 40;
        garbage[4] = (byte) 0xEE; // no such frame type
        return garbage;
    }

    void sendBytes(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** @return the next frame, or null at end of stream */
    Frame read() throws IOException {
        byte[] chunk = new byte[4096];
        while (true) {
            Frame f = FrameDecoder.decodeFrame(buffer, Integer.MAX_VALUE);
            if (f != null) {
                return f;
            }
            int n = in.read(chunk);
            if (n < 0) {
                return null;
            }
            buffer.writeBytes(chunk, 0, n);
        }
    }

    /** Reads frames until one of {@code type}; null at end of stream. */
    <F extends Frame> F readUntil(Class<F> type) throws IOException {
        Frame f;
        while ((f = read()) != null) {
            if (type.isInstance(f)) {
                return type.cast(f);
            }
        }
        return null;
    }

    /** @return whether the server closed the connection (end of stream or reset) within the socket timeout */
    boolean closedByPeer() throws IOException {
        try {
            byte[] chunk = new byte[4096];
            while (true) {
                int n = in.read(chunk);
                if (n < 0) {
                    return true;
                }
            }
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // connection reset
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
