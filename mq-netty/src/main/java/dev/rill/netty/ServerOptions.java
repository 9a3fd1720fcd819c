package dev.rill.netty;

import dev.rill.netty.internal.protocol.Limits;
import dev.rill.reactive.ReactiveBroker;
import io.netty.handler.ssl.SslContext;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Options of a {@link RillServer}. Immutable: every option method returns a new instance and leaves this one
 * unchanged.
 *
 * <p>Defaults: a new in-memory broker ({@code Rill.inMemory()}), bind address {@code 127.0.0.1}, port 0 (chosen by
 * the OS), no tokens (authentication off: every client may do everything), no TLS, reactor-netty's shared I/O
 * threads, at most
 * {@value #DEFAULT_MAX_CONNECTIONS} connections, {@value #DEFAULT_MAX_SUBSCRIPTIONS} subscriptions per connection,
 * frames of at most {@value #DEFAULT_MAX_FRAME_SIZE} bytes ({@value #DEFAULT_MAX_PRE_AUTH_FRAME_SIZE} before
 * authentication, and at most {@value #DEFAULT_MAX_PRE_AUTH_FRAMES} frames), a 10 s handshake timeout, a 45 s idle
 * timeout (the heartbeat announced to clients is a third of it), a send window of {@value #DEFAULT_SEND_WINDOW} messages per queue and connection and at most
 * {@value #DEFAULT_MAX_PENDING_OUTBOUND_BYTES} bytes waiting to be written to a client that does not read.
 */
public final class ServerOptions implements Cloneable {

    /** The most {@link #ioThreads(int)} accepts. */
    public static final int MAX_IO_THREADS = 1024;
    /** Default for {@link #maxConnections(int)}. */
    public static final int DEFAULT_MAX_CONNECTIONS = 1024;
    /** Default for {@link #maxSubscriptionsPerConnection(int)}. */
    public static final int DEFAULT_MAX_SUBSCRIPTIONS = 1024;
    /** Default for {@link #maxFrameSize(int)}: 1 MiB. */
    public static final int DEFAULT_MAX_FRAME_SIZE = 1 << 20;
    /** Default for {@link #maxPreAuthFrameSize(int)}: 4 KiB. */
    public static final int DEFAULT_MAX_PRE_AUTH_FRAME_SIZE = 4096;
    /** Default for {@link #maxPreAuthFrames(int)}. */
    public static final int DEFAULT_MAX_PRE_AUTH_FRAMES = 8;
    /** Default for {@link #sendWindow(int)}. */
    public static final int DEFAULT_SEND_WINDOW = 256;
    /** Default for {@link #maxPendingOutboundBytes(long)}: 32 MiB. */
    public static final long DEFAULT_MAX_PENDING_OUTBOUND_BYTES = 32L * 1024 * 1024;

    /**
     * Default bound on the drain of a graceful shutdown: 20 s, which with the broker's close still fits the 30 s a
     * process supervisor (systemd, Kubernetes) usually waits after SIGTERM before killing.
     */
    public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(20);

    private static final ServerOptions DEFAULTS = new ServerOptions();

    private ReactiveBroker broker;
    private String host = "127.0.0.1";
    private int port;
    private Map<String, Permissions> tokens = Map.of();
    private SslContext sslContext;
    private int ioThreads;
    private int maxConnections = DEFAULT_MAX_CONNECTIONS;
    private int maxSubscriptions = DEFAULT_MAX_SUBSCRIPTIONS;
    private int maxFrameSize = DEFAULT_MAX_FRAME_SIZE;
    private int maxPreAuthFrameSize = DEFAULT_MAX_PRE_AUTH_FRAME_SIZE;
    private int maxPreAuthFrames = DEFAULT_MAX_PRE_AUTH_FRAMES;
    private Duration handshakeTimeout = Duration.ofSeconds(10);
    private Duration idleTimeout = Duration.ofSeconds(45);
    private int sendWindow = DEFAULT_SEND_WINDOW;
    private long maxPendingOutboundBytes = DEFAULT_MAX_PENDING_OUTBOUND_BYTES;
    private Duration drainTimeout = DEFAULT_DRAIN_TIMEOUT;

    private ServerOptions() {
    }

    /** @return the default options (see the class description) */
    public static ServerOptions defaults() {
        return DEFAULTS;
    }

    private ServerOptions copy() {
        try {
            return (ServerOptions) super.clone();
        } catch (CloneNotSupportedException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * Serves {@code broker} instead of a new in-memory one. The server does not close a broker it was given.
     *
     * <p>The server uses each queue through a {@code Codec.bytes()} view. A broker of {@code Rill} converts
     * between that view and the codec the queue was first declared with, so code in the server's JVM can keep
     * using served queues with its own codecs. A broker of another implementation must give such views
     * {@code byte[]} payloads: anything else ends a remote subscriber's stream with an error naming its type.
     *
     * <p>Default: a new {@code Rill.inMemory()} broker per bind, closed with the server.
     *
     * @param broker the broker to serve, not null
     * @return a new options object with the broker
     */
    public ServerOptions broker(ReactiveBroker broker) {
        ServerOptions c = copy();
        c.broker = Objects.requireNonNull(broker, "broker");
        return c;
    }

    /**
     * Sets the address to bind.
     *
     * <p>Default: {@code 127.0.0.1} (loopback only; use {@code 0.0.0.0} to accept remote clients).
     *
     * @param host an IP address or host name, not null
     * @return a new options object with the bind address
     */
    public ServerOptions host(String host) {
        Objects.requireNonNull(host, "host");
        if (host.isBlank()) {
            throw new IllegalArgumentException("host must not be blank");
        }
        ServerOptions c = copy();
        c.host = host;
        return c;
    }

    /**
     * Sets the TCP port; 0 lets the OS choose one ({@link RillServer#port()} tells which).
     *
     * <p>Default: 0.
     *
     * @param port 0..65535
     * @return a new options object with the port
     */
    public ServerOptions port(int port) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be 0..65535, was " + port);
        }
        ServerOptions c = copy();
        c.port = port;
        return c;
    }

    /**
     * Accepts {@code token} with {@code permissions}. Once any token is configured, every client must present a
     * known token: a missing or unknown one gets an {@code AUTH} error frame and the connection closes.
     *
     * <p>Default: no tokens, authentication off (every client has {@link Permissions#all()}).
     *
     * @param token the secret, 1..1024 characters
     * @param permissions what the token may do
     * @return a new options object with the token added (replacing an earlier grant of the same token)
     */
    public ServerOptions token(String token, Permissions permissions) {
        Objects.requireNonNull(token, "token");
        Objects.requireNonNull(permissions, "permissions");
        if (token.isEmpty() || token.length() > 1024) {
            throw new IllegalArgumentException("token must be 1..1024 characters, was " + token.length());
        }
        Map<String, Permissions> m = new LinkedHashMap<>(tokens);
        m.put(token, permissions);
        ServerOptions c = copy();
        c.tokens = Map.copyOf(m);
        return c;
    }

    /**
     * Serves over TLS with {@code sslContext} (built with Netty's {@code SslContextBuilder.forServer(...)}); make it
     * require client certificates ({@code clientAuth(ClientAuth.REQUIRE)} and a trust manager) for mutual TLS.
     *
     * <p>Default: plain TCP.
     *
     * @param sslContext a server-side SSL context, not null
     * @return a new options object with TLS
     */
    public ServerOptions tls(SslContext sslContext) {
        Objects.requireNonNull(sslContext, "sslContext");
        if (!sslContext.isServer()) {
            throw new IllegalArgumentException("sslContext must be a server context (SslContextBuilder.forServer)");
        }
        ServerOptions c = copy();
        c.sslContext = sslContext;
        return c;
    }

    /**
     * Gives the server its own {@code threads} I/O threads (event loops), started when it binds and stopped when it
     * is disposed, instead of reactor-netty's shared ones. Each connection stays on one loop; a message sent on one
     * connection and delivered on another crosses from the first one's loop to the second's. On a small machine
     * shared with its clients one thread saves that hand-off (~10–15 µs of median latency at 5,000 msg/s on the
     * 2-vCPU machines this project is measured on, {@code docs/operations.md}); a dedicated server with many
     * connections wants about one per core.
     *
     * <p>Default: 0, reactor-netty's shared loops (one per core, at least four; the system property
     * {@code reactor.netty.ioWorkerCount} sets them for the whole JVM).
     *
     * @param threads 1..1024, or 0 for the shared loops
     * @return a new options object with the thread count
     */
    public ServerOptions ioThreads(int threads) {
        if (threads < 0 || threads > MAX_IO_THREADS) {
            throw new IllegalArgumentException("ioThreads must be 0 (the shared loops) or 1.." + MAX_IO_THREADS
                    + ", was " + threads);
        }
        ServerOptions c = copy();
        c.ioThreads = threads;
        return c;
    }

    /**
     * Bounds the open connections; a connection beyond the bound gets an error frame and is closed. A connection
     * counts from the moment it is accepted, while it is still in its TLS handshake too (so peers that never finish
     * one cannot hold more sockets than this). With TLS, one beyond the bound is closed at the accept, without a
     * TLS handshake and so without an error frame (the Java client then says the server may be at its connection
     * limit).
     *
     * <p>Default: {@value #DEFAULT_MAX_CONNECTIONS}.
     *
     * @param max at least 1
     * @return a new options object with the bound
     */
    public ServerOptions maxConnections(int max) {
        ServerOptions c = copy();
        c.maxConnections = atLeast("maxConnections", max, 1);
        return c;
    }

    /**
     * Bounds the subscriptions one connection may hold open, receive and events streams together; a subscription
     * beyond it is refused with an error (the client's stream ends with it), the connection staying open.
     *
     * <p>Default: {@value #DEFAULT_MAX_SUBSCRIPTIONS}.
     *
     * @param max at least 1
     * @return a new options object with the bound
     */
    public ServerOptions maxSubscriptionsPerConnection(int max) {
        ServerOptions c = copy();
        c.maxSubscriptions = atLeast("maxSubscriptionsPerConnection", max, 1);
        return c;
    }

    /**
     * Bounds the size of one frame (its declared length); a client declaring a longer frame gets an error frame
     * and is closed, before any of it is buffered. It bounds the largest message a client can send, and the server
     * announces it in the handshake: clients accept frames up to it plus a delivery headroom of 8 KiB (a DELIVER's
     * own fields, a dead letter's headers). A message stored in the server's JVM that no such frame can carry is
     * not delivered remotely: the stream that would get it ends with an error naming it.
     *
     * <p>Default: {@value #DEFAULT_MAX_FRAME_SIZE} bytes.
     *
     * @param bytes 1 KiB..256 MiB
     * @return a new options object with the bound
     */
    public ServerOptions maxFrameSize(int bytes) {
        ServerOptions c = copy();
        c.maxFrameSize = Limits.checkMaxFrameSize("maxFrameSize", bytes);
        return c;
    }

    /**
     * Bounds the size of frames accepted before the client is authenticated (HELLO, AUTH).
     *
     * <p>Default: {@value #DEFAULT_MAX_PRE_AUTH_FRAME_SIZE} bytes.
     *
     * @param bytes at least 256
     * @return a new options object with the bound
     */
    public ServerOptions maxPreAuthFrameSize(int bytes) {
        ServerOptions c = copy();
        c.maxPreAuthFrameSize = atLeast("maxPreAuthFrameSize", bytes, 256);
        return c;
    }

    /**
     * Bounds how many frames a client may send before it is authenticated.
     *
     * <p>Default: {@value #DEFAULT_MAX_PRE_AUTH_FRAMES}.
     *
     * @param frames at least 2 (HELLO and AUTH)
     * @return a new options object with the bound
     */
    public ServerOptions maxPreAuthFrames(int frames) {
        ServerOptions c = copy();
        c.maxPreAuthFrames = atLeast("maxPreAuthFrames", frames, 2);
        return c;
    }

    /**
     * Bounds the time from accepting a connection to a completed HELLO/AUTH exchange, a TLS handshake included; a
     * slower client (or one that stalls mid-frame) gets an error frame and is closed (one that has not finished the
     * TLS handshake is closed without a frame: nothing can be written to it before). Wall-clock time.
     *
     * <p>Default: 10 s.
     *
     * @param timeout positive
     * @return a new options object with the timeout
     */
    public ServerOptions handshakeTimeout(Duration timeout) {
        ServerOptions c = copy();
        c.handshakeTimeout = positive("handshakeTimeout", timeout);
        return c;
    }

    /**
     * Closes a connection from which nothing (not even a PING) was read for this long. Clients ping at a shorter
     * interval. Wall-clock time.
     *
     * <p>Default: 45 s (clients are asked to ping every 15 s, a third of it).
     *
     * @param timeout positive
     * @return a new options object with the timeout
     */
    public ServerOptions idleTimeout(Duration timeout) {
        ServerOptions c = copy();
        c.idleTimeout = positive("idleTimeout", timeout);
        return c;
    }

    /**
     * Sets the producer flow-control window: how many sends per queue one connection may have unanswered. The
     * server grants up to this much SEND_CREDIT and grants more only as sends are answered, so a full queue stops
     * granting. It also keeps the bytes of a queue's unanswered sends within 4 × {@link #maxFrameSize(int)}
     * (docs/protocol.md "Producer credit"): large messages get a few credits at a time, small ones the whole window.
     *
     * <p>Default: {@value #DEFAULT_SEND_WINDOW}.
     *
     * @param messages at least 1
     * @return a new options object with the window
     */
    public ServerOptions sendWindow(int messages) {
        ServerOptions c = copy();
        c.sendWindow = atLeast("sendWindow", messages, 1);
        return c;
    }

    /**
     * Bounds the bytes waiting to be written to one client: a client that stops reading while it keeps sending
     * requests gets an error frame and is closed once its backlog passes this bound.
     *
     * <p>Default: {@value #DEFAULT_MAX_PENDING_OUTBOUND_BYTES} bytes.
     *
     * @param bytes at least 64 KiB
     * @return a new options object with the bound
     */
    public ServerOptions maxPendingOutboundBytes(long bytes) {
        if (bytes < 65536) {
            throw new IllegalArgumentException("maxPendingOutboundBytes must be >= 65536, was " + bytes);
        }
        ServerOptions c = copy();
        c.maxPendingOutboundBytes = bytes;
        return c;
    }

    /**
     * Bounds the drain of a graceful shutdown ({@link RillServer#shutdown()}): how long connected clients may keep
     * settling the deliveries they hold after the server told them it goes away. Deliveries not settled by then are
     * released (redelivered to the next consumer). Wall-clock time.
     *
     * <p>Default: 20 s ({@link #DEFAULT_DRAIN_TIMEOUT}).
     *
     * @param timeout zero (close at once) or more
     * @return a new options object with the timeout
     */
    public ServerOptions drainTimeout(Duration timeout) {
        Objects.requireNonNull(timeout, "drainTimeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("drainTimeout must be >= 0, was " + timeout);
        }
        ServerOptions c = copy();
        c.drainTimeout = timeout;
        return c;
    }

    /** @return the drain bound of a graceful shutdown; default 20 s */
    public Duration drainTimeout() {
        return drainTimeout;
    }

    /** @return the broker to serve, or empty for a new in-memory broker per bind (the default) */
    public Optional<ReactiveBroker> broker() {
        return Optional.ofNullable(broker);
    }

    /** @return the bind address; default {@code 127.0.0.1} */
    public String host() {
        return host;
    }

    /** @return the port; default 0 (OS-chosen) */
    public int port() {
        return port;
    }

    /** @return the accepted tokens and their permissions; empty (the default) when authentication is off */
    public Map<String, Permissions> tokens() {
        return tokens;
    }

    /** @return the TLS context, or empty for plain TCP (the default) */
    public Optional<SslContext> tls() {
        return Optional.ofNullable(sslContext);
    }

    /** @return the connection bound; default {@value #DEFAULT_MAX_CONNECTIONS} */
    public int maxConnections() {
        return maxConnections;
    }

    /** @return the server's own I/O threads; 0 (the default): reactor-netty's shared loops */
    public int ioThreads() {
        return ioThreads;
    }

    /** @return the per-connection subscription bound; default {@value #DEFAULT_MAX_SUBSCRIPTIONS} */
    public int maxSubscriptionsPerConnection() {
        return maxSubscriptions;
    }

    /** @return the frame size bound; default {@value #DEFAULT_MAX_FRAME_SIZE} */
    public int maxFrameSize() {
        return maxFrameSize;
    }

    /** @return the pre-authentication frame size bound; default {@value #DEFAULT_MAX_PRE_AUTH_FRAME_SIZE} */
    public int maxPreAuthFrameSize() {
        return maxPreAuthFrameSize;
    }

    /** @return the pre-authentication frame count bound; default {@value #DEFAULT_MAX_PRE_AUTH_FRAMES} */
    public int maxPreAuthFrames() {
        return maxPreAuthFrames;
    }

    /** @return the handshake timeout; default 10 s */
    public Duration handshakeTimeout() {
        return handshakeTimeout;
    }

    /** @return the idle timeout; default 45 s */
    public Duration idleTimeout() {
        return idleTimeout;
    }

    /** @return the per-queue, per-connection send window; default {@value #DEFAULT_SEND_WINDOW} */
    public int sendWindow() {
        return sendWindow;
    }

    /** @return the bound on bytes waiting to be written to one client */
    public long maxPendingOutboundBytes() {
        return maxPendingOutboundBytes;
    }

    static int atLeast(String field, int value, int min) {
        if (value < min) {
            throw new IllegalArgumentException(field + " must be >= " + min + ", was " + value);
        }
        return value;
    }

    static Duration positive(String field, Duration d) {
        Objects.requireNonNull(d, field);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(field + " must be positive, was " + d);
        }
        return d;
    }

    @Override
    public String toString() {
        return "ServerOptions{host=" + host + ", port=" + port + ", tokens=" + tokens.size() + ", tls="
                + (sslContext != null) + ", ioThreads=" + ioThreads + ", maxConnections=" + maxConnections
                + ", maxSubscriptionsPerConnection=" + maxSubscriptions + ", maxFrameSize=" + maxFrameSize + ", maxPreAuthFrameSize=" + maxPreAuthFrameSize
                + ", maxPreAuthFrames=" + maxPreAuthFrames + ", handshakeTimeout=" + handshakeTimeout
                + ", idleTimeout=" + idleTimeout + ", sendWindow=" + sendWindow + ", maxPendingOutboundBytes="
                + maxPendingOutboundBytes + ", drainTimeout=" + drainTimeout + "}";
    }
}
