package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import dev.rill.reactive.RillException;
import java.net.URI;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.test.StepVerifier;

/**
 * A served broker keeps payload objects as they are: a message sent in the server's JVM through a codec other than
 * bytes cannot go on the wire. A remote subscriber gets an error that names the payload's type and what to do, the
 * message goes back to the queue uncounted, and the connection and its other subscriptions carry on.
 */
class ServedBrokerCodecTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    private final ReactiveBroker local = Rill.inMemory();
    private RillServer server;
    private ReactiveBroker client;

    @AfterEach
    void tearDown() {
        if (client != null) {
            client.close().block(TIMEOUT);
        }
        if (server != null) {
            server.disposeNow(TIMEOUT);
        }
        local.close().block(TIMEOUT);
    }

    private QueueStats stats(String queue) {
        return local.stats().block(TIMEOUT).stream().filter(q -> q.name().equals(queue)).findFirst().orElseThrow();
    }

    @Test
    void aPayloadSentLocallyThroughAnotherCodecEndsTheRemoteStreamWithAClearErrorAndStaysQueued() {
        local.queue(QueueSpec.named("typed"), Codec.utf8()).block(TIMEOUT)
                .send(OutboundMessage.of("sent as a String")).block(TIMEOUT);
        local.queue(QueueSpec.named("raw"), Codec.bytes()).block(TIMEOUT)
                .send(OutboundMessage.of(new byte[] {1, 2})).block(TIMEOUT);
        server = RillServer.bindNow(ServerOptions.defaults().broker(local), TIMEOUT);
        client = RillClient.connect(URI.create("rill://127.0.0.1:" + server.port()),
                ClientOptions.defaults().reconnectAttempts(0)).block(TIMEOUT);

        ReactiveQueue<byte[]> typed = client.queue(QueueSpec.named("typed"), Codec.bytes()).block(TIMEOUT);
        StepVerifier.create(typed.receive())
                .expectErrorSatisfies(e -> assertThat(e).isInstanceOf(RillException.class)
                        .hasMessageContaining("queue 'typed'").hasMessageContaining("java.lang.String")
                        .hasMessageContaining("Codec.bytes()"))
                .verify(TIMEOUT);
        QueueStats s = stats("typed");
        assertThat(s.ready()).isEqualTo(1);
        assertThat(s.inFlight()).isZero();

        // the same connection goes on serving a queue of bytes
        ReactiveQueue<byte[]> raw = client.queue(QueueSpec.named("raw"), Codec.bytes()).block(TIMEOUT);
        Delivery<byte[]> d = raw.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(d.payload()).containsExactly(1, 2);
        d.ack().block(TIMEOUT);
        assertThat(stats("raw").size()).isZero();
    }
}
