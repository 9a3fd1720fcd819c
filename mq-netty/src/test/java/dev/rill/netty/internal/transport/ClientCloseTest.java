package dev.rill.netty.internal.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.netty.ClientOptions;
import dev.rill.netty.RillClient;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import io.netty.channel.Channel;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code RemoteBroker.close()} completes once the client's channel is closed: a caller that blocks on it and then
 * ends the JVM (or checks the server) no longer races the CLOSE frame and the socket's close. The Mono completed as
 * soon as the close was handed to the event loop.
 */
class ClientCloseTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    private RillServer server;

    @AfterEach
    void tearDown() {
        if (server != null) {
            server.disposeNow(TIMEOUT);
        }
    }

    private RemoteBroker connect() {
        server = RillServer.bindNow(ServerOptions.defaults().port(0), TIMEOUT);
        return (RemoteBroker) RillClient.connect(URI.create("rill://127.0.0.1:" + server.port()),
                ClientOptions.defaults().reconnectAttempts(0)).block(TIMEOUT);
    }

    @Test
    void closeCompletesOnlyOnceTheChannelIsClosed() throws Exception {
        RemoteBroker client = connect();
        Channel channel = client.connection().block(TIMEOUT).channel();
        assertThat(channel.isOpen()).isTrue();
        await().atMost(TIMEOUT).until(() -> server.connectionCount() == 1);

        // the event loop is held, so the close cannot have run yet: the Mono must not have completed
        CompletableFuture<Void> closed;
        try (LoopHold held = new LoopHold(List.of(channel.eventLoop()), TIMEOUT)) {
            closed = client.close().toFuture();
            assertThat(closed).as("completed before the event loop could close the channel").isNotDone();
        }
        closed.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(channel.isOpen()).as("the channel once close() completed").isFalse();
        assertThat(channel.closeFuture().isDone()).isTrue();
        // the server learns it asynchronously
        await().atMost(TIMEOUT).until(() -> server.connectionCount() == 0);
    }

    @Test
    void blockingOnCloseLeavesTheChannelClosedAndEveryLaterCloseWaitsForTheSame() {
        RemoteBroker client = connect();
        Channel channel = client.connection().block(TIMEOUT).channel();
        client.close().block(TIMEOUT);
        assertThat(channel.isOpen()).isFalse();
        client.close().block(TIMEOUT); // a second close: already done, completes too
        assertThat(channel.isOpen()).isFalse();
        await().atMost(TIMEOUT).until(() -> server.connectionCount() == 0);
    }
}
