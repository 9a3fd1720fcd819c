package dev.rill.netty;

import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.FrameDecoder;
import dev.rill.netty.internal.protocol.FrameEncoder;
import dev.rill.netty.internal.protocol.Limits;
import dev.rill.netty.internal.transport.PeerLog;
import dev.rill.netty.internal.transport.ServerConnection;
import dev.rill.netty.internal.transport.TlsHandshakeWatch;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.Rill;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.netty.DisposableServer;
import reactor.netty.NettyPipeline;
import reactor.netty.resources.LoopResources;
import reactor.netty.tcp.TcpServer;

/**
 * Serves a {@link ReactiveBroker} over TCP (optionally TLS) with Rill's binary protocol ({@code docs/protocol.md});
 * {@link RillClient} is the matching client.
 *
 * <pre>{@code
 * RillServer server = RillServer.bindNow(ServerOptions.defaults().port(7400)
 *         .token("s3cret", Permissions.all()), Duration.ofSeconds(10));
 * ReactiveBroker remote = RillClient.connect(URI.create("rill://127.0.0.1:7400"),
 *         ClientOptions.defaults().token("s3cret")).block();
 * }</pre>
 *
 * <p>Payloads: the server views every queue with {@link dev.rill.core.Codec#bytes()} and hands payloads to clients
 * as they are. Code in the server's JVM can use the served broker directly with its own codecs: a broker of
 * {@code Rill} keeps each queue's payloads as objects of the codec the queue was first declared with and converts
 * for views with another codec, the server's included. Bytes that codec cannot decode are not stored: the remote
 * send fails with an {@link IllegalArgumentException} carrying the codec's message (protocol version 3).
 *
 * <p>Per connection the server negotiates the protocol version (HELLO), authenticates the token (AUTH), enforces
 * the limits of {@link ServerOptions} and releases every lease the connection held the moment it closes, so other
 * consumers get those messages at once.
 *
 * <p>Every connection the server refuses or cuts off (a failed TLS handshake, a bad token, the connection limit, the
 * handshake or idle timeout, bytes that are not the protocol, a client that does not read) is counted by reason
 * ({@link #connectionErrors()}) and logged in one line with the peer's address and the cause, to the
 * {@code System.Logger} {@code dev.rill.netty.RillServer}: per reason and minute, at most 10 lines per peer host
 * and 50 in all, then one line with the number suppressed and from whom. A server bug is logged with its stack trace. {@code docs/operations.md} lists the
 * lines.
 */
public final class RillServer {

    private final DisposableServer server;
    private final ReactiveBroker broker;
    private final boolean ownsBroker;
    private final ChannelGroup channels;
    private final AtomicInteger connections;
    private final Set<ServerConnection> live;
    private final AtomicBoolean draining;
    private final ServerOptions options;
    private final AtomicReference<Mono<Void>> shutdown = new AtomicReference<>();
    /** Set by {@link #endDrain()}: a drain begun later is a drain of zero. */
    private final AtomicBoolean drainEnded = new AtomicBoolean();
    /** Completes once draining began and every connection has closed (its leases released). */
    private final Sinks.Empty<Void> allClosed;
    /** The server's own event loops ({@link ServerOptions#ioThreads(int)}), or null: reactor-netty's shared ones. */
    private final LoopResources loops;
    /** Counts and logs the connections refused or closed because of their peer (or a server bug). */
    private final PeerLog peers;

    private RillServer(DisposableServer server, ReactiveBroker broker, boolean ownsBroker, ChannelGroup channels,
            AtomicInteger connections, Set<ServerConnection> live, AtomicBoolean draining, ServerOptions options,
            Sinks.Empty<Void> allClosed, LoopResources loops, PeerLog peers) {
        this.allClosed = allClosed;
        this.loops = loops;
        this.peers = peers;
        this.server = server;
        this.broker = broker;
        this.ownsBroker = ownsBroker;
        this.channels = channels;
        this.connections = connections;
        this.live = live;
        this.draining = draining;
        this.options = options;
    }

