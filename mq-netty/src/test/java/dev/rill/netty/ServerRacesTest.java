package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueEvent;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.core.Overflow;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.SendReceipt;
import dev.rill.netty.internal.protocol.SendStatus;
import dev.rill.netty.internal.protocol.WireMessage;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.HeldEncoding;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Races between a server connection's event loop and the threads its broker calls complete on: each test sets up
 * the interleaving the race needs (work completing on a thread other than the connection's loop while that loop
 * changes state or stops) and checks that nothing is lost or leaked.
 */
class ServerRacesTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onVirtualTime();
    private final ReactiveBroker local = fixture.local();
    private RillServer server;

    @AfterEach
    void tearDown() {
        ServingFixture.close(null, server); // before the fixture closes the broker
    }

    private QueueStats stats(String queue) {
        return fixture.stats(queue);
    }

    /** Opens a raw connection (version 4) that described {@code queue} (DESCRIBE 1). */
    private static RawClient described(RillServer server, String queue) throws Exception {
        RawClient raw = new RawClient(server.port());
        raw.send(new Frame.Hello(List.of(4), "raw"));
        raw.readUntil(Frame.HelloOk.class);
        raw.send(new Frame.Describe(1, queue));
        raw.readUntil(Frame.DescribeOk.class);
        return raw;
    }

    /** Opens a raw connection subscribed to {@code queue} with {@code credit}, the credit applied on return. */
    private static RawClient subscribed(RillServer server, String queue, int credit) throws Exception {
        RawClient raw = described(server, queue);
        raw.send(new Frame.Subscribe(2, queue, 0, 0, 0));
        raw.readUntil(Frame.SubscribeOk.class);
        raw.send(new Frame.Credit(2, credit));
        raw.send(new Frame.Ping(7));
        raw.readUntil(Frame.Pong.class); // frames are handled in order: the credit was requested
        return raw;
    }

    /**
     * A delivery emitted on another thread hops to the connection's loop; when the server stopped its own event
     * loops meanwhile (disposeNow with ioThreads), the hop is refused. The lease must go back to the queue at
     * once, not stay taken until its visibility timeout (virtual here: forever).
     */
    @Test
    void aDeliveryHandedToAStoppedEventLoopGoesBackToTheQueue() throws Exception {
        ReactiveQueue<String> q = local.queue(QueueSpec.named("q"), Codec.utf8()).block(TIMEOUT);
        server = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(0).broker(local).ioThreads(1),
                TIMEOUT);
        try (RawClient raw = subscribed(server, "q", 1)) {
            Thread sender = new Thread(() -> q.send(OutboundMessage.of("m")).block(TIMEOUT), "race-sender");
            sender.start();
            await().atMost(TIMEOUT).until(() -> stats("q").inFlight() == 1); // leased for the remote subscription
            server.disposeNow(TIMEOUT);
            server = null;
            sender.join(TimeUnit.SECONDS.toMillis(20));
        }
        await().atMost(TIMEOUT).until(() -> stats("q").inFlight() == 0);
        Delivery<String> again = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(again).isNotNull();
        assertThat(again.payload()).isEqualTo("m");
    }

    /**
     * A SEND waiting for room (WAIT) is stored on the thread that freed the room, and its result hops to the
     * connection's loop; a CANCEL_SEND read before that hop ran must not answer CANCELLED for a message that was
     * stored (protocol: CANCELLED only for unstored messages), or a client would send it again.
     */
    @Test
    void aCancelSendCrossingTheStoreOfItsWaitingMessageAnswersItStored() throws Exception {
        ReactiveQueue<String> q = local.queue(QueueSpec.named("full").capacity(1), Codec.utf8()).block(TIMEOUT);
        q.send(OutboundMessage.of("first")).block(TIMEOUT);
        server = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(0).broker(local), TIMEOUT);
        try (RawClient raw = waitingSend(server, "full", "second")) {
            Thread acker = new Thread(() -> q.receiveOne(Duration.ZERO).flatMap(Delivery::ack).block(TIMEOUT),
                    "race-acker");
            acker.start(); // frees room: the waiting SEND is stored on this thread
            // stored, and the acker is done with the store and its result (finished, or paused after recording it):
            // a cancel crossing the store itself is aCancelSendMeetingTheStoreOfItsWaitingMessageAnswersItStored
            await().atMost(TIMEOUT).until(() -> stats("full").sent() == 2
                    && (acker.getState() == Thread.State.TERMINATED || acker.getState() == Thread.State.TIMED_WAITING));
            raw.send(new Frame.CancelSend(2));
            Frame.SendReceipts answer = raw.readUntil(Frame.SendReceipts.class);
            acker.join(TimeUnit.SECONDS.toMillis(20));
            assertThat(answer.requestId()).isEqualTo(2);
            assertThat(answer.receipts()).singleElement()
                    .satisfies(r -> assertThat(r.status()).isEqualTo(SendStatus.ENQUEUED));
        }
        assertThat(stats("full").ready()).isEqualTo(1); // "second" is stored, as the receipt says
    }

    /**
     * A CANCEL_SEND read while the store of its waiting message is under way on another thread (the thread whose ack
     * freed room, here held inside the durable queue's encoding of the payload, which comes before the queue's lock)
     * must not answer CANCELLED: the message is being stored. The server waits for that store and answers its receipt.
     */
    @Test
    void aCancelSendMeetingTheStoreOfItsWaitingMessageAnswersItStored(@TempDir Path dir) throws Exception {
        HeldEncoding held = new HeldEncoding("second");
        ReactiveQueue<String> q = servedDurably(dir, held);
        SendReceipt answer = cancelWhileStoring(q, held, () -> { });
        assertThat(answer.status()).isEqualTo(SendStatus.ENQUEUED);
        assertThat(q.peek(10).map(Message::payload).collectList().block(TIMEOUT)).containsExactly("second");
    }

    /**
     * A CANCEL_SEND that meets the store of its waiting message, a store that then finds the queue full again (another
     * producer took the room meanwhile), answers CANCELLED: the message is not stored, and it does not go back to
     * waiting for room with its SEND cancelled and unanswered.
     */
    @Test
    void aCancelSendMeetingAStoreThatFindsTheQueueFullAgainAnswersCancelled(@TempDir Path dir) throws Exception {
        HeldEncoding held = new HeldEncoding("second");
        ReactiveQueue<String> q = servedDurably(dir, held);
        // "third" takes the room "second" is being encoded for
        SendReceipt answer = cancelWhileStoring(q, held, () -> q.send(OutboundMessage.of("third")).block(TIMEOUT));
        assertThat(answer.status()).isEqualTo(SendStatus.CANCELLED);
        assertThat(q.peek(10).map(Message::payload).collectList().block(TIMEOUT)).containsExactly("third");
    }

    /** @return the queue "full" (capacity 1, holding "first") of a durable broker with that codec, served */
    private ReactiveQueue<String> servedDurably(Path dir, HeldEncoding codec) {
        ReactiveBroker durable = fixture.closeAtEnd(Rill.embedded(dir));
        ReactiveQueue<String> q = durable.queue(QueueSpec.named("full").capacity(1), codec).block(TIMEOUT);
        q.send(OutboundMessage.of("first")).block(TIMEOUT);
        server = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(0).broker(durable), TIMEOUT);
        return q;
    }

    /**
     * SEND 2 of "second" waits for room in {@code q}; room is freed on another thread, whose store of "second" is held
     * while {@code meanwhile} runs and CANCEL_SEND 2 is handled (a PING after it answered), then released.
     *
     * @return the one receipt that answers SEND 2
     */
    private SendReceipt cancelWhileStoring(ReactiveQueue<String> q, HeldEncoding held, Runnable meanwhile)
            throws Exception {
        try (RawClient raw = waitingSend(server, "full", "second")) {
            List<Frame.SendReceipts> answers = held.whileStoring(q, () -> {
                meanwhile.run();
                raw.send(new Frame.CancelSend(2));
                raw.send(new Frame.Ping(8));
                List<Frame.SendReceipts> early = new java.util.ArrayList<>();
                Frame f;
                while (!((f = raw.read()) instanceof Frame.Pong)) {
                    assertThat(f).as("the connection is open").isNotNull();
                    if (f instanceof Frame.SendReceipts r) {
                        early.add(r);
                    }
                }
                return early;
            });
            if (answers.isEmpty()) {
                answers = List.of(raw.readUntil(Frame.SendReceipts.class));
            }
            assertThat(answers).singleElement().satisfies(a -> assertThat(a.requestId()).isEqualTo(2));
            assertThat(answers.get(0).receipts()).hasSize(1);
            return answers.get(0).receipts().get(0);
        }
    }

    /** Opens a raw connection that sent SEND 2 of {@code payload} to the full {@code queue}, waiting for room. */
    private static RawClient waitingSend(RillServer server, String queue, String payload) throws Exception {
        RawClient raw = described(server, queue);
        raw.send(new Frame.Send(2, queue, Overflow.WAIT, List.of(new WireMessage(
                payload.getBytes(StandardCharsets.UTF_8), null, 0, 0, 0, null, Map.of()))));
        raw.send(new Frame.Ping(7));
        raw.readUntil(Frame.Pong.class); // the SEND waits for room
        return raw;
    }

    /**
     * An event the queue emits on another thread (here the sender's) hops to the connection's loop; the end of the
     * events stream, signalled on the loop itself (the queue deleted by a DELETE of this connection), must come after
     * it, as in one JVM, not overtake it and drop it.
     */
    @Test
    void anEventOnItsWayToTheLoopIsForwardedBeforeTheEndOfItsStream() throws Exception {
        ReactiveQueue<String> q = local.queue(QueueSpec.named("ev"), Codec.utf8()).block(TIMEOUT);
        server = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(0).broker(local), TIMEOUT);
        try (RawClient raw = new RawClient(server.port())) {
            raw.send(new Frame.Hello(List.of(4), "raw"));
            raw.readUntil(Frame.HelloOk.class);
            raw.send(new Frame.Describe(1, "ev"));
            raw.readUntil(Frame.DescribeOk.class);
            raw.send(new Frame.SubscribeEvents(2, "ev"));
            raw.readUntil(Frame.SubscribeOk.class);
            raw.send(new Frame.Credit(2, 10));
            raw.send(new Frame.Ping(7));
            raw.readUntil(Frame.Pong.class);
            // a witness in the JVM, subscribed after the server: it sees an event only after the server's stream did
            java.util.Set<QueueEvent.Type> witnessed = java.util.concurrent.ConcurrentHashMap.newKeySet();
            q.events().subscribe(e -> witnessed.add(e.type()));
            raw.send(new Frame.Delete(3, "ev"));
            java.util.concurrent.atomic.AtomicBoolean stored = new java.util.concurrent.atomic.AtomicBoolean();
            Thread sender = new Thread(() -> stored.set(q.send(OutboundMessage.of("m"))
                    .onErrorResume(e -> reactor.core.publisher.Mono.empty()).block(TIMEOUT) != null), "race-sender");
            sender.start(); // its ENQUEUED event is emitted on this thread, while the DELETE is on its way
            List<Frame.Event> before = new java.util.ArrayList<>();
            Frame f;
            while (!((f = raw.read()) instanceof Frame.SubscriptionEnd) && f != null) {
                if (f instanceof Frame.Event e) {
                    before.add(e);
                }
            }
            sender.join(TimeUnit.SECONDS.toMillis(20));
            assertThat(f).isInstanceOf(Frame.SubscriptionEnd.class);
            if (stored.get() && witnessed.contains(QueueEvent.Type.ENQUEUED)) {
                // stored and its event emitted before the delete: it comes before the end, as in one JVM
                assertThat(before).extracting(Frame.Event::eventType).contains(QueueEvent.Type.ENQUEUED);
            }
        }
    }

    /**
     * The server cancels a subscription's stream on its loop (UNSUBSCRIBE, the connection closing) while the queue
     * may end that stream on another thread: a DELETE on another connection closes the queue, and its receivers
     * fail. An end that crosses the cancel tells nobody anything; it was handed to Reactor's onErrorDropped hook,
     * which logs it at ERROR with its stack trace ({@code rill bench} printed one after its summary now and then: it
     * unsubscribes, then deletes its queue). Here the served streams end as they are cancelled, for both kinds of
     * subscription, which sets up the crossing every time.
     */
    @Test
    void aStreamThatEndsAsTheServerCancelsItIsNotHandedToReactorsDroppedErrorHook() throws Exception {
        local.queue(QueueSpec.named("late"), Codec.utf8()).block(TIMEOUT);
        List<Throwable> dropped = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.concurrent.atomic.AtomicInteger ended = new java.util.concurrent.atomic.AtomicInteger();
        reactor.core.publisher.Hooks.onErrorDropped(dropped::add);
        try {
            server = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(0)
                    .broker(new EndingWhenCancelled(local, ended)), TIMEOUT);
            try (RawClient raw = described(server, "late")) {
                raw.send(new Frame.Subscribe(2, "late", 0, 0, 0));
                raw.readUntil(Frame.SubscribeOk.class);
                raw.send(new Frame.SubscribeEvents(3, "late"));
                raw.readUntil(Frame.SubscribeOk.class);
                raw.send(new Frame.Unsubscribe(2));
                assertThat(raw.readUntil(Frame.SubscriptionEnd.class).subscriptionId()).isEqualTo(2);
                raw.send(new Frame.Unsubscribe(3));
                assertThat(raw.readUntil(Frame.SubscriptionEnd.class).subscriptionId()).isEqualTo(3);
            }
            assertThat(ended).hasValue(2); // both streams ended after their cancel
            assertThat(dropped).isEmpty();
        } finally {
            reactor.core.publisher.Hooks.resetOnErrorDropped();
        }
    }

    /** Serves the broker's queues with receive and events streams that fail as they are cancelled. */
    private static final class EndingWhenCancelled extends ForwardingBroker {
        private final java.util.concurrent.atomic.AtomicInteger ended;

        EndingWhenCancelled(ReactiveBroker delegate, java.util.concurrent.atomic.AtomicInteger ended) {
            super(delegate);
            this.ended = ended;
        }

        @Override
        public <T> reactor.core.publisher.Mono<ReactiveQueue<T>> queue(QueueSpec spec, Codec<T> codec) {
            return delegate.queue(spec, codec).map(this::wrap);
        }

        @Override
        public <T> reactor.core.publisher.Mono<ReactiveQueue<T>> lookup(String name, Codec<T> codec) {
            return delegate.lookup(name, codec).map(this::wrap);
        }

        @SuppressWarnings("unchecked")
        private <T> ReactiveQueue<T> wrap(ReactiveQueue<T> q) {
            return (ReactiveQueue<T>) java.lang.reflect.Proxy.newProxyInstance(getClass().getClassLoader(),
                    new Class<?>[] {ReactiveQueue.class}, (proxy, m, args) -> {
                        if (m.getName().equals("receive") || m.getName().equals("events")) {
                            return endingWhenCancelled(q.name());
                        }
                        try {
                            return m.invoke(q, args);
                        } catch (java.lang.reflect.InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
        }

        private <T> reactor.core.publisher.Flux<T> endingWhenCancelled(String queue) {
            return reactor.core.publisher.Flux.from(s -> s.onSubscribe(new org.reactivestreams.Subscription() {
                @Override
                public void request(long n) {
                }

                @Override
                public void cancel() {
                    ended.incrementAndGet();
                    s.onError(new dev.rill.reactive.QueueClosedException(queue));
                }
            }));
        }
    }
}
