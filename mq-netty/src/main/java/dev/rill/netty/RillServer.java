package dev.rill.netty;

import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.FrameDecoder;
import dev.rill.netty.internal.protocol.FrameEncoder;
import dev.rill.netty.internal.protocol.Limits;
import dev.rill.netty.internal.transport.ServerConnection;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.Rill;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
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
 * as they are, so code in the server's JVM that uses the served broker directly must send {@code byte[]} payloads
 * (an in-memory broker keeps payload objects without encoding them).
 *
 * <p>Per connection the server negotiates the protocol version (HELLO), authenticates the token (AUTH), enforces
 * the limits of {@link ServerOptions} and releases every lease the connection held the moment it closes, so other
 * consumers get those messages at once.
 */
public final class RillServer {

    private final DisposableServer server;
    private final ReactiveBroker broker;
    private final boolean ownsBroker;
    private final ChannelGroup channels;
    private final AtomicInteger connections;

    private RillServer(DisposableServer server, ReactiveBroker broker, boolean ownsBroker, ChannelGroup channels,
            AtomicInteger connections) {
        this.server = server;
        this.broker = broker;
        this.ownsBroker = ownsBroker;
        this.channels = channels;
        this.connections = connections;
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
                        conn.addHandlerLast("rill-encoder", new FrameEncoder(Limits.MAX_MAX_FRAME_SIZE));
                        if (connections.incrementAndGet() > options.maxConnections()) {
                            conn.onDispose(connections::decrementAndGet);
                            conn.channel().writeAndFlush(new Frame.Error(0, ErrorCode.TOO_MANY_CONNECTIONS,
                                    "the server is at its limit of " + options.maxConnections() + " connections"))
                                    .addListener(ChannelFutureListener.CLOSE);
                            return;
                        }
                        AtomicInteger once = new AtomicInteger();
                        conn.addHandlerLast("rill-connection", new ServerConnection(options, broker,
                                decoder::authenticated, () -> {
                                    if (once.getAndIncrement() == 0) {
                                        connections.decrementAndGet();
                                    }
                                }));
                    })
                    // the connection handler consumes every frame; subscribing to the inbound keeps the socket
                    // read continuously (never paused for backpressure) until the channel closes
                    .handle((in, out) -> in.receiveObject().then());
            if (options.tls().isPresent()) {
                tcp = tcp.secure(spec -> spec.sslContext(options.tls().get()));
            }
            return tcp.bind().map(s -> new RillServer(s, broker, owns, channels, connections));
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

    /** @return how many client connections are open right now */
    public int connectionCount() {
        return Math.max(0, connections.get());
    }

    /**
     * Stops accepting connections and closes every open one (their leases are released at once). Closes the broker
     * when the server created it. Returns at once; see {@link #onDispose()}.
     */
    public void dispose() {
        server.dispose();
        channels.close();
        if (ownsBroker) {
            broker.close().subscribe(null, e -> { });
        }
    }

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
