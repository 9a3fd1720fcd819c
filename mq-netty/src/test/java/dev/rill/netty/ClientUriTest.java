package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import io.netty.handler.ssl.SslContextBuilder;
import java.net.URI;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The address {@link RillClient#connect(URI, ClientOptions)} takes, as a user writes it: {@code rills://} turns TLS
 * on, and anything the client would ignore (a path, user info, a query, a fragment) is refused, naming the part,
 * where it used to be dropped without a word.
 */
class ClientUriTest {

    private static final Duration TIMEOUT = ServingFixture.TIMEOUT;
    private static final TestCerts SERVER = TestCerts.selfSigned("rill-server");

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onRealTime();

    private static String refusal(String uri) {
        Throwable e = org.assertj.core.api.Assertions.catchThrowable(
                () -> RillClient.connect(URI.create(uri)).block(TIMEOUT));
        assertThat(e).as(uri).isInstanceOf(IllegalArgumentException.class);
        return e.getMessage();
    }

    @Test
    void partsTheClientWouldIgnoreAreRefusedByName() {
        assertThat(refusal("rill://127.0.0.1:7400/orders")).contains("path").contains("'/orders'");
        assertThat(refusal("rill://alice:s3cret@127.0.0.1:7400")).contains("user info").doesNotContain("s3cret")
                .doesNotContain("alice").contains("rill://***@127.0.0.1:7400");
        assertThat(refusal("rill://127.0.0.1:7400?token=x")).contains("query");
        assertThat(refusal("rill://127.0.0.1:7400#orders")).contains("fragment");
        assertThat(refusal("rill:///orders")).contains("no host");
        assertThat(refusal("rill://127.0.0.1:http")).contains("'127.0.0.1:http' is not HOST[:PORT]");
        assertThat(refusal("rill://127.0.0.1:99999")).contains("the port must be 1..65535, was 99999");
        assertThat(refusal("http://127.0.0.1:7400")).contains("'http' is neither rill nor rills");
    }

    @Test
    void anEmptyPathOrASlashAndAMissingPortAreFine() {
        assertThat(RillClient.checkUri(URI.create("rill://mq.internal/"))).isEqualTo(URI.create("rill://mq.internal:7400"));
        assertThat(RillClient.checkUri(URI.create("rills://mq.internal:7443")))
                .isEqualTo(URI.create("rills://mq.internal:7443"));
        RillServer server = fixture.serve(ServerOptions.defaults());
        ReactiveBroker client = fixture.closeAtEnd(RillClient.connect(
                URI.create("rill://127.0.0.1:" + server.port() + "/")).block(TIMEOUT));
        assertThat(client.list().block(TIMEOUT)).isNotNull();
    }

    /** {@code rills://} alone trusts what the JVM trusts: a self-signed server certificate is not trusted. */
    @Test
    void rillsTurnsTlsOnWithTheJvmsTrust() throws Exception {
        RillServer server = fixture.serve(ServerOptions.defaults()
                .tls(SslContextBuilder.forServer(SERVER.key(), SERVER.cert()).build()));
        assertThatThrownBy(() -> RillClient.connect(URI.create("rills://127.0.0.1:" + server.port()),
                ClientOptions.defaults().connectTimeout(Duration.ofSeconds(5))).block(TIMEOUT))
                .hasMessageContaining("TLS handshake with 127.0.0.1:" + server.port() + " failed")
                .hasMessageContaining("not trusted");
    }

    /** {@code rills://} with a TLS context in the options: the context is used (here: trust of a private CA). */
    @Test
    void rillsUsesTheOptionsTlsContextWhenGiven() throws Exception {
        RillServer server = fixture.serve(ServerOptions.defaults()
                .tls(SslContextBuilder.forServer(SERVER.key(), SERVER.cert()).build()));
        ReactiveBroker client = fixture.closeAtEnd(RillClient.connect(URI.create("rills://127.0.0.1:" + server.port()),
                ClientOptions.defaults().tls(SslContextBuilder.forClient().trustManager(SERVER.cert()).build()))
                .block(TIMEOUT));
        ReactiveQueue<String> q = client.queue(QueueSpec.named("tls"), Codec.utf8()).block(TIMEOUT);
        q.send(OutboundMessage.of("over TLS")).block(TIMEOUT);
        assertThat(q.receive().blockFirst(TIMEOUT).payload()).isEqualTo("over TLS");
    }

    /**
     * A server that cannot be reached fails the connect with a {@code RillException} saying why, as documented; it
     * used to be the transport's checked exception (wrapped by {@code block()} in Reactor's
     * {@code ReactiveException}) with netty's words: {@code finishConnect(..) failed with error(-111)}, {@code Failed
     * to resolve 'x' [A(1), AAAA(28)] after 2 queries}.
     */
    @Test
    void aServerThatCannotBeReachedFailsTheConnectSayingWhy() throws Exception {
        int free;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            free = s.getLocalPort();
        }
        int port = free;
        assertThatThrownBy(() -> RillClient.connect(ServingFixture.uri(port)).block(TIMEOUT))
                .isInstanceOf(dev.rill.reactive.RillException.class)
                .hasMessage("connection to 127.0.0.1:" + port + " refused (nothing listens on that port: is the server"
                        + " running, and on this address?)");
        // .invalid never resolves (RFC 2606)
        assertThatThrownBy(() -> RillClient.connect(URI.create("rill://no-such-host.invalid:7400")).block(TIMEOUT))
                .isInstanceOf(dev.rill.reactive.RillException.class)
                .hasMessageStartingWith("the host name 'no-such-host.invalid' (of no-such-host.invalid:7400) does not"
                        + " resolve to an address (");
    }
}
