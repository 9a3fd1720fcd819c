package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A server that comes back on the same port refusing this client in a way no retry can change (it speaks none of the
 * client's protocol versions, it chooses a version the client did not offer, it no longer takes the client's token)
 * ends the reconnection at its first answer: the live receive streams and the sends waiting for the connection end
 * with the very error a first connect to that server fails with, and no other attempt is made. Before, only a refused
 * token did so; a version mismatch was one more failed attempt, retried for as long as the attempts allowed (without
 * end by default) while the streams waited silently.
 */
class ReconnectRefusedServerTest {

    private static final Duration TIMEOUT = ServingFixture.TIMEOUT;

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onRealTime();

    @Test
    void aServerOfAnotherVersionEndsTheReconnectionWithTheFirstConnectsError() throws Exception {
        refusedOnReconnect(new Frame.Error(0, ErrorCode.UNSUPPORTED_VERSION,
                "none of the offered protocol versions [2, 3, 4, 5, 6] is supported; this server speaks [7]"));
    }

    @Test
    void aServerChoosingAVersionNotOfferedEndsTheReconnectionWithTheFirstConnectsError() throws Exception {
        refusedOnReconnect(new Frame.HelloOk(7, 1 << 20, 15_000, false, 1024, "newer"));
    }

    @Test
    void aServerThatNoLongerTakesTheTokenEndsTheReconnectionWithTheFirstConnectsError() throws Exception {
        refusedOnReconnect(new Frame.Error(0, ErrorCode.AUTH_FAILED, "unknown token"));
    }

    /** The server goes, and a peer answering every HELLO with {@code answer} takes its port. */
    private void refusedOnReconnect(Frame answer) throws Exception {
        RillServer server = fixture.serve(ServerOptions.defaults());
        int port = server.port();
        // unlimited attempts (the default), a short backoff: before, the attempts went on as fast as that
        ReactiveBroker client = fixture.connect(server, ClientOptions.defaults()
                .reconnectBackoff(Duration.ofMillis(10), Duration.ofMillis(10)));
        ReactiveQueue<String> q = client.queue(QueueSpec.named("q"), Codec.utf8()).block(TIMEOUT);
        AtomicReference<Throwable> streamEnd = new AtomicReference<>();
        q.receive().subscribe(d -> { }, streamEnd::set);

        server.disposeNow(TIMEOUT);
        ListeningPeer peer = fixture.closeAtEnd(ListeningPeer.answeringHello(port, answer));
        // what a first connect to that server says
        Throwable first = NotARillServerTest.connect(port);
        assertThat(first).isNotNull();

        await().atMost(TIMEOUT).until(() -> streamEnd.get() != null);
        assertThat(streamEnd.get()).hasSameClassAs(first).hasMessage(first.getMessage());
        Throwable send = catchThrowable(() -> q.send(OutboundMessage.of("m")).block(TIMEOUT));
        assertThat(send).hasSameClassAs(first).hasMessage(first.getMessage());
        // the first connect's and one attempt of the client's
        assertThat(peer.accepted()).hasSize(2);
    }
}
