package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueEvent;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.ReceiveOptions;
import dev.rill.reactive.RillException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.reactivestreams.Subscription;
import reactor.core.Disposable;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

/**
 * Deliveries the server cannot frame. A message stored in the server's JVM never passed a SEND, so it may be larger
 * than any frame a client accepts: a queue with a dead-letter policy gets it rejected there, with its size and the
 * limit as the reason, and the subscription goes on with the next message, its credit intact; a queue without one
 * keeps it (losing it silently is worse) and the subscription ends with an error naming it, its size, the limit and
 * the remedies. Before, every subscription ended at that message, which the next subscription (a pipeline's
 * resubscription, another consumer) met again: the queue was stuck for every remote consumer. A served broker that
 * hands out values the wire cannot carry (a priority out of range, a header without a value, an event without a type)
 * ends only the subscription concerned, where it ended the connection with every stream and operation on it (or left
 * the lease taken, or dropped the event without a word).
 */
class UnframeableDeliveryTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);
    /** The server's maximum frame size here: a client accepts frames of this plus the 8192-byte headroom. */
    private static final int MAX_FRAME = 4096;
    private static final int LIMIT = MAX_FRAME + 8192;
    private static final int BIG = 16_384;

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onVirtualTime();
    @RegisterExtension
    final LogCapture log = new LogCapture();

    private final ReactiveBroker local = fixture.local();

    private ReactiveBroker client(ReactiveBroker served) {
        RillServer server = fixture.bind(ServerOptions.defaults().maxFrameSize(MAX_FRAME).broker(served));
        return fixture.connect(server, ClientOptions.defaults().reconnectAttempts(0));
    }

    private static OutboundMessage<byte[]> text(String s) {
        return OutboundMessage.of(s.getBytes(StandardCharsets.UTF_8));
    }

    private static String text(Delivery<byte[]> d) {
        return new String(d.payload(), StandardCharsets.UTF_8);
    }

    /** Sends "a", a message too large for any frame, "b" and "c" to {@code spec}'s queue in the server's JVM. */
    private ReactiveQueue<byte[]> fill(QueueSpec spec, UnaryOperator<OutboundMessage<byte[]>> each) {
        ReactiveQueue<byte[]> q = local.queue(spec, Codec.bytes()).block(TIMEOUT);
        for (OutboundMessage<byte[]> m : List.of(text("a"), OutboundMessage.of(new byte[BIG]), text("b"), text("c"))) {
            q.send(each.apply(m)).block(TIMEOUT);
        }
        return q;
    }

    private List<String> warnings(String containing) {
        return log.lines().stream().filter(l -> l.contains(containing)).toList();
    }

    @Test
    void anUnframeableMessageGoesToTheDeadLetterQueueAndAConsumerAskingForOneAtATimeGetsEveryNextOne()
            throws Exception {
        QueueSpec spec = QueueSpec.named("jobs").deadLetterQueue("jobs.dlq");
        ReactiveQueue<byte[]> inJvm = fill(spec, m -> m);
        OneAtATime remote = new OneAtATime(client(local).queue(spec, Codec.bytes()).block(TIMEOUT), null);

        assertThat(text(remote.next())).isEqualTo("a");
        assertThat(text(remote.next())).isEqualTo("b"); // the credit the rejected message took is given back
        assertThat(text(remote.next())).isEqualTo("c");
        // and no more than that: a message sent now stays for whoever asks
        inJvm.send(text("d")).block(TIMEOUT);
        Delivery<byte[]> d = inJvm.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(d).as("not leased by the remote subscription").isNotNull();
        assertThat(text(d)).isEqualTo("d");
        d.ack().block(TIMEOUT);
        remote.ackAll();

        QueueStats jobs = fixture.stats("jobs");
        assertThat(jobs.size()).isZero();
        assertThat(jobs.deadLettered()).isEqualTo(1);
        Message<byte[]> dead = local.queue(QueueSpec.named("jobs.dlq"), Codec.bytes()).block(TIMEOUT)
                .peek(1).blockFirst(TIMEOUT);
        assertThat(dead.payload()).hasSize(BIG);
        assertThat(dead.headers().get(Message.HEADER_DEAD_LETTER_REASON))
                .contains("cannot be delivered over the network")
                .contains("a payload of " + BIG + " bytes")
                .contains("more than the " + LIMIT + " bytes a client accepts from this server");
        await().atMost(TIMEOUT).until(() -> !warnings("[undeliverable]").isEmpty());
        assertThat(warnings("[undeliverable]")).singleElement().asString()
                .contains("queue 'jobs'").contains("message 2").contains("a payload of " + BIG + " bytes")
                .contains("moved to its dead-letter queue 'jobs.dlq'");
    }

    @Test
    void aQueueThatDiscardsDeadLettersDropsItAndTheStreamGoesOn() throws Exception {
        QueueSpec spec = QueueSpec.named("lossy").discardDeadLetters();
        fill(spec, m -> m);
        OneAtATime remote = new OneAtATime(client(local).queue(spec, Codec.bytes()).block(TIMEOUT), null);

        assertThat(text(remote.next())).isEqualTo("a");
        assertThat(text(remote.next())).isEqualTo("b");
        remote.ackAll();
        QueueStats lossy = fixture.stats("lossy");
        assertThat(lossy.deadLettered()).isEqualTo(1);
        assertThat(lossy.size()).as("c").isEqualTo(1);
        await().atMost(TIMEOUT).until(() -> !warnings("[undeliverable]").isEmpty());
        assertThat(warnings("[undeliverable]")).singleElement().asString().contains("queue 'lossy'")
                .contains("dropped: the queue discards dead letters");
    }

    @Test
    void underMaxUnackedAndKeyOrderingTheMessagesBehindTheRejectedOneComeNext() throws Exception {
        QueueSpec spec = QueueSpec.named("keyed").ordering(dev.rill.core.Ordering.KEY_ORDERED).deadLetterQueue("keyed.dlq");
        fill(spec, m -> m.key("k"));
        // one unsettled delivery at most: the rejected one must not count once it is rejected, nor hold its key
        OneAtATime remote = new OneAtATime(client(local).queue(spec, Codec.bytes()).block(TIMEOUT),
                ReceiveOptions.defaults().maxUnacked(1));

        for (String expected : List.of("a", "b", "c")) {
            Delivery<byte[]> d = remote.next();
            assertThat(text(d)).isEqualTo(expected);
            d.ack().block(TIMEOUT);
        }
        assertThat(fixture.stats("keyed.dlq").ready()).isEqualTo(1);
        assertThat(fixture.stats("keyed").size()).isZero();
    }

    @Test
    void aLeaseThatRunsOutBeforeTheRejectLeavesNoHoleAndTheMessageIsRejectedAtItsNextDelivery() throws Exception {
        QueueSpec spec = QueueSpec.named("slow").visibilityTimeout(Duration.ofSeconds(30)).deadLetterQueue("slow.dlq");
        fill(spec, m -> m);
        AtomicBoolean expireFirst = new AtomicBoolean(true);
        ReactiveBroker served = new Wrapping(local, d -> new ForwardingDelivery<>(d) {
            @Override
            public Mono<Void> reject(String reason) {
                if (expireFirst.getAndSet(false)) {
                    fixture.clock().advanceTimeBy(Duration.ofSeconds(31)); // the lease runs out meanwhile
                }
                return delegate.reject(reason);
            }
        }, e -> e);
        OneAtATime remote = new OneAtATime(client(served).queue(spec, Codec.bytes()).block(TIMEOUT), null);

        Delivery<byte[]> a = remote.next();
        assertThat(text(a)).isEqualTo("a");
        a.ack().block(TIMEOUT);
        assertThat(text(remote.next())).isEqualTo("b");
        assertThat(expireFirst).isFalse();
        Message<byte[]> dead = local.queue(QueueSpec.named("slow.dlq"), Codec.bytes()).block(TIMEOUT)
                .peek(1).blockFirst(TIMEOUT);
        assertThat(dead.payload()).hasSize(BIG);
        assertThat(dead.headers().get(Message.HEADER_DELIVERY_COUNT)).as("the expired lease counted").isEqualTo("2");
    }

    @Test
    void withoutADeadLetterQueueTheStreamEndsNamingTheMessageItsSizeTheLimitAndTheRemediesAndTheMessageStays() {
        QueueSpec spec = QueueSpec.named("plain");
        ReactiveQueue<byte[]> inJvm = fill(spec, m -> m);
        ReactiveQueue<byte[]> remote = client(local).queue(spec, Codec.bytes()).block(TIMEOUT);
        inJvm.receiveOne(Duration.ZERO).block(TIMEOUT).ack().block(TIMEOUT); // "a": the big one is first

        for (int i = 0; i < 12; i++) { // a pipeline resubscribing: logged, rate-limited
            StepVerifier.create(remote.receive())
                    .expectErrorSatisfies(e -> assertThat(e).isInstanceOf(IllegalArgumentException.class)
                            .hasMessageContaining("queue 'plain' holds a message (id 2, a payload of " + BIG
                                    + " bytes) that cannot be delivered over the network")
                            .hasMessageContaining("more than the " + LIMIT + " bytes a client accepts")
                            .hasMessageContaining("give queue 'plain' a dead-letter queue")
                            .hasMessageContaining("raise the server's maxFrameSize"))
                    .verify(TIMEOUT);
        }
        QueueStats s = fixture.stats("plain");
        assertThat(s.ready()).as("kept").isEqualTo(3);
        assertThat(s.inFlight()).isZero();
        Delivery<byte[]> big = inJvm.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(big.payload()).hasSize(BIG);
        assertThat(big.deliveryCount()).as("given back uncounted, every time").isEqualTo(1);

        await().atMost(TIMEOUT).until(() -> warnings("[undeliverable]").size() == 10);
        assertThat(warnings("[undeliverable]")).allSatisfy(l -> assertThat(l).contains("queue 'plain'")
                .contains("message 2").contains("the subscription ended: the queue has no dead-letter queue"));
    }

    @Test
    void aDeliveryTheEncoderRefusesEndsOnlyItsSubscriptionAndIsGivenBack() throws Exception {
        servedDeliveryEndsOnlyItsSubscription(m -> new Message<>(m.id(), m.payload(), m.key(), 300, m.headers(),
                m.timestamp()), "priority out of range for the wire: 300");
    }

    @Test
    void aDeliveryNoFrameCanHoldEndsOnlyItsSubscriptionAndIsGivenBackAtOnce() throws Exception {
        java.util.Map<String, String> nullValue = new java.util.HashMap<>();
        nullValue.put("h", null); // thrown while the server looked at it: the lease stayed taken, the stream hung
        servedDeliveryEndsOnlyItsSubscription(m -> new Message<>(m.id(), m.payload(), m.key(), m.priority(),
                nullValue, m.timestamp()), "NullPointerException");
    }

    /**
     * A served broker hands out the message "bad" of queue "odd" as {@code bad} makes it: the remote stream on "odd"
     * ends with an error naming it and {@code why}, the message is back in the queue at once, uncounted, and a stream
     * of another queue on the same connection still delivers.
     */
    private void servedDeliveryEndsOnlyItsSubscription(UnaryOperator<Message<Object>> bad, String why)
            throws Exception {
        ReactiveBroker served = new Wrapping(local, d -> "bad".equals(new String((byte[]) d.message().payload(),
                StandardCharsets.UTF_8)) ? new ForwardingDelivery<>(d) {
                    @Override
                    public Message<Object> message() {
                        return bad.apply(delegate.message());
                    }
                } : d, e -> e);
        ReactiveBroker client = client(served);
        BlockingQueue<String> other = fixture.receiving(client, "other");
        ReactiveQueue<byte[]> odd = local.queue(QueueSpec.named("odd"), Codec.bytes()).block(TIMEOUT);
        odd.send(text("bad")).block(TIMEOUT);

        StepVerifier.create(client.queue(QueueSpec.named("odd"), Codec.bytes()).flatMapMany(ReactiveQueue::receive))
                .expectErrorSatisfies(e -> assertThat(e).isInstanceOf(RillException.class)
                        .hasMessageContaining("queue 'odd' gave the server a delivery (message 1)")
                        .hasMessageContaining(why))
                .verify(TIMEOUT);
        await().atMost(TIMEOUT).until(() -> fixture.stats("odd").ready() == 1); // not at the visibility timeout
        assertThat(odd.receiveOne(Duration.ZERO).block(TIMEOUT).deliveryCount()).as("uncounted").isEqualTo(1);

        ServingFixture.stillConnected(client, "other", other);
    }

    @Test
    void anEventThatCannotBeSentEndsOnlyItsEventsStream() throws Exception {
        ReactiveBroker served = new Wrapping(local, d -> d, e -> "ev".equals(e.queue()) && e.messageId() == 2
                ? new QueueEvent(null, e.queue(), e.messageId(), e.deliveryCount(), e.detail(), e.timestamp()) : e);
        ReactiveBroker client = client(served);
        BlockingQueue<String> other = fixture.receiving(client, "other");
        ReactiveQueue<byte[]> remote = client.queue(QueueSpec.named("ev"), Codec.bytes()).block(TIMEOUT);
        BlockingQueue<Object> events = new LinkedBlockingQueue<>();
        Disposable d = remote.events().subscribe(events::add, events::add);
        fixture.atEnd(d::dispose);
        client.stats().block(TIMEOUT); // the events stream is open on the server once a round trip after it came back
        ReactiveQueue<byte[]> ev = local.queue(QueueSpec.named("ev"), Codec.bytes()).block(TIMEOUT);
        // sent on another thread than the connection's: the events reach the server's stream there
        Mono.defer(() -> ev.send(text("one")).then(ev.send(text("two")))).subscribeOn(Schedulers.single())
                .block(TIMEOUT);

        assertThat(events.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isInstanceOf(QueueEvent.class);
        assertThat(events.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isInstanceOf(RillException.class)
                .asString().contains("queue 'ev' gave the server an event (message 2)")
                .contains("eventType");
        ServingFixture.stillConnected(client, "other", other);
    }

    /** A remote receive stream asked for one delivery at a time, as each is taken; cancelled at the end. */
    private final class OneAtATime extends BaseSubscriber<Delivery<byte[]>> {
        private final BlockingQueue<Object> signals = new LinkedBlockingQueue<>();
        private final List<Delivery<byte[]>> taken = new java.util.ArrayList<>();

        OneAtATime(ReactiveQueue<byte[]> q, ReceiveOptions options) {
            (options == null ? q.receive() : q.receive(options)).subscribe(this);
            fixture.atEnd(this::dispose);
        }

        @Override
        protected void hookOnSubscribe(Subscription s) {
            // nothing until next()
        }

        @Override
        protected void hookOnNext(Delivery<byte[]> d) {
            signals.add(d);
        }

        @Override
        protected void hookOnError(Throwable e) {
            signals.add(e);
        }

        /** Asks for one more and waits for it. */
        @SuppressWarnings("unchecked")
        Delivery<byte[]> next() throws InterruptedException {
            request(1);
            Object o = signals.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            assertThat(o).as("the next delivery").isInstanceOf(Delivery.class);
            taken.add((Delivery<byte[]>) o);
            return (Delivery<byte[]>) o;
        }

        void ackAll() {
            Flux.fromIterable(taken).concatMap(Delivery::ack).blockLast(TIMEOUT);
        }
    }

    /** Serves {@code delegate}, its deliveries and events passed through the test's functions. */
    private static final class Wrapping extends ForwardingBroker {
        private final UnaryOperator<Delivery<Object>> deliveries;
        private final UnaryOperator<QueueEvent> events;

        Wrapping(ReactiveBroker delegate, UnaryOperator<Delivery<Object>> deliveries, UnaryOperator<QueueEvent> events) {
            super(delegate);
            this.deliveries = deliveries;
            this.events = events;
        }

        @Override
        public <T> Mono<ReactiveQueue<T>> queue(QueueSpec spec, Codec<T> codec) {
            return delegate.queue(spec, codec).map(this::wrap);
        }

        @Override
        public <T> Mono<ReactiveQueue<T>> lookup(String name, Codec<T> codec) {
            return delegate.lookup(name, codec).map(this::wrap);
        }

        @SuppressWarnings({"unchecked", "rawtypes"})
        private <T> ReactiveQueue<T> wrap(ReactiveQueue<T> q) {
            return new ForwardingQueue<T>(q) {
                @Override
                public Flux<Delivery<T>> receive(ReceiveOptions options) {
                    return delegate.receive(options).map(d -> (Delivery<T>) (Delivery) deliveries.apply((Delivery) d));
                }

                @Override
                public Flux<QueueEvent> events() {
                    return delegate.events().map(events);
                }
            };
        }
    }
}
