package dev.rill.netty.internal.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.netty.ClientOptions;
import dev.rill.netty.ListeningPeer;
import dev.rill.netty.RillClient;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import io.netty.channel.Channel;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code close()} during a reconnect attempt (its HELLO sent, no answer yet) completes only once that attempt's channel
 * is closed, as it does for the connection in use ({@link ClientCloseTest}). Before, it dropped the attempt and
 * completed at once: the attempt's socket was closed later, on its event loop, after a caller that blocked on
 * {@code close()} had gone on (or exited).
 */
class CloseDuringAttemptTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    private RillServer server;
    private ListeningPeer peer;

    @AfterEach
    void tearDown() {
        if (peer != null) {
            peer.close();
        }
    }

    private ListeningPeer peer(int port) {
        peer = ListeningPeer.silent(port);
        return peer;
    }

    @Test
    void closeDuringAHandshakeInFlightCompletesOnlyOnceTheAttemptsChannelIsClosed() throws Exception {
        server = RillServer.bindNow(ServerOptions.defaults().port(0), TIMEOUT);
        int port = server.port();
        RemoteBroker client = (RemoteBroker) RillClient.connect(URI.create("rill://127.0.0.1:" + port),
                ClientOptions.defaults().reconnectBackoff(Duration.ofMillis(10), Duration.ofMillis(10)))
                .block(TIMEOUT);
        server.disposeNow(TIMEOUT);
        // accepts and never answers HELLO: the reconnect attempt stays in its handshake (for the connect timeout)
        List<Channel> accepted = peer(port).accepted();
        // the attempt's channel, the one the peer accepted (another process's client may come by the port too)
        Channel[] attempt = new Channel[1];
        Channel[] peerSide = new Channel[1];
        await().atMost(TIMEOUT).until(() -> {
            for (Channel mine : client.channels()) {
                for (Channel a : accepted) {
                    if (mine.localAddress() != null && mine.localAddress().equals(a.remoteAddress())) {
                        attempt[0] = mine;
                        peerSide[0] = a;
                        return true;
                    }
                }
            }
            return false;
        });

        // the attempt's event loop is held: its channel cannot be closed until it is let go
        CompletableFuture<Void> closed;
        try (LoopHold held = new LoopHold(List.of(attempt[0].eventLoop()), TIMEOUT)) {
            closed = client.close().toFuture();
            assertThat(closed).as("completed before the attempt's channel could be closed").isNotDone();
        }
        closed.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(attempt[0].isOpen()).as("the attempt's channel once close() completed").isFalse();
        assertThat(client.channels()).isEmpty();
        await().atMost(TIMEOUT).until(() -> !peerSide[0].isActive());
    }
}
