package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.netty.internal.protocol.FrameType;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * After a reconnect the client declares its queues again on the new connection all at once, not one round trip after
 * another: with many queues over a slow link the reconnection took a round trip per queue (1000 queues at 50 ms: 50 s,
 * past {@code reconnectWait}, so the operations waiting for it failed), and a queue slow to declare held the
 * declaration of every queue after it. A relay holds the server's answers on the new connection until it has seen a
 * DECLARE for every queue: declared one at a time, the client could not send the second before the first was
 * answered.
 */
class ReconnectManyQueuesTest {

    private static final Duration TIMEOUT = ServingFixture.TIMEOUT;
    private static final int QUEUES = 8;

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onRealTime();

    @Test
    void theQueuesAreDeclaredAgainWithoutWaitingForEachOthersAnswer() throws Exception {
        RillServer server = fixture.serve(ServerOptions.defaults());
        HoldingRelay relay = fixture.closeAtEnd(new HoldingRelay(server.port(), QUEUES));
        ReactiveBroker client = fixture.connect(relay.port(), ClientOptions.defaults()
                .reconnectBackoff(Duration.ofMillis(10), Duration.ofMillis(10)));
        List<BlockingQueue<String>> streams = new ArrayList<>();
        for (int i = 0; i < QUEUES; i++) {
            streams.add(fixture.receiving(client, "q" + i));
        }
        await().atMost(TIMEOUT).until(() -> relay.declares(1) == QUEUES);

        relay.cut(); // connection 1: the client reconnects and declares its queues on connection 2

        assertThat(relay.allDeclaredBeforeAnAnswer.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS))
                .as("every queue declared before the first answer came back").isTrue();
        for (int i = 0; i < QUEUES; i++) {
            ReactiveQueue<String> q = client.queue(QueueSpec.named("q" + i), Codec.utf8()).block(TIMEOUT);
            q.send(OutboundMessage.of("after")).block(TIMEOUT);
            assertThat(streams.get(i).poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("after");
        }
    }

    /**
     * Relays to the server; counts the DECLAREs of each connection, and on connection 2 holds what the server sends
     * once the client's first DECLARE went by, until {@code expected} DECLAREs did (or the test's bound is over).
     */
    private static final class HoldingRelay extends SocketRelay {
        private final int expected;
        private final List<AtomicInteger> declares = new CopyOnWriteArrayList<>();
        final CountDownLatch allDeclaredBeforeAnAnswer = new CountDownLatch(1);

        HoldingRelay(int upstreamPort, int expected) throws IOException {
            super(upstreamPort);
            this.expected = expected;
            start();
        }

        int declares(int connection) {
            return declares.size() >= connection ? declares.get(connection - 1).get() : 0;
        }

        @Override
        void relay(Socket c, Socket u, int n) {
            AtomicInteger count = new AtomicInteger();
            declares.add(count);
            CountDownLatch all = new CountDownLatch(1);
            AtomicBoolean declaring = new AtomicBoolean();
            IoThreads.start("holding-relay-" + n, () -> pumpFrames(c, u, frame -> {
                if (frame[0] == (byte) FrameType.DECLARE.code()) {
                    declaring.set(true);
                    if (count.incrementAndGet() == expected) {
                        all.countDown();
                    }
                }
                return true;
            }));
            IoThreads.start("holding-relay-" + n, () -> {
                InputStream in = u.getInputStream();
                OutputStream out = c.getOutputStream();
                byte[] buf = new byte[64 * 1024];
                boolean checked = n != 2;
                for (int r; (r = in.read(buf)) >= 0; ) {
                    if (!checked && declaring.get()) {
                        checked = true;
                        try {
                            if (all.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                                allDeclaredBeforeAnAnswer.countDown();
                            }
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                    out.write(buf, 0, r);
                    out.flush();
                }
            });
        }
    }
}
