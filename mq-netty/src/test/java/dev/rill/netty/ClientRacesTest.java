package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.Overflow;
import dev.rill.core.QueueSpec;
import dev.rill.netty.internal.transport.RemoteBroker;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.QueueFullException;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.SendOptions;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * Races between a caller's thread and the connection's event loop in the client: each test drives the interleaving
 * that once went wrong (found by pausing the two racing points) and checks what a user sees.
 */
class ClientRacesTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onVirtualTime();
    private final VirtualTimeScheduler vts = fixture.clock();
    private final ReactiveBroker local = fixture.local();

    private RillServer server(ServerOptions options) {
        return fixture.serve(options.host("127.0.0.1").port(0));
    }

    private ReactiveBroker client(RillServer s, ClientOptions options) {
        return fixture.connect(s, options);
    }

    /**
     * A send cancelled while it waits on the client for SEND_CREDIT is never sent (protocol.md, CANCEL_SEND). The
     * event loop that takes a send from the submit queue read {@code cancelled} before publishing the connection,
     * and the cancel set {@code cancelled} before reading it: a cancel in between found no connection to tell, the
     * loop did not see it either, and the message waited for credit and was stored once credit came.
     */
    @Test
    void aSendCancelledWhileWaitingForSendCreditIsNeverStored() {
        // one credit; a queue of one, full: the first remote send takes the credit and waits on the server for room,
        // so every later send waits on the client for SEND_CREDIT, whenever its cancel comes
        RillServer s = server(ServerOptions.defaults().sendWindow(1));
        ReactiveBroker b = client(s, ClientOptions.defaults());
        QueueSpec spec = QueueSpec.named("race-cancelled-send").capacity(1);
        ReactiveQueue<String> serverSide = local.queue(spec, Codec.utf8()).block(TIMEOUT);
        serverSide.send(OutboundMessage.of("filler")).block(TIMEOUT);
        ReactiveQueue<String> q = b.queue(spec, Codec.utf8()).block(TIMEOUT);
        CompletableFuture<?> waiting = q.send(OutboundMessage.of("waits")).toFuture();
        Disposable cancelled = q.send(OutboundMessage.of("cancelled").key("race-pause")).subscribe();
        cancelled.dispose();

        takeAndAck(serverSide, "filler"); // room: "waits" is stored, its credit comes back
        waiting.join();
        takeAndAck(serverSide, "waits"); // room for one more
        // sends of a queue go out in order: a cancelled send that went out anyway takes the room before this one
        q.send(OutboundMessage.of("kept"), SendOptions.defaults().overflow(Overflow.FAIL))
                .onErrorResume(QueueFullException.class, e -> Mono.empty())
                .block(TIMEOUT);

        List<String> stored = serverSide.peek(10).map(Message::payload).collectList().block(TIMEOUT);
        assertThat(stored).containsExactly("kept");
    }

    /**
     * A stream opened while the client reconnects is subscribed once. The broker's reconnect attaches every
     * registered stream to the new connection; a stream registering at that moment (added to the registry before
     * the reconnect went through it, then finding the new connection current) attached itself as well: two
     * SUBSCRIBEs for one stream. The server refused the second at one subscription per connection and the stream
     * failed; without that limit the first stayed open on the server, its deliveries released, its credit on top of
     * the stream's demand, and its slot held until the connection closed.
     */
    @Test
    void aStreamOpenedWhileTheClientReconnectsSubscribesOnce() {
        RillServer s = server(ServerOptions.defaults().maxSubscriptionsPerConnection(1));
        RemoteBroker b = (RemoteBroker) client(s, ClientOptions.defaults().reconnectAttempts(50)
                .reconnectBackoff(Duration.ofMillis(5), Duration.ofMillis(50)));
        ReactiveQueue<String> q = b.queue(QueueSpec.named("race-reattach"), Codec.utf8()).block(TIMEOUT);
        b.dropConnection();
        BlockingQueue<Delivery<String>> received = new LinkedBlockingQueue<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Disposable stream = q.receive().subscribe(received::add, failure::set);

        q.send(OutboundMessage.of("m")).block(TIMEOUT); // waits for the new connection
        await().atMost(TIMEOUT).until(() -> !received.isEmpty() || failure.get() != null);
        assertThat(failure.get()).isNull();
        Delivery<String> d = received.poll();
        assertThat(d.payload()).isEqualTo("m");
        d.ack().block(TIMEOUT);
        stream.dispose();

        // nothing left subscribed on the server: with one subscription per connection, the next stream gets its slot
        q.send(OutboundMessage.of("n")).block(TIMEOUT);
        Delivery<String> n = q.receiveOne(Duration.ofSeconds(10)).block(TIMEOUT);
        assertThat(n).isNotNull();
        assertThat(n.payload()).isEqualTo("n");
        n.ack().block(TIMEOUT);
    }

    /**
     * A stream whose attach to a connection is still on its way when that connection is lost and replaced keeps
     * receiving. The broker handed the old connection to the stream, the connection closed (its loss handled without
     * the stream, which it did not hold yet) and the reconnect attached the stream to the new one; then the late
     * attach subscribed on the closed connection and made that attachment current. Nothing ever detached it: the
     * stream's deliveries on the new connection were released as unwanted and its demand went to a dead connection,
     * so it received nothing, forever, without an error.
     */
    @Test
    void aStreamWhoseAttachComesAfterItsConnectionWasReplacedKeepsReceiving() throws Exception {
        RillServer s = server(ServerOptions.defaults());
        RemoteBroker b = (RemoteBroker) client(s, ClientOptions.defaults().reconnectAttempts(50)
                .reconnectBackoff(Duration.ofMillis(5), Duration.ofMillis(50)));
        ReactiveQueue<String> q = b.queue(QueueSpec.named("race-stale-attach"), Codec.utf8()).block(TIMEOUT);
        BlockingQueue<Delivery<String>> received = new LinkedBlockingQueue<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicReference<Disposable> stream = new AtomicReference<>();
        Thread subscriber = new Thread(() -> stream.set(q.receive().subscribe(received::add, failure::set)));
        subscriber.start();
        // parked (only with the pauses injected to reproduce the race) between finding the connection and attaching
        await().atMost(TIMEOUT).until(() -> subscriber.getState() == Thread.State.TIMED_WAITING
                || subscriber.getState() == Thread.State.TERMINATED);
        b.dropConnection();
        subscriber.join(TIMEOUT.toMillis());

        q.send(OutboundMessage.of("m")).block(TIMEOUT); // waits for the new connection
        await().atMost(TIMEOUT).until(() -> !received.isEmpty() || failure.get() != null);
        assertThat(failure.get()).isNull();
        Delivery<String> d = received.poll();
        assertThat(d.payload()).isEqualTo("m");
        d.ack().block(TIMEOUT);
        stream.get().dispose();
    }

    /**
     * A reconnect attempt that reaches a server but fails its handshake (a server still draining or at its
     * connection limit refuses it, or the handshake times out) leaves the open streams alone: the client tries again
     * and they resubscribe. The failed candidate's loss was taken for a loss with nothing left to reconnect, and
     * every open stream failed with QueueClosedException, as if the client had been closed, while the client went on
     * to reconnect.
     */
    @Test
    void aReconnectAttemptThatFailsItsHandshakeLeavesTheStreamsOpen() throws Exception {
        RillServer s = server(ServerOptions.defaults());
        try (RefusingRelay relay = new RefusingRelay(s.port())) {
            RemoteBroker b = (RemoteBroker) RillClient.connect(URI.create("rill://127.0.0.1:" + relay.port()),
                    ClientOptions.defaults().reconnectAttempts(50)
                            .reconnectBackoff(Duration.ofMillis(5), Duration.ofMillis(50))).block(TIMEOUT);
            fixture.closeAtEnd(b);
            ReactiveQueue<String> q = b.queue(QueueSpec.named("refused-reconnect"), Codec.utf8()).block(TIMEOUT);
            BlockingQueue<Delivery<String>> received = new LinkedBlockingQueue<>();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Disposable stream = q.receive().subscribe(received::add, failure::set);
            q.send(OutboundMessage.of("before")).block(TIMEOUT);
            Delivery<String> first = received.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            assertThat(first).isNotNull();
            first.ack().block(TIMEOUT);

            relay.refuseNext(1);
            b.dropConnection();
            q.send(OutboundMessage.of("after")).block(TIMEOUT); // on the connection after the refused one
            assertThat(relay.refused()).isEqualTo(1);
            await().atMost(TIMEOUT).until(() -> !received.isEmpty() || failure.get() != null);
            assertThat(failure.get()).isNull();
            assertThat(received.poll().payload()).isEqualTo("after");
            stream.dispose();
            b.close().block(TIMEOUT);
        }
    }

    /**
     * A loopback TCP relay to a server that can refuse the next connections: it waits for the client's first bytes
     * (its HELLO: the client's connection handler is in place), then closes the socket. Plain threads: it blocks.
     */
    private static final class RefusingRelay implements AutoCloseable {
        private final ServerSocket listener;
        private final int upstreamPort;
        private final AtomicInteger refuse = new AtomicInteger();
        private final AtomicInteger refused = new AtomicInteger();
        private final List<Socket> sockets = new CopyOnWriteArrayList<>();

        RefusingRelay(int upstreamPort) throws IOException {
            this.upstreamPort = upstreamPort;
            this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            daemon("relay-accept", this::acceptLoop);
        }

        int port() {
            return listener.getLocalPort();
        }

        void refuseNext(int n) {
            refuse.set(n);
        }

        /** @return how many connections were refused (counted once closed) */
        int refused() {
            return refused.get();
        }

        private void acceptLoop() {
            try {
                while (true) {
                    Socket c = listener.accept();
                    sockets.add(c);
                    if (refuse.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                        try {
                            c.getInputStream().read();
                        } finally {
                            c.close();
                            refused.incrementAndGet();
                        }
                        continue;
                    }
                    Socket u = new Socket(InetAddress.getLoopbackAddress(), upstreamPort);
                    sockets.add(u);
                    daemon("relay-c2s", () -> pump(c, u));
                    daemon("relay-s2c", () -> pump(u, c));
                }
            } catch (IOException e) {
                // closed
            }
        }

        private static void pump(Socket from, Socket to) {
            try {
                from.getInputStream().transferTo(to.getOutputStream());
            } catch (IOException e) {
                // a side closed
            } finally {
                closeQuietly(from);
                closeQuietly(to);
            }
        }

        private static void daemon(String name, Runnable r) {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            t.start();
        }

        private static void closeQuietly(Socket s) {
            try {
                s.close();
            } catch (IOException e) {
                // closing anyway
            }
        }

        @Override
        public void close() throws IOException {
            listener.close();
            sockets.forEach(RefusingRelay::closeQuietly);
        }
    }

    private static void takeAndAck(ReactiveQueue<String> q, String expected) {
        Delivery<String> d = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(d).isNotNull();
        assertThat(d.payload()).isEqualTo(expected);
        d.ack().block(TIMEOUT);
    }
}