    /**
     * Binds a server with {@code options}.
     *
     * <p>Errors: the bind failure (e.g. the port is in use).
     *
     * @param options the options
     * @return a Mono of the bound server
     */
    public static Mono<RillServer> bind(ServerOptions options) {
        Objects.requireNonNull(options, "options");
        return Mono.defer(() -> {
            boolean owns = options.broker().isEmpty();
            ReactiveBroker broker = options.broker().orElseGet(Rill::inMemory);
            ChannelGroup channels = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
            AtomicInteger connections = new AtomicInteger();
            Set<ServerConnection> live = ConcurrentHashMap.newKeySet();
            AtomicBoolean draining = new AtomicBoolean();
            Sinks.Empty<Void> allClosed = Sinks.empty();
            PeerLog peers = PeerLog.create();
            String atLimit = "the server is at its limit of " + options.maxConnections() + " connections";
            TcpServer tcp = TcpServer.create()
                    .host(options.host())
                    .port(options.port())
                    .channelGroup(channels)
                    .doOnConnection(conn -> {
                        FrameDecoder decoder = new FrameDecoder(options.maxFrameSize(),
                                Math.min(options.maxPreAuthFrameSize(), options.maxFrameSize()));
                        conn.addHandlerLast("rill-idle", new IdleStateHandler(
                                options.idleTimeout().toMillis(), 0, 0, TimeUnit.MILLISECONDS));
                        conn.addHandlerLast("rill-decoder", decoder);
                        conn.addHandlerLast("rill-encoder",
                                new FrameEncoder(Limits.MAX_MAX_FRAME_SIZE + Limits.DELIVERY_HEADROOM));
                        ConnectionSlot slot = conn.channel().attr(ConnectionSlot.KEY).get();
                        if (slot.beyondLimit()) { // its close frees the slot (closeFuture, at accept)
                            peers.refused(conn.channel().remoteAddress(), PeerLog.Reason.MAX_CONNECTIONS, atLimit
                                    + " (ServerOptions.maxConnections, rill serve --max-connections)");
                            // the client's user is told what to do, as the operator is by the log
                            conn.channel().writeAndFlush(new Frame.Error(0, ErrorCode.TOO_MANY_CONNECTIONS, atLimit
                                    + "; try again later, or raise the limit on the server"
                                    + " (ServerOptions.maxConnections, rill serve --max-connections)"))
                                    .addListener(ChannelFutureListener.CLOSE);
                            return;
                        }
                        slot.handOver();
                        ServerConnection[] self = new ServerConnection[1];
                        self[0] = new ServerConnection(options, broker, decoder::authenticated, () -> {
                            slot.release();
                            live.remove(self[0]);
                            if (draining.get() && live.isEmpty()) {
                                allClosed.tryEmitEmpty();
                            }
                        }, peers);
                        conn.addHandlerLast("rill-connection", self[0]);
                        live.add(self[0]);
                        if (draining.get()) {
                            self[0].goAway(0); // accepted while the shutdown began: closed with SHUTTING_DOWN
                        }
                    })
                    // the connection handler consumes every frame; subscribing to the inbound keeps the socket
                    // read continuously (never paused for backpressure) until the channel closes
                    .handle((in, out) -> in.receiveObject().then());
            // the handshake timeout runs from the accept: the TLS handshake gets all of it, the HELLO/AUTH exchange
            // what the TLS handshake left (ServerConnection reads the accept time); without this a peer that never
            // finished the TLS handshake held its socket for reactor-netty's 10 s, whatever the option said
            //
            // a connection counts against maxConnections from the accept too, not from the end of its TLS handshake
            // (where reactor-netty hands it over): otherwise peers that open TCP connections to a TLS port and never
            // handshake held sockets and TLS engines beyond the limit, each for the handshake timeout. One beyond
            // the limit on a TLS port is closed at once, before any TLS work (no Rill frame can reach its client
            // before a handshake); on a plaintext port it gets ERROR(TOO_MANY_CONNECTIONS) as before
            boolean tls = options.tls().isPresent();
            tcp = tcp.doOnChannelInit((observer, channel, remote) -> {
                ServerConnection.accepted(channel);
                ConnectionSlot slot = new ConnectionSlot(connections, options.maxConnections());
                channel.attr(ConnectionSlot.KEY).set(slot);
                channel.closeFuture().addListener(f -> slot.closedBeforeHandOver());
                if (tls && slot.beyondLimit()) {
                    peers.refused(channel.remoteAddress(), PeerLog.Reason.MAX_CONNECTIONS, atLimit
                            + " (ServerOptions.maxConnections, rill serve --max-connections); closed before the TLS"
                            + " handshake");
                    channel.close();
                } else if (tls) {
                    channel.pipeline().addAfter(NettyPipeline.SslHandler, "rill-tls-watch", new TlsHandshakeWatch(
                            peers, channel.remoteAddress(), options.handshakeTimeout().toMillis()));
                }
            });
            if (options.tls().isPresent()) {
                tcp = tcp.secure(spec -> spec.sslContext(options.tls().get())
                        .handshakeTimeout(options.handshakeTimeout()));
            }
            LoopResources loops = options.ioThreads() > 0
                    ? LoopResources.create("rill-server", options.ioThreads(), true)
                    : null;
            if (loops != null) {
                tcp = tcp.runOn(loops);
            }
            return tcp.bind()
                    .map(s -> new RillServer(s, broker, owns, channels, connections, live, draining, options,
                            allClosed, loops, peers))
                    .onErrorResume(e -> peers.close()
                            .then(loops == null ? Mono.error(e) : stopLoops(loops).then(Mono.error(e))));
        });
    }

