package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import reactor.core.Disposable;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * The fixture the transport tests share, one per test: a {@code @RegisterExtension} field of the test class, closed
 * after each test (after the class's own {@code @AfterEach} methods). It holds
 * a local in-memory broker, on a virtual-time scheduler or on the real clock (queue timers stay virtual where the
 * test advances them; Netty's own timers are wall-clock whatever this says), servers bound to 127.0.0.1 on
 * OS-chosen ports that serve it, clients connected to them, and the teardown: everything registered is closed,
 * newest first, then the local broker and the clock.
 */
final class ServingFixture implements AutoCloseable, AfterEachCallback {

    /** How long any one step of a fixture (bind, connect, close) may take. */
    static final Duration TIMEOUT = Duration.ofSeconds(20);

    private final VirtualTimeScheduler clock;
    private final ReactiveBroker local;
    private final List<AutoCloseable> cleanup = new CopyOnWriteArrayList<>();

    private ServingFixture(VirtualTimeScheduler clock, ReactiveBroker local) {
        this.clock = clock;
        this.local = local;
    }

    /** @return a fixture whose local broker runs on a virtual-time scheduler ({@link #clock()}) */
    static ServingFixture onVirtualTime() {
        VirtualTimeScheduler clock = VirtualTimeScheduler.create();
        return new ServingFixture(clock, Rill.inMemory(clock));
    }

    /** @return a fixture whose local broker runs on the real clock (no {@link #clock()}) */
    static ServingFixture onRealTime() {
        return new ServingFixture(null, Rill.inMemory());
    }

    /** @return a fixture with a virtual clock and no local broker: the test makes its brokers ({@link #closeAtEnd}) */
    static ServingFixture clockOnly() {
        return new ServingFixture(VirtualTimeScheduler.create(), null);
    }

    /** @return the local broker's virtual clock */
    VirtualTimeScheduler clock() {
        if (clock == null) {
            throw new IllegalStateException("this fixture runs on the real clock");
        }
        return clock;
    }

    /** @return the local broker */
    ReactiveBroker local() {
        if (local == null) {
            throw new IllegalStateException("this fixture has no local broker");
        }
        return local;
    }

    /** Serves the local broker with {@code options}; the server is disposed at the end. */
    RillServer serve(ServerOptions options) {
        return bind(options.broker(local()));
    }

    /** Binds a server with {@code options} as they are (their broker, or one of its own); disposed at the end. */
    RillServer bind(ServerOptions options) {
        RillServer server = RillServer.bindNow(options, TIMEOUT);
        cleanup.add(() -> server.disposeNow(TIMEOUT));
        return server;
    }

    /** Connects a client to {@code server}; closed at the end. */
    ReactiveBroker connect(RillServer server, ClientOptions options) {
        return connect(server.port(), options);
    }

    /** Connects a client to 127.0.0.1:{@code port}; closed at the end. */
    ReactiveBroker connect(int port, ClientOptions options) {
        return closeAtEnd(RillClient.connect(uri(port), options).block(TIMEOUT));
    }

    /** Closes {@code broker} at the end (a broker the test made, a client it connected itself). */
    ReactiveBroker closeAtEnd(ReactiveBroker broker) {
        cleanup.add(() -> broker.close().block(TIMEOUT));
        return broker;
    }

    /** Runs {@code action} at the end, before whatever was registered earlier (a stream to dispose, say). */
    void atEnd(AutoCloseable action) {
        cleanup.add(action);
    }

    /** Closes {@code resource} at the end, before whatever was registered earlier. */
    <T extends AutoCloseable> T closeAtEnd(T resource) {
        cleanup.add(resource);
        return resource;
    }

    /** @return the stats of the local broker's {@code queue} */
    QueueStats stats(String queue) {
        return stats(local(), queue);
    }

    /** @return the stats of {@code broker}'s {@code queue} */
    static QueueStats stats(ReactiveBroker broker, String queue) {
        return broker.stats().block(TIMEOUT).stream().filter(q -> q.name().equals(queue)).findFirst().orElseThrow();
    }

    /**
     * Opens a stream on {@code queue} of {@code client} that acks what it gets, open until the end of the test.
     *
     * @return the payloads it got, then "error: ..." if it failed
     */
    BlockingQueue<String> receiving(ReactiveBroker client, String queue) {
        ReactiveQueue<String> q = client.queue(QueueSpec.named(queue), Codec.utf8()).block(TIMEOUT);
        BlockingQueue<String> got = new LinkedBlockingQueue<>();
        Disposable d = q.receive().flatMap(x -> x.ack().thenReturn(x.message().payload()))
                .subscribe(got::add, e -> got.add("error: " + e));
        atEnd(d::dispose);
        return got;
    }

    /**
     * Checks that {@code client}'s connection still works: a message sent now reaches the stream {@link #receiving}
     * opened on {@code queue} before (a bad call, a subscription ended, in between).
     */
    static void stillConnected(ReactiveBroker client, String queue, BlockingQueue<String> got)
            throws InterruptedException {
        ReactiveQueue<String> q = client.queue(QueueSpec.named(queue), Codec.utf8()).block(TIMEOUT);
        q.send(OutboundMessage.of("after")).block(TIMEOUT);
        assertThat(got.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("after");
    }

    /** @return {@code rill://127.0.0.1:port} */
    static URI uri(int port) {
        return URI.create("rill://127.0.0.1:" + port);
    }

    /**
     * For tests that keep one server and one client in fields: closes the client, then disposes the server (either
     * may be null).
     */
    static void close(ReactiveBroker client, RillServer server) {
        if (client != null) {
            client.close().block(TIMEOUT);
        }
        if (server != null) {
            server.disposeNow(TIMEOUT);
        }
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        close();
    }

    /** Closes what was registered, newest first, then the local broker and the clock. */
    @Override
    public void close() throws Exception {
        for (int i = cleanup.size() - 1; i >= 0; i--) {
            cleanup.get(i).close();
        }
        if (local != null) {
            local.close().block(TIMEOUT);
        }
        if (clock != null) {
            clock.dispose();
        }
    }
}
