package dev.rill.netty;

import dev.rill.netty.internal.transport.RemoteBroker;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.RillException;
import io.netty.handler.ssl.SslContextBuilder;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Objects;
import javax.net.ssl.SSLException;
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
 * <p>Addresses: {@code rill://host[:port]}, or {@code rills://host[:port]} for TLS; anything else in the URI (a
 * path, user info, a query) is refused rather than ignored ({@link #checkUri(URI)}).
 *
 * <p>Reconnection: when the connection is lost the client reconnects with backoff, by default however long the
 * server is away ({@link ClientOptions#reconnectAttempts(int)}); declared queues are declared again and open receive
 * streams resubscribe. A queue the server refuses then (one a restarted in-memory server no longer has, say a queue
 * attached with {@code lookup} that another client made; one declared meanwhile with other settings) ends its own
 * streams with the server's reason (e.g. {@link dev.rill.reactive.QueueNotFoundException}); the other queues carry
 * on. An operation made meanwhile (a send, {@code queue}, {@code stats}, ...) waits for the
 * connection at most {@link ClientOptions#reconnectWait(java.time.Duration)} (30 s by default), then fails with a
 * {@code RillException} saying so. Deliveries received before the loss can no longer be settled (a server still running
 * released their leases as it saw the connection go, so they are redelivered; a server that stopped holds them no
 * more): settling them errors with {@link dev.rill.reactive.LeaseExpiredException} or a
 * {@link dev.rill.reactive.RillException}. A settlement already on the wire when the connection is lost errors too,
 * with a message that says how the connection ended (closed by the client, closed by the server, which released the
 * lease, or lost, when the client cannot know whether the server still runs), yet the server may have applied it: an ack that fails this way may have deleted the message, which then is not
 * redelivered. Delivery stays at least once; treat such an error as "maybe done", never as "not done". Sends in
 * flight during the loss fail with a {@code RillException}, unless they carry a dedup id: those are sent again (the server's dedup window makes that safe). Once the attempts are
 * spent every stream and operation errors with a {@code RillException} saying so; a server that refuses an attempt in
 * a way no retry can change (the token, no common protocol version, frames above {@code ClientOptions.maxFrameSize})
 * ends them at once, with the error a first connect to it fails with.
 *
 * <p>Logging: on the {@code System.Logger} {@code dev.rill.netty.RillClient}, one WARNING when the connection is
 * lost, at most one line per 30 s while reconnecting fails, one INFO when it is back, one ERROR when the client
 * gives up (see docs/operations.md).
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

    /** The URI scheme that turns TLS on: {@code rills://host:port}. */
    public static final String TLS_SCHEME = "rills";

    /** The port used when the URI names none. */
    public static final int DEFAULT_PORT = 7400;

    private RillClient() {
    }

    /**
     * Connects with default options.
     *
     * @param uri {@code rill://host[:port]}, or {@code rills://host[:port]} for TLS
     * @return a Mono of the connected broker; see {@link #connect(URI, ClientOptions)}
     */
    public static Mono<ReactiveBroker> connect(URI uri) {
        return connect(uri, ClientOptions.defaults());
    }

    /**
     * Connects to the server at {@code uri} and authenticates. The first connection is tried once; reconnection
     * applies only after it succeeded.
     *
     * <p>TLS: on when the scheme is {@code rills://} or {@code options} give a TLS context
     * ({@link ClientOptions#tls(io.netty.handler.ssl.SslContext)}). With {@code rills://} and no context in the
     * options, the client trusts what the JVM trusts (its default trust store) and presents no certificate; a
     * context in the options (a private CA, a client certificate) is used as it is, whatever the scheme.
     *
     * <p>Errors: {@link AuthenticationException} when the token is refused; a {@link dev.rill.reactive.RillException}
     * when the server cannot be reached (saying why: refused, a host name that does not resolve, no TCP connection
     * in time), when it answers with a protocol version the client does not speak, or the handshake does not
     * complete within
     * {@link ClientOptions#connectTimeout(java.time.Duration)}; {@link IllegalArgumentException} for a URI that is
     * not {@code rill://host[:port]} or {@code rills://host[:port]} (see {@link #checkUri(URI)}).
     *
     * @param uri {@code rill://host[:port]}, or {@code rills://host[:port]} for TLS
     * @param options the options
     * @return a Mono of the connected broker
     */
    public static Mono<ReactiveBroker> connect(URI uri, ClientOptions options) {
        Objects.requireNonNull(uri, "uri");
        Objects.requireNonNull(options, "options");
        return Mono.defer(() -> {
            URI checked = checkUri(uri);
            ClientOptions effective = options;
            if (TLS_SCHEME.equals(checked.getScheme()) && options.tls().isEmpty()) {
                effective = options.tls(defaultTls());
            }
            InetSocketAddress address = InetSocketAddress.createUnresolved(checked.getHost(), checked.getPort());
            return new RemoteBroker(address, effective).start();
        });
    }

    /**
     * Checks a server address as {@link #connect(URI, ClientOptions)} does (the CLI's {@code --url} too): the scheme
     * {@code rill} or {@code rills}, a host, an optional port 1..65535, and nothing the client would otherwise
     * ignore: a path (other than empty or {@code /}), user info (the token goes in
     * {@link ClientOptions#token(String)}), a query or a fragment.
     *
     * @param uri the address
     * @return {@code rill://host:port} or {@code rills://host:port}, the port filled in ({@value #DEFAULT_PORT} when
     *     none is given)
     * @throws IllegalArgumentException naming the part that is wrong (the message never quotes user info: it may
     *     hold a secret)
     */
    public static URI checkUri(URI uri) {
        Objects.requireNonNull(uri, "uri");
        String shown = shown(uri);
        String scheme = uri.getScheme();
        String problem;
        if (!SCHEME.equals(scheme) && !TLS_SCHEME.equals(scheme)) {
            problem = scheme == null ? "it has no scheme" : "the scheme '" + scheme + "' is neither rill nor rills";
        } else if (uri.getRawUserInfo() != null
                || (uri.getRawAuthority() != null && uri.getRawAuthority().contains("@"))) {
            problem = "it has user info, which the client would ignore (give a token with ClientOptions.token)";
        } else if (uri.getHost() == null) {
            problem = uri.getRawAuthority() == null || uri.getRawAuthority().isEmpty() ? "it has no host"
                    : "'" + uri.getRawAuthority() + "' is not HOST[:PORT] (a missing host, or a port that is not a"
                            + " number)";
        } else if (uri.getRawPath() != null && !uri.getRawPath().isEmpty() && !"/".equals(uri.getRawPath())) {
            problem = "it has a path ('" + uri.getRawPath() + "'), which the client would ignore (queues are named"
                    + " by the API, not by the address)";
        } else if (uri.getRawQuery() != null) {
            problem = "it has a query ('" + uri.getRawQuery() + "'), which the client would ignore";
        } else if (uri.getRawFragment() != null) {
            problem = "it has a fragment ('" + uri.getRawFragment() + "'), which the client would ignore";
        } else if (uri.getPort() != -1 && (uri.getPort() < 1 || uri.getPort() > 65535)) {
            problem = "the port must be 1..65535, was " + uri.getPort();
        } else {
            problem = null;
        }
        if (problem != null) {
            throw new IllegalArgumentException("'" + shown + "' is not rill://HOST[:PORT] or rills://HOST[:PORT]"
                    + " (TLS): " + problem);
        }
        try {
            return new URI(scheme, null, uri.getHost(), uri.getPort() == -1 ? DEFAULT_PORT : uri.getPort(), null,
                    null, null);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("'" + shown + "': " + e.getMessage(), e);
        }
    }

    /** @return {@code uri} for a message, with user info (perhaps a password or token) replaced by {@code ***} */
    private static String shown(URI uri) {
        String s = uri.toString();
        String authority = uri.getRawAuthority();
        int at = authority == null ? -1 : authority.lastIndexOf('@');
        if (at < 0) {
            return s;
        }
        int start = s.indexOf(authority);
        return s.substring(0, start) + "***" + s.substring(start + at);
    }

    /** @return a client TLS context trusting what the JVM trusts, with no client certificate */
    private static io.netty.handler.ssl.SslContext defaultTls() {
        try {
            return SslContextBuilder.forClient().build();
        } catch (SSLException e) {
            throw new RillException("cannot set up TLS with the JVM's default trust: " + e.getMessage(), e);
        }
    }
}
