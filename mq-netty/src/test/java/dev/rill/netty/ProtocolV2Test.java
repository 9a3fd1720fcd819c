package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.LeaseOutcome;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.transport.RemoteBroker;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.QueueNotFoundException;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.ReceiveOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.test.StepVerifier;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * The protocol-2 additions end to end: EXTEND answered with the server's deadline, DESCRIBE (passive declare)
 * behind {@code ReactiveBroker.lookup}, RELEASE of deliveries a cancelled stream never emitted, and version-1
 * clients still served.
 */
class ProtocolV2Test {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onVirtualTime();
    private final VirtualTimeScheduler serverClock = fixture.clock();
    private final ReactiveBroker local = fixture.local();

    private RillServer server(ServerOptions options) {
        return fixture.serve(options);
    }

    private ReactiveBroker client(RillServer s, ClientOptions options) {
        return fixture.connect(s, options);
    }

    private QueueStats stats(String queue) {
        return local.stats().block(TIMEOUT).stream().filter(q -> q.name().equals(queue)).findFirst().orElseThrow();
    }

    @Test
    void extendGivesTheDeliveryTheServersNewDeadlineNotAClientEstimate() {
        serverClock.advanceTimeBy(Duration.ofHours(5)); // the server's queue clock is far from the client's
        VirtualTimeScheduler clientClock = VirtualTimeScheduler.create();
        try {
            RillServer server = server(ServerOptions.defaults());
            ReactiveBroker client = client(server, ClientOptions.defaults().scheduler(clientClock)
                    .reconnectAttempts(0));
            ReactiveQueue<String> q = client.queue(QueueSpec.named("ext").visibilityTimeout(Duration.ofSeconds(30)),
                    Codec.utf8()).block(TIMEOUT);
            q.send(OutboundMessage.of("m")).block(TIMEOUT);
            Delivery<String> d = q.receiveOne(Duration.ZERO).block(TIMEOUT);
            long serverNow = serverClock.now(TimeUnit.MILLISECONDS);
            assertThat(d.deadline()).isEqualTo(serverNow + 30_000);
            serverClock.advanceTimeBy(Duration.ofSeconds(20));
            d.extend(Duration.ofSeconds(45)).block(TIMEOUT);
            assertThat(d.deadline()).isEqualTo(serverNow + 20_000 + 45_000)
                    .isNotEqualTo(clientClock.now(TimeUnit.MILLISECONDS) + 45_000);
            serverClock.advanceTimeBy(Duration.ofSeconds(44));
            assertThat(stats("ext").inFlight()).isEqualTo(1);
            d.ack().block(TIMEOUT);
            assertThat(stats("ext").size()).isZero();
        } finally {
            clientClock.dispose();
        }
    }

    @Test
    void lookupAttachesToAnExistingQueueWithItsSettingsAndNeedsARightOnIt() {
        QueueSpec spec = QueueSpec.named("orders").visibilityTimeout(Duration.ofSeconds(90)).maxDeliveries(3)
                .deadLetterQueue("orders.dlq").capacity(500);
        local.queue(spec, Codec.bytes()).block(TIMEOUT);
        RillServer server = server(ServerOptions.defaults()
                .token("worker", Permissions.none().allow("orders", Permission.RECEIVE))
                .token("producer", Permissions.none().allow("orders", Permission.SEND))
                .token("other", Permissions.none().allow("billing", Permission.MANAGE)));

        ReactiveBroker producer = client(server, ClientOptions.defaults().token("producer").reconnectAttempts(3)
                .reconnectBackoff(Duration.ofMillis(10), Duration.ofMillis(50)));
        ReactiveQueue<String> out = producer.lookup("orders", Codec.utf8()).block(TIMEOUT);
        assertThat(out.spec()).isEqualTo(spec.validate());
        out.send(OutboundMessage.of("first")).block(TIMEOUT);
        // after a reconnect the queue is described again (never created) and keeps working
        ((RemoteBroker) producer).dropConnection();
        out.send(OutboundMessage.of("second")).block(TIMEOUT);

        ReactiveBroker worker = client(server, ClientOptions.defaults().token("worker").reconnectAttempts(0));
        ReactiveQueue<String> in = worker.lookup("orders", Codec.utf8()).block(TIMEOUT);
        Delivery<String> d = in.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(d.payload()).isEqualTo("first");
        d.ack().block(TIMEOUT);

        StepVerifier.create(worker.lookup("missing", Codec.utf8()))
                .expectError(AccessDeniedException.class).verify(TIMEOUT); // no right on it: existence not told
        ReactiveBroker other = client(server, ClientOptions.defaults().token("other").reconnectAttempts(0));
        StepVerifier.create(other.lookup("orders", Codec.utf8()))
                .expectError(AccessDeniedException.class).verify(TIMEOUT);
        StepVerifier.create(other.lookup("billing", Codec.utf8()))
                .expectError(QueueNotFoundException.class).verify(TIMEOUT);
        assertThat(local.list().block(TIMEOUT)).containsExactly("orders", "orders.dlq");
    }

