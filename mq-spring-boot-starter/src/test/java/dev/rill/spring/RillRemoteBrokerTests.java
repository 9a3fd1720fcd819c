package dev.rill.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.netty.AuthenticationException;
import dev.rill.netty.Permissions;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.RillMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.ReactiveHealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import reactor.core.publisher.Mono;

/**
 * {@code rill.url}: the broker is a RillClient connection to an in-process RillServer on 127.0.0.1. It outlives a
 * restart of its server however long that takes: an application is not left for good with a dead client (every
 * pipeline stopped, health DOWN until someone restarts it) because the server was down for longer than a fixed
 * number of reconnect attempts.
 */
class RillRemoteBrokerTests {

    private static final Duration T = Duration.ofSeconds(10);
    private static final String TOKEN = "s3cret-token";

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(RillAutoConfiguration.class, RillMetricsAutoConfiguration.class,
                    RillHealthAutoConfiguration.class));

    private static final Duration LONG = Duration.ofSeconds(20);

    private final List<String> handled = new CopyOnWriteArrayList<>();
    private RillServer server;

    @AfterEach
    void stopServer() {
        if (server != null) {
            server.disposeNow(T);
        }
    }

    @Test
    void connectsWithTheTokenDeclaresTheQueuesOnTheServerAndClosesTheConnectionWithTheContext() {
        server = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(0)
                .token(TOKEN, Permissions.all()), T);
        AtomicInteger customized = new AtomicInteger();
        runner.withPropertyValues("rill.url=rill://127.0.0.1:" + server.port(), "rill.token=" + TOKEN,
                        "rill.queues.orders.capacity=10", "rill.queues.orders.max-deliveries=3",
                        "rill.queues.orders.dead-letter-queue=orders-dlq", "rill.metrics.refresh-interval=50ms")
                .withBean(MeterRegistry.class, SimpleMeterRegistry::new)
                .withBean(RillClientOptionsCustomizer.class, () -> options -> {
                    customized.incrementAndGet();
                    return options.clientName("starter-test");
                })
                .run(context -> {
                    assertThat(context).hasNotFailed().hasSingleBean(ManagedBroker.class);
                    assertThat(customized).hasValue(1);
                    ReactiveBroker client = context.getBean(ReactiveBroker.class);
                    assertThat(client).isNotSameAs(server.broker());
                    assertThat(server.connectionCount()).isEqualTo(1);
                    assertThat(server.broker().list().block(T)).containsExactlyInAnyOrder("orders", "orders-dlq");

                    ReactiveQueue<String> orders = context.getBean(RillQueues.class).queue("orders", Codec.utf8())
                            .block(T);
                    orders.send(OutboundMessage.of("over the wire")).block(T);

                    // the message is on the server
                    QueueSpec spec = context.getBean(RillQueues.class).spec("orders");
                    assertThat(spec.capacity()).isEqualTo(10);
                    // (the server's in-memory broker holds what came over the wire: the encoded bytes)
                    Delivery<byte[]> d = server.broker().queue(spec, Codec.bytes())
                            .flatMap(q -> q.receiveOne(Duration.ZERO)).block(T);
                    assertThat(new String(d.message().payload(), StandardCharsets.UTF_8)).isEqualTo("over the wire");

                    // health and gauges read the remote stats
                    Health health = context.getBean("rillHealthIndicator", ReactiveHealthIndicator.class).health()
                            .block(T);
                    assertThat(health.getStatus()).isEqualTo(Status.UP);
                    @SuppressWarnings("unchecked")
                    Map<String, Map<String, Object>> queues = (Map<String, Map<String, Object>>) health.getDetails()
                            .get("queues");
                    assertThat(queues.get("orders")).containsEntry("inFlight", 1L).containsEntry("capacity", 10L);
                    MeterRegistry registry = context.getBean(MeterRegistry.class);
                    await().atMost(T).untilAsserted(() -> assertThat(registry.get(RillMetrics.IN_FLIGHT)
                            .tag("queue", "orders").gauge().value()).isEqualTo(1.0));
                    d.ack().block(T);
                });
        await().atMost(T).until(() -> server.connectionCount() == 0);
    }

    @Test
    void aRefusedTokenStopsTheStart() {
        server = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(0)
                .token(TOKEN, Permissions.all()), T);
        runner.withPropertyValues("rill.url=rill://127.0.0.1:" + server.port(), "rill.token=wrong")
                .run(context -> {
                    assertThat(context).hasFailed();
                    Throwable e = RillAutoConfigurationTests.rootCause(context.getStartupFailure());
                    // the property to fix is the token, not the url that was reached
                    assertThat(e).isInstanceOf(RillConfigurationException.class)
                            .hasMessageStartingWith("rill.token: the server at rill://127.0.0.1:" + server.port()
                                    + " refused the token")
                            .hasCauseInstanceOf(AuthenticationException.class)
                            .hasMessageNotContaining("wrong");
                    assertThat(((RillConfigurationException) e).property()).isEqualTo("rill.token");
                });
        runner.withPropertyValues("rill.url=rill://127.0.0.1:" + server.port())
                .run(context -> {
                    assertThat(context).hasFailed();
                    assertThat(RillAutoConfigurationTests.rootCause(context.getStartupFailure()))
                            .isInstanceOf(RillConfigurationException.class)
                            .hasMessageStartingWith("rill.token: the server at rill://127.0.0.1:" + server.port()
                                    + " requires a token and rill.token is not set");
                });
    }

    @Test
    void anUnreachableServerStopsTheStart() {
        RillServer gone = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(0), T);
        int port = gone.port();
        gone.disposeNow(T); // nothing listens there any more
        runner.withPropertyValues("rill.url=rill://127.0.0.1:" + port, "rill.connect-timeout=3s").run(context -> {
            assertThat(context).hasFailed();
            assertThat(RillAutoConfigurationTests.rootCause(context.getStartupFailure()))
                    .isInstanceOf(RillConfigurationException.class)
                    .hasMessageStartingWith("rill.url: could not connect to rill://127.0.0.1:" + port);
        });
    }

    @Test
    void aUrlOfAnotherSchemeStopsTheStart() {
        runner.withPropertyValues("rill.url=http://127.0.0.1:7400").run(context -> {
            assertThat(context).hasFailed();
            assertThat(RillAutoConfigurationTests.rootCause(context.getStartupFailure()))
                    .isInstanceOf(RillConfigurationException.class)
                    .hasMessage("rill.url: 'http://127.0.0.1:7400' is not rill://HOST[:PORT] or "
                            + "rills://HOST[:PORT] (rills: TLS)");
        });
    }

    @Test
    void aUrlWithAPathUserInfoQueryOrBadPortStopsTheStartRatherThanBeingIgnored() {
        server = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(0), T);
        String hostPort = "127.0.0.1:" + server.port();
        // each of these reached the server with the extra part dropped without a word
        for (String url : new String[] {"rill://" + hostPort + "/orders", "rill://me:" + TOKEN + "@" + hostPort,
                "rill://" + hostPort + "?queue=orders", "rill://" + hostPort + "#x"}) {
            runner.withPropertyValues("rill.url=" + url).run(context -> {
                assertThat(context).as(url).hasFailed();
                assertThat(RillAutoConfigurationTests.rootCause(context.getStartupFailure())).as(url)
                        .isInstanceOf(RillConfigurationException.class)
                        .hasMessageStartingWith("rill.url: ")
                        .hasMessageContaining("is not rill://HOST[:PORT] or rills://HOST[:PORT]")
                        .hasMessageNotContaining(TOKEN);
            });
        }
        runner.withPropertyValues("rill.url=rill://" + hostPort + "/").run(context -> assertThat(context)
                .hasNotFailed());
        runner.withPropertyValues("rill.url=rill://127.0.0.1:99999").run(context -> assertThat(
                RillAutoConfigurationTests.rootCause(context.getStartupFailure()))
                .hasMessage("rill.url: the port must be 1..65535, was 99999"));
    }

    @Test
    void connectsOverTlsTrustingThePemCertificatesNamedByTheProperty(@TempDir Path dir) throws Exception {
        KeyPair kp = KeyPairGenerator.getInstance("EC").generateKeyPair();
        X509Certificate cert = selfSigned(kp);
        Path pem = dir.resolve("ca.pem");
        Files.writeString(pem, "-----BEGIN CERTIFICATE-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(cert.getEncoded())
                + "\n-----END CERTIFICATE-----\n", StandardCharsets.US_ASCII);
        server = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(0)
                .tls(SslContextBuilder.forServer(kp.getPrivate(), cert).build()), T);

        runner.withPropertyValues("rill.url=rill://127.0.0.1:" + server.port(),
                        "rill.tls.trust-certificates=" + pem, "rill.queues.secure.capacity=5")
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    assertThat(server.broker().list().block(T)).containsExactly("secure");
                });
        // or trusting a Spring Boot SSL bundle
        runner.withConfiguration(AutoConfigurations.of(org.springframework.boot.autoconfigure.ssl
                        .SslAutoConfiguration.class))
                .withPropertyValues("rill.url=rill://127.0.0.1:" + server.port(), "rill.tls.bundle=rill",
                        "spring.ssl.bundle.pem.rill.truststore.certificate=" + pem.toUri())
                .run(context -> assertThat(context).hasNotFailed());
        // rills://, as the CLI's --url and the client's own error messages have it, turns TLS on too
        runner.withPropertyValues("rill.url=rills://127.0.0.1:" + server.port(), "rill.tls.trust-certificates=" + pem)
                .run(context -> assertThat(context).hasNotFailed());
        runner.withPropertyValues("rill.url=rills://127.0.0.1:" + server.port(), "rill.connect-timeout=3s")
                .run(context -> assertThat(RillAutoConfigurationTests.rootCause(context.getStartupFailure()))
                        .hasMessageStartingWith("rill.tls: ") // TLS tried: the JVM's trust refused it
                        .hasMessageNotContaining("is not rill://"));
        // the JVM's default trust store does not know the self-signed certificate: no silent fallback to plain TCP
        runner.withPropertyValues("rill.url=rill://127.0.0.1:" + server.port(), "rill.tls.enabled=true",
                        "rill.connect-timeout=3s")
                .run(context -> {
                    assertThat(context).hasFailed();
                    // named as the starter's properties, not ClientOptions.tls or the CLI's --tls-ca
                    assertThat(RillAutoConfigurationTests.rootCause(context.getStartupFailure()))
                            .hasMessageStartingWith("rill.tls: could not connect to rill://127.0.0.1:" + server.port())
                            .hasMessageContaining("the server's certificate is not trusted")
                            .hasMessageContaining("rill.tls.trust-certificates (PEM) or rill.tls.bundle");
                });
    }

    @Test
    void unreadableTlsFilesStopTheStartNamingTheProperty(@TempDir Path dir) {
        runner.withPropertyValues("rill.url=rill://127.0.0.1:7400",
                        "rill.tls.trust-certificates=" + dir.resolve("missing.pem"))
                .run(context -> assertThat(RillAutoConfigurationTests.rootCause(context.getStartupFailure()))
                        .isInstanceOf(RillConfigurationException.class)
                        .hasMessageStartingWith("rill.tls.trust-certificates: cannot read"));
        runner.withPropertyValues("rill.url=rill://127.0.0.1:7400", "rill.tls.certificate=classpath:x.pem")
                .run(context -> assertThat(RillAutoConfigurationTests.rootCause(context.getStartupFailure()))
                        .hasMessageStartingWith("rill.tls.private-key: rill.tls.certificate and rill.tls.private-key"));
        runner.withPropertyValues("rill.url=rill://127.0.0.1:7400", "rill.tls.bundle=nope")
                .run(context -> assertThat(RillAutoConfigurationTests.rootCause(context.getStartupFailure()))
                        .hasMessageStartingWith("rill.tls.bundle: no SSL bundles are configured"));
    }

    private static X509Certificate selfSigned(KeyPair kp) throws Exception {
        long now = System.currentTimeMillis();
        X500Name name = new X500Name("CN=rill-starter-test");
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, BigInteger.valueOf(now),
                new Date(now - 60_000), new Date(now + 3_600_000), name, kp.getPublic());
        b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                new GeneralName(GeneralName.iPAddress, "127.0.0.1")}));
        return new JcaX509CertificateConverter()
                .getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate())));
    }

    @Test
    void pipelinesResumeAndHealthComesBackAfterTheServerWasDownForMoreThanTheClientsDefaultReconnectAttempts()
            throws Exception {
        server = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(0), T);
        int port = server.port();
        runner.withPropertyValues("rill.url=rill://127.0.0.1:" + port, "rill.queues.jobs.capacity=100")
                // only the backoff is shortened, for the test's sake; the attempts are the starter's
                .withBean(RillClientOptionsCustomizer.class, () -> o -> o.reconnectBackoff(Duration.ofMillis(10),
                        Duration.ofMillis(40)))
                .withBean(RillRemoteBrokerTests.class, () -> this)
                .withUserConfiguration(RestartWorker.class)
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    ReactiveHealthIndicator health = context.getBean("rillHealthIndicator",
                            ReactiveHealthIndicator.class);
                    send(context.getBean(RillQueues.class), "before");
                    await().atMost(T).until(() -> handled.contains("before"));

                    server.disposeNow(T);
                    server = null;
                    // the server is down: every reconnect attempt reaches a port that closes the connection at once,
                    // three times as many as the 10 after which a client gave up by default before it was unlimited
                    int attempts = 30;
                    refuseConnections(port, attempts);

                    server = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(port), T);
                    await().atMost(LONG).untilAsserted(() -> assertThat(health.health().block(T).getStatus())
                            .isEqualTo(Status.UP));
                    // the in-memory server lost its queues: the client declared them again, and the pipeline goes on
                    await().atMost(LONG).ignoreExceptions().until(() -> {
                        send(context.getBean(RillQueues.class), "after");
                        return true;
                    });
                    await().atMost(LONG).until(() -> handled.contains("after"));
                });
    }

    private static void send(RillQueues queues, String payload) {
        queues.queue("jobs", Codec.utf8()).flatMap(q -> q.send(OutboundMessage.of(payload))).block(T);
    }

    /** Listens on {@code port} and closes each connection at once, until {@code count} were accepted. */
    private static void refuseConnections(int port, int count) throws IOException {
        AtomicReference<ServerSocket> bound = new AtomicReference<>();
        await().atMost(T).ignoreExceptions().until(() -> { // a failed bind closes its socket: a new one each try
            ServerSocket s = new ServerSocket();
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress("127.0.0.1", port));
            bound.set(s);
            return true;
        });
        try (ServerSocket socket = bound.get()) {
            socket.setSoTimeout((int) LONG.toMillis());
            for (int accepted = 0; accepted < count; accepted++) {
                try {
                    socket.accept().close();
                } catch (SocketTimeoutException e) {
                    throw new AssertionError("the client stopped trying to reconnect after " + accepted
                            + " attempts", e);
                }
            }
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class RestartWorker {

        @Bean
        QueuePipeline worker(RillQueues queues, RillRemoteBrokerTests test) {
            return queues.queue("jobs", Codec.utf8()).block(T)
                    .pipelineOnPayload(p -> Mono.fromRunnable(() -> test.handled.add(p)).then())
                    .start();
        }
    }
}
