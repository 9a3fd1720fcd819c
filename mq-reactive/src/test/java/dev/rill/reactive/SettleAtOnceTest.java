package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * What the documentation of {@link Delivery#nack()} and {@link Delivery#release()} says, pinned in process on
 * virtual time: the message is ready again at once, ahead of the messages behind it, so the stream's next lease
 * takes it again; {@code nack(delay)} steps aside.
 */
class SettleAtOnceTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private final VirtualTimeScheduler vts = VirtualTimeScheduler.create();
    private final ReactiveBroker broker = Rill.inMemory(vts);

    @AfterEach
    void close() {
        broker.close().block(TIMEOUT);
        vts.dispose();
    }

    private ReactiveQueue<String> filled(QueueSpec spec) {
        ReactiveQueue<String> q = broker.queue(spec, Codec.utf8()).block(TIMEOUT);
        q.sendMany(Flux.range(0, 10).map(i -> OutboundMessage.of("m" + i))).blockLast(TIMEOUT);
        return q;
    }

    @Test
    void aStreamThatNacksAtOnceGetsTheSameMessageAgainUntilItIsDeadLettered() {
        ReactiveQueue<String> q = filled(QueueSpec.named("nacked").maxDeliveries(3).deadLetterQueue("nacked.dlq"));
        StepVerifier.create(q.receive(ReceiveOptions.defaults().maxMessages(6))
                        .concatMap(d -> d.nack().thenReturn(d.payload() + "#" + d.deliveryCount()))) // leases 1 at a time
                .expectNext("m0#1", "m0#2", "m0#3", "m1#1", "m1#2", "m1#3") // m2 to m9 wait behind
                .expectComplete()
                .verify(TIMEOUT);
        assertThat(q.stats().block(TIMEOUT).deadLettered()).isEqualTo(2);
    }

    @Test
    void aStreamThatReleasesAtOnceGetsTheSameMessageAgainWithoutEnd() {
        ReactiveQueue<String> q = filled(QueueSpec.named("released").maxDeliveries(3).deadLetterQueue("released.dlq"));
        StepVerifier.create(q.receive(ReceiveOptions.defaults().maxMessages(5))
                        .concatMap(d -> d.release().thenReturn(d.payload() + "#" + d.deliveryCount())))
                .expectNext("m0#1", "m0#1", "m0#1", "m0#1", "m0#1") // not counted: never dead-lettered
                .expectComplete()
                .verify(TIMEOUT);
    }

    @Test
    void aStreamThatLeasedAheadGetsTheNackedMessageAgainAtItsNextLease() {
        ReactiveQueue<String> q = filled(QueueSpec.named("prefetched"));
        StepVerifier.create(q.receive(ReceiveOptions.defaults().maxMessages(11))
                        .concatMap(d -> d.nack().thenReturn(d.payload() + "#" + d.deliveryCount()), 32))
                .expectNext("m0#1", "m1#1", "m2#1", "m3#1", "m4#1", "m5#1", "m6#1", "m7#1", "m8#1", "m9#1")
                .expectNext("m0#2") // concatMap had leased all 10 ahead; its next lease takes m0 first
                .expectComplete()
                .verify(TIMEOUT);
    }

    @Test
    void nackWithADelayLetsTheOthersGoFirst() {
        ReactiveQueue<String> q = filled(QueueSpec.named("delayed"));
        StepVerifier.create(q.receive(ReceiveOptions.defaults().maxMessages(3))
                        .concatMap(d -> d.nack(Duration.ofSeconds(1)).thenReturn(d.payload() + "#" + d.deliveryCount())))
                .expectNext("m0#1", "m1#1", "m2#1")
                .expectComplete()
                .verify(TIMEOUT);
        assertThat(q.stats().block(TIMEOUT).ready()).isEqualTo(7);
        vts.advanceTimeBy(Duration.ofSeconds(1));
        assertThat(q.stats().block(TIMEOUT).ready()).isEqualTo(10);
        StepVerifier.create(q.receive(ReceiveOptions.defaults().maxMessages(1))
                        .map(d -> d.payload() + "#" + d.deliveryCount()))
                .expectNext("m0#2") // back ahead of the newer ones
                .expectComplete()
                .verify(TIMEOUT);
    }
}
