package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.rill.core.QueueStats;
import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.Limits;
import dev.rill.netty.internal.transport.PeerLog;
import dev.rill.netty.internal.transport.ServerConnection;
import dev.rill.reactive.ReactiveBroker;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.regex.Pattern;
import javax.net.ssl.SSLException;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * What the server's operator sees about failing and hostile peers, over real connections on 127.0.0.1: one line per
 * refused or cut-off connection, with the peer's address, a reason and the cause in words, no stack trace (but for a
 * bug in the server), no token and no byte the peer sent; the count per reason; and a client that reconnects in a
 * loop with garbage costs a bounded number of lines.
 */
class ServerLogTest {

    private static final Duration TIMEOUT = ServingFixture.TIMEOUT;
    private static final TestCerts CA = TestCerts.ca("rill-log-ca");
    private static final TestCerts SERVER = CA.issue("rill-server", Duration.ofMinutes(-1), Duration.ofDays(1));

    // registered first: detached after the fixture closed the servers (whose close writes the summaries)
    @RegisterExtension
    @Order(1)
    final LogCapture log = new LogCapture();

    @RegisterExtension
    @Order(2)
    final ServingFixture fx = ServingFixture.onRealTime();

    private static SslContext serverTls(TestCerts certs) throws SSLException {
        return SslContextBuilder.forServer(certs.key(), certs.cert()).build();
    }

    private static SslContext mutualTls() throws SSLException {
        return SslContextBuilder.forServer(SERVER.key(), SERVER.cert()).trustManager(CA.cert())
                .clientAuth(ClientAuth.REQUIRE).build();
    }

    private static SslContextBuilder trustingTheCa() {
        return SslContextBuilder.forClient().trustManager(CA.cert());
    }

    /** Connecting fails (with whatever the client says: ConnectFailures and TlsFailuresTest cover that side). */
    private static void connectFails(RillServer server, ClientOptions options) {
        assertThatThrownBy(() -> RillClient.connect(ServingFixture.uri(server.port()),
                options.connectTimeout(Duration.ofSeconds(5))).block(TIMEOUT));
    }

    /** Waits until the log has {@code n} lines shown to the operator (they are written on the log's own thread). */
    private List<String> awaitLines(int n) {
        await().atMost(TIMEOUT).until(() -> log.lines().size() >= n);
        return log.lines();
    }

    /** Closes the server (which writes the last lines) and returns every line shown. */
    private List<String> linesAfterClosing(RillServer server) {
        server.disposeNow(TIMEOUT);
        return log.lines();
    }

    private static Pattern line(String verb, String reason, String cause) {
        return Pattern.compile("connection from 127\\.0\\.0\\.1:\\d+ " + verb + " \\[" + reason + "\\]: "
                + Pattern.quote(cause));
    }

    /** Peer misbehaviour is no server bug: no record carries a stack trace. */
    private void noStackTraces() {
        assertThat(log.all()).extracting(LogRecord::getThrown).containsOnlyNulls();
    }

    /** @return every reason with a count of 0 but {@code reason}'s, {@code n} */
    private static Map<String, Long> onlyCounted(String reason, long n) {
        Map<String, Long> expected = new LinkedHashMap<>();
        for (PeerLog.Reason r : PeerLog.Reason.values()) {
            expected.put(r.label(), r.label().equals(reason) ? n : 0L);
        }
        return expected;
    }

    @Test
    void aClientCertificateRefusedUnderMutualTlsIsOneWarningNamingThePeerAndTheCause() throws Exception {
        RillServer server = fx.bind(ServerOptions.defaults().tls(mutualTls()));
        TestCerts expired = CA.issue("client", Duration.ofDays(-2), Duration.ofDays(-1));
        TestCerts stranger = TestCerts.selfSigned("stranger");
        connectFails(server, ClientOptions.defaults().tls(trustingTheCa().build()));
        connectFails(server, ClientOptions.defaults().tls(trustingTheCa()
                .keyManager(stranger.key(), stranger.cert()).build()));
        connectFails(server, ClientOptions.defaults().tls(trustingTheCa()
                .keyManager(expired.key(), expired.cert()).build()));
        awaitLines(3);
        List<String> lines = linesAfterClosing(server);
        assertThat(lines).hasSize(3);
        String noCertificate = "TLS handshake failed: the client sent no certificate, and mutual TLS requires one"
                + " signed by a CA this server trusts";
        assertThat(lines.get(0)).matches(line("refused", "tls_handshake", noCertificate) + ".*");
        assertThat(lines.get(1)).matches(line("refused", "tls_handshake", noCertificate) + ".*");
        assertThat(lines.get(2)).matches(line("refused", "tls_handshake",
                "TLS handshake failed: the client's certificate (or one it is signed with) has expired (NotAfter: ")
                + ".*\\)");
        assertThat(log.shown()).allSatisfy(r -> assertThat(r.getLevel()).isEqualTo(Level.WARNING));
        noStackTraces();
        assertThat(server.connectionErrors()).isEqualTo(onlyCounted("tls_handshake", 3));
    }

