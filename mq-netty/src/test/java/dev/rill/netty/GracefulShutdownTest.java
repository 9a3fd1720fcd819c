package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.reactivestreams.Subscription;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.SignalType;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * Graceful shutdown over loopback: the server stops taking new work, tells clients it goes away, keeps settling the
 * deliveries they hold until they are all settled (or the drain timeout releases the rest), then closes.
 */
class GracefulShutdownTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.clockOnly();
    private final VirtualTimeScheduler vts = fixture.clock();

    private RillServer server(ReactiveBroker broker) {
        return server(ServerOptions.defaults().broker(broker));
    }

    private RillServer server(ServerOptions options) {
        return fixture.bind(options);
    }

    private ReactiveBroker client(RillServer s, ClientOptions options) {
        return fixture.connect(s, options);
    }

    private static QueueStats stats(ReactiveBroker b, String queue) {
        return ServingFixture.stats(b, queue);
    }

    /** A receive stream that requests {@code n} and keeps what it gets, without settling anything. */
    private static final class Holder extends BaseSubscriber<Delivery<String>> {
        final int n;
        final List<Delivery<String>> got = new CopyOnWriteArrayList<>();
        final AtomicReference<SignalType> end = new AtomicReference<>();
        final AtomicReference<Throwable> error = new AtomicReference<>();

        Holder(int n) {
            this.n = n;
        }

        @Override
        protected void hookOnSubscribe(Subscription subscription) {
            request(n);
        }

        @Override
        protected void hookOnNext(Delivery<String> d) {
            got.add(d);
        }

        @Override
        protected void hookOnError(Throwable t) {
            error.set(t);
        }

        @Override
        protected void hookFinally(SignalType type) {
            end.set(type);
        }
    }

    @Test
    void drainTimeoutIsACopyOnWriteOptionAndShutdownIsIdempotent() {
        ServerOptions defaults = ServerOptions.defaults();
        ServerOptions three = defaults.drainTimeout(Duration.ofSeconds(3));
        assertThat(defaults.drainTimeout()).isEqualTo(ServerOptions.DEFAULT_DRAIN_TIMEOUT)
                .isEqualTo(Duration.ofSeconds(20));
        assertThat(three.drainTimeout()).isEqualTo(Duration.ofSeconds(3));
        assertThatThrownBy(() -> defaults.drainTimeout(Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("drainTimeout");
        RillServer s = server(three); // creates (and owns) its broker
        reactor.core.publisher.Mono<Void> first = s.shutdown();
        assertThat(s.shutdown(Duration.ZERO)).isSameAs(first);
        first.block(TIMEOUT); // nobody connected: nothing to wait for
        assertThat(s.isDisposed()).isTrue();
        reactor.test.StepVerifier.create(s.broker().queue(QueueSpec.named("after"), Codec.utf8()))
                .expectError(dev.rill.reactive.QueueClosedException.class).verify(TIMEOUT);
    }

    @Test
    void acksDuringTheDrainSucceedAndTheMessagesStayDeletedAfterARestart() throws Exception {
        Path data = dir.resolve("data");
        ReactiveBroker durable = Rill.embedded(data, DurabilityOptions.defaults(), vts);
        RillServer server = server(durable);
        ReactiveBroker client = client(server, ClientOptions.defaults().reconnectAttempts(0));
        ReactiveQueue<String> q = client.queue(QueueSpec.named("jobs"), Codec.utf8()).block(TIMEOUT);
        for (int i = 0; i < 8; i++) {
            q.send(OutboundMessage.of("job-" + i)).block(TIMEOUT);
        }
        Holder holder = new Holder(5);
        q.receive().subscribe(holder);
        await().atMost(TIMEOUT).until(() -> holder.got.size() == 5);

        CompletableFuture<Void> shutdown = server.shutdown(Duration.ofSeconds(30)).toFuture();
        // the client is told: its stream ends cleanly (no reconnection configured), nothing more is asked for
        await().atMost(TIMEOUT).until(() -> holder.end.get() != null);
        assertThat(holder.end.get()).isEqualTo(SignalType.ON_COMPLETE);
        assertThat(shutdown).isNotDone(); // five deliveries are still held
        assertThat(server.isDisposed()).as("no new connections").isTrue();

        for (Delivery<String> d : holder.got) {
            d.ack().block(TIMEOUT); // settled during the drain: each ack is confirmed (durable)
            assertThat(d.isSettled()).isTrue();
        }
        // all settled: the server closes the connection long before the 30 s drain timeout
        shutdown.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        QueueStats before = stats(durable, "jobs");
        assertThat(before.acked()).isEqualTo(5);
        assertThat(before.size()).isEqualTo(3);
        assertThat(before.inFlight()).isZero();
        durable.close().block(TIMEOUT);

        ReactiveBroker reopened = Rill.embedded(data, DurabilityOptions.defaults(), vts);
        fixture.closeAtEnd(reopened);
        ReactiveQueue<String> again = reopened.queue(QueueSpec.named("jobs"), Codec.utf8()).block(TIMEOUT);
        List<String> left = new ArrayList<>();
        Delivery<String> d;
        while ((d = again.receiveOne(Duration.ZERO).block(TIMEOUT)) != null) {
            left.add(d.payload());
        }
        assertThat(left).containsExactly("job-5", "job-6", "job-7"); // the acked ones are not redelivered
    }

    @Test
    void deliveriesNotSettledByTheDrainTimeoutAreReleasedToTheNextConsumer() throws Exception {
        ReactiveBroker local = Rill.inMemory(vts);
        fixture.closeAtEnd(local);
        RillServer first = server(local);
        ReactiveBroker client = client(first, ClientOptions.defaults().reconnectAttempts(0));
        ReactiveQueue<String> q = client.queue(QueueSpec.named("slow").maxDeliveries(5).deadLetterQueue("slow.dlq"), Codec.utf8())
                .block(TIMEOUT);
        for (int i = 0; i < 4; i++) {
            q.send(OutboundMessage.of("m" + i)).block(TIMEOUT);
        }
        Holder holder = new Holder(3);
        q.receive().subscribe(holder);
        await().atMost(TIMEOUT).until(() -> holder.got.size() == 3);

        holder.got.get(0).ack().block(TIMEOUT); // one settled during the drain, two never
        first.shutdown(Duration.ofMillis(300)).block(TIMEOUT);
        QueueStats s = stats(local, "slow");
        assertThat(s.inFlight()).as("released at the deadline, not held until the visibility timeout").isZero();
        assertThat(s.ready()).isEqualTo(3);
        assertThat(s.acked()).isEqualTo(1);
        assertThatThrownBy(() -> holder.got.get(1).ack().block(TIMEOUT)).isNotNull();

        RillServer second = server(local);
        ReactiveBroker next = client(second, ClientOptions.defaults().reconnectAttempts(0));
        ReactiveQueue<String> q2 = next.lookup("slow", Codec.utf8()).block(TIMEOUT);
        List<String> payloads = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Delivery<String> d = q2.receiveOne(Duration.ZERO).block(TIMEOUT);
            payloads.add(d.payload() + "#" + d.deliveryCount());
            d.ack().block(TIMEOUT);
        }
        // the two released deliveries come back (their delivery was counted: the consumer had them); m3 never left
        assertThat(payloads).containsExactlyInAnyOrder("m1#2", "m2#2", "m3#1");
    }

    /** A client of {@code server} holding {@code held} deliveries of queue "held", which got {@code sent} messages. */
    private Holder holding(RillServer server, int sent, int held) {
        ReactiveQueue<String> q = client(server, ClientOptions.defaults().reconnectAttempts(0))
                .queue(QueueSpec.named("held"), Codec.utf8()).block(TIMEOUT);
        q.sendMany(reactor.core.publisher.Flux.range(0, sent).map(i -> OutboundMessage.of("m" + i))).blockLast(TIMEOUT);
        Holder holder = new Holder(held);
        q.receive().subscribe(holder);
        await().atMost(TIMEOUT).until(() -> holder.got.size() == held);
        return holder;
    }

    @Test
    void endDrainClosesTheConnectionsAtOnceAndReleasesWhatTheyHeld() throws Exception {
        ReactiveBroker local = Rill.inMemory(vts);
        fixture.closeAtEnd(local);
        RillServer server = server(local);
        Holder holder = holding(server, 3, 2);

        // an hour's drain: only endDrain can end it within the test's bound
        CompletableFuture<Void> shutdown = server.shutdown(Duration.ofHours(1)).toFuture();
        await().atMost(TIMEOUT).until(() -> holder.end.get() != null); // the server said it goes away
        assertThat(shutdown).isNotDone(); // two deliveries are held
        server.endDrain();
        shutdown.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        QueueStats s = stats(local, "held");
        assertThat(s.inFlight()).as("released when the drain was ended").isZero();
        assertThat(s.ready()).isEqualTo(3);
        assertThatThrownBy(() -> holder.got.get(0).ack().block(TIMEOUT)).isNotNull();
        server.endDrain(); // idempotent
    }

    @Test
    void endDrainBeforeTheShutdownMakesItsDrainZero() throws Exception {
        ReactiveBroker local = Rill.inMemory(vts);
        fixture.closeAtEnd(local);
        RillServer server = server(local);
        holding(server, 1, 1);

        server.endDrain(); // a second signal that came before the drain began
        assertThat(server.isDisposed()).as("not a shutdown by itself").isFalse();
        server.shutdown(Duration.ofHours(1)).block(TIMEOUT);
        assertThat(stats(local, "held").inFlight()).isZero();
    }

    @Test
    void aSendWaitingForRoomWhenTheDrainStartsIsStoredAndAnswered() throws Exception {
        ReactiveBroker local = Rill.inMemory(vts);
        fixture.closeAtEnd(local);
        RillServer server = server(local);
        ReactiveBroker client = client(server, ClientOptions.defaults().reconnectAttempts(0));
        ReactiveQueue<String> q = client.queue(QueueSpec.named("tight").capacity(1)
                .overflow(dev.rill.core.Overflow.WAIT), Codec.utf8()).block(TIMEOUT);
        q.send(OutboundMessage.of("first")).block(TIMEOUT);
        Holder holder = new Holder(1);
        q.receive().subscribe(holder);
        await().atMost(TIMEOUT).until(() -> holder.got.size() == 1);
        CompletableFuture<?> waiting = q.send(OutboundMessage.of("second")).toFuture(); // the queue is full
        // two round trips on the same connection: the second request is written after the SEND, and the server
        // reads a connection's frames in order, so once it is answered the SEND waits on the server
        client.list().block(TIMEOUT);
        client.list().block(TIMEOUT);
        assertThat(waiting).isNotDone();
        assertThat(stats(local, "tight").sent()).isEqualTo(1);

        CompletableFuture<Void> shutdown = server.shutdown(Duration.ofSeconds(30)).toFuture();
        await().atMost(TIMEOUT).until(() -> holder.end.get() != null);
        assertThat(waiting).isNotDone();
        holder.got.get(0).ack().block(TIMEOUT); // frees the room the accepted send waits for
        waiting.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS); // answered during the drain: stored
        shutdown.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        QueueStats s = stats(local, "tight");
        assertThat(s.ready()).isEqualTo(1);
        assertThat(s.sent()).isEqualTo(2);
    }

    @Test
    void sendsAndSubscriptionsDuringTheDrainAreRefusedAndExistingSendsComplete() throws Exception {
        ReactiveBroker local = Rill.inMemory(vts);
        fixture.closeAtEnd(local);
        RillServer server = server(local);
        ReactiveBroker client = client(server, ClientOptions.defaults().reconnectAttempts(0));
        ReactiveQueue<String> q = client.queue(QueueSpec.named("busy"), Codec.utf8()).block(TIMEOUT);
        q.send(OutboundMessage.of("held")).block(TIMEOUT);
        q.send(OutboundMessage.of("raw")).block(TIMEOUT);
        Holder holder = new Holder(1);
        q.receive().subscribe(holder);
        await().atMost(TIMEOUT).until(() -> holder.got.size() == 1);

        try (RawClient raw = new RawClient(server.port())) {
            raw.send(new Frame.Hello(List.of(2), "raw"));
            assertThat(raw.readUntil(Frame.HelloOk.class).version()).isEqualTo(2);
            raw.send(new Frame.Describe(1, "busy"));
            raw.readUntil(Frame.DescribeOk.class);
            raw.send(new Frame.Subscribe(2, "busy", 0, 0, 0));
            raw.readUntil(Frame.SubscribeOk.class);
            raw.send(new Frame.Credit(2, 1));
            Frame.Deliver rawHeld = raw.readUntil(Frame.Deliver.class);

            CompletableFuture<Void> shutdown = server.shutdown(Duration.ofSeconds(30)).toFuture();
            Frame.GoAway goAway = raw.readUntil(Frame.GoAway.class);
            assertThat(goAway.drainMillis()).isEqualTo(30_000);
            Frame.SubscriptionEnd end = raw.readUntil(Frame.SubscriptionEnd.class);
            assertThat(end.code()).isEqualTo(ErrorCode.SHUTTING_DOWN);
            raw.send(new Frame.Subscribe(3, "busy", 0, 0, 0));
            Frame.Error refused = raw.readUntil(Frame.Error.class);
            assertThat(refused.id()).isEqualTo(3);
            assertThat(refused.code()).isEqualTo(ErrorCode.SHUTTING_DOWN);
            raw.send(new Frame.Send(4, "busy", null, List.of(new dev.rill.netty.internal.protocol.WireMessage(
                    new byte[] {1}, null, 0, 0, 0, null, java.util.Map.of()))));
            Frame.Error sendRefused = raw.readUntil(Frame.Error.class);
            assertThat(sendRefused.id()).isEqualTo(4);
            assertThat(sendRefused.code()).isEqualTo(ErrorCode.SHUTTING_DOWN);
            raw.send(new Frame.Extend(5, 60_000, new long[] {rawHeld.deliveryTag()}));
            Frame.ExtendResult extended = raw.readUntil(Frame.ExtendResult.class);
            assertThat(extended.deadlines()).containsExactly(vts.now(TimeUnit.MILLISECONDS) + 60_000);
            raw.send(new Frame.Ack(6, new long[] {rawHeld.deliveryTag()}));
            assertThat(raw.readUntil(Frame.SettleResult.class).outcomes())
                    .containsExactly(dev.rill.core.LeaseOutcome.OK);
            // this connection holds nothing any more: it is closed at once, with CLOSE(SHUTTING_DOWN)
            Frame.Close close = raw.readUntil(Frame.Close.class);
            assertThat(close.code()).isEqualTo(ErrorCode.SHUTTING_DOWN);
            assertThat(close.reason()).isEqualTo("drained");
            assertThat(shutdown).isNotDone(); // the other client still holds a delivery

            holder.got.get(0).ack().block(TIMEOUT);
            shutdown.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        }
        assertThat(stats(local, "busy").size()).isZero();
        assertThat(stats(local, "busy").sent()).isEqualTo(2); // the refused SEND stored nothing
    }

    @Test
    void aClientWithReconnectionResubscribesToTheNextServerAndItsSendsWaitForIt() throws Exception {
        ReactiveBroker local = Rill.inMemory(vts);
        fixture.closeAtEnd(local);
        RillServer first = server(local);
        int port = first.port();
        // never gives up: the wait for the next server is bounded below, not by attempts made while it binds
        ReactiveBroker client = client(first, ClientOptions.defaults().reconnectAttempts(Integer.MAX_VALUE)
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(100)));
        ReactiveQueue<String> q = client.queue(QueueSpec.named("rolling"), Codec.utf8()).block(TIMEOUT);
        q.send(OutboundMessage.of("before")).block(TIMEOUT);
        Holder holder = new Holder(3);
        q.receive().subscribe(holder);
        await().atMost(TIMEOUT).until(() -> holder.got.size() == 1);
        Delivery<String> held = holder.got.get(0);

        CompletableFuture<Void> shutdown = first.shutdown(Duration.ofSeconds(30)).toFuture();
        await().atMost(TIMEOUT).until(() -> first.isDisposed());
        // a send during the drain is not stored by the draining server: it waits for the next one
        CompletableFuture<?> duringDrain = q.send(OutboundMessage.of("during")).toFuture();
        CompletableFuture<ReactiveQueue<String>> lookupDuringDrain = client.lookup("rolling", Codec.utf8())
                .toFuture(); // a request: refused by the draining server or held back, then made on the next one
        held.ack().block(TIMEOUT); // still settled on the draining connection
        shutdown.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(holder.end.get()).as("the stream waits for the next server").isNull();

        // a send made while no server listens waits for the reconnection, then goes to the next server
        CompletableFuture<?> pending = q.send(OutboundMessage.of("after")).toFuture();
        RillServer second = server(ServerOptions.defaults().broker(local).port(port));
        pending.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        duringDrain.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(lookupDuringDrain.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).spec().name())
                .isEqualTo("rolling");
        await().atMost(TIMEOUT).until(() -> holder.got.size() == 3);
        assertThat(holder.got.subList(1, 3)).extracting(Delivery::payload).containsExactlyInAnyOrder("during", "after");
        for (Delivery<String> d : holder.got.subList(1, 3)) {
            assertThat(d.deliveryCount()).isEqualTo(1);
            d.ack().block(TIMEOUT);
        }
        assertThat(stats(local, "rolling").size()).isZero();
        assertThat(stats(local, "rolling").sent()).isEqualTo(3);
        assertThat(second.connectionCount()).isEqualTo(1);
    }
}
