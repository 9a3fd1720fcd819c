package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.net.URI;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** TLS and mutual TLS round trips with certificates generated at test time. */
class TlsTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);
    private static final TestCerts SERVER = TestCerts.selfSigned("rill-server");
    private static final TestCerts CLIENT = TestCerts.selfSigned("rill-client");
    private static final TestCerts STRANGER = TestCerts.selfSigned("stranger");

    private RillServer server;
    private ReactiveBroker client;

    @AfterEach
    void tearDown() {
        ServingFixture.close(client, server);
    }

    private URI uri() {
        return URI.create("rill://127.0.0.1:" + server.port());
    }

    private static void roundTrip(ReactiveBroker b) {
        ReactiveQueue<String> q = b.queue(QueueSpec.named("tls"), Codec.utf8()).block(TIMEOUT);
        q.send(OutboundMessage.of("secret")).block(TIMEOUT);
        Delivery<String> d = q.receive().blockFirst(TIMEOUT);
        assertThat(d.payload()).isEqualTo("secret");
        d.ack().block(TIMEOUT);
        assertThat(q.stats().block(TIMEOUT).size()).isZero();
    }

    @Test
    void tlsRoundTrip() throws Exception {
        SslContext serverCtx = SslContextBuilder.forServer(SERVER.key(), SERVER.cert()).build();
        server = RillServer.bindNow(ServerOptions.defaults().tls(serverCtx), TIMEOUT);
        SslContext clientCtx = SslContextBuilder.forClient().trustManager(SERVER.cert()).build();
        client = RillClient.connect(uri(), ClientOptions.defaults().tls(clientCtx)).block(TIMEOUT);
        roundTrip(client);
    }

    @Test
    void clientThatDoesNotTrustTheServerFailsToConnect() throws Exception {
        SslContext serverCtx = SslContextBuilder.forServer(SERVER.key(), SERVER.cert()).build();
        server = RillServer.bindNow(ServerOptions.defaults().tls(serverCtx), TIMEOUT);
        SslContext clientCtx = SslContextBuilder.forClient().trustManager(STRANGER.cert()).build();
        assertThatThrownBy(() -> RillClient.connect(uri(), ClientOptions.defaults().tls(clientCtx)
                .connectTimeout(Duration.ofSeconds(5))).block(TIMEOUT)).isInstanceOf(RuntimeException.class);
    }

    @Test
    void mutualTlsRoundTripAndAClientWithoutCertificateIsRefused() throws Exception {
        SslContext serverCtx = SslContextBuilder.forServer(SERVER.key(), SERVER.cert())
                .clientAuth(ClientAuth.REQUIRE).trustManager(CLIENT.cert()).build();
        server = RillServer.bindNow(ServerOptions.defaults().tls(serverCtx), TIMEOUT);
        SslContext withCert = SslContextBuilder.forClient().trustManager(SERVER.cert())
                .keyManager(CLIENT.key(), CLIENT.cert()).build();
        client = RillClient.connect(uri(), ClientOptions.defaults().tls(withCert)).block(TIMEOUT);
        roundTrip(client);

        SslContext noCert = SslContextBuilder.forClient().trustManager(SERVER.cert()).build();
        assertThatThrownBy(() -> RillClient.connect(uri(), ClientOptions.defaults().tls(noCert)
                .connectTimeout(Duration.ofSeconds(5))).block(TIMEOUT)).isInstanceOf(RuntimeException.class);
        SslContext wrongCert = SslContextBuilder.forClient().trustManager(SERVER.cert())
                .keyManager(STRANGER.key(), STRANGER.cert()).build();
        assertThatThrownBy(() -> RillClient.connect(uri(), ClientOptions.defaults().tls(wrongCert)
                .connectTimeout(Duration.ofSeconds(5))).block(TIMEOUT)).isInstanceOf(RuntimeException.class);
    }
}