    @Test
    void aClientThatRefusesTheServersCertificateIsLoggedAsSuch() throws Exception {
        RillServer untrusted = fx.bind(ServerOptions.defaults().tls(serverTls(SERVER)));
        connectFails(untrusted, ClientOptions.defaults().tls(SslContextBuilder.forClient()
                .trustManager(TestCerts.selfSigned("stranger").cert()).build()));
        RillServer misnamed = fx.bind(ServerOptions.defaults().tls(serverTls(CA.issueFor("x", "other.example"))));
        connectFails(misnamed, ClientOptions.defaults().tls(trustingTheCa().build()));
        String cause = "TLS handshake failed: the client refused the server's certificate (alert"
                + " certificate_unknown): it is not signed by a CA the client trusts, has expired, or does not name"
                + " the host the client connected to";
        assertThat(awaitLines(2)).allSatisfy(l -> assertThat(l).matches(line("refused", "tls_handshake", cause)));
        noStackTraces();
        assertThat(untrusted.connectionErrors()).isEqualTo(onlyCounted("tls_handshake", 1));
        assertThat(misnamed.connectionErrors()).isEqualTo(onlyCounted("tls_handshake", 1));
    }

    @Test
    void aPlaintextClientOnATlsPortIsNamedWithoutTheBytesItSent() throws Exception {
        RillServer server = fx.bind(ServerOptions.defaults().tls(serverTls(SERVER)));
        int port;
        try (RawClient c = new RawClient(server.port())) {
            port = c.localPort();
            c.send(new Frame.Hello(List.of(Limits.PROTOCOL_VERSION), "plaintext-client"));
            assertThat(c.closedByPeer()).isTrue();
        }
        assertThat(awaitLines(1)).containsExactly("connection from 127.0.0.1:" + port + " refused [tls_handshake]:"
                + " TLS handshake failed: the client does not speak TLS (a plaintext client on a TLS port? it must"
                + " connect with TLS, rills://)");
        // Netty's own message holds a hex dump of the bytes: "not an SSL/TLS record: 0000..."
        assertThat(log.all()).extracting(LogRecord::getMessage)
                .noneMatch(m -> m.contains("SSL/TLS record") || m.contains("706c61696e")); // "plain" in hex
        noStackTraces();
    }

    @Test
    void aTlsHandshakeThatNeverFinishesIsOneLineAtTheHandshakeTimeout() throws Exception {
        RillServer server = fx.bind(ServerOptions.defaults().tls(serverTls(SERVER))
                .handshakeTimeout(Duration.ofMillis(300)));
        int port;
        try (RawClient silent = new RawClient(server.port())) { // TCP only: never sends a ClientHello
            port = silent.localPort();
            assertThat(silent.closedByPeer()).isTrue();
        }
        assertThat(awaitLines(1)).containsExactly("connection from 127.0.0.1:" + port
                + " refused [handshake_timeout]: the TLS handshake did not complete within 300 ms");
        noStackTraces();
        assertThat(server.connectionErrors()).isEqualTo(onlyCounted("handshake_timeout", 1));
    }

    @Test
    void aHelloAuthExchangeThatNeverFinishesIsOneLineAtTheHandshakeTimeout() throws Exception {
        RillServer server = fx.serve(ServerOptions.defaults().handshakeTimeout(Duration.ofMillis(300)));
        int port;
        try (RawClient c = new RawClient(server.port())) {
            port = c.localPort();
            c.sendBytes(new byte[] {0, 0, 0, 20, 0x01, 0}); // half a HELLO, then silence
            assertThat(c.readUntil(Frame.Error.class).code()).isEqualTo(ErrorCode.HANDSHAKE_TIMEOUT);
        }
        assertThat(awaitLines(1)).containsExactly("connection from 127.0.0.1:" + port
                + " refused [handshake_timeout]: handshake not completed within 300 ms");
        noStackTraces();
    }

