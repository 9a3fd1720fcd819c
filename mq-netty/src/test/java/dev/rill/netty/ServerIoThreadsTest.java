package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.ReceiveOptions;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;

/**
 * {@link ServerOptions#ioThreads(int)}: a server with event loops of its own serves every connection on them and
 * stops them with itself, on every way it can end (dispose, graceful shutdown, a failed bind).
 */
class ServerIoThreadsTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    private RillServer server;
    private ReactiveBroker producer;
    private ReactiveBroker consumer;

    @AfterEach
    void tearDown() {
        for (ReactiveBroker b : new ReactiveBroker[] {producer, consumer}) {
            if (b != null) {
                b.close().block(TIMEOUT);
            }
        }
        if (server != null) {
            server.disposeNow(TIMEOUT);
        }
        await().atMost(TIMEOUT).until(() -> serverLoopThreads().isEmpty());
    }

    private static List<String> serverLoopThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.startsWith("rill-server-")).toList();
    }

    private ReactiveBroker connect() {
        return RillClient.connect(URI.create("rill://127.0.0.1:" + server.port()),
                ClientOptions.defaults().reconnectAttempts(0)).block(TIMEOUT);
    }

    @Test
    void oneThreadServesTheProducersAndTheConsumersConnectionAndStopsOnDispose() {
        server = RillServer.bindNow(ServerOptions.defaults().ioThreads(1), TIMEOUT);
        producer = connect();
        consumer = connect();
        ReactiveQueue<String> out = producer.queue(QueueSpec.named("q"), Codec.utf8()).block(TIMEOUT);
        ReactiveQueue<String> in = consumer.queue(QueueSpec.named("q"), Codec.utf8()).block(TIMEOUT);
        int n = 5_000;
        out.sendMany(Flux.range(0, n).map(i -> OutboundMessage.of("m" + i))).then().block(TIMEOUT);
        Set<String> seen = ConcurrentHashMap.newKeySet();
        in.receive(ReceiveOptions.defaults().maxMessages(n))
                .flatMap(d -> d.ack().thenReturn(d.payload()), 64)
                .doOnNext(seen::add)
                .then().block(TIMEOUT);
        assertThat(seen).hasSize(n);
        assertThat(server.broker().stats().block(TIMEOUT)).singleElement()
                .satisfies(s -> assertThat(s.acked()).isEqualTo(n));
        assertThat(serverLoopThreads()).hasSize(1);

        server.dispose();
        await().atMost(TIMEOUT).until(() -> serverLoopThreads().isEmpty());
        server = null;
    }

    @Test
    void aGracefulShutdownLetsAClientSettleOnTheServersOwnThreadsThenStopsThem() {
        server = RillServer.bindNow(ServerOptions.defaults().ioThreads(2), TIMEOUT);
        consumer = connect();
        ReactiveQueue<String> q = consumer.queue(QueueSpec.named("q"), Codec.utf8()).block(TIMEOUT);
        q.send(OutboundMessage.of("held")).block(TIMEOUT);
        Delivery<String> held = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(held).isNotNull();

        var done = server.shutdown(Duration.ofSeconds(10)).toFuture();
        held.ack().block(TIMEOUT); // still answered while the server drains
        done.join();
        assertThat(server.isDisposed()).isTrue();
        await().atMost(TIMEOUT).until(() -> serverLoopThreads().isEmpty());
        server = null;
    }

    @Test
    void aFailedBindStopsTheThreadsItStarted() {
        server = RillServer.bindNow(ServerOptions.defaults(), TIMEOUT); // shared loops, holds the port
        int taken = server.port();
        assertThatThrownBy(() -> RillServer.bindNow(ServerOptions.defaults().port(taken).ioThreads(2), TIMEOUT))
                .hasMessageContaining(Integer.toString(taken));
        await().atMost(TIMEOUT).until(() -> serverLoopThreads().isEmpty());
    }

    @Test
    void ioThreadsIsValidated() {
        assertThat(ServerOptions.defaults().ioThreads()).isZero();
        assertThat(ServerOptions.defaults().ioThreads(4).ioThreads()).isEqualTo(4);
        assertThat(ServerOptions.defaults().ioThreads(4).ioThreads(0).ioThreads()).isZero();
        assertThat(ServerOptions.defaults().ioThreads(3).toString()).contains("ioThreads=3");
        assertThatThrownBy(() -> ServerOptions.defaults().ioThreads(-1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("ioThreads must be 0 (the shared loops) or 1..1024, was -1");
        assertThatThrownBy(() -> ServerOptions.defaults().ioThreads(ServerOptions.MAX_IO_THREADS + 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("was 1025");
    }
}
