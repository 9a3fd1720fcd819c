package dev.rill.netty.internal.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.netty.ClientOptions;
import dev.rill.netty.RillClient;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.concurrent.EventExecutor;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.netty.tcp.TcpResources;

/**
 * {@code close()} during a reconnect attempt (its HELLO sent, no answer yet) completes only once that attempt's channel
 * is closed, as it does for the connection in use ({@link ClientCloseTest}). Before, it dropped the attempt and
 * completed at once: the attempt's socket was closed later, on its event loop, after a caller that blocked on
 * {@code close()} had gone on (or exited).
 */
class CloseDuringAttemptTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    private final EventLoopGroup silentGroup = new NioEventLoopGroup(1);
    private RillServer server;

    @AfterEach
    void tearDown() {
        silentGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
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
        List<Channel> accepted = new CopyOnWriteArrayList<>();
        new ServerBootstrap().group(silentGroup).channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        accepted.add(ch);
                    }
                }).bind("127.0.0.1", port).syncUninterruptibly(); // closed with the group
        await().atMost(TIMEOUT).until(() -> !accepted.isEmpty());

        List<Channel> attempt = client.channels();
        assertThat(attempt).as("the attempt's channel").hasSize(1);
        // every client event loop is held: the attempt's channel cannot be closed until they are let go
        List<EventExecutor> loops = new ArrayList<>();
        TcpResources.get().onClient(false).forEach(loops::add);
        CountDownLatch hold = new CountDownLatch(1);
        CountDownLatch held = new CountDownLatch(loops.size());
        for (EventExecutor loop : loops) {
            loop.execute(() -> {
                held.countDown();
                try {
                    hold.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }
        assertThat(held.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        CompletableFuture<Void> closed = client.close().toFuture();
        try {
            assertThat(closed).as("completed before the attempt's channel could be closed").isNotDone();
        } finally {
            hold.countDown();
        }
        closed.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(attempt.get(0).isOpen()).as("the attempt's channel once close() completed").isFalse();
        assertThat(client.channels()).isEmpty();
        await().atMost(TIMEOUT).until(() -> accepted.stream().noneMatch(Channel::isActive));
        assertThat(accepted).as("no attempt after close").hasSize(1);
    }
}
