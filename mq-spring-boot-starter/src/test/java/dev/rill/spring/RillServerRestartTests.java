package dev.rill.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.netty.ClientOptions;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import dev.rill.reactive.QueuePipeline;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.health.contributor.ReactiveHealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import reactor.core.publisher.Mono;

/**
 * The remote broker of {@code rill.url} outlives a restart of its server, however long that takes: an application is
 * not left for good with a dead client (every pipeline stopped, health DOWN until someone restarts it) because the
 * server was down for longer than a fixed number of reconnect attempts.
 */
class RillServerRestartTests {

    private static final Duration T = Duration.ofSeconds(10);
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
    void pipelinesResumeAndHealthComesBackAfterTheServerWasDownForMoreThanTheClientsDefaultReconnectAttempts()
            throws Exception {
        server = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(0), T);
        int port = server.port();
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(RillAutoConfiguration.class,
                        RillHealthAutoConfiguration.class))
                .withPropertyValues("rill.url=rill://127.0.0.1:" + port, "rill.queues.jobs.capacity=100")
                // only the backoff is shortened, for the test's sake; the attempts are the starter's
                .withBean(RillClientOptionsCustomizer.class, () -> o -> o.reconnectBackoff(Duration.ofMillis(10),
                        Duration.ofMillis(40)))
                .withBean(RillServerRestartTests.class, () -> this)
                .withUserConfiguration(Worker.class)
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    ReactiveHealthIndicator health = context.getBean("rillHealthIndicator",
                            ReactiveHealthIndicator.class);
                    send(context.getBean(RillQueues.class), "before");
                    await().atMost(T).until(() -> handled.contains("before"));

                    server.disposeNow(T);
                    server = null;
                    // the server is down: every reconnect attempt reaches a port that closes the connection at once,
                    // many more times than a client gives up after by default
                    int attempts = ClientOptions.DEFAULT_RECONNECT_ATTEMPTS * 3;
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
    static class Worker {

        @Bean
        QueuePipeline worker(RillQueues queues, RillServerRestartTests test) {
            return queues.queue("jobs", Codec.utf8()).block(T)
                    .pipelineOnPayload(p -> Mono.fromRunnable(() -> test.handled.add(p)).then())
                    .start();
        }
    }
}
