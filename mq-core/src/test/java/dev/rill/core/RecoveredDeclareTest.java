package dev.rill.core;

import static dev.rill.core.RecoveryTestSupport.QUIET;
import static dev.rill.core.RecoveryTestSupport.locksHeld;
import static dev.rill.core.RecoveryTestSupport.utf8;
import static dev.rill.core.RecoveryTestSupport.whereOnDecode;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The corners of declaring a queue recovered from the log: the codec (user code) runs with no lock held on every
 * path that brings a queue back, a queue and its dead-letter queue are decoded one after the other, and purges while
 * a queue is decoded do not make its declaration decode again.
 */
class RecoveredDeclareTest {

    @TempDir
    Path dir;

    /** Writes {@code count} messages "{prefix}{i}" to each queue of {@code specs} (declared in order), and closes. */
    private void fill(int count, List<QueueSpec> specs, List<String> prefixes) throws Exception {
        try (DurableBroker b = DurableBroker.open(dir, QUIET)) {
            for (int s = 0; s < specs.size(); s++) {
                MessageQueue<String> q = b.declare(specs.get(s), Codec.utf8());
                for (int i = 0; i < count; i++) {
                    q.send(OutboundMessage.of(prefixes.get(s) + i), 0);
                }
            }
            b.whenDurable(b.lastSeq()).join();
        }
    }

    /**
     * A recovered queue declared on {@link DurableBroker#broker()} (the untyped path) whose name has a codec already
     * (here from a declaration whose decode failed once) is decoded before the declaration, with no lock held, as
     * {@link DurableBroker#declare} does. Before, its declaration decoded it under the bin locks of the broker's queue
     * map and of the journals.
     */
    @Test
    void aQueueDeclaredOnTheBrokerItselfIsDecodedWithNoLockHeld() throws Exception {
        fill(3, List.of(QueueSpec.named("q")), List.of("m"));
        AtomicBoolean failing = new AtomicBoolean(true);
        List<String> held = new ArrayList<>();
        AtomicInteger decodes = new AtomicInteger();
        Codec<String> codec = utf8(s -> {
            if (failing.get()) {
                throw new IllegalArgumentException("not yet");
            }
            decodes.incrementAndGet();
            held.addAll(locksHeld());
        });
        try (DurableBroker b = DurableBroker.open(dir, QUIET)) {
            assertThatThrownBy(() -> b.declare(QueueSpec.named("q"), codec))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("cannot decode");
            assertThat(b.recoveredQueues()).containsExactly("q");
            failing.set(false);
            MessageQueue<String> q = b.broker().declare(QueueSpec.named("q"));
            assertThat(decodes).hasValue(3);
            assertThat(held).isEmpty();
            assertThat(q.receive(3, 0)).extracting(Lease::payload).containsExactly("m0", "m1", "m2");
            assertThat(b.recoveredQueues()).isEmpty();
        }
    }