    @Test
    void aPeerThatClosesDuringItsHandshakeIsNoErrorAndNotShown() throws Exception {
        RillServer tls = fx.bind(ServerOptions.defaults().tls(serverTls(SERVER)));
        RillServer plain = fx.serve(ServerOptions.defaults());
        new RawClient(tls.port()).close(); // a TCP health check, a port scan
        new RawClient(plain.port()).close();
        for (String debug : List.of(": closed by the peer during the TLS handshake",
                ": closed by the peer during the handshake (HELLO/AUTH)")) {
            await().atMost(TIMEOUT).until(() -> log.all().stream().anyMatch(r -> r.getMessage().endsWith(debug)
                    && r.getLevel() == Level.FINE));
        }
        await().atMost(TIMEOUT).until(() -> tls.connectionCount() == 0 && plain.connectionCount() == 0);
        tls.disposeNow(TIMEOUT);
        plain.disposeNow(TIMEOUT);
        assertThat(log.lines()).isEmpty();
        assertThat(tls.connectionErrors()).isEqualTo(onlyCounted("none", 0));
        assertThat(plain.connectionErrors()).isEqualTo(onlyCounted("none", 0));
    }

    @Test
    void aBadOrMissingTokenIsOneWarningEachThatNeverShowsTheToken() throws Exception {
        RillServer server = fx.serve(ServerOptions.defaults().token("s3cret-good", Permissions.all()));
        assertThatThrownBy(() -> fx.connect(server, ClientOptions.defaults().token("s3cret-guess-42")))
                .isInstanceOf(AuthenticationException.class);
        assertThatThrownBy(() -> fx.connect(server, ClientOptions.defaults()))
                .isInstanceOf(AuthenticationException.class);
        fx.connect(server, ClientOptions.defaults().token("s3cret-good")).list().block(TIMEOUT);
        assertThat(awaitLines(2)).satisfiesExactly(
                l -> assertThat(l).matches(line("refused", "auth_failed", "unknown token")),
                l -> assertThat(l).matches(line("refused", "auth_failed", "a token is required")));
        assertThat(linesAfterClosing(server)).hasSize(2);
        assertThat(log.all()).extracting(LogRecord::getMessage).noneMatch(m -> m.contains("s3cret"));
        noStackTraces();
        assertThat(server.connectionErrors()).isEqualTo(onlyCounted("auth_failed", 2));
    }

    @Test
    void aConnectionBeyondTheLimitIsOneLineOnAPlaintextPort() throws Exception {
        RillServer server = fx.serve(ServerOptions.defaults().maxConnections(1));
        try (RawClient first = new RawClient(server.port())) {
            first.send(new Frame.Hello(List.of(Limits.PROTOCOL_VERSION), "first"));
            assertThat(first.read()).isInstanceOf(Frame.HelloOk.class); // counted before the next one connects
            RawClient extra = new RawClient(server.port());
            fx.closeAtEnd(extra);
            assertThat(extra.readUntil(Frame.Error.class).code()).isEqualTo(ErrorCode.TOO_MANY_CONNECTIONS);
            assertThat(awaitLines(1)).containsExactly("connection from 127.0.0.1:" + extra.localPort()
                    + " refused [max_connections]: the server is at its limit of 1 connections"
                    + " (ServerOptions.maxConnections, rill serve --max-connections)");
        }
        noStackTraces();
        assertThat(server.connectionErrors()).isEqualTo(onlyCounted("max_connections", 1));
    }

    @Test
    void aConnectionBeyondTheLimitIsOneLineOnATlsPort() throws Exception {
        RillServer server = fx.bind(ServerOptions.defaults().tls(serverTls(SERVER)).maxConnections(1));
        try (RawClient first = new RawClient(server.port())) {
            await().atMost(TIMEOUT).until(() -> server.connectionCount() == 1);
            try (RawClient extra = new RawClient(server.port())) {
                assertThat(extra.closedByPeer()).isTrue();
                assertThat(awaitLines(1)).containsExactly("connection from 127.0.0.1:" + extra.localPort()
                        + " refused [max_connections]: the server is at its limit of 1 connections"
                        + " (ServerOptions.maxConnections, rill serve --max-connections); closed before the TLS"
                        + " handshake");
            }
        }
        noStackTraces();
        assertThat(server.connectionErrors()).isEqualTo(onlyCounted("max_connections", 1));
    }