    @Test
    void cancellingWithDeliveriesInTransitNeverCountsThemOrDeadLettersThem() {
        RillServer server = server(ServerOptions.defaults());
        ReactiveBroker client = client(server, ClientOptions.defaults().reconnectAttempts(0));
        ReactiveQueue<String> q = client.queue(QueueSpec.named("poison-safe").maxDeliveries(2)
                .deadLetterQueue("poison-safe.dlq"), Codec.utf8()).block(TIMEOUT);
        for (int i = 0; i < 12; i++) {
            q.send(OutboundMessage.of("m" + i)).block(TIMEOUT);
        }
        List<Integer> counts = new ArrayList<>();
        for (int round = 0; round < 6; round++) {
            // unbounded demand: the client grants a whole window, the server sends every ready message, the
            // stream takes one and cancels: the others are in transit or buffered, never emitted
            Delivery<String> d = q.receive().next().block(TIMEOUT);
            counts.add(d.deliveryCount());
            d.ack().block(TIMEOUT);
            await().atMost(TIMEOUT).until(() -> stats("poison-safe").inFlight() == 0);
            assertThat(stats("poison-safe").deadLettered()).as("after round %d", round).isZero();
            assertThat(stats("poison-safe").ready()).isEqualTo(11 - round);
        }
        // a prefetching stream cancelled at once: its server-side buffer and what it was sent go back too
        q.receive(ReceiveOptions.defaults().prefetch(8)).take(2, false).doOnNext(d -> counts.add(d.deliveryCount()))
                .concatMap(Delivery::ack).blockLast(TIMEOUT);
        await().atMost(TIMEOUT).until(() -> stats("poison-safe").inFlight() == 0);

        assertThat(counts).hasSize(8).containsOnly(1);
        QueueStats s = stats("poison-safe");
        assertThat(s.deadLettered()).isZero();
        assertThat(s.ready()).isEqualTo(4);
        assertThat(stats("poison-safe.dlq").size()).isZero();
        for (int i = 0; i < 4; i++) {
            Delivery<String> d = q.receiveOne(Duration.ZERO).block(TIMEOUT);
            assertThat(d.deliveryCount()).as("delivery count of %s", d.payload()).isEqualTo(1);
            d.ack().block(TIMEOUT);
        }
    }

    @Test
    void aVersionOneClientIsServedWithVersionOneFrames() throws Exception {
        local.queue(QueueSpec.named("v1"), Codec.bytes()).block(TIMEOUT)
                .send(OutboundMessage.of(new byte[] {1})).block(TIMEOUT);
        RillServer server = server(ServerOptions.defaults());
        try (RawClient raw = new RawClient(server.port())) {
            raw.send(new Frame.Hello(List.of(1), "old"));
            assertThat(raw.readUntil(Frame.HelloOk.class).version()).isEqualTo(1);
            raw.send(Frame.Declare.of(1, QueueSpec.named("v1")));
            raw.readUntil(Frame.DeclareOk.class);
            raw.send(new Frame.Subscribe(2, "v1", 0, 0, 0));
            raw.readUntil(Frame.SubscribeOk.class);
            raw.send(new Frame.Credit(2, 1));
            Frame.Deliver d = raw.readUntil(Frame.Deliver.class);
            raw.send(new Frame.Extend(3, 5_000, new long[] {d.deliveryTag()}));
            Frame answer = raw.read();
            while (!(answer instanceof Frame.SettleResult) && !(answer instanceof Frame.ExtendResult)) {
                answer = raw.read();
            }
            assertThat(answer).isEqualTo(new Frame.SettleResult(3, List.of(LeaseOutcome.OK)));

            // the shutdown ends its subscription with the version-1 SUBSCRIPTION_END code, no GOAWAY
            var shutdown = server.shutdown(Duration.ofSeconds(30)).toFuture();
            Frame f = raw.read();
            while (!(f instanceof Frame.SubscriptionEnd)) {
                assertThat(f).isNotInstanceOf(Frame.GoAway.class);
                f = raw.read();
            }
            assertThat(((Frame.SubscriptionEnd) f).code()).isEqualTo(ErrorCode.SHUTTING_DOWN);
            raw.send(new Frame.Ack(4, new long[] {d.deliveryTag()}));
            assertThat(raw.readUntil(Frame.SettleResult.class).outcomes()).containsExactly(LeaseOutcome.OK);
            assertThat(raw.readUntil(Frame.Close.class).code()).isEqualTo(ErrorCode.SHUTTING_DOWN);
            shutdown.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        }
        assertThat(stats("v1").size()).isZero();
    }
}