    /**
     * A spec that is not valid registers no codec: the declaration changes nothing, so a later declaration on the
     * broker itself still asks for the codec.
     */
    @Test
    void aSpecRefusedRegistersNoCodec() throws Exception {
        try (DurableBroker b = DurableBroker.open(dir, QUIET)) {
            assertThatThrownBy(() -> b.declare(QueueSpec.named("q").maxDeliveries(3), Codec.utf8()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxDeliveries");
            assertThat(b.codec("q")).isEmpty();
        }
    }

    private static final QueueSpec A = QueueSpec.named("a").deadLetterQueue("a.dlq");

    /** Queue a (a0, a1, a2), dead-lettering to a.dlq (d0, d1, d2). */
    private void fillPair() throws Exception {
        fill(3, List.of(A, QueueSpec.named("a.dlq")), List.of("a", "d"));
    }

    /**
     * A queue declared with its dead-letter queue, both recovered: the dead-letter queue is decoded and declared
     * first, then the queue's own messages are decoded, so only one of the two backlogs is held decoded (and not yet
     * in its queue) at a time. Before, both were decoded (the queue's first), then both declared.
     */
    @Test
    void aQueueAndItsDeadLetterQueueAreDecodedOneAfterTheOther() throws Exception {
        fillPair();
        AtomicReference<DurableBroker> broker = new AtomicReference<>();
        List<String> seen = new ArrayList<>();
        Codec<String> codec = whereOnDecode(broker, seen, "a.dlq", "a");
        try (DurableBroker b = DurableBroker.open(dir, QUIET)) {
            broker.set(b);
            MessageQueue<String> q = b.declare(A, codec);
            assertThat(seen).containsExactly("d0: a.dlq recovered, a recovered", "d1: a.dlq recovered, a recovered",
                    "d2: a.dlq recovered, a recovered", "a0: a.dlq live, a recovered", "a1: a.dlq live, a recovered",
                    "a2: a.dlq live, a recovered");
            assertThat(q.size()).isEqualTo(3);
            assertThat(b.broker().get("a.dlq").orElseThrow().size()).isEqualTo(3);
            assertThat(b.recoveredQueues()).isEmpty();
        }
    }

    /**
     * The pair is brought back in the order a queue needs: a queue is never live while its dead-letter queue cannot be
     * brought back (its dead letters would have nowhere to go), so a dead-letter queue the codec cannot decode leaves
     * both recovered. A queue the codec cannot decode leaves its dead-letter queue live, with its messages, as
     * declaring the dead-letter queue alone would.
     */
    @Test
    void aQueueWhoseDeadLetterQueueCannotBeDecodedIsNotBroughtBack() throws Exception {
        fillPair();
        Codec<String> deadLettersFail = utf8(s -> {
            if (s.startsWith("d")) {
                throw new IllegalArgumentException("no");
            }
        });
        Codec<String> queueFails = utf8(s -> {
            if (s.startsWith("a")) {
                throw new IllegalArgumentException("no");
            }
        });
        try (DurableBroker b = DurableBroker.open(dir, QUIET)) {
            assertThatThrownBy(() -> b.declare(A, deadLettersFail)).isInstanceOf(IllegalStateException.class);
            assertThat(b.recoveredQueues()).containsExactlyInAnyOrder("a", "a.dlq");
            assertThat(b.broker().get("a")).isEmpty();
            assertThat(b.broker().get("a.dlq")).isEmpty();
        }
        try (DurableBroker b = DurableBroker.open(dir, QUIET)) {
            assertThatThrownBy(() -> b.declare(A, queueFails)).isInstanceOf(IllegalStateException.class);
            assertThat(b.recoveredQueues()).containsExactly("a");
            assertThat(b.broker().get("a.dlq").orElseThrow().size()).isEqualTo(3);
        }
    }

    /**
     * A queue purged each time its messages have been copied out of its recovered state and before its declaration
     * takes them (as a purge loop on another thread can, driven here by the options' clock, read once between the
     * two): the declaration decodes once and brings the queue back empty. Before, each purge made it decode again,
     * and a purge in every window made it go round for ever (here until the clock stops purging, after 1,000).
     */
    @Test
    void aQueuePurgedInALoopWhileItIsDecodedIsDeclaredAfterOneDecode() throws Exception {
        fill(10, List.of(QueueSpec.named("q")), List.of("m"));
        AtomicReference<DurableBroker> broker = new AtomicReference<>();
        Thread declaring = Thread.currentThread();
        AtomicInteger purges = new AtomicInteger();
        LongSupplier purgingClock = () -> {
            DurableBroker b = broker.get();
            if (b != null && Thread.currentThread() == declaring && purges.get() < 1_000) {
                purges.incrementAndGet();
                b.broker().purge("q", 0);
            }
            return 0L;
        };
        AtomicInteger decodes = new AtomicInteger();
        try (DurableBroker b = DurableBroker.open(dir, QUIET.clock(purgingClock))) {
            broker.set(b);
            MessageQueue<String> q = b.declare(QueueSpec.named("q"), utf8(s -> decodes.incrementAndGet()));
            assertThat(purges).hasValue(1);
            assertThat(decodes).hasValue(10);
            assertThat(q.size()).isZero();
            assertThat(b.broker().memoryUsed()).isZero();
            broker.set(null);
            assertThat(q.send(OutboundMessage.of("after"), 0).accepted()).isTrue();
            b.whenDurable(b.lastSeq()).join();
        }
        try (DurableBroker b = DurableBroker.open(dir, QUIET.declareRecoveredWith(Codec.utf8()))) {
            assertThat(b.broker().<String>get("q").orElseThrow().receive(10, 0)).extracting(Lease::payload)
                    .containsExactly("after");
        }
    }

    /**
     * The same loop driven by the codec: it purges the queue each time it decodes one of its dead letters. Before,
     * each pass decoded the queue and its dead-letter queue together, and the purges made it decode both again for
     * ever (here until the codec stops purging, after 1,000).
     */
    @Test
    void aCodecThatPurgesTheQueueWhileItsDeadLettersAreDecodedDoesNotMakeItGoRound() throws Exception {
        fillPair();
        AtomicReference<DurableBroker> broker = new AtomicReference<>();
        AtomicInteger purges = new AtomicInteger();
        Codec<String> purging = utf8(s -> {
            if (s.startsWith("d") && purges.get() < 1_000) {
                purges.incrementAndGet();
                broker.get().broker().purge("a", 0);
            }
        });
        try (DurableBroker b = DurableBroker.open(dir, QUIET)) {
            broker.set(b);
            MessageQueue<String> q = b.declare(A, purging);
            assertThat(purges).hasValue(3);
            assertThat(q.size()).isZero();
            assertThat(b.broker().get("a.dlq").orElseThrow().size()).isEqualTo(3);
        }
    }
}