    @Test
    void oversizedAndGarbageFramesAreOneLineEachWithoutTheirBytes() throws Exception {
        RillServer server = fx.serve(ServerOptions.defaults());
        int tooLarge;
        int garbage;
        try (RawClient c = new RawClient(server.port())) {
            tooLarge = c.localPort();
            c.sendBytes(new byte[] {(byte) 0x80, 0, 0, 0, 0x01});
            assertThat(c.readUntil(Frame.Error.class).code()).isEqualTo(ErrorCode.FRAME_TOO_LARGE);
        }
        try (RawClient c = new RawClient(server.port())) {
            garbage = c.localPort();
            c.sendBytes(RawClient.garbage());
            assertThat(c.readUntil(Frame.Error.class).code()).isEqualTo(ErrorCode.UNKNOWN_FRAME_TYPE);
        }
        assertThat(awaitLines(2)).containsExactly(
                "connection from 127.0.0.1:" + tooLarge + " refused [frame_too_large]: declared frame length"
                        + " 2147483648 exceeds the maximum 4096",
                "connection from 127.0.0.1:" + garbage + " refused [protocol_error]: unknown frame type 0xee");
        noStackTraces();
    }

    @Test
    void anOpenConnectionThatSendsGarbageIsClosedWithALine() throws Exception {
        RillServer server = fx.serve(ServerOptions.defaults());
        try (RawClient c = new RawClient(server.port())) {
            c.send(new Frame.Hello(List.of(Limits.PROTOCOL_VERSION), "raw"));
            assertThat(c.read()).isInstanceOf(Frame.HelloOk.class);
            c.sendBytes(RawClient.garbage());
            assertThat(c.readUntil(Frame.Error.class).code()).isEqualTo(ErrorCode.UNKNOWN_FRAME_TYPE);
            assertThat(awaitLines(1)).containsExactly("connection from 127.0.0.1:" + c.localPort()
                    + " closed [protocol_error]: unknown frame type 0xee");
        }
    }

    @Test
    void anIdleClientIsClosedWithAnInfoLine() throws Exception {
        RillServer server = fx.serve(ServerOptions.defaults().idleTimeout(Duration.ofMillis(500)));
        try (RawClient c = new RawClient(server.port())) {
            c.send(new Frame.Hello(List.of(Limits.PROTOCOL_VERSION), "raw")); // then never a PING
            assertThat(c.readUntil(Frame.Error.class).code()).isEqualTo(ErrorCode.IDLE_TIMEOUT);
            assertThat(awaitLines(1)).containsExactly("connection from 127.0.0.1:" + c.localPort()
                    + " closed [idle_timeout]: nothing received for 500 ms");
        }
        assertThat(log.shown()).singleElement().extracting(LogRecord::getLevel).isEqualTo(Level.INFO);
        noStackTraces();
        assertThat(server.connectionErrors()).isEqualTo(onlyCounted("idle_timeout", 1));
    }

    @Test
    void aClientThatDoesNotReadIsClosedWithALine() throws Exception {
        RillServer server = fx.serve(ServerOptions.defaults().maxPendingOutboundBytes(65536));
        try (RawClient c = new RawClient(server.port())) {
            c.send(new Frame.Hello(List.of(Limits.PROTOCOL_VERSION), "flood"));
            byte[] burst = RawClient.repeated(new Frame.Stats(1, null), 1000);
            try {
                for (int i = 0; i < 20_000 && log.lines().isEmpty(); i++) { // never reads a byte of the answers
                    c.sendBytes(burst);
                }
            } catch (IOException e) {
                // reset by the server
            }
            assertThat(awaitLines(1)).singleElement().asString().matches(line("closed", "slow_consumer",
                    "the client does not read; ") + "\\d+ bytes are waiting");
        }
        noStackTraces();
    }

    @Test
    void aClientReconnectingInALoopWithGarbageCostsTenLinesAndOneSummary() throws Exception {
        RillServer server = fx.serve(ServerOptions.defaults());
        for (int i = 0; i < 40; i++) {
            try (RawClient c = new RawClient(server.port())) {
                c.sendBytes(RawClient.garbage());
                assertThat(c.readUntil(Frame.Error.class).code()).isEqualTo(ErrorCode.UNKNOWN_FRAME_TYPE);
            }
        }
        await().atMost(TIMEOUT).until(() -> server.connectionErrors().get("protocol_error") == 40);
        List<String> lines = linesAfterClosing(server);
        assertThat(lines).hasSize(11);
        assertThat(lines.subList(0, 10)).allSatisfy(l -> assertThat(l).matches(line("refused", "protocol_error",
                "unknown frame type 0xee")));
        assertThat(lines.get(10)).isEqualTo("[protocol_error] 30 more similar lines suppressed from 127.0.0.1 (at most"
                + " 10 per peer and 50 in all, per reason and 60 s; every one is counted: RillServer.connectionErrors(),"
                + " rill_connection_errors_total)");
        assertThat(log.shown()).allSatisfy(r -> assertThat(r.getLevel()).isEqualTo(Level.WARNING));
        noStackTraces();
        assertThat(server.connectionErrors()).isEqualTo(onlyCounted("protocol_error", 40));
    }

