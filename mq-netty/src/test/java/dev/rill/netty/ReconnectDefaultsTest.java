package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.RillException;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The client's defaults for an outage, as a user of a serious broker expects them: it reconnects however long the
 * server is away (it gave up after 10 attempts, about 35 s, and was then lost for good), and an operation made
 * meanwhile waits for the connection a bounded time, then fails saying so (it waited silently for good).
 */
class ReconnectDefaultsTest {

    private static final Duration TIMEOUT = ServingFixture.TIMEOUT;

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onRealTime();

    @Test
    void byDefaultTheClientReconnectsAfterMoreFailedAttemptsThanItUsedToAllow() {
        RillServer first = fixture.serve(ServerOptions.defaults());
        int port = first.port();
        ReactiveBroker client = fixture.connect(first, ClientOptions.defaults()
                .reconnectBackoff(Duration.ofMillis(5), Duration.ofMillis(20)));
        ReactiveQueue<String> q = client.queue(QueueSpec.named("outage"), Codec.utf8()).block(TIMEOUT);
        first.disposeNow(TIMEOUT);

        try (ClosingListener refusing = new ClosingListener(port)) {
            // 25 failed attempts, where the old limit was 10
            await().atMost(TIMEOUT).until(() -> refusing.accepted() >= 25);
        }

        fixture.serve(ServerOptions.defaults().port(port));
        q.send(OutboundMessage.of("after the outage")).block(TIMEOUT);
        assertThat(fixture.stats("outage").size()).isEqualTo(1);
    }

    @Test
    void anOperationMadeWhileDisconnectedFailsAfterTheReconnectWaitSayingSo() {
        RillServer server = fixture.serve(ServerOptions.defaults());
        ReactiveBroker client = fixture.connect(server, ClientOptions.defaults()
                .reconnectBackoff(Duration.ofMillis(5), Duration.ofMillis(20)).reconnectWait(Duration.ofMillis(300)));
        ReactiveQueue<String> q = client.queue(QueueSpec.named("waits"), Codec.utf8()).block(TIMEOUT);
        server.disposeNow(TIMEOUT); // nothing listens any more: every attempt is refused
        // until the client has seen the close, an operation goes out on the closing connection and fails as in flight
        // ("connection ... lost"): wait for the client to know it is disconnected
        String noConnection = "no connection to 127.0.0.1:" + server.port() + " within 300 ms";
        await().atMost(TIMEOUT).until(() -> {
            Throwable e = catchThrowable(() -> client.stats().block(Duration.ofSeconds(10)));
            return e != null && e.getMessage() != null && e.getMessage().startsWith(noConnection);
        });

        for (Throwable e : new Throwable[] {
                catchThrowable(() -> client.stats().block(Duration.ofSeconds(10))),
                catchThrowable(() -> q.send(OutboundMessage.of("lost")).block(Duration.ofSeconds(10))),
                catchThrowable(() -> client.queue(QueueSpec.named("new"), Codec.utf8())
                        .block(Duration.ofSeconds(10)))}) {
            assertThat(e).isInstanceOf(RillException.class)
                    .hasMessageStartingWith("no connection to 127.0.0.1:" + server.port() + " within 300 ms "
                            + "(ClientOptions.reconnectWait): the client is reconnecting")
                    .hasMessageContaining("the connection was lost: ");
        }
    }

    @Test
    void theDefaultsAreUnlimitedAttemptsAndAThirtySecondWait() {
        assertThat(ClientOptions.defaults().reconnectAttempts()).isEqualTo(Integer.MAX_VALUE);
        assertThat(ClientOptions.defaults().reconnectWait()).isEqualTo(Duration.ofSeconds(30));
        assertThat(ClientOptions.defaults().toString()).contains("reconnectAttempts=unlimited");
    }
}
