package dev.rill.server;

import dev.rill.netty.AuthenticationException;
import dev.rill.netty.ClientOptions;
import dev.rill.netty.RillClient;
import dev.rill.reactive.ReactiveBroker;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine.Option;
import reactor.core.publisher.Mono;

/**
 * The options every client command shares: where the server is, the token, TLS, and how long to wait for answers.
 */
final class ConnectionOptions {

    /** The URL used when neither {@code --url} nor {@code RILL_URL} is given. */
    static final String DEFAULT_URL = "rill://127.0.0.1:" + RillClient.DEFAULT_PORT;

    @Option(names = "--url", paramLabel = "URL", defaultValue = "${env:RILL_URL:-" + "rill://127.0.0.1:7400" + "}",
            // two lines: wrapped within one, picocli cut the default URL after "rill:"
            description = {"Server address, rill://HOST[:PORT] (rills:// for TLS).",
                    "Default: ${DEFAULT-VALUE} (or $RILL_URL)."})
    String url = DEFAULT_URL;

    @Option(names = "--token", paramLabel = "TOKEN", defaultValue = "${env:RILL_TOKEN}",
            description = "Token to authenticate with (or $RILL_TOKEN; prefer the variable: command lines are"
                    + " visible to other users).")
    String token;

    @Option(names = "--tls", description = "Connect over TLS (implied by rills:// and the --tls-* options).")
    boolean tls;

    @Option(names = "--tls-ca", paramLabel = "PEM",
            description = "Certificates to trust (PEM) instead of the JVM's trust store.")
    Path tlsCa;

    @Option(names = "--tls-cert", paramLabel = "PEM", description = "Client certificate for mutual TLS (PEM).")
    Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "PEM", description = "Client private key for mutual TLS (PKCS#8 PEM).")
    Path tlsKey;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "10s", converter = DurationConverter.class,
            description = "How long to wait for the connection and each answer. Default: ${DEFAULT-VALUE}.")
    Duration timeout = Duration.ofSeconds(10);

    /**
     * Parses {@code --url}.
     *
     * @return the URI, {@code rill://HOST:PORT} or {@code rills://HOST:PORT}
     * @throws CliException (exit code 2) when the URL is not {@code rill://host[:port]} or {@code rills://...}, naming
     *     the part that is wrong (see {@link RillClient#checkUri(URI)})
     */
    URI uri() {
        if (url.isBlank()) {
            throw new CliException(ExitCodes.USAGE, "--url is empty (is $RILL_URL set to nothing?): give"
                    + " rill://HOST[:PORT]");
        }
        if (!url.contains("://")) {
            // '127.0.0.1:7400' read as a URI of scheme '127.0.0.1' ("Illegal character in scheme name"), and
            // 'localhost:7400' as one of scheme 'localhost'
            throw new CliException(ExitCodes.USAGE, "--url: '" + url + "' has no scheme: write rill://" + url.strip()
                    + " (rills:// for TLS)");
        }
        URI u;
        try {
            u = new URI(url.trim());
        } catch (URISyntaxException e) {
            throw new CliException(ExitCodes.USAGE, "--url: '" + url + "' is not rill://HOST[:PORT] or "
                    + "rills://HOST[:PORT]: " + e.getReason());
        }
        try {
            return RillClient.checkUri(u); // the client's own check: what the CLI accepts, the client does
        } catch (IllegalArgumentException e) {
            // was exit code 3 for a port out of range, "cannot connect to ...", as if the server were down
            throw new CliException(ExitCodes.USAGE, "--url: " + e.getMessage());
        }
    }

    /**
     * The server's address as the user wrote it, for messages: {@code rills://} when TLS is used (also when asked for
     * by {@code --tls} or a {@code --tls-*} option with a {@code rill://} URL).
     *
     * @return {@code rill://HOST:PORT} or {@code rills://HOST:PORT}
     */
    String address() {
        return (tlsWanted() ? RillClient.TLS_SCHEME : RillClient.SCHEME) + "://" + uri().getRawAuthority();
    }

    /** @return whether TLS is asked for */
    boolean tlsWanted() {
        return tls || RillClient.TLS_SCHEME.equals(uri().getScheme()) || tlsCa != null || tlsCert != null || tlsKey != null;
    }

    /**
     * Builds the client options (no reconnection: a command fails clearly instead of waiting through an outage).
     *
     * @return the options
     */
    ClientOptions clientOptions() {
        if (timeout.isZero() || timeout.isNegative()) {
            throw new CliException(ExitCodes.USAGE, "--timeout must be positive, was "
                    + DurationConverter.format(timeout));
        }
        ClientOptions o = ClientOptions.defaults().connectTimeout(timeout).reconnectAttempts(0).clientName("rill-cli");
        if (token != null && !token.isEmpty()) {
            try {
                o = o.token(token);
            } catch (IllegalArgumentException e) {
                throw new CliException(ExitCodes.USAGE, "--token: " + e.getMessage());
            }
        }
        if (tlsWanted()) {
            o = o.tls(TlsFiles.client(tlsCa, tlsCert, tlsKey));
        }
        return o;
    }

    /**
     * Connects to the server.
     *
     * @return the connected broker; close it when done
     * @throws CliException exit code 2 for a bad URL or option, 3 when the server cannot be reached, 4 when the token
     *     is refused
     */
    ReactiveBroker connect() {
        URI uri = uri();
        ClientOptions options = clientOptions();
        try {
            ReactiveBroker b = RillClient.connect(uri, options).block(timeout.plusSeconds(2));
            if (b == null) {
                throw new CliException(ExitCodes.UNAVAILABLE, "cannot connect to " + address() + ": no answer");
            }
            return b;
        } catch (RuntimeException e) {
            Throwable t = ExitCodes.root(e);
            if (t instanceof AuthenticationException || t instanceof CliException) {
                throw e;
            }
            throw new CliException(ExitCodes.UNAVAILABLE, "cannot connect to " + address() + ": "
                    + ExitCodes.socketProblem(t), t);
        }
    }

    /**
     * Waits for an answer from the server, at most {@code --timeout}.
     *
     * @param answer the request
     * @param what what is being waited for, for the message
     * @param <T> the answer type
     * @return the answer, or null when the Mono completed empty
     * @throws CliException (exit code 3) when no answer came in time; otherwise what the request failed with
     */
    <T> T await(Mono<T> answer, String what) {
        return answer.timeout(timeout, Mono.error(() -> new CliException(ExitCodes.UNAVAILABLE,
                "no answer from the server within " + DurationConverter.format(timeout) + " while " + what,
                new TimeoutException()))).block();
    }
}
