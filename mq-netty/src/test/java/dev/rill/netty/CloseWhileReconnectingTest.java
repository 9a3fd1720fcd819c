package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.QueueClosedException;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import io.netty.channel.Channel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Closing a client while it reconnects ends the reconnection at once. Before, {@code close()} only marked the client
 * closed: a reconnect waiting out its backoff connected once more when the wait was over (set the connection up,
 * declared the queues again on the server, then closed it), and an attempt waiting for a silent server's HELLO_OK
 * kept its socket open until the connect timeout (10 s by default).
 */
class CloseWhileReconnectingTest {

    private static final Duration TIMEOUT = ServingFixture.TIMEOUT;

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onRealTime();

    @Test
    void aClientClosedDuringItsBackoffNeverConnectsAgain() {
        RillServer server = fixture.serve(ServerOptions.defaults());
        int port = server.port();
        // a backoff of exactly one second: the attempt after the first failed one would come one second later
        ReactiveBroker client = RillClient.connect(ServingFixture.uri(port), ClientOptions.defaults()
                .reconnectBackoff(Duration.ofSeconds(1), Duration.ofSeconds(1))).block(TIMEOUT);
        ReactiveQueue<String> q = client.queue(QueueSpec.named("q"), Codec.utf8()).block(TIMEOUT);
        AtomicReference<Throwable> streamEnd = new AtomicReference<>();
        q.receive().subscribe(d -> { }, streamEnd::set);
        server.disposeNow(TIMEOUT);
        try (ClosingListener refusing = fixture.closeAtEnd(new ClosingListener(port))) {
            await().atMost(TIMEOUT).until(() -> refusing.accepted() == 1); // the first attempt failed: backing off

            client.close().block(TIMEOUT);

            assertThat(streamEnd.get()).isInstanceOf(QueueClosedException.class);
            await().during(Duration.ofMillis(1_800)).atMost(Duration.ofSeconds(5))
                    .until(() -> refusing.accepted() == 1);
        }
    }

    @Test
    void aClientClosedWhileASilentServerHoldsItsHandshakeClosesThatSocketAtOnce() {
        RillServer server = fixture.serve(ServerOptions.defaults());
        int port = server.port();
        ReactiveBroker client = RillClient.connect(ServingFixture.uri(port), ClientOptions.defaults()
                .reconnectBackoff(Duration.ofMillis(10), Duration.ofMillis(10))).block(TIMEOUT);
        server.disposeNow(TIMEOUT);
        // accepts and never answers HELLO: the attempt waits for the connect timeout (10 s)
        List<Channel> accepted = fixture.closeAtEnd(ListeningPeer.silent(port)).accepted();
        await().atMost(TIMEOUT).until(() -> !accepted.isEmpty());

        client.close().block(TIMEOUT);

        await().atMost(Duration.ofSeconds(3)).until(() -> accepted.stream().noneMatch(Channel::isActive));
        assertThat(accepted).hasSize(1);
    }
}
