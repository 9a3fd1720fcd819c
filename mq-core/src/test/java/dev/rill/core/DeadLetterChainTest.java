package dev.rill.core;

import static dev.rill.core.RecoveryTestSupport.QUIET;
import static dev.rill.core.RecoveryTestSupport.utf8;
import static dev.rill.core.RecoveryTestSupport.whereOnDecode;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Chains of dead-letter queues recovered from the log (a, its dead-letter queue a.dlq, and a.dlq's own a.dlq2): the
 * whole chain comes back with the queue that leads to it, the far end first, each link with its recorded spec and
 * the declaration's codec; a chain that leads back to a queue in it stops there; and a dead letter whose recovered
 * dead-letter queue cannot be brought back joins its recovered state, not thrown at the thread that dead-letters.
 */
class DeadLetterChainTest {

    @TempDir
    Path dir;

    private static final QueueSpec A = QueueSpec.named("a").deadLetterQueue("a.dlq").maxDeliveries(1);
    private static final QueueSpec DLQ = QueueSpec.named("a.dlq").deadLetterQueue("a.dlq2").maxDeliveries(1);
    private static final QueueSpec DLQ2 = QueueSpec.named("a.dlq2").capacity(500);

    private static void send(MessageQueue<String> q, String prefix) {
        for (int i = 0; i < 2; i++) {
            q.send(OutboundMessage.of(prefix + i), 0);
        }
    }

    /** a (a0, a1) -> a.dlq (d0, d1) -> a.dlq2 (e0, e1), written and closed. */
    private void fillChain() throws Exception {
        try (DurableBroker b = DurableBroker.open(dir, QUIET)) {
            send(b.declare(DLQ2, Codec.utf8()), "e");
            send(b.declare(DLQ, Codec.utf8()), "d");
            send(b.declare(A, Codec.utf8()), "a");
            b.whenDurable(b.lastSeq()).join();
        }
    }

    /**
     * Declaring a brings back a.dlq2 (with its recorded capacity) before a.dlq, and a.dlq before a, each decoded in
     * turn; a dead letter from a.dlq then lands in a.dlq2. Before, a.dlq2 stayed recovered with no codec, and a.dlq's
     * dead letter threw IllegalStateException at the thread that rejected it, the message gone from a.dlq and in no
     * queue.
     */
    @Test
    void declaringAQueueBringsBackItsWholeChainOfDeadLetterQueuesFarEndFirst() throws Exception {
        fillChain();
        AtomicReference<DurableBroker> broker = new AtomicReference<>();
        List<String> seen = new ArrayList<>();
        Codec<String> codec = whereOnDecode(broker, seen, "a.dlq2", "a.dlq");
        try (DurableBroker b = DurableBroker.open(dir, QUIET)) {
            broker.set(b);
            b.declare(A, codec);
            assertThat(seen).containsExactly("e0: a.dlq2 recovered, a.dlq recovered",
                    "e1: a.dlq2 recovered, a.dlq recovered", "d0: a.dlq2 live, a.dlq recovered",
                    "d1: a.dlq2 live, a.dlq recovered", "a0: a.dlq2 live, a.dlq live", "a1: a.dlq2 live, a.dlq live");
            assertThat(b.recoveredQueues()).isEmpty();
            MessageQueue<String> dlq2 = b.broker().<String>get("a.dlq2").orElseThrow();
            assertThat(dlq2.spec().capacity()).isEqualTo(500);
            assertThat(b.codec("a.dlq2")).containsSame(codec);
            MessageQueue<String> dlq = b.broker().<String>get("a.dlq").orElseThrow();
            Lease<String> d0 = dlq.receive(1, 0).get(0);
            assertThat(dlq.reject(d0.handle(), "bad", 0)).isEqualTo(LeaseOutcome.OK);
            assertThat(dlq2.receive(3, 0)).extracting(Lease::payload).containsExactly("e0", "e1", "d0");
        }
    }

    /**
     * A chain that leads back to the queue declared (a.dlq's dead-letter queue is a) stops there: a.dlq comes back
     * with its recorded spec, then a; dead letters go round between the two.
     */
    @Test
    void aChainThatLeadsBackToTheQueueDeclaredStopsThere() throws Exception {
        QueueSpec back = QueueSpec.named("a.dlq").deadLetterQueue("a").maxDeliveries(1);
        try (DurableBroker b = DurableBroker.open(dir, QUIET)) {
            send(b.declare(A, Codec.utf8()), "a");
            b.broker().delete("a.dlq", 0); // made with default settings: made again, routing back to a
            send(b.declare(back, Codec.utf8()), "d");
            b.whenDurable(b.lastSeq()).join();
        }
        for (int round = 0; round < 2; round++) {
            try (DurableBroker b = DurableBroker.open(dir, QUIET)) {
                List<String> declared = round == 0 ? List.of(b.declare(A, Codec.utf8()).name())
                        : b.declareRecovered(Codec.utf8());
                assertThat(declared).isNotEmpty();
                assertThat(b.recoveredQueues()).isEmpty();
                MessageQueue<String> a = b.broker().<String>get("a").orElseThrow();
                MessageQueue<String> dlq = b.broker().<String>get("a.dlq").orElseThrow();
                assertThat(a.spec()).isEqualTo(A);
                assertThat(dlq.spec()).isEqualTo(back);
                assertThat(a.size()).isEqualTo(2);
                Lease<String> d0 = dlq.receive(1, 0).get(0);
                dlq.reject(d0.handle(), "back", 0);
                assertThat(a.size()).isEqualTo(3);
                a.purge(0); // the next round starts from the same messages
                send(a, "a");
                dlq.send(OutboundMessage.of("d0"), 0);
                b.whenDurable(b.lastSeq()).join();
            }
        }
    }

    /**
     * A declaration that fails (here a.dlq2's messages cannot be decoded) takes back the codec it lent to the
     * dead-letter queues it did not bring back, so a retry with another codec decodes them with that one. Before, the
     * first codec stayed registered for a.dlq (putIfAbsent), and the retry failed on it again.
     */
    @Test
    void aFailedDeclarationTakesBackTheCodecItLentToTheDeadLetterQueues() throws Exception {
        fillChain();
        Codec<String> refusesE = utf8(s -> {
            if (s.startsWith("e")) {
                throw new IllegalArgumentException("not an e");
            }
        });
        try (DurableBroker b = DurableBroker.open(dir, QUIET)) {
            assertThatThrownBy(() -> b.declare(A, refusesE)).isInstanceOf(IllegalStateException.class);
            assertThat(b.recoveredQueues()).containsExactlyInAnyOrder("a", "a.dlq", "a.dlq2");
            assertThat(b.codec("a.dlq")).isEmpty();
            assertThat(b.codec("a.dlq2")).isEmpty();
            Codec<String> codec = Codec.utf8();
            assertThat(b.declare(A, codec).size()).isEqualTo(2);
            assertThat(b.recoveredQueues()).isEmpty();
            assertThat(b.codec("a.dlq")).containsSame(codec);
            assertThat(b.codec("a.dlq2")).containsSame(codec);
        }
    }

    /**
     * A dead letter whose dead-letter queue is recovered and cannot be brought back on the thread that dead-letters
     * (here a, which routes back from a.dlq and whose messages the codec refuses) does not throw at that thread: it
     * joins a's recovered state (logged, counted), and comes back with a, in this run or after a restart, once. Before,
     * the rejection threw IllegalStateException, and the message was in no queue until the next open.
     */
    @Test
    void aDeadLetterWhoseRecoveredDeadLetterQueueCannotComeBackJoinsItsRecoveredState() throws Exception {
        QueueSpec back = QueueSpec.named("a.dlq").deadLetterQueue("a").maxDeliveries(1);
        try (DurableBroker b = DurableBroker.open(dir, QUIET)) {
            send(b.declare(A, Codec.utf8()), "a");
            b.broker().delete("a.dlq", 0);
            send(b.declare(back, Codec.utf8()), "d");
            b.whenDurable(b.lastSeq()).join();
        }
        Codec<String> refusesA = utf8(s -> {
            if (s.startsWith("a")) {
                throw new IllegalArgumentException("not an a");
            }
        });
        for (boolean declareInThisRun : new boolean[] {true, false}) {
            try (DurableBroker b = DurableBroker.open(dir, QUIET)) {
                assertThatThrownBy(() -> b.declare(A, refusesA)).isInstanceOf(IllegalStateException.class);
                assertThat(b.recoveredQueues()).containsExactly("a");
                MessageQueue<String> dlq = b.broker().<String>get("a.dlq").orElseThrow();
                Lease<String> d0 = dlq.receive(1, 0).get(0);
                assertThat(dlq.reject(d0.handle(), "back", 0)).isEqualTo(LeaseOutcome.OK);
                assertThat(dlq.size()).isEqualTo(1);
                assertThat(b.broker().stats()).filteredOn(st -> st.name().equals("a"))
                        .extracting(QueueStats::ready).containsExactly(3L);
                if (declareInThisRun) {
                    MessageQueue<String> a = b.declare(A, Codec.utf8());
                    List<Lease<String>> got = a.receive(5, 0);
                    assertThat(got).extracting(Lease::payload).containsExactly("a0", "a1", "d0");
                    assertThat(got.get(2).message().headers()).containsEntry(Message.HEADER_SOURCE_QUEUE, "a.dlq")
                            .containsEntry(Message.HEADER_DEAD_LETTER_REASON, "back");
                    for (Lease<String> l : got) {
                        a.release(l.handle(), 0);
                    }
                    // the next round starts from the same messages
                    a.purge(0);
                    send(a, "a");
                    b.broker().delete("a.dlq", 0);
                    send(b.declare(back, Codec.utf8()), "d");
                }
                b.whenDurable(b.lastSeq()).join();
            }
        }
        try (DurableBroker b = DurableBroker.open(dir, QUIET)) {
            MessageQueue<String> a = b.declare(A, Codec.utf8());
            assertThat(a.receive(5, 0)).extracting(Lease::payload).containsExactly("a0", "a1", "d0");
            assertThat(b.broker().get("a.dlq").orElseThrow().size()).isEqualTo(1);
        }
    }
}
