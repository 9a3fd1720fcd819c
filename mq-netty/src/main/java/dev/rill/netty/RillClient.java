package dev.rill.netty;

import dev.rill.netty.internal.transport.RemoteBroker;
import dev.rill.reactive.ReactiveBroker;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.Objects;
import reactor.core.publisher.Mono;

/**
 * Connects to a {@link RillServer}: the returned {@link ReactiveBroker} implements the same API as a local one
 * ({@code Rill.inMemory()}), so code and tests run unchanged against a remote server.
 *
 * <pre>{@code
 * ReactiveBroker broker = RillClient.connect(URI.create("rill://127.0.0.1:7400"),
 *         ClientOptions.defaults().token("s3cret")).block(Duration.ofSeconds(10));
 * ReactiveQueue<String> q = broker.queue(QueueSpec.named("orders"), Codec.utf8()).block();
 * }</pre>
 *
 * <p>One connection carries every queue and subscription. Demand: a subscriber's {@code request(n)} becomes CREDIT
 * frames, so the server never sends more than was asked for (see {@link ClientOptions#receiveWindow(int)}).
 * Settlements (ack, nack, extend, reject) issued during one event-loop tick share one frame.
 *
 * <p>Reconnection: when the connection is lost the client reconnects with backoff
 * ({@link ClientOptions#reconnectAttempts(int)}); declared queues are declared again and open receive streams
 * resubscribe. Deliveries received before the loss can no longer be settled (the server released their leases at
 * once, so they are redelivered): settling them errors with {@link dev.rill.reactive.LeaseExpiredException} or a
 * {@link dev.rill.reactive.RillException}. A settlement already on the wire when the connection is lost errors too,
 * yet the server may have applied it: an ack that fails this way may have deleted the message, which then is not
 * redelivered. Delivery stays at least once; treat such an error as "maybe done", never as "not done". Sends in
 * flight during the loss fail with a {@code RillException}, unless they carry a dedup id: those are sent again (the server's dedup window makes that safe). Once the attempts are
 * spent every stream and operation errors with a {@code RillException} saying so.
 *
 * <p>Server shutdown: a server that shuts down gracefully ({@link RillServer#shutdown(java.time.Duration)}) first
 * says so (GOAWAY). Deliveries already received can still be acked, nacked, extended or rejected while it drains;
 * new sends, lookups and subscriptions wait for the next connection. With reconnection enabled, receive streams stay
 * open and subscribe again once a server is back; with {@code reconnectAttempts(0)} they complete normally.
 *
 * <p>{@link ReactiveBroker#lookup(String, dev.rill.core.Codec)} attaches to an existing queue with the settings the
 * server reports (a passive declare), so callers need not repeat them.
 */
public final class RillClient {

    /** The URI scheme: {@code rill://host:port}. */
    public static final String SCHEME = "rill";

    /** The port used when the URI names none. */
    public static final int DEFAULT_PORT = 7400;

    private RillClient() {
    }

    /**
     * Connects with default options.
     *
     * @param uri {@code rill://host:port}
     * @return a Mono of the connected broker; see {@link #connect(URI, ClientOptions)}
     */
    public static Mono<ReactiveBroker> connect(URI uri) {
        return connect(uri, ClientOptions.defaults());
    }

    /**
     * Connects to the server at {@code uri} and authenticates. The first connection is tried once; reconnection
     * applies only after it succeeded.
     *
     * <p>Errors: {@link AuthenticationException} when the token is refused; a {@link dev.rill.reactive.RillException}
     * when the server cannot be reached or the handshake does not complete within
     * {@link ClientOptions#connectTimeout(java.time.Duration)}; {@link IllegalArgumentException} for a URI that is
     * not {@code rill://host[:port]}.
     *
     * @param uri {@code rill://host:port} (TLS is chosen by {@link ClientOptions#tls}, not by the scheme)
     * @param options the options
     * @return a Mono of the connected broker
     */
    public static Mono<ReactiveBroker> connect(URI uri, ClientOptions options) {
        Objects.requireNonNull(uri, "uri");
        Objects.requireNonNull(options, "options");
        return Mono.defer(() -> {
            if (!SCHEME.equals(uri.getScheme()) || uri.getHost() == null) {
                return Mono.error(new IllegalArgumentException("uri must be rill://host[:port], was " + uri));
            }
            int port = uri.getPort() == -1 ? DEFAULT_PORT : uri.getPort();
            InetSocketAddress address = InetSocketAddress.createUnresolved(uri.getHost(), port);
            return new RemoteBroker(address, options).start();
        });
    }
}
