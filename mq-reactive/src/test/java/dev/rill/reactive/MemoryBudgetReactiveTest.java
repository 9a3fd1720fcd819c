package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.BrokerOptions;
import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.MemoryStats;
import dev.rill.core.OutboundMessage;
import dev.rill.core.Overflow;
import dev.rill.core.QueueSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * A broker's memory budget seen through the reactive layer: a send refused for the budget waits ({@link Overflow#WAIT})
 * or fails ({@link Overflow#FAIL}) as for a full queue, and a waiting send is woken by bytes freed in another queue:
 * an ack, or a TTL expiry on virtual time.
 */
class MemoryBudgetReactiveTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final long M = 100 + BrokerOptions.MESSAGE_OVERHEAD_BYTES;

    @TempDir
    Path dir;

    private VirtualTimeScheduler vts;
    private ReactiveBroker broker;

    @BeforeEach
    void setUp() {
        vts = VirtualTimeScheduler.create();
        broker = Rill.inMemory(vts, BrokerOptions.defaults().memoryBudget(2 * M));
    }

    @AfterEach
    void tearDown() {
        broker.close().block(TIMEOUT);
        vts.dispose();
    }

    private ReactiveQueue<byte[]> queue(QueueSpec spec) {
        return broker.queue(spec, Codec.bytes()).block(TIMEOUT);
    }

    private static OutboundMessage<byte[]> msg() {
        return OutboundMessage.of(new byte[100]);
    }

    @Test
    void aWaitingSendIsWokenByAnAckInAnotherQueue() {
        ReactiveQueue<byte[]> a = queue(QueueSpec.named("a"));
        ReactiveQueue<byte[]> b = queue(QueueSpec.named("b"));
        a.send(msg()).block(TIMEOUT);
        a.send(msg()).block(TIMEOUT);
        assertThat(broker.memory().block(TIMEOUT)).isEqualTo(new MemoryStats(2 * M, OptionalLong.of(2 * M)));
        StepVerifier.withVirtualTime(() -> b.send(msg()), () -> vts, Long.MAX_VALUE)
                .expectSubscription()
                .expectNoEvent(Duration.ofHours(1)) // waits: the budget is spent, b itself is empty
                .then(() -> a.receive().take(1).concatMap(Delivery::ack).blockLast(TIMEOUT))
                .assertNext(r -> assertThat(r.duplicate()).isFalse())
                .expectComplete()
                .verify(TIMEOUT);
        assertThat(b.stats().block(TIMEOUT).ready()).isEqualTo(1);
    }

    @Test
    void aFailOverflowSendIsRefusedWithQueueFullException() {
        ReactiveQueue<byte[]> a = queue(QueueSpec.named("a"));
        ReactiveQueue<byte[]> b = queue(QueueSpec.named("b").overflow(Overflow.FAIL));
        a.send(msg()).block(TIMEOUT);
        a.send(msg()).block(TIMEOUT);
        StepVerifier.create(b.send(msg()))
                .expectError(QueueFullException.class)
                .verify(TIMEOUT);
        StepVerifier.create(a.sendMany(Flux.just(msg()), SendOptions.defaults().overflow(Overflow.FAIL)))
                .expectError(QueueFullException.class)
                .verify(TIMEOUT);
    }

    @Test
    void aWaitingSendIsWokenWhenAnotherQueuesMessagesExpireOnVirtualTime() {
        ReactiveQueue<byte[]> a = queue(QueueSpec.named("a").messageTtl(Duration.ofSeconds(30)));
        ReactiveQueue<byte[]> b = queue(QueueSpec.named("b"));
        a.send(msg()).block(TIMEOUT);
        a.send(msg()).block(TIMEOUT);
        StepVerifier.withVirtualTime(() -> b.send(msg()), () -> vts, Long.MAX_VALUE)
                .expectSubscription()
                .thenAwait(Duration.ofSeconds(29))
                .expectNoEvent(Duration.ofMillis(999)) // still waiting just before the TTL ends
                .thenAwait(Duration.ofSeconds(1))
                .expectNextCount(1)
                .expectComplete()
                .verify(TIMEOUT);
        assertThat(broker.memory().block(TIMEOUT).used()).isEqualTo(M);
    }

    @Test
    void sendManyWaitsForTheBudgetAndResumes() {
        ReactiveQueue<byte[]> a = queue(QueueSpec.named("a"));
        ReactiveQueue<byte[]> b = queue(QueueSpec.named("b"));
        a.send(msg()).block(TIMEOUT);
        StepVerifier.withVirtualTime(() -> b.sendMany(Flux.just(msg(), msg(), msg())), () -> vts, Long.MAX_VALUE)
                .expectSubscription()
                .expectNextCount(1) // one fits
                .expectNoEvent(Duration.ofHours(1))
                .then(() -> a.receive().take(1).concatMap(Delivery::ack).blockLast(TIMEOUT))
                .expectNextCount(1)
                .then(() -> b.receive().take(1).concatMap(Delivery::ack).blockLast(TIMEOUT))
                .expectNextCount(1)
                .expectComplete()
                .verify(TIMEOUT);
    }

    @Test
    void withoutOptionsThereIsNoBudget() {
        ReactiveBroker plain = Rill.inMemory(vts);
        try {
            plain.queue(QueueSpec.named("q"), Codec.bytes()).block(TIMEOUT).send(msg()).block(TIMEOUT);
            assertThat(plain.memory().block(TIMEOUT)).isEqualTo(new MemoryStats(M, OptionalLong.empty()));
        } finally {
            plain.close().block(TIMEOUT);
        }
    }

    @Test
    void anEmbeddedBrokerCountsWhatItRecovers() {
        ReactiveBroker d = Rill.embedded(dir, DurabilityOptions.defaults(), vts,
                BrokerOptions.defaults().memoryBudget(10 * M));
        try {
            ReactiveQueue<byte[]> q = d.queue(QueueSpec.named("q"), Codec.bytes()).block(TIMEOUT);
            q.sendMany(Flux.just(msg(), msg(), msg())).blockLast(TIMEOUT);
        } finally {
            d.close().block(TIMEOUT);
        }
        ReactiveBroker again = Rill.embedded(dir, DurabilityOptions.defaults().declareRecoveredWith(Codec.bytes()),
                vts, BrokerOptions.defaults().memoryBudget(2 * M));
        try {
            assertThat(again.memory().block(TIMEOUT)).isEqualTo(new MemoryStats(3 * M, OptionalLong.of(2 * M)));
            ReactiveQueue<byte[]> q = again.queue(QueueSpec.named("q"), Codec.bytes()).block(TIMEOUT);
            StepVerifier.create(q.send(msg(), SendOptions.defaults().overflow(Overflow.FAIL)))
                    .expectError(QueueFullException.class)
                    .verify(TIMEOUT);
            assertThat(q.receive().take(2).concatMap(m -> m.ack().thenReturn(m.message().id())).collectList().block(TIMEOUT))
                    .hasSize(2);
            assertThat(q.send(msg()).block(TIMEOUT)).isNotNull();
            assertThat(again.list().block(TIMEOUT)).isEqualTo(List.of("q"));
        } finally {
            again.close().block(TIMEOUT);
        }
    }
}
