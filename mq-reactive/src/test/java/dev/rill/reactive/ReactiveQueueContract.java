package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.Overflow;
import dev.rill.core.QueueEvent;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * The semantics every {@link ReactiveBroker} must have, as a reusable suite: extend it and implement
 * {@link #createBroker}. Every timer runs on an injected {@link VirtualTimeScheduler}, so tests that wait 30 seconds
 * of queue time take milliseconds.
 */
public abstract class ReactiveQueueContract {

    /**
     * Bound on every real-time wait of the suite: generous (a loaded 2-core machine runs these several times slower),
     * never reached when things work.
     */
    protected static final Duration TIMEOUT = Duration.ofSeconds(30);

    protected VirtualTimeScheduler vts;
    protected ReactiveBroker broker;

    /**
     * Creates the broker under test.
     *
     * @param scheduler drives every timer of the broker and is its clock
     * @return a new, empty broker
     */
    protected abstract ReactiveBroker createBroker(reactor.core.scheduler.Scheduler scheduler);

    @BeforeEach
    void setUpBroker() {
        vts = VirtualTimeScheduler.create();
        broker = createBroker(vts);
    }

    @AfterEach
    void closeBroker() {
        broker.close().block(TIMEOUT);
        vts.dispose();
    }

    protected ReactiveQueue<String> queue(QueueSpec spec) {
        ReactiveQueue<String> q = broker.queue(spec, Codec.utf8()).block(TIMEOUT);
        assertThat(q).isNotNull();
        return q;
    }

    protected QueueStats stats(ReactiveQueue<?> q) {
        QueueStats s = q.stats().block(TIMEOUT);
        assertThat(s).isNotNull();
        return s;
    }

    protected void fill(ReactiveQueue<String> q, int n) {
        StepVerifier.create(q.sendMany(Flux.range(0, n).map(i -> OutboundMessage.of("m" + i))))
                .expectNextCount(n)
                .expectComplete()
                .verify(TIMEOUT);
    }

    protected void advance(Duration d) {
        vts.advanceTimeBy(d);
    }

    /**
     * Waits (real time, bounded by {@link #TIMEOUT}) until {@code check} passes: delivery may be asynchronous (a
     * remote broker delivers on a network thread), so effects are awaited, never assumed synchronous.
     */
    protected static void eventually(org.awaitility.core.ThrowingRunnable check) {
        org.awaitility.Awaitility.await().atMost(TIMEOUT).pollInterval(Duration.ofMillis(5)).untilAsserted(check);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Seed and basic paths
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void seedExampleSendReceiveDeleteThenNothing() {
        ReactiveQueue<String> q = queue(QueueSpec.named("seed"));
        StepVerifier.create(q.send(OutboundMessage.of("Hello, World!")))
                .assertNext(r -> {
                    assertThat(r.duplicate()).isFalse();
                    assertThat(r.message().payload()).isEqualTo("Hello, World!");
                })
                .verifyComplete();
        StepVerifier.create(q.receive(ReceiveOptions.defaults().maxMessages(1)).concatMap(d -> {
            assertThat(d.payload()).isEqualTo("Hello, World!");
            assertThat(d.deliveryCount()).isEqualTo(1);
            return d.ack().thenReturn(d.payload());
        })).expectNext("Hello, World!").expectComplete().verify(TIMEOUT);
        StepVerifier.create(q.receiveOne(Duration.ZERO)).expectComplete().verify(TIMEOUT);
        assertThat(stats(q).size()).isZero();
        assertThat(stats(q).acked()).isEqualTo(1);
    }

    @Test
    void receiveWaitsForAMessageSentLater() {
        ReactiveQueue<String> q = queue(QueueSpec.named("later"));
        StepVerifier.create(q.receive(), 0)
                .thenRequest(1)
                .expectNoEvent(Duration.ZERO)
                .then(() -> q.send(OutboundMessage.of("late")).block(TIMEOUT))
                .assertNext(d -> assertThat(d.payload()).isEqualTo("late"))
                .thenCancel()
                .verify(TIMEOUT);
    }

    @Test
    void sendReportsDuplicatesWithTheOriginalId() {
        ReactiveQueue<String> q = queue(QueueSpec.named("dedup"));
        SendResult<String> first = q.send(OutboundMessage.of("a").dedupId("d1")).block(TIMEOUT);
        SendResult<String> second = q.send(OutboundMessage.of("b").dedupId("d1")).block(TIMEOUT);
        assertThat(first.duplicate()).isFalse();
        assertThat(second.duplicate()).isTrue();
        assertThat(second.messageId()).isEqualTo(first.messageId());
        assertThat(second.message().payload()).isEqualTo("b");
        assertThat(stats(q).ready()).isEqualTo(1);
    }

    @Test
    void dedupWindowExpires() {
        ReactiveQueue<String> q = queue(QueueSpec.named("dedup-window").dedupWindow(Duration.ofSeconds(10)));
        SendResult<String> first = q.send(OutboundMessage.of("a").dedupId("d1")).block(TIMEOUT);
        advance(Duration.ofMillis(9_999));
        assertThat(q.send(OutboundMessage.of("a").dedupId("d1")).block(TIMEOUT).duplicate()).isTrue();
        advance(Duration.ofMillis(1));
        SendResult<String> third = q.send(OutboundMessage.of("a").dedupId("d1")).block(TIMEOUT);
        assertThat(third.duplicate()).isFalse();
        assertThat(third.messageId()).isNotEqualTo(first.messageId());
    }

    @Test
    void declareIsIdempotentAndNamesDifferences() {
        QueueSpec spec = QueueSpec.named("declared").capacity(10);
        ReactiveQueue<String> a = queue(spec);
        ReactiveQueue<String> b = queue(QueueSpec.named("declared").capacity(10));
        a.send(OutboundMessage.of("x")).block(TIMEOUT);
        assertThat(stats(b).ready()).isEqualTo(1);
        StepVerifier.create(broker.queue(QueueSpec.named("declared").capacity(11), Codec.utf8()))
                .expectErrorSatisfies(e -> assertThat(e).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("capacity"))
                .verify(TIMEOUT);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Timers, all in virtual time
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void redeliveredAfterTheVisibilityTimeoutAndNotBefore() {
        ReactiveQueue<String> q = queue(QueueSpec.named("vis").visibilityTimeout(Duration.ofSeconds(30)));
        q.send(OutboundMessage.of("m")).block(TIMEOUT);
        Delivery<String> first = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(first.deliveryCount()).isEqualTo(1);
        StepVerifier.withVirtualTime(() -> q.receive(), () -> vts, 0)
                .expectSubscription()
                .thenRequest(1)
                .expectNoEvent(Duration.ofMillis(29_999))
                .thenAwait(Duration.ofMillis(1))
                .assertNext(d -> {
                    assertThat(d.message().id()).isEqualTo(first.message().id());
                    assertThat(d.deliveryCount()).isEqualTo(2);
                })
                .thenCancel()
                .verify(TIMEOUT);
        StepVerifier.create(first.ack()).expectError(LeaseExpiredException.class).verify(TIMEOUT);
    }

    @Test
    void deadLetteredAfterMaxDeliveries() {
        ReactiveQueue<String> q = queue(QueueSpec.named("poison").visibilityTimeout(Duration.ofSeconds(10))
                .maxDeliveries(3).deadLetterQueue("poison.dlq"));
        ReactiveQueue<String> dlq = queue(QueueSpec.named("poison.dlq"));
        q.send(OutboundMessage.of("bad")).block(TIMEOUT);
        List<Integer> counts = new CopyOnWriteArrayList<>();
        Disposable consumer = q.receive().subscribe(d -> counts.add(d.deliveryCount())); // never acks
        eventually(() -> assertThat(counts).containsExactly(1));
        advance(Duration.ofSeconds(10));
        eventually(() -> assertThat(counts).containsExactly(1, 2));
        advance(Duration.ofSeconds(10));
        eventually(() -> assertThat(counts).containsExactly(1, 2, 3));
        assertThat(stats(dlq).ready()).isZero();
        advance(Duration.ofSeconds(10));
        eventually(() -> assertThat(stats(dlq).ready()).isEqualTo(1)); // dead-lettered, not delivered a 4th time
        assertThat(counts).containsExactly(1, 2, 3);
        consumer.dispose();
        assertThat(stats(q).size()).isZero();
        assertThat(stats(q).deadLettered()).isEqualTo(1);
        Delivery<String> dead = dlq.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(dead.payload()).isEqualTo("bad");
        assertThat(dead.message().headers()).containsEntry(Message.HEADER_SOURCE_QUEUE, "poison")
                .containsEntry(Message.HEADER_DELIVERY_COUNT, "3");
    }

    @Test
    void delayedMessageIsInvisibleUntilDue() {
        ReactiveQueue<String> q = queue(QueueSpec.named("delay"));
        // stored first: the delay counts from the send, which over a network completes asynchronously
        q.send(OutboundMessage.of("later").delay(Duration.ofSeconds(5))).block(TIMEOUT);
        StepVerifier.withVirtualTime(() -> q.receive(ReceiveOptions.defaults().maxMessages(1)), () -> vts, 1)
                .expectSubscription()
                .expectNoEvent(Duration.ofMillis(4_999))
                .then(() -> {
                    QueueStats s = stats(q); // a delivery may be asynchronous: check the queue itself too
                    assertThat(s.delayed()).isEqualTo(1);
                    assertThat(s.ready()).isZero();
                    assertThat(s.inFlight()).isZero();
                })
                .thenAwait(Duration.ofMillis(1))
                .assertNext(d -> assertThat(d.payload()).isEqualTo("later"))
                .expectComplete()
                .verify(TIMEOUT);
    }

    @Test
    void nackWithDelayRedeliversAfterTheDelay() {
        ReactiveQueue<String> q = queue(QueueSpec.named("nack-delay"));
        q.send(OutboundMessage.of("m")).block(TIMEOUT);
        Delivery<String> d = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        d.nack(Duration.ofSeconds(3)).block(TIMEOUT);
        assertThat(d.isSettled()).isTrue();
        assertThat(stats(q).delayed()).isEqualTo(1);
        StepVerifier.withVirtualTime(() -> q.receive(ReceiveOptions.defaults().maxMessages(1)), () -> vts, 1)
                .expectSubscription()
                .expectNoEvent(Duration.ofMillis(2_999))
                .thenAwait(Duration.ofMillis(1))
                .assertNext(again -> assertThat(again.deliveryCount()).isEqualTo(2))
                .expectComplete()
                .verify(TIMEOUT);
    }

    @Test
    void nackRedeliversAtOnce() {
        ReactiveQueue<String> q = queue(QueueSpec.named("nack"));
        q.send(OutboundMessage.of("m")).block(TIMEOUT);
        Delivery<String> d = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        StepVerifier.create(d.nack()).expectComplete().verify(TIMEOUT);
        Delivery<String> again = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(again.deliveryCount()).isEqualTo(2);
        StepVerifier.create(d.nack()).expectError(LeaseExpiredException.class).verify(TIMEOUT);
    }

    @Test
    void extendKeepsTheLeasePastItsFirstDeadline() {
        ReactiveQueue<String> q = queue(QueueSpec.named("extend").visibilityTimeout(Duration.ofSeconds(10)));
        q.send(OutboundMessage.of("m")).block(TIMEOUT);
        Delivery<String> d = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        advance(Duration.ofSeconds(9));
        d.extend(Duration.ofSeconds(10)).block(TIMEOUT);
        assertThat(d.deadline()).isEqualTo(vts.now(java.util.concurrent.TimeUnit.MILLISECONDS) + 10_000);
        advance(Duration.ofSeconds(9));
        assertThat(stats(q).inFlight()).isEqualTo(1);
        StepVerifier.create(d.ack()).expectComplete().verify(TIMEOUT);
        assertThat(stats(q).size()).isZero();
    }

    @Test
    void lookupReturnsAnExistingQueueWithItsSpecWithoutRestatingIt() {
        QueueSpec spec = QueueSpec.named("looked-up").visibilityTimeout(Duration.ofSeconds(7)).maxDeliveries(4)
                .deadLetterQueue("looked-up.dlq").capacity(50);
        ReactiveQueue<String> declared = queue(spec);
        ReactiveQueue<String> found = broker.lookup("looked-up", Codec.utf8()).block(TIMEOUT);
        assertThat(found).isNotNull();
        assertThat(found.spec()).isEqualTo(declared.spec());
        found.send(OutboundMessage.of("via lookup")).block(TIMEOUT);
        Delivery<String> d = declared.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(d.payload()).isEqualTo("via lookup");
        StepVerifier.create(d.ack()).expectComplete().verify(TIMEOUT);
        assertThat(broker.lookup("looked-up.dlq", Codec.utf8()).block(TIMEOUT).spec().name()).isEqualTo("looked-up.dlq");
        StepVerifier.create(broker.lookup("no-such-queue", Codec.utf8()))
                .expectError(QueueNotFoundException.class).verify(TIMEOUT);
        assertThat(broker.list().block(TIMEOUT)).doesNotContain("no-such-queue");
    }

    @Test
    void releaseGivesTheMessageBackWithoutCountingTheDelivery() {
        ReactiveQueue<String> q = queue(QueueSpec.named("release").maxDeliveries(1).deadLetterQueue("release.dlq"));
        q.send(OutboundMessage.of("m")).block(TIMEOUT);
        for (int i = 0; i < 3; i++) {
            Delivery<String> d = q.receiveOne(Duration.ZERO).block(TIMEOUT);
            assertThat(d.deliveryCount()).isEqualTo(1);
            StepVerifier.create(d.release()).expectComplete().verify(TIMEOUT);
            assertThat(d.isSettled()).as("released: settled, so a discard hook leaves it alone").isTrue();
            StepVerifier.create(d.ack()).expectError(LeaseExpiredException.class).verify(TIMEOUT);
        }
        assertThat(stats(q).deadLettered()).isZero();
        assertThat(stats(q).ready()).isEqualTo(1);
        Delivery<String> last = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(last.deliveryCount()).isEqualTo(1);
        StepVerifier.create(last.ack()).expectComplete().verify(TIMEOUT);
        StepVerifier.create(last.release()).expectError(LeaseExpiredException.class).verify(TIMEOUT);
    }

    @Test
    void extendOfAnExpiredLeaseFails() {
        ReactiveQueue<String> q = queue(QueueSpec.named("extend-late").visibilityTimeout(Duration.ofSeconds(1)));
        q.send(OutboundMessage.of("m")).block(TIMEOUT);
        Delivery<String> d = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        advance(Duration.ofSeconds(1));
        StepVerifier.create(d.extend(Duration.ofSeconds(5)))
                .expectErrorSatisfies(e -> assertThat(e).isInstanceOf(LeaseExpiredException.class)
                        .hasMessageContaining("extend").hasMessageContaining("extend-late"))
                .verify(TIMEOUT);
    }

    @Test
    void messageTtlDropsUnreceivedMessages() {
        ReactiveQueue<String> q = queue(QueueSpec.named("ttl").messageTtl(Duration.ofSeconds(5)));
        q.send(OutboundMessage.of("m")).block(TIMEOUT);
        advance(Duration.ofMillis(4_999));
        assertThat(stats(q).ready()).isEqualTo(1);
        advance(Duration.ofMillis(1));
        assertThat(stats(q).ready()).isZero();
        assertThat(stats(q).expired()).isEqualTo(1);
    }

    @Test
    void receiveOneRefusesANegativeWaitWithAnErrorSignal() {
        ReactiveQueue<String> q = queue(QueueSpec.named("negative-wait"));
        fill(q, 1);
        Mono<Delivery<String>> refused = q.receiveOne(Duration.ofMillis(-1)); // lazy: nothing thrown here
        StepVerifier.create(refused).expectError(IllegalArgumentException.class).verify(TIMEOUT);
        assertThat(stats(q).ready()).isEqualTo(1);
    }

    @Test
    void receiveOneIsEmptyWhenNothingArrivesInTime() {
        ReactiveQueue<String> q = queue(QueueSpec.named("one"));
        StepVerifier.withVirtualTime(() -> q.receiveOne(Duration.ofSeconds(5)), () -> vts, Long.MAX_VALUE)
                .expectSubscription()
                .expectNoEvent(Duration.ofSeconds(5))
                .expectComplete()
                .verify(TIMEOUT);
        assertThat(stats(q).inFlight()).isZero();
    }

    @Test
    void receiveOneGetsAMessageThatArrivesInTime() {
        ReactiveQueue<String> q = queue(QueueSpec.named("one-late"));
        StepVerifier.withVirtualTime(() -> q.receiveOne(Duration.ofSeconds(5)), () -> vts, Long.MAX_VALUE)
                .expectSubscription()
                .thenAwait(Duration.ofSeconds(2))
                .then(() -> q.send(OutboundMessage.of("m")).block(TIMEOUT))
                .assertNext(d -> assertThat(d.payload()).isEqualTo("m"))
                .expectComplete()
                .verify(TIMEOUT);
        assertThat(stats(q).inFlight()).isEqualTo(1);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Demand and leases
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void requestOneHoldsExactlyOneLease() {
        ReactiveQueue<String> q = queue(QueueSpec.named("demand"));
        fill(q, 100);
        StepVerifier.create(q.receive(), 0)
                .expectSubscription()
                .then(() -> assertThat(stats(q).inFlight()).isZero())
                .thenRequest(1)
                .expectNextCount(1)
                .then(() -> assertThat(stats(q).inFlight()).isEqualTo(1))
                .thenRequest(2)
                .expectNextCount(2)
                .then(() -> assertThat(stats(q).inFlight()).isEqualTo(3))
                .then(() -> assertThat(stats(q).ready()).isEqualTo(97))
                .thenCancel()
                .verify(TIMEOUT);
    }

    @Test
    void prefetchLeasesAheadAndCancelReleasesThemAtOnce() {
        ReactiveQueue<String> q = queue(QueueSpec.named("prefetch"));
        fill(q, 20);
        StepVerifier.create(q.receive(ReceiveOptions.defaults().prefetch(5)), 0)
                .expectSubscription()
                .then(() -> assertThat(stats(q).inFlight()).isEqualTo(5))
                .thenRequest(1)
                .expectNextCount(1)
                .then(() -> assertThat(stats(q).inFlight()).isEqualTo(6))
                .thenCancel()
                .verify(TIMEOUT);
        QueueStats s = stats(q);
        assertThat(s.inFlight()).isEqualTo(1); // the emitted one stays with its holder
        assertThat(s.ready()).isEqualTo(19);
        assertThat(s.delivered()).isEqualTo(1); // released leases do not count as deliveries
    }

    @Test
    void cancelReleasesLeasesNotYetEmitted() {
        ReactiveQueue<String> q = queue(QueueSpec.named("cancel"));
        fill(q, 10);
        AtomicReference<BaseSubscriber<Delivery<String>>> ref = new AtomicReference<>();
        List<Delivery<String>> got = new CopyOnWriteArrayList<>();
        BaseSubscriber<Delivery<String>> sub = new BaseSubscriber<>() {
            @Override
            protected void hookOnSubscribe(org.reactivestreams.Subscription s) {
                s.request(3);
            }

            @Override
            protected void hookOnNext(Delivery<String> d) {
                got.add(d);
                if (got.size() == 2) {
                    cancel(); // the third lease, if taken, is released
                }
            }
        };
        ref.set(sub);
        q.receive().subscribe(sub);
        eventually(() -> {
            assertThat(got).hasSize(2);
            QueueStats s = stats(q);
            assertThat(s.inFlight()).isEqualTo(2);
            assertThat(s.ready()).isEqualTo(8);
        });
        assertThat(got).hasSize(2); // nothing after the cancel
    }

    @Test
    void maxMessagesCompletesAfterN() {
        ReactiveQueue<String> q = queue(QueueSpec.named("max"));
        fill(q, 10);
        StepVerifier.create(q.receive(ReceiveOptions.defaults().maxMessages(3)))
                .expectNextCount(3)
                .expectComplete()
                .verify(TIMEOUT);
        assertThat(stats(q).inFlight()).isEqualTo(3);
        assertThat(stats(q).ready()).isEqualTo(7);
        StepVerifier.create(q.receive(ReceiveOptions.defaults().maxMessages(0)), 0)
                .expectComplete()
                .verify(TIMEOUT);
    }

    @Test
    void aReleasedDeliveryFreesItsMaxUnackedSlot() {
        ReactiveQueue<String> q = queue(QueueSpec.named("unacked-release"));
        fill(q, 2);
        List<Delivery<String>> got = new CopyOnWriteArrayList<>();
        Disposable d = q.receive(ReceiveOptions.defaults().maxUnacked(1)).subscribe(got::add);
        try {
            eventually(() -> assertThat(got).hasSize(1));
            assertThat(stats(q).inFlight()).isEqualTo(1); // m1 waits for the slot
            got.get(0).release().block(TIMEOUT);
            eventually(() -> assertThat(got).hasSizeGreaterThan(1));
        } finally {
            d.dispose();
        }
    }

    @Test
    void maxUnackedBoundsEmittedUnsettledDeliveries() {
        ReactiveQueue<String> q = queue(QueueSpec.named("qos").visibilityTimeout(Duration.ofSeconds(10)));
        fill(q, 10);
        List<Delivery<String>> got = new CopyOnWriteArrayList<>();
        Disposable d = q.receive(ReceiveOptions.defaults().maxUnacked(2)).subscribe(got::add);
        eventually(() -> assertThat(got).hasSize(2));
        assertThat(stats(q).inFlight()).isEqualTo(2);
        got.get(0).ack().block(TIMEOUT);
        eventually(() -> assertThat(got).hasSize(3));
        got.get(1).nack(Duration.ofSeconds(100)).block(TIMEOUT);
        eventually(() -> assertThat(got).hasSize(4));
        assertThat(stats(q).inFlight()).isEqualTo(2);
        assertThat(got).hasSize(4); // never more than two unsettled
        advance(Duration.ofSeconds(10)); // the two unsettled leases run out: room for two more
        eventually(() -> assertThat(got).hasSize(6));
        assertThat(stats(q).inFlight()).isEqualTo(2);
        d.dispose();
    }

    @Test
    void competingConsumersShareTheQueueWithoutDuplicates() {
        ReactiveQueue<String> q = queue(QueueSpec.named("compete"));
        int n = 2_000;
        Set<Long> seen = ConcurrentHashMap.newKeySet();
        AtomicLong deliveries = new AtomicLong();
        List<Disposable> consumers = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            consumers.add(q.receive()
                    .subscribeOn(Schedulers.parallel())
                    .limitRate(7)
                    .concatMap(d -> {
                        deliveries.incrementAndGet();
                        seen.add(d.message().id());
                        return d.ack();
                    })
                    .subscribe());
        }
        Mono.when(Flux.range(0, 4).map(p -> q.sendMany(Flux.range(0, n / 4).map(i -> OutboundMessage.of(p + ":" + i)))
                .subscribeOn(Schedulers.parallel()).then())
                .collectList().flatMapMany(Flux::fromIterable).collectList().flatMap(Mono::when))
                .block(TIMEOUT);
        org.awaitility.Awaitility.await().atMost(TIMEOUT).until(() -> stats(q).acked() == n);
        consumers.forEach(Disposable::dispose);
        assertThat(seen).hasSize(n);
        assertThat(deliveries.get()).isEqualTo(n);
        assertThat(stats(q).size()).isZero();
    }

    @Test
    void badRequestSignalsIllegalArgumentException() {
        ReactiveQueue<String> q = queue(QueueSpec.named("bad-request"));
        fill(q, 3);
        List<Object> signals = new CopyOnWriteArrayList<>();
        q.receive().subscribe(new BaseSubscriber<>() {
            @Override
            protected void hookOnSubscribe(org.reactivestreams.Subscription s) {
                s.request(1);
            }

            @Override
            protected void hookOnNext(Delivery<String> d) {
                signals.add(d);
                upstream().request(0); // rule 3.9
            }

            @Override
            protected void hookOnError(Throwable e) {
                signals.add(e);
            }
        });
        eventually(() -> assertThat(signals).hasSize(2));
        assertThat(signals.get(1)).isInstanceOf(IllegalArgumentException.class).asString().contains("3.9");
        eventually(() -> {
            QueueStats s = stats(q);
            assertThat(s.inFlight()).isEqualTo(1);
            assertThat(s.ready()).isEqualTo(2);
        });
        assertThat(signals).hasSize(2); // nothing after the error
    }

    @Test
    void slowSubscriberNeverHoldsMoreLeasesThanItsDemand() {
        ReactiveQueue<String> q = queue(QueueSpec.named("slow").capacity(200_000));
        int n = 100_000;
        // a deep backlog, of which a part is consumed: how much of it is taken in a given time is speed, not the
        // property (the heavy profile's RemoteTransportTest consumes 1M this way)
        int taken = 3_000;
        fill(q, n);
        AtomicLong maxInFlight = new AtomicLong();
        AtomicLong count = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        // never blocks in onNext (a remote onNext runs on a network thread): with every batch of 10 received and
        // no demand left, it reads the queue's in-flight count, acks the batch, and only then asks for 10 more
        BaseSubscriber<Delivery<String>> slow = new BaseSubscriber<>() {
            final List<Delivery<String>> batch = new ArrayList<>();

            @Override
            protected void hookOnSubscribe(org.reactivestreams.Subscription s) {
                s.request(10);
            }

            @Override
            protected void hookOnNext(Delivery<String> d) {
                long c = count.incrementAndGet();
                batch.add(d);
                if (batch.size() == 10) {
                    List<Delivery<String>> full = new ArrayList<>(batch);
                    batch.clear();
                    q.stats()
                            .doOnNext(st -> maxInFlight.accumulateAndGet(st.inFlight(), Math::max))
                            .then(q.ackAll(full))
                            .subscribe(null, failure::set, () -> {
                                if (c < taken) {
                                    request(10);
                                }
                            });
                }
            }
        };
        q.receive().subscribe(slow);
        eventually(() -> {
            assertThat(failure.get()).isNull();
            assertThat(count.get()).isEqualTo(taken);
            assertThat(stats(q).acked()).isEqualTo(taken);
        });
        // no demand left: nothing more is leased, the backlog stays ready
        QueueStats after = stats(q);
        assertThat(after.inFlight()).isZero();
        assertThat(after.ready()).isEqualTo(n - taken);
        slow.dispose();
        assertThat(count.get()).isEqualTo(taken);
        assertThat(maxInFlight.get()).isEqualTo(10);
        eventually(() -> assertThat(stats(q).size()).isEqualTo(n - taken));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Acknowledgments
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void secondAckIsANoOpButAckAfterExpiryFails() {
        ReactiveQueue<String> q = queue(QueueSpec.named("acks").visibilityTimeout(Duration.ofSeconds(5)));
        fill(q, 2);
        Delivery<String> a = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        Delivery<String> b = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        StepVerifier.create(a.ack()).expectComplete().verify(TIMEOUT);
        StepVerifier.create(a.ack()).expectComplete().verify(TIMEOUT);
        assertThat(a.isSettled()).isTrue();
        advance(Duration.ofSeconds(5)); // a lease is over when now >= deadline
        StepVerifier.create(b.ack())
                .expectErrorSatisfies(e -> assertThat(e).isInstanceOf(LeaseExpiredException.class)
                        .hasMessageContaining("ack").hasMessageContaining("acks")
                        .hasMessageContaining(Long.toString(b.message().id())))
                .verify(TIMEOUT);
        assertThat(b.isSettled()).isFalse();
    }

    @Test
    void ackAllAcksManyInOneCall() {
        ReactiveQueue<String> q = queue(QueueSpec.named("ack-all"));
        fill(q, 5);
        List<Delivery<String>> ds = q.receive(ReceiveOptions.defaults().maxMessages(5)).collectList().block(TIMEOUT);
        StepVerifier.create(q.ackAll(ds)).expectComplete().verify(TIMEOUT);
        assertThat(stats(q).acked()).isEqualTo(5);
        assertThat(ds).allMatch(Delivery::isSettled);
        StepVerifier.create(q.ackAll(ds)).expectComplete().verify(TIMEOUT); // already acked: no-op
    }

    @Test
    void ackAllReportsExpiredLeasesAndAcksTheRest() {
        ReactiveQueue<String> q = queue(QueueSpec.named("ack-all-late").visibilityTimeout(Duration.ofSeconds(5)));
        fill(q, 1);
        Delivery<String> old = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        advance(Duration.ofSeconds(5));
        fill(q, 1);
        Delivery<String> fresh = q.receive(ReceiveOptions.defaults().maxMessages(2)).filter(d -> d.deliveryCount() == 1)
                .blockFirst(TIMEOUT);
        StepVerifier.create(q.ackAll(List.of(old, fresh)))
                .expectError(LeaseExpiredException.class)
                .verify(TIMEOUT);
        assertThat(fresh.isSettled()).isTrue();
        assertThat(old.isSettled()).isFalse();
    }

    @Test
    void rejectDeadLettersWithTheReason() {
        ReactiveQueue<String> q = queue(QueueSpec.named("rej").deadLetterQueue("rej.dlq"));
        fill(q, 1);
        Delivery<String> d = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        StepVerifier.create(d.reject("cannot parse")).expectComplete().verify(TIMEOUT);
        ReactiveQueue<String> dlq = queue(QueueSpec.named("rej.dlq"));
        Delivery<String> dead = dlq.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(dead.message().headers()).containsEntry(Message.HEADER_DEAD_LETTER_REASON, "cannot parse");
        dead.ack().block(TIMEOUT);
        assertThat(stats(q).size()).isZero();
    }

    @Test
    void rejectWithoutAReasonDeadLettersWithTheDefaultReason() {
        ReactiveQueue<String> q = queue(QueueSpec.named("rej-null").deadLetterQueue("rej-null.dlq"));
        fill(q, 1);
        Delivery<String> d = q.receiveOne(Duration.ZERO).block(TIMEOUT);
        StepVerifier.create(d.reject(null)).expectComplete().verify(TIMEOUT);
        ReactiveQueue<String> dlq = queue(QueueSpec.named("rej-null.dlq"));
        Delivery<String> dead = dlq.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(dead.message().headers()).containsEntry(Message.HEADER_DEAD_LETTER_REASON, "rejected");
        dead.ack().block(TIMEOUT);
    }

    @Test
    void redriveMovesDeadLettersBack() {
        ReactiveQueue<String> q = queue(QueueSpec.named("redrive").deadLetterQueue("redrive.dlq"));
        fill(q, 3);
        q.receive(ReceiveOptions.defaults().maxMessages(3)).concatMap(d -> d.reject("no")).blockLast(TIMEOUT);
        assertThat(stats(q).size()).isZero();
        StepVerifier.create(broker.redrive("redrive.dlq", 10)).expectNext(3).expectComplete().verify(TIMEOUT);
        assertThat(stats(q).ready()).isEqualTo(3);
        StepVerifier.create(broker.redrive("missing.dlq", 10)).expectError(QueueNotFoundException.class)
                .verify(TIMEOUT);
    }

    @Test
    void redriveToATargetMovesMessagesThereWithoutTheirDeadLetterHeaders() {
        ReactiveQueue<String> q = queue(QueueSpec.named("rt.src").deadLetterQueue("rt.dlq"));
        ReactiveQueue<String> parked = queue(QueueSpec.named("rt.parked").capacity(2));
        q.send(OutboundMessage.of("k1").key("k").priority(7).header("app", "x")).block(TIMEOUT);
        fill(q, 2);
        q.receive(ReceiveOptions.defaults().maxMessages(3)).concatMap(d -> d.reject("no")).blockLast(TIMEOUT);
        assertThat(broker.delete("rt.src").block(TIMEOUT)).isTrue(); // the source is gone: only a target helps

        // the target holds two: the move stops there, the third stays in the dead-letter queue
        StepVerifier.create(broker.redrive("rt.dlq", "rt.parked", 10)).expectNext(2).expectComplete().verify(TIMEOUT);
        Delivery<String> first = parked.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(first).isNotNull();
        assertThat(first.message().payload()).isEqualTo("k1");
        assertThat(first.message().key()).isEqualTo("k");
        assertThat(first.message().priority()).isEqualTo(7);
        assertThat(first.message().headers()).containsEntry("app", "x").doesNotContainKeys(
                Message.HEADER_DEAD_LETTER_REASON, Message.HEADER_SOURCE_QUEUE, Message.HEADER_DELIVERY_COUNT,
                Message.HEADER_ORIGINAL_ID);
        first.ack().block(TIMEOUT);
        StepVerifier.create(broker.redrive("rt.dlq", "rt.parked", 10)).expectNext(1).expectComplete().verify(TIMEOUT);
        assertThat(stats(parked).ready()).isEqualTo(2);

        // any queue can be the source
        StepVerifier.create(broker.redrive("rt.parked", "rt.dlq", 1)).expectNext(1).expectComplete().verify(TIMEOUT);
        assertThat(stats(parked).ready()).isEqualTo(1);
    }

    @Test
    void redriveToATargetRefusesMissingQueuesByNameAndBadArguments() {
        queue(QueueSpec.named("rb.dlq"));
        StepVerifier.create(broker.redrive("rb.dlq", "rb.nowhere", 10))
                .expectErrorSatisfies(e -> assertThat(e).isInstanceOf(QueueNotFoundException.class)
                        .hasMessageContaining("'rb.nowhere'"))
                .verify(TIMEOUT);
        StepVerifier.create(broker.redrive("rb.missing", "rb.dlq", 10))
                .expectErrorSatisfies(e -> assertThat(e).isInstanceOf(QueueNotFoundException.class)
                        .hasMessageContaining("'rb.missing'"))
                .verify(TIMEOUT);
        StepVerifier.create(broker.redrive("rb.dlq", "rb.dlq", 10))
                .expectErrorSatisfies(e -> assertThat(e).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("into itself"))
                .verify(TIMEOUT);
        StepVerifier.create(broker.redrive("rb.dlq", "rb.other", 0))
                .expectErrorSatisfies(e -> assertThat(e).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("max must be >= 1"))
                .verify(TIMEOUT);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Full queue
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void sendWaitsWhileFullAndCompletesWhenSpaceFrees() {
        ReactiveQueue<String> q = queue(QueueSpec.named("full-wait").capacity(2));
        fill(q, 2);
        StepVerifier.create(q.send(OutboundMessage.of("third")))
                .expectSubscription()
                .expectNoEvent(Duration.ofMillis(50))
                .then(() -> q.receiveOne(Duration.ZERO).flatMap(Delivery::ack).block(TIMEOUT))
                .assertNext(r -> assertThat(r.message().payload()).isEqualTo("third"))
                .expectComplete()
                .verify(TIMEOUT);
        assertThat(stats(q).ready()).isEqualTo(2);
    }

    @Test
    void cancelledWaitingSendStoresNothing() {
        ReactiveQueue<String> q = queue(QueueSpec.named("full-cancel").capacity(1));
        fill(q, 1);
        StepVerifier.create(q.send(OutboundMessage.of("never")))
                .expectSubscription()
                .thenCancel()
                .verify(TIMEOUT);
        q.purge().block(TIMEOUT);
        assertThat(stats(q).size()).isZero();
        assertThat(stats(q).sent()).isEqualTo(1);
    }

    @Test
    void sendFailsWhenFullAndPolicyIsFail() {
        ReactiveQueue<String> q = queue(QueueSpec.named("full-fail").capacity(1).overflow(Overflow.FAIL));
        fill(q, 1);
        StepVerifier.create(q.send(OutboundMessage.of("x")))
                .expectErrorSatisfies(e -> assertThat(e).isInstanceOf(QueueFullException.class)
                        .hasMessageContaining("full-fail"))
                .verify(TIMEOUT);
        ReactiveQueue<String> w = queue(QueueSpec.named("full-override").capacity(1));
        fill(w, 1);
        StepVerifier.create(w.send(OutboundMessage.of("x"), SendOptions.defaults().overflow(Overflow.FAIL)))
                .expectError(QueueFullException.class)
                .verify(TIMEOUT);
        StepVerifier.create(w.sendMany(Flux.just(OutboundMessage.of("y")), SendOptions.defaults().overflow(Overflow.FAIL)))
                .expectError(QueueFullException.class)
                .verify(TIMEOUT);
    }

    @Test
    void sendManyResultsAreInOrderAndCarryTheirMessage() {
        ReactiveQueue<String> q = queue(QueueSpec.named("many"));
        List<SendResult<String>> results = q.sendMany(Flux.range(0, 1000).map(i -> OutboundMessage.of("m" + i)))
                .collectList().block(TIMEOUT);
        assertThat(results).hasSize(1000);
        for (int i = 0; i < results.size(); i++) {
            assertThat(results.get(i).message().payload()).isEqualTo("m" + i);
            if (i > 0) {
                assertThat(results.get(i).messageId()).isGreaterThan(results.get(i - 1).messageId());
            }
        }
    }

    @Test
    void sendManyNeverRequestsMoreThanConsumedPlusCapacityPlusMaxInFlight() {
        int capacity = 100;
        int maxInFlight = 16;
        int n = 5_000; // 50 times the capacity: the bound is what is checked, not how fast 5,000 go through
        ReactiveQueue<String> q = queue(QueueSpec.named("many-bound").capacity(capacity));
        AtomicLong requestedUpstream = new AtomicLong();
        AtomicLong acked = new AtomicLong();
        AtomicLong violations = new AtomicLong();
        Flux<OutboundMessage<String>> source = Flux.range(0, n).map(i -> OutboundMessage.of("m" + i))
                .doOnRequest(r -> {
                    long total = requestedUpstream.addAndGet(r);
                    if (total > acked.get() + capacity + maxInFlight) {
                        violations.incrementAndGet();
                    }
                });
        Disposable consumer = q.receive().limitRate(1)
                .concatMap(d -> d.ack().doOnSuccess(v -> acked.incrementAndGet()))
                .subscribe();
        StepVerifier.create(q.sendMany(source, SendOptions.defaults().maxInFlight(maxInFlight)))
                .expectNextCount(n)
                .expectComplete()
                .verify(TIMEOUT);
        consumer.dispose();
        assertThat(requestedUpstream.get()).isBetween((long) n, (long) n + maxInFlight); // the last request may overshoot
        assertThat(violations.get()).isZero();
    }

    @Test
    void sendManyIntoAQueueKeptFullKeepsOrderAcrossRefusals() {
        // capacity 10 and a consumer acking one at a time: the sender is refused over and over and switches between
        // single sends and batches (FluxSendMany.SINGLES); order and ids must not notice
        int n = 5_000;
        ReactiveQueue<String> q = queue(QueueSpec.named("many-full").capacity(10));
        List<String> seen = Collections.synchronizedList(new ArrayList<>());
        Disposable consumer = q.receive().limitRate(1)
                .concatMap(d -> {
                    seen.add(d.message().payload());
                    return d.ack();
                })
                .subscribe();
        List<Long> ids = q.sendMany(Flux.range(0, n).map(i -> OutboundMessage.of("m" + i)))
                .map(SendResult::messageId)
                .collectList()
                .block(TIMEOUT);
        eventually(() -> assertThat(seen).hasSize(n));
        consumer.dispose();
        assertThat(ids).hasSize(n).isSorted().doesNotHaveDuplicates();
        for (int i = 0; i < n; i++) {
            assertThat(seen.get(i)).isEqualTo("m" + i);
        }
    }

    @Test
    void sendManyWithoutConsumerStopsRequestingAtCapacity() {
        ReactiveQueue<String> q = queue(QueueSpec.named("many-stall").capacity(50));
        AtomicLong requestedUpstream = new AtomicLong();
        AtomicReference<Throwable> consumerFailure = new AtomicReference<>();
        Flux<OutboundMessage<String>> source = Flux.range(0, 10_000).map(i -> OutboundMessage.of("m" + i))
                .doOnRequest(requestedUpstream::addAndGet);
        StepVerifier.create(q.sendMany(source, SendOptions.defaults().maxInFlight(8)))
                .expectNextCount(50)
                .expectNoEvent(Duration.ofMillis(20))
                .then(() -> assertThat(requestedUpstream.get()).isLessThanOrEqualTo(50 + 8))
                // the step may run on a network thread: consume without blocking it
                .then(() -> q.receive(ReceiveOptions.defaults().maxMessages(10)).concatMap(Delivery::ack)
                        .subscribe(null, consumerFailure::set))
                .expectNextCount(10)
                .expectNoEvent(Duration.ofMillis(20))
                .then(() -> assertThat(requestedUpstream.get()).isLessThanOrEqualTo(60 + 8))
                .thenCancel()
                .verify(TIMEOUT);
        assertThat(consumerFailure.get()).isNull();
        eventually(() -> assertThat(stats(q).size()).isEqualTo(50)); // a cancelled waiting send stores nothing
    }

    /**
     * How many messages {@code sendMany} may take from upstream beyond the downstream demand: none by default; a
     * durable broker takes up to {@code maxInFlight} ahead, their results waiting for the disk.
     */
    protected long sendManyTakesAheadOfDemand(int maxInFlight) {
        return 0;
    }

    @Test
    void sendManyPullsNoMoreThanTheDownstreamDemand() {
        ReactiveQueue<String> q = queue(QueueSpec.named("many-demand"));
        AtomicLong requestedUpstream = new AtomicLong();
        Flux<OutboundMessage<String>> source = Flux.range(0, 100).map(i -> OutboundMessage.of("m" + i))
                .doOnRequest(requestedUpstream::addAndGet);
        StepVerifier.create(q.sendMany(source, SendOptions.defaults().maxInFlight(16)), 3)
                .expectNextCount(3)
                .expectNoEvent(Duration.ofMillis(50))
                .then(() -> assertThat(requestedUpstream.get()).isBetween(3L, 3L + sendManyTakesAheadOfDemand(16)))
                .thenRequest(97)
                .expectNextCount(97)
                .expectComplete()
                .verify(TIMEOUT);
        assertThat(stats(q).size()).isEqualTo(100);
    }

    @Test
    void sendManyRefusedMidStreamEndsAfterTheResultsBeforeIt() {
        ReactiveQueue<String> q = queue(QueueSpec.named("many-refused").capacity(5));
        AtomicLong requestedUpstream = new AtomicLong();
        AtomicBoolean cancelledUpstream = new AtomicBoolean();
        Flux<OutboundMessage<String>> source = Flux.range(0, 1_000).map(i -> OutboundMessage.of("m" + i))
                .doOnRequest(requestedUpstream::addAndGet)
                .doOnCancel(() -> cancelledUpstream.set(true));
        List<String> stored = new ArrayList<>();
        StepVerifier.create(q.sendMany(source, SendOptions.defaults().overflow(Overflow.FAIL).maxInFlight(8)))
                .recordWith(ArrayList::new)
                .expectNextCount(5)
                .consumeRecordedWith(rs -> rs.forEach(r -> stored.add(r.message().payload())))
                .expectError(QueueFullException.class)
                .verify(TIMEOUT);
        assertThat(stored).containsExactly("m0", "m1", "m2", "m3", "m4");
        assertThat(cancelledUpstream).isTrue();
        assertThat(requestedUpstream.get()).isLessThanOrEqualTo(5 + 8);
        assertThat(stats(q).size()).isEqualTo(5); // nothing after the refused one was stored
    }

    @Test
    void sendManyUpstreamErrorComesAfterTheResultsOfWhatWasTaken() {
        ReactiveQueue<String> q = queue(QueueSpec.named("many-upstream-error"));
        IllegalStateException boom = new IllegalStateException("upstream failed");
        Flux<OutboundMessage<String>> source = Flux.range(0, 10).map(i -> OutboundMessage.of("m" + i))
                .concatWith(Flux.error(boom));
        StepVerifier.create(q.sendMany(source))
                .expectNextCount(10)
                .expectErrorMatches(e -> e == boom)
                .verify(TIMEOUT);
        assertThat(stats(q).size()).isEqualTo(10);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Events, stats, admin
    // ---------------------------------------------------------------------------------------------------------

    /** Receive streams error when their queue is deleted, an events stream just ends (as ReactiveBroker says). */
    @Test
    void eventsCompleteWhenTheQueueIsDeleted() {
        ReactiveQueue<String> q = queue(QueueSpec.named("events-deleted"));
        StepVerifier.create(q.events())
                .then(() -> broker.delete("events-deleted").block(TIMEOUT))
                .thenConsumeWhile(e -> e.type() == QueueEvent.Type.PURGED) // its messages went with it
                .expectComplete()
                .verify(TIMEOUT);
    }

    @Test
    void eventsStreamWhatHappens() {
        ReactiveQueue<String> q = queue(QueueSpec.named("events"));
        q.send(OutboundMessage.of("before")).block(TIMEOUT); // not seen: nobody subscribed
        AtomicReference<Throwable> consumerFailure = new AtomicReference<>();
        StepVerifier.create(q.events().map(QueueEvent::type))
                .then(() -> q.send(OutboundMessage.of("m")).block(TIMEOUT))
                .expectNext(QueueEvent.Type.ENQUEUED)
                // the step may run on a network thread: consume without blocking it, one message after the other
                .then(() -> q.receive(ReceiveOptions.defaults().maxMessages(1)).concatMap(Delivery::ack)
                        .thenMany(q.receive(ReceiveOptions.defaults().maxMessages(1)).concatMap(Delivery::ack))
                        .subscribe(null, consumerFailure::set))
                .expectNext(QueueEvent.Type.LEASED, QueueEvent.Type.ACKED, QueueEvent.Type.LEASED,
                        QueueEvent.Type.ACKED)
                .expectNoEvent(Duration.ofMillis(20))
                .thenCancel()
                .verify(TIMEOUT);
        assertThat(consumerFailure.get()).isNull();
        eventually(() -> assertThat(stats(q).acked()).isEqualTo(2));
    }

    @Test
    void peekLooksWithoutLeasing() {
        ReactiveQueue<String> q = queue(QueueSpec.named("peek"));
        fill(q, 3);
        StepVerifier.create(q.peek(2).map(Message::payload)).expectNext("m0", "m1").expectComplete().verify(TIMEOUT);
        assertThat(stats(q).inFlight()).isZero();
        StepVerifier.create(q.peek(0)).expectError(IllegalArgumentException.class).verify(TIMEOUT);
    }

    @Test
    void brokerListsPurgesAndDeletes() {
        ReactiveQueue<String> a = queue(QueueSpec.named("a"));
        queue(QueueSpec.named("b"));
        fill(a, 4);
        StepVerifier.create(broker.list()).assertNext(l -> assertThat(l).contains("a", "b")).verifyComplete();
        StepVerifier.create(broker.stats())
                .assertNext(l -> assertThat(l).filteredOn(s -> s.name().equals("a")).singleElement()
                        .satisfies(s -> assertThat(s.ready()).isEqualTo(4)))
                .verifyComplete();
        StepVerifier.create(broker.purge("a")).expectNext(4L).verifyComplete();
        StepVerifier.create(broker.purge("nope")).expectError(QueueNotFoundException.class).verify(TIMEOUT);
        StepVerifier.create(broker.delete("b")).expectNext(true).verifyComplete();
        StepVerifier.create(broker.delete("b")).expectNext(false).verifyComplete();
    }

    @Test
    void deletingAQueueEndsItsStreams() {
        ReactiveQueue<String> q = queue(QueueSpec.named("doomed"));
        StepVerifier.create(q.receive())
                .expectSubscription()
                .then(() -> broker.delete("doomed").block(TIMEOUT))
                .expectError(QueueClosedException.class)
                .verify(TIMEOUT);
        StepVerifier.create(q.send(OutboundMessage.of("x"))).expectError(QueueClosedException.class).verify(TIMEOUT);
    }

    @Test
    void receivesInPriorityOrder() {
        ReactiveQueue<String> q = queue(QueueSpec.named("prio"));
        q.sendMany(Flux.just(OutboundMessage.of("low").priority(1), OutboundMessage.of("high").priority(9)))
                .blockLast(TIMEOUT);
        StepVerifier.create(q.receive(ReceiveOptions.defaults().maxMessages(2)).map(Delivery::payload))
                .expectNext("high", "low")
                .expectComplete()
                .verify(TIMEOUT);
    }

    @Test
    void visibilityTimeoutPerStream() {
        ReactiveQueue<String> q = queue(QueueSpec.named("vis-override"));
        fill(q, 1);
        Delivery<String> d = q.receive(ReceiveOptions.defaults().maxMessages(1).visibilityTimeout(Duration.ofSeconds(2)))
                .blockFirst(TIMEOUT);
        assertThat(d.deadline()).isEqualTo(vts.now(java.util.concurrent.TimeUnit.MILLISECONDS) + 2_000);
        advance(Duration.ofSeconds(2));
        assertThat(stats(q).ready()).isEqualTo(1);
        assertThatThrownBy(() -> d.ack().block(TIMEOUT)).isInstanceOf(LeaseExpiredException.class);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Deliveries that Reactor operators drop (discard)
    // ---------------------------------------------------------------------------------------------------------

    /**
     * {@code receive().publishOn(s, 16).take(3)}, the 3 taken acked: publishOn prefetched all 10 deliveries and
     * drops the 7 it still holds when take cancels it. With {@code releasing}, the chain ends with
     * {@link Deliveries#releasingDiscarded()}.
     */
    private void takeThreeBehindPublishOn(ReactiveQueue<String> q, boolean releasing) {
        AtomicLong arrived = new AtomicLong();
        List<Delivery<String>> taken = new CopyOnWriteArrayList<>();
        Flux<Delivery<String>> chain = q.receive()
                .doOnNext(d -> arrived.incrementAndGet())
                .publishOn(Schedulers.parallel(), 16)
                .take(3)
                .doOnNext(taken::add);
        StepVerifier.create(releasing ? chain.transform(Deliveries.releasingDiscarded()) : chain, 0)
                .then(() -> eventually(() -> assertThat(arrived).hasValue(10))) // all 10 wait in publishOn's queue
                .thenRequest(3)
                .expectNextCount(3)
                .expectComplete()
                .verify(TIMEOUT);
        Flux.fromIterable(taken).concatMap(Delivery::ack).blockLast(TIMEOUT);
    }

    @Test
    void deliveriesAnOperatorDropsStayLeasedUntilTheirTimeout() {
        ReactiveQueue<String> q = queue(QueueSpec.named("dropped"));
        fill(q, 10);
        takeThreeBehindPublishOn(q, false);
        assertThat(stats(q).acked()).isEqualTo(3);
        assertThat(stats(q).inFlight()).isEqualTo(7); // dropped by publishOn, leased to nobody
        advance(Duration.ofSeconds(30));
        eventually(() -> assertThat(stats(q).ready()).isEqualTo(7));
        StepVerifier.create(q.receive(ReceiveOptions.defaults().maxMessages(7)).map(Delivery::deliveryCount))
                .expectNext(2, 2, 2, 2, 2, 2, 2) // and the drop counted as a delivery
                .expectComplete()
                .verify(TIMEOUT);
    }

    @Test
    void releasingDiscardedGivesDroppedDeliveriesBackAtOnceUncounted() {
        ReactiveQueue<String> q = queue(QueueSpec.named("released"));
        fill(q, 10);
        try (JulCapture log = new JulCapture(Deliveries.class.getName())) {
            takeThreeBehindPublishOn(q, true);
            // no virtual time passes: the 7 dropped deliveries are back because the hook released them
            eventually(() -> {
                QueueStats s = stats(q);
                assertThat(s.inFlight()).isZero();
                assertThat(s.ready()).isEqualTo(7);
            });
            assertThat(log.records()).isEmpty();
        }
        QueueStats s = stats(q);
        assertThat(s.acked()).isEqualTo(3);
        assertThat(s.nacked()).isZero();
        assertThat(s.expiredLeases()).isZero();
        StepVerifier.create(q.receive(ReceiveOptions.defaults().maxMessages(7)).map(Delivery::deliveryCount))
                .expectNext(1, 1, 1, 1, 1, 1, 1) // released, not nacked: the drop did not count
                .expectComplete()
                .verify(TIMEOUT);
    }

    @Test
    void releasingDiscardedGivesBackDeliveriesDroppedInsideLists() {
        ReactiveQueue<String> q = queue(QueueSpec.named("released-lists"));
        fill(q, 10);
        AtomicLong arrived = new AtomicLong();
        List<List<Delivery<String>>> taken = new CopyOnWriteArrayList<>();
        Flux<List<Delivery<String>>> chain = q.receive()
                .doOnNext(d -> arrived.incrementAndGet())
                .buffer(3)
                .publishOn(Schedulers.parallel(), 16)
                .take(1)
                .doOnNext(taken::add)
                .transform(Deliveries.releasingDiscarded());
        StepVerifier.create(chain, 0)
                .then(() -> eventually(() -> assertThat(arrived).hasValue(10))) // 3 lists wait in publishOn's queue
                .thenRequest(1)
                .expectNextCount(1)
                .expectComplete()
                .verify(TIMEOUT);
        Flux.fromIterable(taken.get(0)).concatMap(Delivery::ack).blockLast(TIMEOUT);
        // no virtual time passes: the lists publishOn dropped (and buffer's open one) were looked into
        eventually(() -> {
            QueueStats s = stats(q);
            assertThat(s.inFlight()).isZero();
            assertThat(s.ready()).isEqualTo(7);
        });
        StepVerifier.create(q.receive(ReceiveOptions.defaults().maxMessages(7)).map(Delivery::deliveryCount))
                .expectNext(1, 1, 1, 1, 1, 1, 1)
                .expectComplete()
                .verify(TIMEOUT);
    }

    @Test
    void filterUnderMaxUnackedStallsUntilTheFilteredMessagesAreDeadLettered() {
        ReactiveQueue<String> q = queue(QueueSpec.named("filtered").maxDeliveries(2).deadLetterQueue("filtered.dlq"));
        fill(q, 6);
        List<String> done = new CopyOnWriteArrayList<>();
        Disposable consumer = q.receive(ReceiveOptions.defaults().maxUnacked(2))
                .filter(d -> !d.payload().equals("m0") && !d.payload().equals("m1"))
                .concatMap(d -> d.ack().thenReturn(d.payload()))
                .subscribe(done::add);
        try {
            // m0 and m1 were dropped by filter and hold both slots: nothing more is delivered
            eventually(() -> assertThat(stats(q).delivered()).isEqualTo(2));
            assertThat(stats(q).inFlight()).isEqualTo(2);
            assertThat(stats(q).ready()).isEqualTo(4);
            advance(Duration.ofSeconds(30)); // they come back first, to the same filter, and stall it again
            eventually(() -> assertThat(stats(q).delivered()).isEqualTo(4));
            assertThat(stats(q).inFlight()).isEqualTo(2);
            assertThat(done).isEmpty();
            advance(Duration.ofSeconds(30)); // two deliveries each: dead-lettered, and the stream goes on
            eventually(() -> assertThat(done).containsExactly("m2", "m3", "m4", "m5"));
            assertThat(stats(queue(QueueSpec.named("filtered.dlq"))).ready()).isEqualTo(2);
        } finally {
            consumer.dispose();
        }
    }

    @Test
    void settlingUnwantedMessagesInsteadOfFilteringThemKeepsTheStreamGoing() {
        ReactiveQueue<String> q = queue(QueueSpec.named("unwanted"));
        fill(q, 6);
        List<String> done = new CopyOnWriteArrayList<>();
        Disposable consumer = q.receive(ReceiveOptions.defaults().maxUnacked(2))
                .concatMap(d -> d.payload().equals("m0") || d.payload().equals("m1")
                        ? d.ack().then(Mono.<Delivery<String>>empty()) // not wanted: deleted (or reject, nack(delay))
                        : Mono.just(d))
                .concatMap(d -> d.ack().thenReturn(d.payload()))
                .subscribe(done::add);
        try {
            eventually(() -> assertThat(done).containsExactly("m2", "m3", "m4", "m5"));
            assertThat(stats(q).size()).isZero();
        } finally {
            consumer.dispose();
        }
    }

    @Test
    void aCancelledReceiveGivesBackItsOwnLeasesWithoutTheDiscardHook() {
        ReactiveQueue<String> q = queue(QueueSpec.named("own-buffer"));
        fill(q, 5);
        List<Object> hooked = new CopyOnWriteArrayList<>();
        Delivery<String> first = q.receive(ReceiveOptions.defaults().prefetch(4))
                .take(1)
                .doOnDiscard(Delivery.class, hooked::add)
                .blockFirst(TIMEOUT);
        assertThat(first).isNotNull();
        first.ack().block(TIMEOUT);
        eventually(() -> {
            QueueStats s = stats(q);
            assertThat(s.inFlight()).isZero();
            assertThat(s.ready()).isEqualTo(4);
        });
        // the stream's own leftovers never reach the hook: a hook that releases finds nothing to release twice
        assertThat(hooked).isEmpty();
        StepVerifier.create(q.receive(ReceiveOptions.defaults().maxMessages(4)).map(Delivery::deliveryCount))
                .expectNext(1, 1, 1, 1)
                .expectComplete()
                .verify(TIMEOUT);
    }
}
