package dev.rill.netty;

import dev.rill.netty.internal.protocol.FrameEncoder;
import dev.rill.netty.internal.protocol.Limits;
import io.netty.handler.ssl.SslContext;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * Options of {@link RillClient#connect(java.net.URI, ClientOptions)}. Immutable: every option method returns a new
 * instance and leaves this one unchanged.
 *
 * <p>Defaults: no token, no TLS, a 10 s connect (and handshake) timeout, reconnect however long the server is away
 * (unlimited attempts, a backoff from 100 ms to 5 s), operations made while disconnected wait up to 30 s for the
 * connection to come back, a receive window of
 * {@value #DEFAULT_RECEIVE_WINDOW} deliveries per subscription refilled when 75% is used, a PING every 15 s and
 * a connection considered dead after 45 s without any frame from the server, frames up to the server's maximum, and
 * {@link Schedulers#parallel()} as the broker's {@link dev.rill.reactive.ReactiveBroker#scheduler() scheduler}.
 */
public final class ClientOptions implements Cloneable {

    /**
     * {@link #reconnectAttempts(int)} without a limit (the default): the client reconnects however long the server
     * is away.
     */
    public static final int UNLIMITED_RECONNECT_ATTEMPTS = Integer.MAX_VALUE;
    /** Default for {@link #reconnectWait(Duration)}: 30 s. */
    public static final Duration DEFAULT_RECONNECT_WAIT = Duration.ofSeconds(30);
    /** Default for {@link #receiveWindow(int)}. */
    public static final int DEFAULT_RECEIVE_WINDOW = 256;

    private static final ClientOptions DEFAULTS = new ClientOptions();

    private String token;
    private SslContext sslContext;
    private Duration connectTimeout = Duration.ofSeconds(10);
    private int reconnectAttempts = UNLIMITED_RECONNECT_ATTEMPTS;
    private Duration reconnectWait = DEFAULT_RECONNECT_WAIT;
    private Duration reconnectMinBackoff = Duration.ofMillis(100);
    private Duration reconnectMaxBackoff = Duration.ofSeconds(5);
    private int receiveWindow = DEFAULT_RECEIVE_WINDOW;
    private Duration pingInterval = Duration.ofSeconds(15);
    private Duration idleTimeout = Duration.ofSeconds(45);
    private int maxFrameSize; // 0: the server's
    private Scheduler scheduler = Schedulers.parallel();
    private String clientName = "rill-java";

    private ClientOptions() {
    }

    /** @return the default options (see the class description) */
    public static ClientOptions defaults() {
        return DEFAULTS;
    }

    private ClientOptions copy() {
        try {
            return (ClientOptions) super.clone();
        } catch (CloneNotSupportedException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * Authenticates with {@code token}.
     *
     * <p>Default: none (accepted only by servers without tokens).
     *
     * @param token the secret, 1..1024 characters and at most 2048 bytes in UTF-8 (what the protocol's AUTH carries)
     * @return a new options object with the token
     * @throws IllegalArgumentException when the token is empty, too long, or not valid Unicode (an unpaired
     *     surrogate): the AUTH frame could not carry it
     */
    public ClientOptions token(String token) {
        Objects.requireNonNull(token, "token");
        if (token.isEmpty() || token.length() > 1024) {
            throw new IllegalArgumentException("token must be 1..1024 characters, was " + token.length());
        }
        FrameEncoder.checkUtf8(token, Limits.MAX_TOKEN_BYTES, "token"); // the message never shows the token
        ClientOptions c = copy();
        c.token = token;
        return c;
    }

    /**
     * Connects over TLS with {@code sslContext} (built with Netty's {@code SslContextBuilder.forClient()}, with a
     * trust manager for the server's certificate and, for mutual TLS, a key manager).
     *
     * <p>Default: plain TCP.
     *
     * @param sslContext a client-side SSL context, not null
     * @return a new options object with TLS
     */
    public ClientOptions tls(SslContext sslContext) {
        Objects.requireNonNull(sslContext, "sslContext");
        if (!sslContext.isClient()) {
            throw new IllegalArgumentException("sslContext must be a client context (SslContextBuilder.forClient)");
        }
        ClientOptions c = copy();
        c.sslContext = sslContext;
        return c;
    }

    /**
     * Bounds one connection attempt, TCP (and TLS) connect plus the HELLO/AUTH handshake; on a reconnect it bounds
     * as well the declaring of the client's queues again on the new connection (past it, the attempt failed and the
     * next one follows its backoff). Wall-clock time.
     *
     * <p>Default: 10 s.
     *
     * @param timeout positive
     * @return a new options object with the timeout
     */
    public ClientOptions connectTimeout(Duration timeout) {
        ClientOptions c = copy();
        c.connectTimeout = ServerOptions.positive("connectTimeout", timeout);
        return c;
    }

    /**
     * Sets how many times the client tries to reconnect after losing its connection, before it gives up: then
     * every open receive stream errors and every operation fails with a {@link dev.rill.reactive.RillException}
     * saying the connection is lost. 0 disables reconnection. The first connection is tried once. While the client
     * reconnects, receive streams stay open and resubscribe once connected; an operation (send, queue, stats, ...)
     * waits for the connection at most {@link #reconnectWait(Duration)}. A server that answers an attempt in a way no
     * retry can change (it refuses the token, shares no protocol version with the client, or accepts frames larger
     * than {@link #maxFrameSize(int)}) ends the reconnection at once, whatever attempts are left: the streams and
     * operations fail with the error a first connect to that server fails with.
     *
     * <p>Default: unlimited ({@link #UNLIMITED_RECONNECT_ATTEMPTS}), as the RabbitMQ and Kafka clients: an
     * application outlives a restart of its server, however long it takes.
     *
     * @param attempts at least 0
     * @return a new options object with the attempts
     */
    public ClientOptions reconnectAttempts(int attempts) {
        ClientOptions c = copy();
        c.reconnectAttempts = ServerOptions.atLeast("reconnectAttempts", attempts, 0);
        return c;
    }

    /**
     * Bounds how long an operation made while the client is not connected (a send, {@code queue}, {@code lookup},
     * {@code stats}, ...; also a send with a dedup id sent again after a loss) waits for the connection to come back:
     * then it fails with a {@link dev.rill.reactive.RillException} saying there was no connection to the server
     * within this time and why the connection was lost. Receive streams are not bounded by it: they wait and
     * resubscribe. Wall-clock time.
     *
     * <p>Default: 30 s ({@link #DEFAULT_RECONNECT_WAIT}).
     *
     * @param wait positive
     * @return a new options object with the wait
     */
    public ClientOptions reconnectWait(Duration wait) {
        ClientOptions c = copy();
        c.reconnectWait = ServerOptions.positive("reconnectWait", wait);
        return c;
    }

    /**
     * Sets the reconnect backoff: the first retry waits {@code min}, each next one twice as long (with jitter), up
     * to {@code max}. Wall-clock time.
     *
     * <p>Default: 100 ms to 5 s.
     *
     * @param min positive
     * @param max at least {@code min}
     * @return a new options object with the backoff
     */
    public ClientOptions reconnectBackoff(Duration min, Duration max) {
        ServerOptions.positive("reconnectBackoff min", min);
        ServerOptions.positive("reconnectBackoff max", max);
        if (max.compareTo(min) < 0) {
            throw new IllegalArgumentException("reconnectBackoff max must be >= min, was " + max + " < " + min);
        }
        ClientOptions c = copy();
        c.reconnectMinBackoff = min;
        c.reconnectMaxBackoff = max;
        return c;
    }

    /**
     * Sets the credit window of a subscription whose subscriber asks for more than this (e.g. unbounded demand):
     * the client grants the server at most this many deliveries at a time and tops the grant up once 75% of it is
     * used. A subscriber asking for less is granted what it asked for, never more; its further requests go out
     * once the server's unused credit falls to 3/4 of the demand (at once when none is left), not one by one.
     *
     * <p>Default: {@value #DEFAULT_RECEIVE_WINDOW}.
     *
     * @param deliveries at least 1
     * @return a new options object with the window
     */
    public ClientOptions receiveWindow(int deliveries) {
        ClientOptions c = copy();
        c.receiveWindow = ServerOptions.atLeast("receiveWindow", deliveries, 1);
        return c;
    }

    /**
     * Sets the keep-alive: a PING every {@code interval}, and the connection is dropped (and re-established) when
     * nothing at all arrived from the server for {@code timeout}. Wall-clock time.
     *
     * <p>Default: 15 s and 45 s.
     *
     * @param interval positive
     * @param timeout longer than {@code interval}
     * @return a new options object with the keep-alive
     */
    public ClientOptions keepAlive(Duration interval, Duration timeout) {
        ServerOptions.positive("keepAlive interval", interval);
        ServerOptions.positive("keepAlive timeout", timeout);
        if (timeout.compareTo(interval) <= 0) {
            throw new IllegalArgumentException("keepAlive timeout must be longer than the interval, was " + timeout
                    + " <= " + interval);
        }
        ClientOptions c = copy();
        c.pingInterval = interval;
        c.idleTimeout = timeout;
        return c;
    }

    /**
     * Bounds the size of a frame the client accepts.
     *
     * <p>Default: none of the client's own: the client accepts frames up to the maximum the server announces in its
     * handshake (1 MiB unless the server was configured otherwise), as the server never sends more and refuses sends
     * beyond it. With a bound set, connecting to a server that announces a larger maximum fails with a
     * {@link dev.rill.reactive.RillException} naming both sizes, and the client does not reconnect: such a server
     * could hand it a message larger than the bound, and every delivery of it would end the connection.
     *
     * @param bytes 1 KiB..256 MiB
     * @return a new options object with the bound
     */
    public ClientOptions maxFrameSize(int bytes) {
        ClientOptions c = copy();
        c.maxFrameSize = dev.rill.netty.internal.protocol.Limits.checkMaxFrameSize("maxFrameSize", bytes);
        return c;
    }

    /**
     * Sets the scheduler the remote broker reports as its {@link dev.rill.reactive.ReactiveBroker#scheduler()}.
     * Queue timers (visibility, delay, TTL) run on the server; this scheduler only serves callers that ask for it.
     *
     * <p>Default: {@link Schedulers#parallel()}.
     *
     * @param scheduler not null
     * @return a new options object with the scheduler
     */
    public ClientOptions scheduler(Scheduler scheduler) {
        ClientOptions c = copy();
        c.scheduler = Objects.requireNonNull(scheduler, "scheduler");
        return c;
    }

    /**
     * Sets the name the client announces in HELLO (shown in server logs).
     *
     * <p>Default: {@code rill-java}.
     *
     * @param name 1..256 characters and at most 256 bytes in UTF-8 (what the protocol's HELLO carries)
     * @return a new options object with the name
     * @throws IllegalArgumentException when the name is empty, too long, or not valid Unicode (an unpaired
     *     surrogate): the HELLO frame could not carry it
     */
    public ClientOptions clientName(String name) {
        Objects.requireNonNull(name, "name");
        if (name.isEmpty() || name.length() > 256) {
            throw new IllegalArgumentException("clientName must be 1..256 characters, was " + name.length());
        }
        FrameEncoder.checkUtf8(name, Limits.MAX_PEER_NAME_BYTES, "clientName");
        ClientOptions c = copy();
        c.clientName = name;
        return c;
    }

    /** @return the token, or empty for none (the default) */
    public Optional<String> token() {
        return Optional.ofNullable(token);
    }

    /** @return the TLS context, or empty for plain TCP (the default) */
    public Optional<SslContext> tls() {
        return Optional.ofNullable(sslContext);
    }

    /** @return the connect timeout; default 10 s */
    public Duration connectTimeout() {
        return connectTimeout;
    }

    /** @return the reconnect attempts per outage; default unlimited ({@link #UNLIMITED_RECONNECT_ATTEMPTS}) */
    public int reconnectAttempts() {
        return reconnectAttempts;
    }

    /** @return how long an operation waits for the connection while disconnected; default 30 s */
    public Duration reconnectWait() {
        return reconnectWait;
    }

    /** @return the first reconnect delay; default 100 ms */
    public Duration reconnectMinBackoff() {
        return reconnectMinBackoff;
    }

    /** @return the longest reconnect delay; default 5 s */
    public Duration reconnectMaxBackoff() {
        return reconnectMaxBackoff;
    }

    /** @return the per-subscription credit window; default {@value #DEFAULT_RECEIVE_WINDOW} */
    public int receiveWindow() {
        return receiveWindow;
    }

    /** @return the PING interval; default 15 s */
    public Duration pingInterval() {
        return pingInterval;
    }

    /** @return how long without any frame from the server before the connection is dropped; default 45 s */
    public Duration idleTimeout() {
        return idleTimeout;
    }

    /** @return the client's own frame size bound; empty by default: the server's announced maximum */
    public java.util.OptionalInt maxFrameSize() {
        return maxFrameSize == 0 ? java.util.OptionalInt.empty() : java.util.OptionalInt.of(maxFrameSize);
    }

    /** @return the scheduler reported by the broker; default {@link Schedulers#parallel()} */
    public Scheduler scheduler() {
        return scheduler;
    }

    /** @return the name announced in HELLO; default {@code rill-java} */
    public String clientName() {
        return clientName;
    }

    @Override
    public String toString() {
        return "ClientOptions{token=" + (token == null ? "none" : "***") + ", tls=" + (sslContext != null)
                + ", connectTimeout=" + connectTimeout + ", reconnectAttempts="
                + (reconnectAttempts == UNLIMITED_RECONNECT_ATTEMPTS ? "unlimited" : reconnectAttempts)
                + ", reconnectWait=" + reconnectWait
                + ", reconnectBackoff=" + reconnectMinBackoff + ".." + reconnectMaxBackoff + ", receiveWindow="
                + receiveWindow + ", keepAlive=" + pingInterval + "/" + idleTimeout + ", maxFrameSize="
                + (maxFrameSize == 0 ? "the server's" : maxFrameSize) + ", clientName=" + clientName + "}";
    }
}
