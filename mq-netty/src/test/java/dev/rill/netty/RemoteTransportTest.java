package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.netty.internal.transport.RemoteBroker;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.RillException;
import dev.rill.reactive.SendOptions;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.reactivestreams.Subscription;
import reactor.core.Disposable;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;
import reactor.test.scheduler.VirtualTimeScheduler;

/** Transport properties: end-to-end credit, lease release on disconnect, reconnection, authentication. */
class RemoteTransportTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onVirtualTime();
    private final VirtualTimeScheduler vts = fixture.clock();
    private final ReactiveBroker local = fixture.local();

    private RillServer server(ServerOptions options) {
        return fixture.serve(options);
    }

    private ReactiveBroker client(RillServer s, ClientOptions options) {
        return fixture.connect(s, options);
    }

    private static <T> ReactiveQueue<T> queue(ReactiveBroker b, QueueSpec spec, Codec<T> codec) {
        return b.queue(spec, codec).block(TIMEOUT);
    }

    @Test
    void creditBoundsLeasesTo10PerRequestOf10() throws Exception {
        creditRun(100_000);
    }

    @Test
    @Tag("heavy")
    void creditBoundsLeasesWithAMillionQueued() throws Exception {
        creditRun(1_000_000);
    }

    /**
     * A consumer that keeps 128 deliveries asked for and asks for one more as each ack completes (what
     * {@code flatMap(d -> d.ack(), 128)} does), fed one message at a time as at a moderate rate: its credit is topped
     * up in batches, not one CREDIT frame per message (that cost the server a read and a wake-up per message), and
     * it never gets more than it asked for.
     */
    @Test
    void requestOnePerAckIsToppedUpInBatchesNeverPastTheDemand() throws Exception {
        int n = 2_000;
        int outstanding = 128;
        RillServer s = server(ServerOptions.defaults());
        QueueSpec spec = QueueSpec.named("topup");
        ReactiveQueue<byte[]> serverSide = queue(local, spec, Codec.bytes());
        try (FrameCountingRelay relay = new FrameCountingRelay(s.port())) {
            ReactiveBroker b = RillClient.connect(URI.create("rill://127.0.0.1:" + relay.port()),
                    ClientOptions.defaults()).block(TIMEOUT);
            fixture.closeAtEnd(b);
            ReactiveQueue<byte[]> remote = queue(b, spec, Codec.bytes());
            AtomicLong received = new AtomicLong();
            AtomicLong requested = new AtomicLong(outstanding);
            AtomicLong beyondDemand = new AtomicLong();
            BlockingQueue<Integer> acked = new ArrayBlockingQueue<>(n);
            BaseSubscriber<Delivery<byte[]>> consumer = new BaseSubscriber<>() {
                @Override
                protected void hookOnSubscribe(Subscription sub) {
                    sub.request(outstanding);
                }

                @Override
                protected void hookOnNext(Delivery<byte[]> d) {
                    if (received.incrementAndGet() > requested.get()) {
                        beyondDemand.incrementAndGet();
                    }
                    d.ack().subscribe(null, e -> { }, () -> {
                        requested.incrementAndGet();
                        request(1);
                        acked.add(1);
                    });
                }
            };
            remote.receive().subscribe(consumer);
            for (int i = 0; i < n; i++) {
                serverSide.send(OutboundMessage.of(new byte[] {(byte) i})).block(TIMEOUT);
                assertThat(acked.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).as("ack of message %d", i).isNotNull();
            }
            consumer.dispose();
            assertThat(beyondDemand.get()).isZero();
            assertThat(serverSide.stats().block(TIMEOUT).acked()).isEqualTo(n);
            long creditFrames = relay.clientFrames(0x32);
            // the first 128, then 32 at a time once a quarter of the demand is used (the old rule: one per message)
            assertThat(creditFrames).as("CREDIT frames for %d messages", n).isBetween(1L, (long) n / 32 + 2);
            assertThat(relay.clientFrames(0x40)).as("ACK frames").isEqualTo(n);
        }
    }

    /**
     * {@code n} messages queued on the server; a remote consumer requests 10, acks them, requests 10 more: the
     * server-side in-flight count (leased, not acked) never exceeds 10 (prefetch 0), and the client never receives
     * more than it asked for.
     */
    private void creditRun(int n) throws Exception {
        RillServer s = server(ServerOptions.defaults());
        QueueSpec spec = QueueSpec.named("credit").capacity(n);
        ReactiveQueue<byte[]> serverSide = queue(local, spec, Codec.bytes());
        serverSide.sendMany(Flux.range(0, n).map(i -> OutboundMessage.of(new byte[] {i.byteValue()}))).blockLast(TIMEOUT);
        ReactiveQueue<byte[]> remote = queue(client(s, ClientOptions.defaults()), spec, Codec.bytes());

        BlockingQueue<List<Delivery<byte[]>>> batches = new ArrayBlockingQueue<>(2);
        long[] receivedBeyondDemand = {0};
        BaseSubscriber<Delivery<byte[]>> consumer = new BaseSubscriber<>() {
            List<Delivery<byte[]>> batch = new ArrayList<>();

            @Override
            protected void hookOnSubscribe(Subscription sub) {
                sub.request(10);
            }

            @Override
            protected void hookOnNext(Delivery<byte[]> d) {
                batch.add(d);
                if (batch.size() > 10) {
                    receivedBeyondDemand[0]++;
                }
                if (batch.size() == 10) {
                    batches.add(batch);
                    batch = new ArrayList<>();
                }
            }
        };
        remote.receive().subscribe(consumer);
        long maxInFlight = 0;
        for (int done = 0; done < n; done += 10) {
            List<Delivery<byte[]>> batch = batches.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            assertThat(batch).as("batch after %d messages", done).isNotNull();
            maxInFlight = Math.max(maxInFlight, serverSide.stats().block(TIMEOUT).inFlight());
            remote.ackAll(batch).block(TIMEOUT);
            consumer.request(10);
        }
        consumer.dispose();
        assertThat(maxInFlight).isEqualTo(10);
        assertThat(receivedBeyondDemand[0]).isZero();
        assertThat(serverSide.stats().block(TIMEOUT).acked()).isEqualTo(n);
        assertThat(serverSide.stats().block(TIMEOUT).size()).isZero();
    }

    @Test
    void closedConnectionReleasesItsLeasesAtOnce() {
        RillServer s = server(ServerOptions.defaults());
        QueueSpec spec = QueueSpec.named("release").visibilityTimeout(Duration.ofHours(1));
        ReactiveBroker a = client(s, ClientOptions.defaults().reconnectAttempts(0));
        ReactiveQueue<String> qa = queue(a, spec, Codec.utf8());
        qa.sendMany(Flux.just("one", "two").map(OutboundMessage::of)).blockLast(TIMEOUT);
        List<Delivery<String>> held = new CopyOnWriteArrayList<>();
        qa.receive().subscribe(held::add, e -> { });
        await().atMost(TIMEOUT).until(() -> held.size() == 2);
        assertThat(queue(local, spec, Codec.utf8()).stats().block(TIMEOUT).inFlight()).isEqualTo(2);

        a.close().block(TIMEOUT); // no ack; virtual time never advances, so only the release can free them

        ReactiveQueue<String> qb = queue(client(s, ClientOptions.defaults()), spec, Codec.utf8());
        List<Delivery<String>> got = qb.receive().take(2).collectList().block(TIMEOUT);
        assertThat(got).extracting(Delivery::payload).containsExactlyInAnyOrder("one", "two");
        assertThat(got).allSatisfy(d -> assertThat(d.deliveryCount()).isEqualTo(2));
    }

    @Test
    void receiveResubscribesAfterTheServerRestartsOnTheSamePort() {
        RillServer first = server(ServerOptions.defaults());
        int port = first.port();
        // never gives up: the wait for the next server is bounded below, not by attempts made while it binds
        ReactiveBroker b = client(first, ClientOptions.defaults().reconnectAttempts(Integer.MAX_VALUE)
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(100)));
        QueueSpec spec = QueueSpec.named("restart");
        ReactiveQueue<String> q = queue(b, spec, Codec.utf8());
        List<String> got = new CopyOnWriteArrayList<>();
        AtomicReference<Throwable> error = new AtomicReference<>();
        Disposable sub = q.receive().flatMap(d -> d.ack().thenReturn(d.payload())).subscribe(got::add, error::set);
        q.send(OutboundMessage.of("before")).block(TIMEOUT);
        await().atMost(TIMEOUT).until(() -> got.contains("before"));

        first.disposeNow(TIMEOUT);
        RillServer second = server(ServerOptions.defaults().port(port));
        // local users of a served broker store bytes: the server hands payloads to clients as they are
        queue(local, spec, Codec.bytes()).send(OutboundMessage.of("after".getBytes(StandardCharsets.UTF_8)))
                .block(TIMEOUT);

        await().atMost(TIMEOUT).until(() -> got.contains("after"));
        q.send(OutboundMessage.of("sent-after")).block(TIMEOUT); // the client's own sends work again too
        await().atMost(TIMEOUT).until(() -> got.contains("sent-after"));
        assertThat(error.get()).isNull();
        assertThat(second.connectionCount()).isEqualTo(1);
        sub.dispose();
    }

    @Test
    void receiveErrorsClearlyOnceReconnectAttemptsAreSpent() {
        RillServer s = server(ServerOptions.defaults());
        ReactiveBroker b = client(s, ClientOptions.defaults().reconnectAttempts(2)
                .reconnectBackoff(Duration.ofMillis(10), Duration.ofMillis(20)));
        ReactiveQueue<String> q = queue(b, QueueSpec.named("gone"), Codec.utf8());
        AtomicReference<Throwable> error = new AtomicReference<>();
        q.receive().subscribe(d -> { }, error::set);
        s.disposeNow(TIMEOUT);
        await().atMost(TIMEOUT).until(() -> error.get() != null);
        assertThat(error.get()).isInstanceOf(RillException.class).hasMessageContaining("after 2 attempts");
        assertThatThrownBy(() -> q.send(OutboundMessage.of("x")).block(TIMEOUT)).isInstanceOf(RillException.class)
                .hasMessageContaining("after 2 attempts");
    }

    @Test
    void inFlightSendWithDedupIdIsRetriedAfterReconnect() {
        RillServer s = server(ServerOptions.defaults());
        RemoteBroker b = (RemoteBroker) client(s, ClientOptions.defaults().reconnectAttempts(50)
                .reconnectBackoff(Duration.ofMillis(10), Duration.ofMillis(50)));
        QueueSpec spec = QueueSpec.named("dedup-retry");
        ReactiveQueue<String> q = queue(b, spec, Codec.utf8());
        b.dropConnection();
        // sent while the connection is down or being re-established: waits, then goes out once
        var r = q.send(OutboundMessage.of("x").dedupId("id-1")).block(TIMEOUT);
        assertThat(r.duplicate()).isFalse();
        assertThat(queue(local, spec, Codec.utf8()).stats().block(TIMEOUT).ready()).isEqualTo(1);
    }

    @Test
    void sendManyWithDedupIdsAcrossADroppedConnectionLosesNothingAndStoresNothingTwice() throws Exception {
        RillServer s = server(ServerOptions.defaults());
        RemoteBroker b = (RemoteBroker) client(s, ClientOptions.defaults().reconnectAttempts(50)
                .reconnectBackoff(Duration.ofMillis(10), Duration.ofMillis(50)));
        QueueSpec spec = QueueSpec.named("many-dedup-retry");
        ReactiveQueue<String> q = queue(b, spec, Codec.utf8());
        int n = 20_000;
        java.util.concurrent.CountDownLatch flowing = new java.util.concurrent.CountDownLatch(1000);
        List<String> results = new CopyOnWriteArrayList<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
        q.sendMany(Flux.range(0, n).map(i -> OutboundMessage.of("m" + i).dedupId("id-" + i)),
                        SendOptions.defaults().maxInFlight(256))
                .subscribe(r -> {
                    results.add(r.message().payload());
                    flowing.countDown();
                }, e -> {
                    failure.set(e);
                    done.countDown();
                }, done::countDown);
        assertThat(flowing.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        b.dropConnection(); // while sends are in flight: those on the wire are retried, the server drops repeats
        assertThat(done.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        assertThat(failure.get()).isNull();
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            expected.add("m" + i);
        }
        assertThat(results).containsExactlyElementsOf(expected); // one result each, in the order sent
        ReactiveQueue<byte[]> server = queue(local, spec, Codec.bytes()); // the server stores what it was sent
        assertThat(server.stats().block(TIMEOUT).size()).isEqualTo(n);
        List<String> stored = server.receive().take(n).map(d -> new String(d.payload(), StandardCharsets.UTF_8))
                .collectList().block(TIMEOUT);
        assertThat(stored).containsExactlyInAnyOrderElementsOf(expected);
    }

    @Test
    void sendManyCancelledMidStreamStoresAPrefixThatHoldsEverythingItEmitted() {
        RillServer s = server(ServerOptions.defaults());
        ReactiveBroker b = client(s, ClientOptions.defaults());
        int maxInFlight = 64;
        for (int round = 0; round < 20; round++) {
            QueueSpec spec = QueueSpec.named("cancel-" + round);
            ReactiveQueue<String> q = queue(b, spec, Codec.utf8());
            int k = 1 + round * 37;
            List<String> emitted = q.sendMany(Flux.range(0, 5_000).map(i -> OutboundMessage.of("m" + i)),
                            SendOptions.defaults().maxInFlight(maxInFlight))
                    .take(k) // cancels the rest: waiting ones never go out, ones on the wire may be stored
                    .map(r -> r.message().payload())
                    .collectList().block(TIMEOUT);
            List<String> expected = new ArrayList<>();
            for (int i = 0; i < k; i++) {
                expected.add("m" + i);
            }
            assertThat(emitted).containsExactlyElementsOf(expected);
            // the connection is still usable, and a send after the cancel is stored after what the cancel left
            q.send(OutboundMessage.of("end")).block(TIMEOUT);
            ReactiveQueue<byte[]> server = queue(local, spec, Codec.bytes());
            int size = (int) server.stats().block(TIMEOUT).size();
            List<String> stored = server.receive().take(size).map(d -> new String(d.payload(), StandardCharsets.UTF_8))
                    .collectList().block(TIMEOUT);
            assertThat(stored).as("round %d: k=%d", round, k).hasSizeBetween(k + 1, k + maxInFlight + 1)
                    .endsWith("end");
            for (int i = 0; i < stored.size() - 1; i++) {
                assertThat(stored.get(i)).isEqualTo("m" + i); // a prefix, in order: nothing skipped
            }
        }
    }

    @Test
    void sendsOnTheWireWithoutDedupIdFailClearlyWhenTheConnectionDrops() {
        RillServer s = server(ServerOptions.defaults());
        RemoteBroker b = (RemoteBroker) client(s, ClientOptions.defaults().reconnectAttempts(50)
                .reconnectBackoff(Duration.ofMillis(10), Duration.ofMillis(50)));
        // capacity 1, overflow WAIT: the second message waits on the server, unanswered, i.e. on the wire
        QueueSpec spec = QueueSpec.named("lost-on-the-wire").capacity(1);
        ReactiveQueue<String> q = queue(b, spec, Codec.utf8());
        List<String> results = new CopyOnWriteArrayList<>();
        AtomicReference<Throwable> many = new AtomicReference<>();
        q.sendMany(Flux.just("a", "b", "c").map(OutboundMessage::of))
                .subscribe(r -> results.add(r.message().payload()), many::set);
        await().atMost(TIMEOUT).until(() -> results.size() == 1);
        AtomicReference<Throwable> single = new AtomicReference<>();
        q.send(OutboundMessage.of("d")).subscribe(r -> { }, single::set);
        await().atMost(TIMEOUT).until(() -> queue(local, spec, Codec.bytes()).stats().block(TIMEOUT).size() == 1);
        b.dropConnection();
        await().atMost(TIMEOUT).until(() -> many.get() != null && single.get() != null);
        assertThat(results).containsExactly("a");
        for (Throwable e : List.of(many.get(), single.get())) {
            assertThat(e).isInstanceOf(RillException.class)
                    .hasMessageContaining("lost while sending to 'lost-on-the-wire'")
                    .hasMessageContaining("give it a dedupId");
        }
    }

    @Test
    void sendManyStopsAtAMessageItsCodecCannotEncodeAfterTheResultsBeforeIt() {
        RillServer s = server(ServerOptions.defaults());
        ReactiveBroker b = client(s, ClientOptions.defaults());
        Codec<String> picky = Codec.of(v -> {
            if (v.equals("m3")) {
                throw new IllegalArgumentException("cannot encode " + v);
            }
            return v.getBytes(StandardCharsets.UTF_8);
        }, bytes -> new String(bytes, StandardCharsets.UTF_8));
        QueueSpec spec = QueueSpec.named("picky");
        ReactiveQueue<String> q = queue(b, spec, picky);
        AtomicLong requestedUpstream = new AtomicLong();
        List<String> results = q.sendMany(Flux.range(0, 1_000).map(i -> OutboundMessage.of("m" + i))
                        .doOnRequest(requestedUpstream::addAndGet))
                .map(r -> r.message().payload())
                .onErrorResume(IllegalArgumentException.class, e -> Flux.just("error: " + e.getMessage()))
                .collectList().block(TIMEOUT);
        assertThat(results).containsExactly("m0", "m1", "m2", "error: cannot encode m3");
        assertThat(queue(local, spec, Codec.bytes()).stats().block(TIMEOUT).size()).isEqualTo(3);
        assertThat(requestedUpstream.get()).isLessThanOrEqualTo(SendOptions.defaults().maxInFlight());
    }

    @Test
    void badOrMissingTokenIsRefusedAndTheRightOneWorks() {
        RillServer s = server(ServerOptions.defaults().token("s3cret", Permissions.all()));
        URI uri = URI.create("rill://127.0.0.1:" + s.port());
        assertThatThrownBy(() -> RillClient.connect(uri, ClientOptions.defaults().token("wrong")).block(TIMEOUT))
                .isInstanceOf(AuthenticationException.class).hasMessageContaining("unknown token");
        assertThatThrownBy(() -> RillClient.connect(uri, ClientOptions.defaults()).block(TIMEOUT))
                .isInstanceOf(AuthenticationException.class).hasMessageContaining("token is required");
        ReactiveBroker ok = client(s, ClientOptions.defaults().token("s3cret"));
        assertThat(ok.list().block(TIMEOUT)).isEmpty();
        await().atMost(TIMEOUT).until(() -> s.connectionCount() == 1);
    }

    @Test
    void permissionsAreCheckedPerQueueAndRight() {
        RillServer s = server(ServerOptions.defaults()
                .token("admin", Permissions.all())
                .token("producer", Permissions.none().allow("orders", Permission.SEND).allow("fresh",
                        Permission.SEND)));
        QueueSpec orders = QueueSpec.named("orders");
        queue(client(s, ClientOptions.defaults().token("admin")), orders, Codec.utf8());
        ReactiveBroker producer = client(s, ClientOptions.defaults().token("producer"));
        ReactiveQueue<String> q = queue(producer, orders, Codec.utf8());
        assertThat(q.send(OutboundMessage.of("ok")).block(TIMEOUT).messageId()).isPositive();
        assertThatThrownBy(() -> q.receive().blockFirst(TIMEOUT)).isInstanceOf(AccessDeniedException.class)
                .hasMessage("the token does not grant the receive right on queue 'orders'");
        // in the words of the tokens file's rights (send, receive, manage), never an operation named as a right
        assertThatThrownBy(() -> q.purge().block(TIMEOUT)).isInstanceOf(AccessDeniedException.class)
                .hasMessage("the token does not grant the manage right on queue 'orders'");
        assertThatThrownBy(() -> producer.queue(QueueSpec.named("other"), Codec.utf8()).block(TIMEOUT))
                .isInstanceOf(AccessDeniedException.class)
                .hasMessage("the token has no right on queue 'other' (send, receive or manage)");
        assertThatThrownBy(() -> producer.queue(QueueSpec.named("fresh"), Codec.utf8()).block(TIMEOUT))
                .isInstanceOf(AccessDeniedException.class)
                .hasMessage("the token does not grant the manage right on queue 'fresh', which creating it needs");
        assertThat(producer.list().block(TIMEOUT)).containsExactly("orders");
        assertThat(q.send(OutboundMessage.of("still")).block(TIMEOUT).messageId()).isPositive(); // still open
    }

    @Test
    void rejectReasonsAnyCallerCanWriteDeadLetterAndKeepTheConnection() {
        RillServer s = server(ServerOptions.defaults());
        QueueSpec spec = QueueSpec.named("reasons").deadLetterQueue("reasons.dlq");
        ReactiveQueue<String> q = queue(client(s, ClientOptions.defaults().reconnectAttempts(0)), spec, Codec.utf8());
        String cutInAPair = "a".repeat(1023) + "\uD83D\uDE00" + "b".repeat(5000); // the 1024-char cut splits the pair
        String unpaired = "lone \uDC00 surrogate";
        List<String> reasons = List.of(cutInAPair, unpaired);
        for (String reason : reasons) {
            q.send(OutboundMessage.of("m")).block(TIMEOUT);
            q.receiveOne(Duration.ofSeconds(5)).block(TIMEOUT).reject(reason).block(TIMEOUT);
        }
        List<String> stored = queue(local, QueueSpec.named("reasons.dlq"), Codec.utf8()).peek(2)
                .map(m -> m.headers().get(dev.rill.core.Message.HEADER_DEAD_LETTER_REASON)).collectList().block(TIMEOUT);
        assertThat(stored).containsExactly("a".repeat(1023), "lone \uFFFD surrogate");
        q.send(OutboundMessage.of("still connected")).block(TIMEOUT);
    }

    @Test
    void aClientAcceptsFramesUpToTheMaximumItsServerAnnounces() {
        RillServer s = server(ServerOptions.defaults().maxFrameSize(4 << 20));
        QueueSpec spec = QueueSpec.named("big");
        byte[] big = new byte[2 << 20]; // above the 1 MiB default on both sides
        big[big.length - 1] = 7;
        queue(client(s, ClientOptions.defaults()), spec, Codec.bytes()).send(OutboundMessage.of(big)).block(TIMEOUT);

        ReactiveQueue<byte[]> consumer = queue(client(s, ClientOptions.defaults().reconnectAttempts(0)), spec,
                Codec.bytes());
        assertThat(consumer.peek(1).blockFirst(TIMEOUT).payload()).isEqualTo(big);
        Delivery<byte[]> d = consumer.receiveOne(Duration.ofSeconds(5)).block(TIMEOUT);
        assertThat(d.payload()).isEqualTo(big);
        d.ack().block(TIMEOUT);
        var stats = queue(local, spec, Codec.bytes()).stats().block(TIMEOUT);
        assertThat(stats.delivered()).as("delivered once: no connection ended on it").isEqualTo(1);
        assertThat(stats.acked()).isEqualTo(1);
    }

    @Test
    void aPeekAnswersWithAsManyMessagesAsFitOneFrameAndTheConnectionLives() {
        RillServer s = server(ServerOptions.defaults()); // 1 MiB frames
        ReactiveQueue<byte[]> q = queue(client(s, ClientOptions.defaults().reconnectAttempts(0)),
                QueueSpec.named("wide"), Codec.bytes());
        for (int i = 0; i < 3; i++) {
            q.send(OutboundMessage.of(new byte[600_000])).block(TIMEOUT);
        }
        assertThat(q.peek(3).count().block(TIMEOUT)).isEqualTo(1); // two would be 1.2 MB
        q.send(OutboundMessage.of(new byte[10])).block(TIMEOUT);
        assertThat(q.peek(10).count().block(TIMEOUT)).isEqualTo(1);
    }

    @Test
    void aMessageAsLargeAsTheServerTakesIsDeliveredFromTheDeadLetterQueueWithItsHeaders() {
        RillServer s = server(ServerOptions.defaults());
        QueueSpec spec = QueueSpec.named("edge").deadLetterQueue("edge.dlq");
        ReactiveQueue<byte[]> q = queue(client(s, ClientOptions.defaults().reconnectAttempts(0)), spec, Codec.bytes());
        int largest = (1 << 20) - 64; // just under the SEND frame limit for this queue's name
        q.send(OutboundMessage.of(new byte[largest])).block(TIMEOUT);
        // a 1024-character reason of 3-byte characters: the dead letter's DELIVER is ~3 KB above the 1 MiB maximum
        q.receiveOne(Duration.ofSeconds(5)).block(TIMEOUT).reject("\u20ac".repeat(1024)).block(TIMEOUT);

        ReactiveQueue<byte[]> dlq = queue(client(s, ClientOptions.defaults().reconnectAttempts(0)),
                QueueSpec.named("edge.dlq"), Codec.bytes());
        assertThat(dlq.peek(1).blockFirst(TIMEOUT).payload()).hasSize(largest);
        Delivery<byte[]> d = dlq.receiveOne(Duration.ofSeconds(5)).block(TIMEOUT);
        assertThat(d.payload()).hasSize(largest);
        assertThat(d.message().headers().get(dev.rill.core.Message.HEADER_DEAD_LETTER_REASON)).hasSize(1024);
        d.ack().block(TIMEOUT);
    }

    @Test
    void aMessageStoredInTheServersJvmThatNoFrameCanCarryEndsTheStreamClearlyNotTheConnection() {
        RillServer s = server(ServerOptions.defaults()); // 1 MiB frames
        QueueSpec spec = QueueSpec.named("in-jvm");
        ReactiveQueue<byte[]> inJvm = queue(local, spec, Codec.bytes());
        inJvm.send(OutboundMessage.of(new byte[2 << 20])).block(TIMEOUT); // no SEND frame bounded it
        ReactiveQueue<String> remote = queue(client(s, ClientOptions.defaults().reconnectAttempts(0)), spec,
                Codec.utf8());

        StepVerifier.create(remote.receive())
                .expectErrorSatisfies(e -> assertThat(e).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("queue 'in-jvm' holds a message (id 1, a payload of 2097152 bytes) that cannot be delivered")
                        .hasMessageContaining("raise the server's maxFrameSize"))
                .verify(TIMEOUT);
        assertThatThrownBy(() -> remote.peek(5).blockLast(TIMEOUT)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cannot be sent over the network");
        var stats = inJvm.stats().block(TIMEOUT);
        assertThat(stats.ready()).as("given back, uncounted").isEqualTo(1);
        assertThat(remote.send(OutboundMessage.of("still connected")).block(TIMEOUT).duplicate()).isFalse();
        // what can go out still does: the small message behind the big one, once the big one is consumed locally
        inJvm.receiveOne(Duration.ZERO).block(TIMEOUT).ack().block(TIMEOUT);
        StepVerifier.create(remote.receive().take(1).map(d -> d.payload()))
                .expectNext("still connected").verifyComplete();
    }

    @Test
    void aMessageStoredInTheServersJvmWithTextThatHasNoUtf8FormEndsTheStreamClearly() {
        RillServer s = server(ServerOptions.defaults());
        QueueSpec spec = QueueSpec.named("odd-text");
        queue(local, spec, Codec.utf8()).send(OutboundMessage.of("m").header("h", "lone \uD800")).block(TIMEOUT);
        ReactiveQueue<String> remote = queue(client(s, ClientOptions.defaults().reconnectAttempts(0)), spec,
                Codec.utf8());
        StepVerifier.create(remote.receive())
                .expectErrorSatisfies(e -> assertThat(e).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("cannot be delivered over the network: header value has an unpaired "
                                + "surrogate"))
                .verify(TIMEOUT);
        remote.send(OutboundMessage.of("still connected")).block(TIMEOUT);
    }

    @Test
    void listsOfMoreQueuesThanOneFrameHoldsAreRefusedClearlyAndTheConnectionLives() {
        RillServer s = server(ServerOptions.defaults()); // 1 MiB frames
        String prefix = "q".repeat(190) + "-";
        Flux.range(0, 6_000).concatMap(i -> local.queue(QueueSpec.named(prefix + i), Codec.bytes())).blockLast(TIMEOUT);
        ReactiveBroker client = client(s, ClientOptions.defaults().reconnectAttempts(0)); // 6,000 x ~200 B names
        assertThatThrownBy(() -> client.list().block(TIMEOUT)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the names of 6000 queues do not fit one frame of 1056768 bytes");
        assertThatThrownBy(() -> client.stats().block(TIMEOUT)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the stats of 6000 queues do not fit one frame")
                .hasMessageContaining("ask for queues by name");
        ReactiveQueue<String> one = queue(client, QueueSpec.named(prefix + 7), Codec.utf8()); // still connected
        one.send(OutboundMessage.of("m")).block(TIMEOUT);
        assertThat(one.stats().block(TIMEOUT).ready()).isEqualTo(1);
    }

    @Test
    void aClientBoundBelowTheServersMaximumRefusesThatServerClearlyAndOnce() {
        RillServer s = server(ServerOptions.defaults().maxFrameSize(4 << 20));
        ClientOptions bounded = ClientOptions.defaults().maxFrameSize(1 << 20).reconnectAttempts(5);
        assertThat(bounded.maxFrameSize()).hasValue(1 << 20);
        assertThat(ClientOptions.defaults().maxFrameSize()).isEmpty();
        assertThatThrownBy(() -> RillClient.connect(URI.create("rill://127.0.0.1:" + s.port()), bounded)
                .block(TIMEOUT))
                .isInstanceOf(RillException.class)
                .hasMessageContaining("accepts frames of up to 4194304 bytes, more than this client's maxFrameSize "
                        + "of 1048576")
                .hasMessageContaining("Raise ClientOptions.maxFrameSize to 4194304 or leave it unset");

        // a bound at or above the server's maximum is fine
        ReactiveQueue<String> q = queue(client(s, ClientOptions.defaults().maxFrameSize(8 << 20)),
                QueueSpec.named("small"), Codec.utf8());
        q.send(OutboundMessage.of("fits")).block(TIMEOUT);
        assertThat(q.receiveOne(Duration.ofSeconds(5)).block(TIMEOUT).payload()).isEqualTo("fits");
    }

    @Test
    void streamsCancelledOrLookedIntoWhileTheyAttachLeaveNoSubscriptionBehindOnTheServer() {
        // one subscription per connection: a SUBSCRIBE left open on the server by a stream that ended while it was
        // being attached would make the next one refused
        RillServer s = server(ServerOptions.defaults().maxSubscriptionsPerConnection(1));
        ReactiveBroker b = client(s, ClientOptions.defaults());
        ReactiveQueue<String> q = queue(b, QueueSpec.named("attach"), Codec.utf8());
        for (int i = 0; i < 200; i++) {
            q.receive().subscribe().dispose(); // cancelled on this thread while the event loop attaches it
            assertThat(q.receiveOne(Duration.ZERO).block(TIMEOUT)).isNull();
        }
        q.send(OutboundMessage.of("last")).block(TIMEOUT);
        Delivery<String> d = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(d).isNotNull();
        assertThat(d.payload()).isEqualTo("last");
        d.ack().block(TIMEOUT);
    }

    @Test
    void optionsAreCopyOnWrite() {
        ServerOptions base = ServerOptions.defaults();
        ServerOptions changed = base.port(1234).maxConnections(3).token("t", Permissions.all());
        assertThat(base.port()).isZero();
        assertThat(base.maxConnections()).isEqualTo(ServerOptions.DEFAULT_MAX_CONNECTIONS);
        assertThat(base.tokens()).isEmpty();
        assertThat(changed.port()).isEqualTo(1234);
        assertThat(changed.tokens()).containsKey("t");
        ClientOptions c = ClientOptions.defaults();
        assertThat(c.receiveWindow(8).receiveWindow()).isEqualTo(8);
        assertThat(c.receiveWindow()).isEqualTo(ClientOptions.DEFAULT_RECEIVE_WINDOW);
        assertThat(c.token()).isEmpty();
        assertThatThrownBy(() -> base.maxConnections(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("maxConnections");
        Permissions p = Permissions.none();
        Permissions granted = p.allow("orders.*", Permission.RECEIVE);
        assertThat(p.allows("orders.eu", Permission.RECEIVE)).isFalse();
        assertThat(granted.allows("orders.eu", Permission.RECEIVE)).isTrue();
        assertThat(granted.allows("orders", Permission.RECEIVE)).isFalse();
        assertThat(granted.allows("orders.eu", Permission.SEND)).isFalse();
    }

    /**
     * The protocol carries a queue's durations in whole milliseconds: a spec with one under 1 ms (valid in one JVM)
     * is refused by the remote broker with an IllegalArgumentException that says so, and the connection stays. It
     * went as 0 to the encoder, which threw on the event loop: the connection was lost instead.
     */
    @Test
    void aQueueDurationUnderOneMillisecondIsRefusedAndTheConnectionStays() {
        ReactiveBroker client = client(server(ServerOptions.defaults()), ClientOptions.defaults().reconnectAttempts(0));
        for (QueueSpec spec : List.of(QueueSpec.named("sub-ms").visibilityTimeout(Duration.ofNanos(500_000)),
                QueueSpec.named("sub-ms").dedupWindow(Duration.ofNanos(1)),
                QueueSpec.named("sub-ms").messageTtl(Duration.ofNanos(999_999)))) {
            assertThatThrownBy(() -> client.queue(spec, Codec.utf8()).block(TIMEOUT)).as(spec.toString())
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 1 ms over the network");
        }
        assertThat(client.list().block(TIMEOUT)).doesNotContain("sub-ms"); // the same connection answers
        assertThat(queue(client, QueueSpec.named("sub-ms").visibilityTimeout(Duration.ofMillis(1)), Codec.utf8())
                .spec().visibilityTimeout()).isEqualTo(Duration.ofMillis(1));
    }
}
