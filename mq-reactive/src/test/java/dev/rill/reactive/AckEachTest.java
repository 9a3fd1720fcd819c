package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.Codec;
import dev.rill.core.LeaseOutcome;
import dev.rill.core.OutboundMessage;
import dev.rill.core.Overflow;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.reactive.internal.AckEach;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;
import reactor.test.scheduler.VirtualTimeScheduler;

/** {@link AckEach}: a transport's batch of acks in one call to the queue, with an outcome for each delivery. */
class AckEachTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private final VirtualTimeScheduler clock = VirtualTimeScheduler.create();
    private final ReactiveBroker broker = Rill.inMemory(clock);

    @TempDir
    Path dir;

    @AfterEach
    void tearDown() {
        broker.close().block(TIMEOUT);
        clock.dispose();
    }

    @SuppressWarnings("unchecked")
    private static AckEach<String> ackEach(ReactiveQueue<String> q) {
        assertThat(q).isInstanceOf(AckEach.class);
        return (AckEach<String>) q;
    }

    private static List<Delivery<String>> receive(ReactiveQueue<String> q, int n) {
        List<Delivery<String>> got = q.receive(ReceiveOptions.defaults().maxMessages(n)).collectList().block(TIMEOUT);
        assertThat(got).hasSize(n);
        return got;
    }

    @Test
    void eachDeliveryGetsItsOwnOutcomeAndOnlyLiveLeasesAreAcked() {
        ReactiveQueue<String> q = broker.queue(QueueSpec.named("a").visibilityTimeout(Duration.ofSeconds(10)),
                Codec.utf8()).block(TIMEOUT);
        for (int i = 0; i < 4; i++) {
            q.send(OutboundMessage.of("m" + i)).block(TIMEOUT);
        }
        List<Delivery<String>> early = receive(q, 2); // m0, m1: their leases run out below
        clock.advanceTimeBy(Duration.ofSeconds(5));
        List<Delivery<String>> late = receive(q, 2); // m2, m3
        late.get(0).ack().block(TIMEOUT); // m2 acked before the batch: still OK in it, not acked twice
        clock.advanceTimeBy(Duration.ofSeconds(6)); // m0 and m1 expire and are ready again; m3 is still held

        List<Delivery<String>> batch = List.of(early.get(0), late.get(0), late.get(1), early.get(1));
        List<LeaseOutcome> outcomes = ackEach(q).ackEach(batch).block(TIMEOUT);

        assertThat(outcomes).containsExactly(LeaseOutcome.STALE, LeaseOutcome.OK, LeaseOutcome.OK,
                LeaseOutcome.STALE);
        assertThat(batch).extracting(Delivery::isSettled).containsExactly(false, true, true, false);
        QueueStats stats = q.stats().block(TIMEOUT);
        assertThat(stats.acked()).isEqualTo(2);
        assertThat(stats.ready()).isEqualTo(2); // m0 and m1, back after their leases ran out
        assertThat(stats.inFlight()).isZero();
        // a stale delivery's own ack still fails, as it did before the batch
        StepVerifier.create(early.get(0).ack()).expectError(LeaseExpiredException.class).verify(TIMEOUT);
    }

    @Test
    void aBatchFreesItsSlotsAtOnceForAProducerWaitingForRoom() {
        ReactiveQueue<String> q = broker.queue(QueueSpec.named("full").capacity(3), Codec.utf8()).block(TIMEOUT);
        for (int i = 0; i < 3; i++) {
            q.send(OutboundMessage.of("m" + i)).block(TIMEOUT);
        }
        List<SendResult<String>> waiting = new CopyOnWriteArrayList<>();
        q.sendMany(Flux.just(OutboundMessage.of("w0"), OutboundMessage.of("w1"),
                OutboundMessage.of("w2"), OutboundMessage.of("w3")), SendOptions.defaults().overflow(Overflow.WAIT))
                .subscribe(waiting::add);
        assertThat(waiting).isEmpty();

        List<LeaseOutcome> outcomes = ackEach(q).ackEach(receive(q, 3)).block(TIMEOUT);

        assertThat(outcomes).containsOnly(LeaseOutcome.OK).hasSize(3);
        assertThat(waiting).extracting(r -> r.message().payload()).containsExactly("w0", "w1", "w2");
        assertThat(q.stats().block(TIMEOUT).size()).isEqualTo(3);
    }

    @Test
    void aDeliveryOfAnotherQueueIsRefusedBeforeAnythingIsAcked() {
        ReactiveQueue<String> a = broker.queue(QueueSpec.named("a"), Codec.utf8()).block(TIMEOUT);
        ReactiveQueue<String> b = broker.queue(QueueSpec.named("b"), Codec.utf8()).block(TIMEOUT);
        a.send(OutboundMessage.of("x")).block(TIMEOUT);
        b.send(OutboundMessage.of("y")).block(TIMEOUT);
        List<Delivery<String>> mixed = new ArrayList<>(receive(a, 1));
        mixed.addAll(receive(b, 1));

        assertThatThrownBy(() -> ackEach(a).ackEach(mixed).block(TIMEOUT))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("queue 'a'");
        assertThat(mixed).extracting(Delivery::isSettled).containsExactly(false, false);
        assertThat(a.stats().block(TIMEOUT).inFlight()).isEqualTo(1);
    }

    @Test
    void aDurableBrokersBatchOfAcksSurvivesARestart() {
        ReactiveBroker durable = Rill.embedded(dir);
        try {
            ReactiveQueue<String> q = durable.queue(QueueSpec.named("d"), Codec.utf8()).block(TIMEOUT);
            for (int i = 0; i < 5; i++) {
                q.send(OutboundMessage.of("m" + i)).block(TIMEOUT);
            }
            List<Delivery<String>> got = receive(q, 5);
            assertThat(ackEach(q).ackEach(got.subList(0, 3)).block(TIMEOUT)).containsOnly(LeaseOutcome.OK);
        } finally {
            durable.close().block(TIMEOUT);
        }
        ReactiveBroker again = Rill.embedded(dir);
        try {
            ReactiveQueue<String> q = again.queue(QueueSpec.named("d"), Codec.utf8()).block(TIMEOUT);
            assertThat(q.stats().block(TIMEOUT).size()).isEqualTo(2);
            assertThat(q.receive(ReceiveOptions.defaults().maxMessages(2)).map(Delivery::payload).collectList()
                    .block(TIMEOUT)).containsExactly("m3", "m4");
        } finally {
            again.close().block(TIMEOUT);
        }
    }
}