    @Test
    void anExceptionInThePipelineIsABugUnlessItIsAnIoError() {
        PeerLog peers = new PeerLog(Schedulers.immediate(), 10, 50, 1024, Duration.ofMinutes(1));
        EmbeddedChannel buggy = new EmbeddedChannel(new ServerConnection(ServerOptions.defaults(), fx.local(),
                () -> { }, () -> { }, peers));
        IllegalStateException bug = new IllegalStateException("a decoder's bug");
        buggy.pipeline().fireExceptionCaught(new DecoderException(bug));
        assertThat(buggy.<Frame.Error>readOutbound().code()).isEqualTo(ErrorCode.INTERNAL_ERROR);
        assertThat(log.shown()).singleElement().satisfies(r -> {
            assertThat(r.getLevel()).isEqualTo(Level.SEVERE);
            assertThat(r.getMessage()).isEqualTo("connection from embedded closed [internal_error]: a bug in the"
                    + " server: io.netty.handler.codec.DecoderException: java.lang.IllegalStateException: a decoder's"
                    + " bug");
            assertThat(r.getThrown()).hasCause(bug);
        });

        EmbeddedChannel reset = new EmbeddedChannel(new ServerConnection(ServerOptions.defaults(), fx.local(),
                () -> { }, () -> { }, peers));
        reset.pipeline().fireExceptionCaught(new IOException("Connection reset by peer"));
        assertThat(reset.isOpen()).isFalse();
        assertThat(log.shown()).hasSize(1);
        assertThat(log.all()).extracting(LogRecord::getMessage)
                .contains("connection from embedded: connection lost: java.io.IOException: Connection reset by peer");
        assertThat(peers.counts()).isEqualTo(onlyCounted("internal_error", 1));
        buggy.finishAndReleaseAll();
        reset.finishAndReleaseAll();
    }

    @Test
    void anErrorCausedByAnIoErrorIsABugNotALostConnection() {
        PeerLog peers = new PeerLog(Schedulers.immediate(), 10, 50, 1024, Duration.ofMinutes(1));
        EmbeddedChannel broken = new EmbeddedChannel(new ServerConnection(ServerOptions.defaults(), fx.local(),
                () -> { }, () -> { }, peers));
        // the server's jar replaced under the running server: a class it had not loaded yet cannot be read
        NoClassDefFoundError error = new NoClassDefFoundError("dev/rill/netty/internal/transport/SomeClass");
        error.initCause(new java.util.zip.ZipException("invalid LOC header (bad signature)"));
        broken.pipeline().fireExceptionCaught(error);
        // was: closed with a debug line ("connection lost"), the client told "the server closed the connection"
        assertThat(broken.<Frame.Error>readOutbound().code()).isEqualTo(ErrorCode.INTERNAL_ERROR);
        assertThat(log.shown()).singleElement().satisfies(r -> {
            assertThat(r.getLevel()).isEqualTo(Level.SEVERE);
            assertThat(r.getMessage()).contains("[internal_error]: a bug in the server: java.lang.NoClassDefFoundError");
            assertThat(r.getThrown()).isSameAs(error);
        });
        assertThat(peers.counts()).isEqualTo(onlyCounted("internal_error", 1));
        broken.finishAndReleaseAll();
    }

    @Test
    void aBugInTheServerIsAnErrorWithItsStackTrace() {
        IllegalStateException bug = new IllegalStateException("stats broke");
        ReactiveBroker broken = new ForwardingBroker(fx.local()) {
            @Override
            public Mono<List<QueueStats>> stats() {
                throw bug; // thrown, not signalled: a bug on the connection's event loop
            }
        };
        RillServer server = fx.bind(ServerOptions.defaults().broker(broken));
        ReactiveBroker client = fx.connect(server, ClientOptions.defaults());
        assertThatThrownBy(() -> client.stats().block(TIMEOUT)).hasMessageContaining("stats broke");
        assertThat(awaitLines(1)).singleElement().asString().matches(line("closed", "internal_error",
                "a bug in the server: java.lang.IllegalStateException: stats broke"));
        assertThat(log.shown()).singleElement().satisfies(r -> {
            assertThat(r.getLevel()).isEqualTo(Level.SEVERE);
            assertThat(r.getThrown()).isSameAs(bug);
        });
        assertThat(server.connectionErrors()).isEqualTo(onlyCounted("internal_error", 1));
    }

}
