package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.FrameEncoder;
import dev.rill.netty.internal.protocol.FrameType;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.core.Disposable;

/**
 * A connection lost while the client sets it up after a reconnect (its queues declared again, the streams of a queue
 * attached once that queue is) is one more failed attempt: the client connects again, and its streams and sends carry
 * on.
 */
class ReconnectSetupTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onVirtualTime();
    private final ReactiveBroker local = fixture.local();

    @Test
    void aConnectionLostWhileItsQueuesAreDeclaredAgainIsRetriedAndTheStreamCarriesOn() throws Exception {
        reconnectThroughADoomedConnection(Doom.CUT);
    }

    @Test
    void aServerShuttingDownWhileTheQueuesAreDeclaredAgainIsLeftForTheNextOne() throws Exception {
        // the declare is refused with SHUTTING_DOWN on a connection that stays open: sending it again "on the next
        // connection" would wait for the very connection being set up
        reconnectThroughADoomedConnection(Doom.DRAIN);
    }

    @Test
    void aServerThatNeverAnswersTheDeclarationsIsLeftAfterTheConnectTimeout() throws Exception {
        // the connection stays open and alive (PING/PONG) but the DECLARE is never answered (a server whose broker
        // hangs): setting the connection up is bounded like its handshake, and the next attempt goes through.
        // Before, the reconnection waited for that answer for good: the stream never came back
        reconnectThroughADoomedConnection(Doom.SWALLOW);
    }

    /** What the relay does with the client's DECLARE on the doomed connection. */
    private enum Doom {
        /** Closes the connection. */
        CUT,
        /** Answers ERROR(SHUTTING_DOWN) in the server's place; the connection stays open. */
        DRAIN,
        /** Drops it; the connection stays open. */
        SWALLOW
    }

    private void reconnectThroughADoomedConnection(Doom doom) throws Exception {
        RillServer server = fixture.serve(ServerOptions.defaults());
        ReactiveQueue<String> here = local.queue(QueueSpec.named("q"), Codec.utf8()).block(TIMEOUT);
        // connection 2 (the first reconnect) dies as the client declares its queue again on it
        CuttingRelay relay = new CuttingRelay(server.port(), 2, doom);
        fixture.closeAtEnd(relay);
        ReactiveBroker client = fixture.connect(relay.port(), ClientOptions.defaults().reconnectAttempts(20)
                .reconnectBackoff(Duration.ofMillis(10), Duration.ofMillis(50)).connectTimeout(Duration.ofSeconds(1)));
        ReactiveQueue<String> remote = client.queue(QueueSpec.named("q"), Codec.utf8()).block(TIMEOUT);

        List<String> received = new CopyOnWriteArrayList<>();
        AtomicReference<Throwable> error = new AtomicReference<>();
        Disposable stream = remote.receive().concatMap(d -> d.ack().thenReturn(d.payload()))
                .subscribe(received::add, error::set);
        fixture.atEnd(stream::dispose);
        here.send(OutboundMessage.of("before")).block(TIMEOUT);
        await().atMost(TIMEOUT).until(() -> received.contains("before"));

        relay.cut(); // connection 1
        await().atMost(TIMEOUT).until(() -> relay.connections() >= 3);
        here.send(OutboundMessage.of("after")).block(TIMEOUT);
        await().atMost(TIMEOUT).until(() -> received.contains("after") || error.get() != null);
        assertThat(error.get()).as("the receive stream").isNull();
        assertThat(relay.declaresCut()).isEqualTo(1);
        assertThat(remote.send(OutboundMessage.of("sent")).block(TIMEOUT).messageId()).isPositive();
    }

    /**
     * A relay that, when the client sends DECLARE on connection {@code doomed}, closes it, or (draining) answers
     * ERROR(SHUTTING_DOWN) in the server's place and keeps it open.
     */
    private static final class CuttingRelay extends SocketRelay {
        private final int doomed;
        private final Doom doom;
        private final AtomicInteger declaresCut = new AtomicInteger();

        CuttingRelay(int upstreamPort, int doomed, Doom doom) throws IOException {
            super(upstreamPort);
            this.doomed = doomed;
            this.doom = doom;
            start();
        }

        int declaresCut() {
            return declaresCut.get();
        }

        @Override
        void relay(Socket c, Socket u, int n) {
            IoThreads.start("relay-c2s-" + n, () -> framePump(c, u, n == doomed));
            IoThreads.start("relay-s2c-" + n, () -> copy(u.getInputStream(), c.getOutputStream()));
        }

        private void framePump(Socket c, Socket u, boolean cutAtDeclare) {
            try {
                pumpFrames(c, u, rest -> {
                    if (!cutAtDeclare || rest[0] != (byte) FrameType.DECLARE.code()) {
                        return true;
                    }
                    declaresCut.incrementAndGet();
                    if (doom == Doom.CUT) {
                        c.close(); // the next read fails: the pump ends
                        u.close();
                        return false;
                    }
                    if (doom == Doom.SWALLOW) {
                        return false;
                    }
                    int id = java.nio.ByteBuffer.wrap(rest, 1, 4).getInt();
                    ByteBuf b = Unpooled.buffer();
                    FrameEncoder.encode(new Frame.Error(id, ErrorCode.SHUTTING_DOWN, "draining"), b);
                    OutputStream toClient = c.getOutputStream();
                    synchronized (toClient) {
                        toClient.write(ByteBufUtil.getBytes(b));
                        toClient.flush();
                    }
                    b.release();
                    return false;
                });
            } catch (IOException e) {
                close(c, u);
            }
        }

        private static void copy(InputStream in, OutputStream out) {
            byte[] buf = new byte[64 * 1024];
            try {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    synchronized (out) {
                        out.write(buf, 0, n);
                        out.flush();
                    }
                }
            } catch (IOException e) {
                // a side closed
            }
            try {
                in.close();
                out.close();
            } catch (IOException e) {
                // closing
            }
        }

        private static void close(Socket... sockets) {
            for (Socket s : sockets) {
                try {
                    s.close();
                } catch (IOException e) {
                    // closing
                }
            }
        }

    }
}