    /**
     * Binds a server, blocking the calling thread (never a Reactor thread) until bound.
     *
     * @param options the options
     * @param timeout how long to wait at most
     * @return the bound server
     * @throws IllegalStateException if binding did not finish in time
     */
    public static RillServer bindNow(ServerOptions options, Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        RillServer s = bind(options).block(timeout);
        if (s == null) {
            throw new IllegalStateException("server did not bind within " + timeout);
        }
        return s;
    }

    /** @return the port the server listens on (the OS-chosen one when the options said 0) */
    public int port() {
        return ((InetSocketAddress) server.address()).getPort();
    }

    /** @return the address the server listens on */
    public InetSocketAddress address() {
        return (InetSocketAddress) server.address();
    }

    /** @return the broker served */
    public ReactiveBroker broker() {
        return broker;
    }

    /**
     * @return how many client connections are open right now, counted from the accept: those still in their TLS
     *     handshake (or their HELLO/AUTH exchange) included, as {@link ServerOptions#maxConnections(int)} counts them
     */
    public int connectionCount() {
        return Math.max(0, connections.get());
    }

    /** For tests: the most bytes any open connection held at once for its sends received and not yet answered. */
    long peakSendBytesHeld() {
        long peak = 0;
        for (ServerConnection c : live) {
            peak = Math.max(peak, c.peakSendBytesHeld());
        }
        return peak;
    }

    /**
     * @return how many connections the server refused or closed because of their peer (or of a bug in the server),
     *     by reason, every reason present (0 when none happened): {@code tls_handshake}, {@code handshake_timeout},
     *     {@code auth_failed}, {@code max_connections}, {@code unsupported_version}, {@code frame_too_large},
     *     {@code protocol_error}, {@code idle_timeout}, {@code slow_consumer}, {@code internal_error}. A client's own
     *     close, a peer that closed during its handshake and the server's shutdown are not counted. Since the bind.
     */
    public Map<String, Long> connectionErrors() {
        return peers.counts();
    }

    /**
     * Stops accepting connections and closes every open one (their leases are released at once). Closes the broker
     * when the server created it. Returns at once; see {@link #onDispose()}.
     */
    public void dispose() {
        server.dispose();
        channels.close();
        // once closed: says how many lines were suppressed, then stops the log's thread
        server.onDispose().then(peers.close()).subscribe(null, e -> { });
        if (loops != null) {
            // after the channels' close tasks, which the loops run before they stop
            server.onDispose().then(stopLoops(loops)).subscribe(null, e -> { });
        }
        if (ownsBroker) {
            broker.close().subscribe(null, e -> { });
        }
    }

    /** Stops the server's own event loops once their queued work (the channels' close tasks) has run. */
    private static Mono<Void> stopLoops(LoopResources loops) {
        return loops.disposeLater(Duration.ZERO, LOOPS_STOP_TIMEOUT);
    }

    /** How long the server's own event loops may take to finish their queued work when they are stopped. */
    private static final Duration LOOPS_STOP_TIMEOUT = Duration.ofSeconds(5);

    /**
     * Shuts down gracefully, draining with {@link ServerOptions#drainTimeout()}; see {@link #shutdown(Duration)}.
     *
     * @return a Mono that completes once the server is closed
     */
    public Mono<Void> shutdown() {
        return shutdown(options.drainTimeout());
    }

