package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import dev.rill.core.Message;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import java.util.logging.Level;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** {@link Deliveries#releaseDiscarded}: release, or nack where release is unsupported; never throws; quiet. */
class DeliveriesTest {

    /** A delivery that records the settlements asked of it; release() is the interface's unless given. */
    private static class Recording implements Delivery<String> {
        final List<String> calls = new CopyOnWriteArrayList<>();
        boolean settled;
        Supplier<Mono<Void>> release;

        @Override
        public Message<String> message() {
            throw new UnsupportedOperationException();
        }

        @Override
        public int deliveryCount() {
            return 1;
        }

        @Override
        public long deadline() {
            return 0;
        }

        @Override
        public Mono<Void> ack() {
            return Mono.fromRunnable(() -> calls.add("ack"));
        }

        @Override
        public Mono<Void> nack() {
            return Mono.fromRunnable(() -> calls.add("nack"));
        }

        @Override
        public Mono<Void> nack(Duration delay) {
            return Mono.fromRunnable(() -> calls.add("nack " + delay));
        }

        @Override
        public Mono<Void> extend(Duration duration) {
            return Mono.fromRunnable(() -> calls.add("extend"));
        }

        @Override
        public Mono<Void> reject(String reason) {
            return Mono.fromRunnable(() -> calls.add("reject"));
        }

        @Override
        public Mono<Void> release() {
            calls.add("release");
            return release == null ? Delivery.super.release() : release.get();
        }

        @Override
        public boolean isSettled() {
            return settled;
        }

        @Override
        public String toString() {
            return "Recording";
        }
    }

    @Test
    void releasesTheDelivery() {
        Recording d = new Recording();
        d.release = () -> Mono.fromRunnable(() -> d.calls.add("released"));
        Deliveries.releaseDiscarded(d);
        assertThat(d.calls).containsExactly("release", "released");
    }

    @Test
    void nacksADeliveryWhoseReleaseIsUnsupported() {
        Recording d = new Recording(); // the interface's release(): UnsupportedOperationException
        Deliveries.releaseDiscarded(d);
        assertThat(d.calls).containsExactly("release", "nack");

        Recording throwing = new Recording();
        throwing.release = () -> {
            throw new UnsupportedOperationException("thrown, not signalled");
        };
        Deliveries.releaseDiscarded(throwing);
        assertThat(throwing.calls).containsExactly("release", "nack");
    }

    @Test
    void leavesASettledDeliveryAlone() {
        Recording d = new Recording();
        d.settled = true;
        Deliveries.releaseDiscarded(d);
        Deliveries.releaseDiscarded(null);
        assertThat(d.calls).isEmpty();
    }

    @Test
    void expectedFailuresAreNotLoggedAboveDebug() {
        try (JulCapture log = new JulCapture(Deliveries.class.getName())) {
            Recording over = new Recording();
            over.release = () -> Mono.error(new LeaseExpiredException("q", 1, 1, "release"));
            Recording closed = new Recording();
            closed.release = () -> Mono.error(new QueueClosedException("q"));
            Recording lost = new Recording();
            lost.release = () -> Mono.error(new RillException("connection lost"));
            assertThatCode(() -> {
                Deliveries.releaseDiscarded(over);
                Deliveries.releaseDiscarded(closed);
                Deliveries.releaseDiscarded(lost);
            }).doesNotThrowAnyException();
            assertThat(log.records()).isEmpty();
        }
    }

    @Test
    void neverThrowsAndWarnsOfAnUnexpectedFailure() {
        try (JulCapture log = new JulCapture(Deliveries.class.getName())) {
            Recording thrown = new Recording();
            thrown.release = () -> {
                throw new IllegalStateException("broken delivery");
            };
            Recording signalled = new Recording();
            signalled.release = () -> Mono.error(new IllegalStateException("broken broker"));
            assertThatCode(() -> {
                Deliveries.releaseDiscarded(thrown);
                Deliveries.releaseDiscarded(signalled);
            }).doesNotThrowAnyException();
            assertThat(log.records()).hasSize(2).allSatisfy(r -> assertThat(r.getLevel()).isEqualTo(Level.WARNING));
            assertThat(log.records()).extracting(r -> r.getThrown().getMessage())
                    .containsExactly("broken delivery", "broken broker");
        }
    }

    @Test
    void theTransformerHooksEveryOperatorAboveIt() {
        Recording kept = new Recording();
        Recording dropped = new Recording();
        dropped.release = () -> Mono.fromRunnable(() -> dropped.calls.add("released"));
        List<Delivery<String>> out = Flux.<Delivery<String>>just(kept, dropped)
                .filter(d -> d == kept)
                .map(d -> d) // the hook reaches past operators in between
                .transform(Deliveries.releasingDiscarded())
                .collectList()
                .block(Duration.ofSeconds(30));
        assertThat(out).containsExactly(kept);
        assertThat(kept.calls).isEmpty();
        assertThat(dropped.calls).containsExactly("release", "released");
    }

    private static Recording releasable() {
        Recording d = new Recording();
        d.release = () -> Mono.fromRunnable(() -> d.calls.add("released"));
        return d;
    }

    @Test
    void releasesTheDeliveriesDroppedCollectionsMapsTuplesAndOptionalsHoldAtAnyDepth() {
        Recording inList = releasable();
        Recording inNested = releasable();
        Recording key = releasable();
        Recording value = releasable();
        Recording inTuple = releasable();
        Recording inOptional = releasable();
        Deliveries.releaseDiscardedDeliveries(List.of(inList, "a payload", List.of(java.util.Set.of(inNested))));
        Deliveries.releaseDiscardedDeliveries(java.util.Map.of(key, List.of(value)));
        Deliveries.releaseDiscardedDeliveries(reactor.util.function.Tuples.of(1, inTuple));
        Deliveries.releaseDiscardedDeliveries(java.util.Optional.of(List.of(inOptional)));
        for (Recording d : List.of(inList, inNested, key, value, inTuple, inOptional)) {
            assertThat(d.calls).containsExactly("release", "released");
        }
    }

    @Test
    void releasesADeliveryHeldTwiceInOneDropOnce() {
        Recording twice = releasable();
        List<Object> cyclic = new java.util.ArrayList<>();
        cyclic.add(twice);
        cyclic.add(List.of(twice));
        cyclic.add(cyclic); // a list holding itself is walked once
        Deliveries.releaseDiscardedDeliveries(cyclic);
        assertThat(twice.calls).containsExactly("release", "released");
    }

    @Test
    void looksIntoNothingElse() {
        Recording inIterable = releasable();
        Recording inArray = releasable();
        Iterable<Recording> lazy = () -> List.of(inIterable).iterator(); // may be endless or blocking: not walked
        Deliveries.releaseDiscardedDeliveries(lazy);
        Deliveries.releaseDiscardedDeliveries(new Object[] {inArray});
        Deliveries.releaseDiscardedDeliveries(Flux.just(inIterable));
        Deliveries.releaseDiscardedDeliveries(null);
        assertThat(inIterable.calls).isEmpty();
        assertThat(inArray.calls).isEmpty();
    }

    @Test
    void aCollectionThatCannotBeWalkedIsLoggedNotThrown() {
        Recording before = releasable();
        java.util.Collection<Object> broken = new java.util.AbstractList<>() {
            @Override
            public Object get(int index) {
                if (index == 1) {
                    throw new IllegalStateException("broken collection");
                }
                return before;
            }

            @Override
            public int size() {
                return 2;
            }
        };
        try (JulCapture log = new JulCapture(Deliveries.class.getName())) {
            assertThatCode(() -> Deliveries.releaseDiscardedDeliveries(List.of(broken))).doesNotThrowAnyException();
            assertThat(log.records()).singleElement().satisfies(r -> {
                assertThat(r.getLevel()).isEqualTo(Level.WARNING);
                assertThat(r.getThrown()).hasMessage("broken collection");
            });
        }
        assertThat(before.calls).containsExactly("release", "released"); // what was read before the failure
    }

    @Test
    void theTransformerLooksIntoDroppedListsAndReleasesEachDeliveryOncePerSubscription() {
        Recording a = new Recording();
        a.release = () -> Mono.never(); // as over the network: not settled until the server answers
        Recording b = releasable();
        Flux.<Object>just(a, List.of(a, b), java.util.Map.of("k", List.of(b)))
                .filter(o -> false)
                .transform(Deliveries.releasingDiscarded())
                .blockLast(Duration.ofSeconds(30));
        assertThat(a.calls).containsExactly("release");
        assertThat(b.calls).containsExactly("release", "released");
    }

    /**
     * {@code buffer} keeps the last list it emitted on completion and drops its elements when cancelled, while that
     * list waits in {@code publishOn}'s queue and is dropped whole: the tenth delivery reaches the hook twice. Its
     * release() never completes here (as over the network, where a delivery is settled once the server answers),
     * so it is not settled the second time: the hook still asks once.
     */
    @Test
    void whatBufferAndPublishOnBothDropIsReleasedOnce() {
        List<Recording> ten = new java.util.ArrayList<>();
        for (int i = 0; i < 10; i++) {
            Recording d = new Recording();
            d.release = Mono::never;
            ten.add(d);
        }
        List<Object> got = new CopyOnWriteArrayList<>();
        reactor.core.publisher.BaseSubscriber<Object> consumer = new reactor.core.publisher.BaseSubscriber<>() {
            @Override
            protected void hookOnSubscribe(org.reactivestreams.Subscription subscription) {
                request(1);
            }

            @Override
            protected void hookOnNext(Object o) {
                got.add(o);
            }
        };
        Flux.fromIterable(ten)
                .buffer(3)
                .publishOn(reactor.core.scheduler.Schedulers.immediate(), 8)
                .transform(Deliveries.releasingDiscarded())
                .subscribe(consumer);
        consumer.cancel();
        assertThat(got).containsExactly(ten.subList(0, 3));
        assertThat(ten.subList(0, 3)).allSatisfy(d -> assertThat(d.calls).isEmpty());
        assertThat(ten.subList(3, 10)).allSatisfy(d -> assertThat(d.calls).containsExactly("release"));
    }
}
