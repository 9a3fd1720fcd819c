package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.QueueNotFoundException;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import dev.rill.reactive.SendResult;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.core.publisher.Flux;

/**
 * A server that comes back without one of the client's queues (an in-memory server restarted: a queue the client
 * attached to with {@code lookup}, made by another client, is gone until that client declares it again; or a queue
 * declared meanwhile with other settings) refuses that queue when the client sets the new connection up. Only that
 * queue's streams end, with the server's reason; the connection is kept and every other queue and stream carries on.
 * Before, the refusal of one queue made the client give up for good: every stream of every queue ended and every
 * operation failed, whatever {@code reconnectAttempts} said, although the server was back.
 */
class ReconnectRefusedQueueTest {

    private static final Duration TIMEOUT = ServingFixture.TIMEOUT;

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onRealTime();

    @Test
    void aQueueTheRestartedServerNoLongerHasEndsItsStreamsAndTheOthersCarryOn() throws Exception {
        ReactiveBroker first = fixture.closeAtEnd(Rill.inMemory());
        RillServer server = fixture.bind(ServerOptions.defaults().broker(first));
        int port = server.port();
        ReactiveBroker producer = fixture.connect(server, ClientOptions.defaults().reconnectAttempts(0));
        producer.queue(QueueSpec.named("made-by-another"), Codec.utf8()).block(TIMEOUT);

        ReactiveBroker client = fixture.connect(server, ClientOptions.defaults()
                .reconnectBackoff(Duration.ofMillis(10), Duration.ofMillis(50)));
        ReactiveQueue<String> looked = client.lookup("made-by-another", Codec.utf8()).block(TIMEOUT);
        AtomicReference<Throwable> lookedEnd = new AtomicReference<>();
        looked.receive().subscribe(d -> { }, lookedEnd::set);
        BlockingQueue<String> own = fixture.receiving(client, "own");

        server.disposeNow(TIMEOUT);
        // made during the outage: it waits for the new connection, where the queue is refused
        CompletableFuture<SendResult<String>> duringOutage = looked.send(OutboundMessage.of("lost")).toFuture();
        // back with an empty broker: "own" is declared again by the client, "made-by-another" is gone
        fixture.bind(ServerOptions.defaults().broker(fixture.closeAtEnd(Rill.inMemory())).port(port));

        await().atMost(TIMEOUT).until(() -> lookedEnd.get() != null);
        // its sends fail with the server's reason, the one made during the outage and those made since, at once;
        // before, the server granted no SEND_CREDIT for the refused queue and they waited for ever
        assertThatThrownBy(() -> duringOutage.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS))
                .hasCauseInstanceOf(QueueNotFoundException.class).hasMessageContaining("made-by-another");
        assertThatThrownBy(() -> looked.send(OutboundMessage.of("after")).block(TIMEOUT))
                .isInstanceOf(QueueNotFoundException.class).hasMessageContaining("no queue named 'made-by-another'");
        assertThatThrownBy(() -> looked.sendMany(Flux.just(OutboundMessage.of("many"))).blockLast(TIMEOUT))
                .isInstanceOf(QueueNotFoundException.class);
        assertThat(lookedEnd.get()).isInstanceOf(QueueNotFoundException.class)
                .hasMessageContaining("made-by-another");
        ServingFixture.stillConnected(client, "own", own);
        assertThat(own.poll(0, TimeUnit.SECONDS)).as("the stream on 'own' did not end").isNull();
        // once another client makes the queue again, a new lookup attaches to it
        client.queue(QueueSpec.named("made-by-another"), Codec.utf8()).block(TIMEOUT)
                .send(OutboundMessage.of("again")).block(TIMEOUT);
        assertThat(client.lookup("made-by-another", Codec.utf8()).block(TIMEOUT).receive().blockFirst(TIMEOUT)
                .payload()).isEqualTo("again");
    }
}
