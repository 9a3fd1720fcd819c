package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.LeaseOutcome;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.LeaseExpiredException;
import dev.rill.reactive.QueueClosedException;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.ReceiveOptions;
import dev.rill.reactive.Rill;
import dev.rill.reactive.RillException;
import dev.rill.reactive.internal.AckEach;
import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.Limits;
import java.net.URI;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * A settlement that the served broker fails for another reason than a stale lease (the queue closed or deleted, the
 * broker closing, its log failing) while the lease is still held: the client is told that reason (not "lease
 * expired"), and the connection keeps the delivery, so it can be settled again and is released the moment the
 * connection closes, instead of staying invisible until its visibility timeout (ten minutes here). Both ways the
 * server settles: tag by tag, and an ACK frame of many tags of one queue in one {@code AckEach} call (whose failure
 * may come as the call's error or be thrown by the call itself).
 */
class SettleFailureTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);
    private static final QueueSpec SPEC = QueueSpec.named("jobs").visibilityTimeout(Duration.ofMinutes(10));

    private final ReactiveBroker local = Rill.inMemory();
    /** While set, every settle of a delivery through the served broker fails with it and changes nothing. */
    private final AtomicReference<Function<String, Mono<Void>>> failing = new AtomicReference<>();
    /** While set, a queue's ackEach throws it at the call instead of answering with a Mono. */
    private final AtomicReference<RuntimeException> throwing = new AtomicReference<>();
    private final java.util.concurrent.atomic.AtomicInteger ackEachCalls = new java.util.concurrent.atomic.AtomicInteger();
    private RillServer server;
    private ReactiveBroker client;
    private ReactiveQueue<String> remote;

    @BeforeEach
    void setUp() {
        local.queue(SPEC, Codec.utf8()).block(TIMEOUT).send(OutboundMessage.of("job")).block(TIMEOUT);
        server = RillServer.bindNow(ServerOptions.defaults().broker(new FailingSettles(local, failing, throwing, ackEachCalls)), TIMEOUT);
        client = RillClient.connect(URI.create("rill://127.0.0.1:" + server.port()),
                ClientOptions.defaults().reconnectAttempts(0)).block(TIMEOUT);
        remote = client.queue(SPEC, Codec.utf8()).block(TIMEOUT);
    }

    @AfterEach
    void tearDown() {
        ServingFixture.close(client, server);
        local.close().block(TIMEOUT);
    }

    private QueueStats stats() {
        return local.stats().block(TIMEOUT).get(0);
    }

    private Delivery<String> receive() {
        Delivery<String> d = remote.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(d).isNotNull();
        assertThat(stats().inFlight()).isEqualTo(1);
        return d;
    }

    private void failWith(RuntimeException e) {
        failing.set(op -> Mono.error(e));
    }

    @Test
    void anAckTheBrokerFailsIsReportedWithItsReasonAndCanBeRetried() {
        Delivery<String> d = receive();
        failWith(new QueueClosedException("jobs"));
        assertThatThrownBy(() -> d.ack().block(TIMEOUT)).isInstanceOf(QueueClosedException.class)
                .isNotInstanceOf(LeaseExpiredException.class).hasMessageContaining("'jobs'");
        assertThat(stats().inFlight()).isEqualTo(1);

        failing.set(null); // the broker works again: the connection still holds the delivery
        d.ack().block(TIMEOUT);
        assertThat(stats().size()).isZero();
        assertThat(stats().acked()).isEqualTo(1);
    }

    @Test
    void aNackTheBrokerFailsNamesTheReason() {
        Delivery<String> d = receive();
        failWith(new RillException("the broker is closing"));
        assertThatThrownBy(() -> d.nack().block(TIMEOUT)).isInstanceOf(RillException.class)
                .isNotInstanceOf(LeaseExpiredException.class).hasMessageContaining("the broker is closing")
                .hasMessageContaining("nack");
    }

    @Test
    void aDeliveryWhoseAckFailedIsReleasedAtOnceWhenTheConnectionCloses() {
        Delivery<String> d = receive();
        failWith(new QueueClosedException("jobs"));
        assertThatThrownBy(() -> d.ack().block(TIMEOUT)).isInstanceOf(QueueClosedException.class);
        failing.set(null);

        client.close().block(TIMEOUT);
        client = null;
        await().atMost(TIMEOUT).until(() -> stats().ready() == 1); // not after the 10-minute visibility timeout
    }

    @Test
    void aDeliveryWhoseExtendFailedIsReleasedAtOnceWhenTheConnectionCloses() {
        Delivery<String> d = receive();
        failWith(new RillException("the log failed"));
        assertThatThrownBy(() -> d.extend(Duration.ofMinutes(5)).block(TIMEOUT)).isInstanceOf(RillException.class)
                .isNotInstanceOf(LeaseExpiredException.class).hasMessageContaining("the log failed");
        failing.set(null);

        client.close().block(TIMEOUT);
        client = null;
        await().atMost(TIMEOUT).until(() -> stats().ready() == 1);
    }

    @Test
    void aDeliveryWhoseAckFailsAfterTheConnectionClosedIsReleasedThen() {
        Delivery<String> d = receive();
        Sinks.Empty<Void> verdict = Sinks.empty();
        java.util.concurrent.atomic.AtomicBoolean asked = new java.util.concurrent.atomic.AtomicBoolean();
        failing.set(op -> {
            asked.set(true);
            return verdict.asMono();
        });
        AtomicReference<Throwable> told = new AtomicReference<>();
        d.ack().subscribe(null, told::set);
        await().atMost(TIMEOUT).untilTrue(asked); // the server's ack is in flight
        client.close().block(TIMEOUT); // the server releases what the connection holds: not the ack in flight
        client = null;
        await().atMost(TIMEOUT).until(() -> told.get() != null);
        assertThat(told.get()).hasMessageStartingWith("the client was closed before the settlement was confirmed: it "
                + "may have been applied; if not, the server releases the lease as the connection closes");
        await().atMost(TIMEOUT).until(() -> server.connectionCount() == 0);
        assertThat(stats().inFlight()).isEqualTo(1);

        failing.set(null);
        verdict.tryEmitError(new QueueClosedException("jobs")); // the ack fails now, the lease still held
        await().atMost(TIMEOUT).until(() -> stats().ready() == 1);
    }

    /** Holds every settle through the served broker until the test ends; returns whether one was asked for. */
    private java.util.concurrent.atomic.AtomicBoolean holdSettles() {
        java.util.concurrent.atomic.AtomicBoolean asked = new java.util.concurrent.atomic.AtomicBoolean();
        failing.set(op -> {
            asked.set(true);
            return Mono.never();
        });
        return asked;
    }

    /**
     * The server killed (kill -9) or the network cut while an ack is on the wire: the client cannot know whether the
     * server still runs, so it says neither that the server released the lease (what it said before, untrue of a dead
     * server) nor that the ack was lost.
     */
    @Test
    void anAckUnconfirmedWhenTheConnectionIsLostSaysWhatMayHaveHappened() throws Exception {
        try (FrameCountingRelay relay = new FrameCountingRelay(server.port())) {
            ReactiveBroker viaRelay = RillClient.connect(URI.create("rill://127.0.0.1:" + relay.port()),
                    ClientOptions.defaults().reconnectAttempts(0)).block(TIMEOUT);
            try {
                Delivery<String> d = viaRelay.queue(SPEC, Codec.utf8()).block(TIMEOUT).receiveOne(Duration.ZERO)
                        .block(TIMEOUT);
                java.util.concurrent.atomic.AtomicBoolean asked = holdSettles();
                var ack = d.ack().toFuture();
                await().atMost(TIMEOUT).untilTrue(asked);
                relay.close(); // both sockets closed, no CLOSE frame: a lost connection
                assertThatThrownBy(() -> ack.get(TIMEOUT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS))
                        .cause().isInstanceOf(RillException.class)
                        .hasMessageStartingWith("connection to 127.0.0.1:" + relay.port() + " lost")
                        .hasMessageContaining("before the settlement was confirmed: it may have been applied; if not, "
                                + "the message may be delivered again: a server still running releases the lease once"
                                + " it sees the connection gone, and a server that stopped holds it no more")
                        .message().doesNotContain("released by the server");
            } finally {
                viaRelay.close().block(TIMEOUT);
            }
        }
    }

    /** The server closed the connection itself (a CLOSE frame, here after its drain timeout): it released the lease. */
    @Test
    void anAckUnconfirmedWhenTheServerClosesTheConnectionSaysItReleasedTheLease() {
        Delivery<String> d = receive();
        java.util.concurrent.atomic.AtomicBoolean asked = holdSettles();
        var ack = d.ack().toFuture();
        await().atMost(TIMEOUT).untilTrue(asked);
        server.shutdown(Duration.ofMillis(100)).subscribe(null, e -> { });
        assertThatThrownBy(() -> ack.get(TIMEOUT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS))
                .cause().isInstanceOf(RillException.class)
                .hasMessageStartingWith("the server at 127.0.0.1:" + server.port() + " closed the connection (")
                .hasMessageContaining("before the settlement was confirmed: it may have been applied; if not, it "
                        + "released the lease as it closed");
    }

    /**
     * Connects a raw client, attaches it to "jobs" with two more messages sent (three in all) and leases all three:
     * their tags, so that one ACK frame names all three and the server acks them with one {@code ackEach} call.
     */
    private long[] leaseThreeRaw(RawClient raw) throws Exception {
        ReactiveQueue<String> q = local.queue(SPEC, Codec.utf8()).block(TIMEOUT);
        q.send(OutboundMessage.of("job 2")).block(TIMEOUT);
        q.send(OutboundMessage.of("job 3")).block(TIMEOUT);
        raw.send(new Frame.Hello(List.of(Limits.PROTOCOL_VERSION), "raw"));
        raw.readUntil(Frame.HelloOk.class);
        raw.send(Frame.Declare.of(1, SPEC));
        raw.readUntil(Frame.DeclareOk.class);
        raw.send(new Frame.Subscribe(10, "jobs", 0, 0, 0));
        raw.readUntil(Frame.SubscribeOk.class);
        raw.send(new Frame.Credit(10, 3));
        long[] tags = new long[3];
        for (int i = 0; i < 3; i++) {
            tags[i] = raw.readUntil(Frame.Deliver.class).deliveryTag();
        }
        assertThat(stats().inFlight()).isEqualTo(3);
        return tags;
    }

    @Test
    void aBatchedAckTheBrokerFailsIsAnsweredWithItsReasonAndTheLeasesStayTheConnections() throws Exception {
        try (RawClient raw = new RawClient(server.port())) {
            long[] tags = leaseThreeRaw(raw);
            failWith(new QueueClosedException("jobs"));
            raw.send(new Frame.Ack(20, tags));
            Frame.Error e = raw.readUntil(Frame.Error.class);
            assertThat(e.id()).isEqualTo(20);
            assertThat(e.code()).isEqualTo(ErrorCode.QUEUE_CLOSED);
            assertThat(e.message()).contains("ack failed on the server").contains("'jobs'");
            assertThat(ackEachCalls.get()).as("the batch went through one ackEach call").isEqualTo(1);
            assertThat(stats().inFlight()).isEqualTo(3);

            failing.set(null); // the broker works again: the connection still holds the three deliveries
            raw.send(new Frame.Ack(21, tags));
            assertThat(raw.readUntil(Frame.SettleResult.class)).isEqualTo(new Frame.SettleResult(21,
                    List.of(LeaseOutcome.OK, LeaseOutcome.OK, LeaseOutcome.OK)));
            assertThat(ackEachCalls.get()).isEqualTo(2);
        }
        assertThat(stats().size()).isZero();
        assertThat(stats().acked()).isEqualTo(3);
    }

    @Test
    void deliveriesWhoseBatchedAckFailedAreReleasedAtOnceWhenTheConnectionCloses() throws Exception {
        try (RawClient raw = new RawClient(server.port())) {
            long[] tags = leaseThreeRaw(raw);
            failWith(new RillException("the log failed"));
            raw.send(new Frame.Ack(20, tags));
            assertThat(raw.readUntil(Frame.Error.class).message()).contains("the log failed");
            failing.set(null);
        }
        await().atMost(TIMEOUT).until(() -> stats().ready() == 3); // not after the 10-minute visibility timeout
    }

    @Test
    void aBatchedAckWhoseCallThrowsIsAnsweredWithTheReasonAndTheConnectionKeepsItsLeases() throws Exception {
        try (RawClient raw = new RawClient(server.port())) {
            long[] tags = leaseThreeRaw(raw);
            throwing.set(new IllegalStateException("the broker is closing"));
            raw.send(new Frame.Ack(20, tags));
            Frame.Error e = raw.readUntil(Frame.Error.class);
            assertThat(e.id()).as("the ACK's answer, not the connection's end").isEqualTo(20);
            assertThat(e.message()).contains("the broker is closing");
            assertThat(stats().inFlight()).isEqualTo(3);

            throwing.set(null); // the connection is still open and still holds the three deliveries
            raw.send(new Frame.Ack(21, tags));
            assertThat(raw.readUntil(Frame.SettleResult.class)).isEqualTo(new Frame.SettleResult(21,
                    List.of(LeaseOutcome.OK, LeaseOutcome.OK, LeaseOutcome.OK)));
        }
        assertThat(stats().acked()).isEqualTo(3);
    }

    /** Serves {@code delegate}, with settles that fail while {@code failing} says so. */
    private static final class FailingSettles extends ForwardingBroker {
        private final AtomicReference<Function<String, Mono<Void>>> failing;
        private final AtomicReference<RuntimeException> throwing;
        private final java.util.concurrent.atomic.AtomicInteger ackEachCalls;

        FailingSettles(ReactiveBroker delegate, AtomicReference<Function<String, Mono<Void>>> failing,
                AtomicReference<RuntimeException> throwing, java.util.concurrent.atomic.AtomicInteger ackEachCalls) {
            super(delegate);
            this.failing = failing;
            this.throwing = throwing;
            this.ackEachCalls = ackEachCalls;
        }

        @Override
        public <T> Mono<ReactiveQueue<T>> queue(QueueSpec spec, Codec<T> codec) {
            return delegate.queue(spec, codec).map(q -> new Queue<>(q));
        }

        @Override
        public <T> Mono<ReactiveQueue<T>> lookup(String name, Codec<T> codec) {
            return delegate.lookup(name, codec).map(q -> new Queue<>(q));
        }

        private Mono<Void> settle(String op, Mono<Void> real) {
            return Mono.defer(() -> {
                Function<String, Mono<Void>> f = failing.get();
                return f == null ? real : f.apply(op);
            });
        }

        /** Implements the transports' batched ack (AckEach) over the real queue's, failing while told to. */
        private final class Queue<T> extends ForwardingQueue<T> implements AckEach<T> {

            Queue(ReactiveQueue<T> q) {
                super(q);
            }

            @Override
            public Flux<Delivery<T>> receive(ReceiveOptions options) {
                return delegate.receive(options).map(Failing::new);
            }

            @Override
            public Mono<Delivery<T>> receiveOne(Duration wait) {
                return delegate.receiveOne(wait).map(Failing::new);
            }

            @Override
            public Mono<Void> ackAll(Collection<? extends Delivery<T>> deliveries) {
                return Mono.error(new UnsupportedOperationException());
            }

            @Override
            @SuppressWarnings("unchecked")
            public Mono<List<LeaseOutcome>> ackEach(List<? extends Delivery<T>> deliveries) {
                ackEachCalls.incrementAndGet();
                RuntimeException thrown = throwing.get();
                if (thrown != null) {
                    throw thrown;
                }
                List<Delivery<T>> real = new java.util.ArrayList<>(deliveries.size());
                for (Delivery<T> d : deliveries) {
                    real.add(((Failing<T>) d).real());
                }
                return settle("ack", Mono.empty())
                        .then(Mono.defer(() -> ((AckEach<T>) delegate).ackEach(real)));
            }
        }

        /** Settles through the real delivery unless told to fail; the server's own give-backs (release) always do. */
        private final class Failing<T> extends ForwardingDelivery<T> {

            Failing(Delivery<T> d) {
                super(d);
            }

            Delivery<T> real() {
                return delegate;
            }

            @Override
            public Mono<Void> ack() {
                return settle("ack", delegate.ack());
            }

            @Override
            public Mono<Void> nack() {
                return settle("nack", delegate.nack());
            }

            @Override
            public Mono<Void> nack(Duration delay) {
                return settle("nack", delegate.nack(delay));
            }

            @Override
            public Mono<Void> extend(Duration duration) {
                return settle("extend", delegate.extend(duration));
            }

            @Override
            public Mono<Void> reject(String reason) {
                return settle("reject", delegate.reject(reason));
            }
        }
    }
}