    /**
     * Shuts down gracefully: stops accepting connections, tells every client it goes away (GOAWAY, see
     * {@code docs/protocol.md}) and ends its subscriptions, refuses new sends, subscriptions and declarations, and
     * keeps each connection open while its client settles the deliveries it holds and the answers in flight
     * (sends being stored, settlements becoming durable) are written, at most {@code drainTimeout}. Then each
     * connection is closed; deliveries still unsettled are released (redelivered to the next consumer). Closes the
     * broker last when the server created it. Only the first call (of this and {@link #shutdownNow}) drains; later
     * ones return the same Mono.
     *
     * @param drainTimeout how long clients may keep settling; zero closes every connection at once
     * @return a Mono that completes once every connection is closed and the server is disposed
     */
    public Mono<Void> shutdown(Duration drainTimeout) {
        Objects.requireNonNull(drainTimeout, "drainTimeout");
        if (drainTimeout.isNegative()) {
            throw new IllegalArgumentException("drainTimeout must be >= 0, was " + drainTimeout);
        }
        Mono<Void> started = shutdown.get();
        if (started != null) {
            return started;
        }
        Mono<Void> m = Mono.<Void>defer(() -> {
            draining.set(true);
            server.dispose(); // stop accepting; open connections stay
            // endDrain() sets its flag before it reads draining, this reads the flag after setting draining: a call
            // racing this one is seen by one of the two
            long ms = drainEnded.get() ? 0 : drainTimeout.toMillis();
            for (ServerConnection c : live) {
                c.goAway(ms);
            }
            if (live.isEmpty()) {
                allClosed.tryEmitEmpty();
            }
            // each connection closes itself (releasing what it held) at its drain deadline; this is the backstop
            return allClosed.asMono()
                    .timeout(drainTimeout.plus(DRAIN_BACKSTOP), Mono.defer(() -> {
                        channels.close();
                        return Mono.empty();
                    }))
                    .then(server.onDispose())
                    .then(peers.close())
                    .then(loops != null ? stopLoops(loops) : Mono.empty())
                    .then(ownsBroker ? broker.close() : Mono.empty());
        }).cache();
        return shutdown.compareAndSet(null, m) ? m : shutdown.get();
    }

    /**
     * Ends the drain of a {@link #shutdown(Duration)} at once, as if its drain timeout had run out: every connection
     * still open is sent CLOSE(SHUTTING_DOWN) and closed, and what it holds is released (redelivered to the next
     * consumer); the shutdown then goes on. Called before the shutdown, it makes that shutdown's drain zero. For an operator who will not wait (a second
     * Ctrl-C of {@code rill serve}). Idempotent; returns at once.
     */
    public void endDrain() {
        drainEnded.set(true);
        if (draining.get()) {
            for (ServerConnection c : live) {
                c.endDrain(); // each one closes with CLOSE(SHUTTING_DOWN), as at its drain timeout
            }
        }
    }

    /**
     * Shuts down gracefully ({@link #shutdown(Duration)}), blocking the calling thread (never a Reactor thread)
     * until done.
     *
     * @param drainTimeout how long clients may keep settling
     * @throws IllegalStateException if the shutdown did not finish within the drain timeout plus a few seconds
     */
    public void shutdownNow(Duration drainTimeout) {
        Duration bound = drainTimeout.plus(DRAIN_BACKSTOP).plusSeconds(5);
        try {
            shutdown(drainTimeout).block(bound);
        } catch (IllegalStateException e) {
            throw new IllegalStateException("shutdown did not finish within " + bound, e);
        }
    }

    /** Beyond the drain timeout, how long the shutdown waits for connections to close before forcing them. */
    private static final Duration DRAIN_BACKSTOP = Duration.ofSeconds(2);

    /**
     * Disposes the server and waits (blocking the calling thread, never a Reactor thread) until it is closed.
     *
     * @param timeout how long to wait at most
     * @throws IllegalStateException if the server did not close in time
     */
    public void disposeNow(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        channels.close().awaitUninterruptibly(timeout.toMillis());
        server.disposeNow(timeout);
        peers.close().block(timeout);
        if (loops != null) {
            stopLoops(loops).block(timeout);
        }
        if (ownsBroker) {
            broker.close().block(timeout);
        }
    }

    /** @return whether the server was disposed */
    public boolean isDisposed() {
        return server.isDisposed();
    }

    /** @return a Mono that completes once the server is closed */
    public Mono<Void> onDispose() {
        return server.onDispose();
    }

    @Override
    public String toString() {
        return "RillServer{" + server.address() + ", connections=" + connectionCount() + "}";
    }
}
