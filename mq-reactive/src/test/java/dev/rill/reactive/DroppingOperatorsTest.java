package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.reactivestreams.Subscription;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * Operators that drop deliveries, one by one, in process and on virtual time (no time passes): without a hook the
 * dropped deliveries stay leased; with {@link Deliveries#releasingDiscarded()} at the end of the chain they are
 * ready again at once, their delivery count not raised.
 */
class DroppingOperatorsTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private final VirtualTimeScheduler vts = VirtualTimeScheduler.create();
    private final ReactiveBroker broker = Rill.inMemory(vts);

    @AfterEach
    void close() {
        broker.close().block(TIMEOUT);
        vts.dispose();
    }

    private ReactiveQueue<String> filled(String name) {
        ReactiveQueue<String> q = broker.queue(QueueSpec.named(name), Codec.utf8()).block(TIMEOUT);
        q.sendMany(Flux.range(0, 10).map(i -> OutboundMessage.of("m" + i))).blockLast(TIMEOUT);
        return q;
    }

    static Stream<Arguments> droppingChains() {
        return Stream.of(
                chain("limitRate's prefetched deliveries on cancel", f -> f.limitRate(8)),
                chain("publishOn's queue on cancel", f -> f.publishOn(Schedulers.immediate(), 8)),
                chain("concatMap's prefetched sources on cancel", f -> f.concatMap(Mono::just, 8)),
                chain("skip", f -> f.skip(3)));
    }

    private static Arguments chain(String name, Function<Flux<Delivery<String>>, Flux<Delivery<String>>> ops) {
        return Arguments.of(name, ops);
    }

    /**
     * Subscribes to receive() through {@code ops}, asks for one delivery, then (what the operators prefetched now
     * waiting in them) for another, cancels, and acks the two. A chain that keeps up holds nothing: the receive
     * stream emits one delivery at a time and gives back its own leftovers on cancel.
     */
    private void takeTwoAndCancel(ReactiveQueue<String> q, Function<Flux<Delivery<String>>, Flux<Delivery<String>>> ops,
            boolean releasing) {
        List<Delivery<String>> got = new CopyOnWriteArrayList<>();
        BaseSubscriber<Delivery<String>> consumer = new BaseSubscriber<>() {
            @Override
            protected void hookOnSubscribe(Subscription subscription) {
                // asks below
            }

            @Override
            protected void hookOnNext(Delivery<String> d) {
                got.add(d);
            }
        };
        Flux<Delivery<String>> f = ops.apply(q.receive());
        (releasing ? f.transform(Deliveries.releasingDiscarded()) : f).subscribe(consumer);
        consumer.request(1);
        assertThat(got).hasSize(1);
        consumer.request(1);
        assertThat(got).hasSize(2);
        consumer.cancel();
        Flux.fromIterable(got).concatMap(Delivery::ack).blockLast(TIMEOUT);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("droppingChains")
    void droppedDeliveriesStayLeasedWithoutTheHookAndComeBackAtOnceWithIt(String name,
            Function<Flux<Delivery<String>>, Flux<Delivery<String>>> ops) {
        ReactiveQueue<String> plain = filled("plain");
        takeTwoAndCancel(plain, ops, false);
        assertThat(stats(plain).inFlight()).as("dropped and still leased").isPositive();

        ReactiveQueue<String> released = filled("released");
        takeTwoAndCancel(released, ops, true);
        QueueStats s = stats(released);
        assertThat(s.inFlight()).isZero(); // no virtual time passed
        assertThat(s.ready()).isEqualTo(8);
        assertThat(s.nacked()).isZero();
        StepVerifier.create(released.receive(ReceiveOptions.defaults().maxMessages(8))
                        .map(Delivery::deliveryCount).distinct())
                .expectNext(1) // released, not counted
                .expectComplete()
                .verify(TIMEOUT);
    }

    private QueueStats stats(ReactiveQueue<String> q) {
        return q.stats().block(TIMEOUT);
    }

    /**
     * Operators that drop and go on asking (filter, onBackpressureDrop, distinct) are no case for the hook: the
     * released message is ready again at once, first in line, and the same stream leases it and drops it again.
     * Here maxMessages(20) bounds what is otherwise a loop that never ends on the receiving thread.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("liveDroppingChains")
    void releasingWhatALiveOperatorDropsLeasesTheSameMessagesOverAndOver(String name,
            Function<Flux<Delivery<String>>, Flux<Delivery<String>>> ops, long demand, int distinct) {
        ReactiveQueue<String> q = filled("looping");
        List<Long> leased = new CopyOnWriteArrayList<>();
        Flux<Delivery<String>> f = ops.apply(q.receive(ReceiveOptions.defaults().maxMessages(20))
                .doOnNext(d -> leased.add(d.message().id())));
        StepVerifier.create(f.transform(Deliveries.releasingDiscarded()), demand)
                .expectComplete() // nothing passed: 20 deliveries, all dropped and released
                .verify(TIMEOUT);
        assertThat(leased).hasSize(20);
        assertThat(new java.util.HashSet<>(leased)).hasSize(distinct);
        assertThat(stats(q).ready()).isEqualTo(10);
        assertThat(stats(q).acked()).isZero();
    }

    static Stream<Arguments> liveDroppingChains() {
        return Stream.of(
                Arguments.of("filter: m0 again and again, m1 to m9 never",
                        (Function<Flux<Delivery<String>>, Flux<Delivery<String>>>)
                                f -> f.filter(d -> !d.payload().equals("m0")), 1L, 1),
                Arguments.of("onBackpressureDrop without demand: every message, twice",
                        (Function<Flux<Delivery<String>>, Flux<Delivery<String>>>) Flux::onBackpressureDrop, 0L, 10));
    }
}
