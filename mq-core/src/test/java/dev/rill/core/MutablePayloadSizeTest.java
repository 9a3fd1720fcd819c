package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A payload whose size changes while the queue holds it (a {@code StringBuilder} its producer or consumer appends to
 * or cuts, a {@code ByteBuffer} whose position its producer moves): the bytes a message gives back when it leaves
 * (the queue's byte count, which {@code maxBytes} bounds, and the broker's memory budget) are the bytes it was counted
 * when stored. Before, a removal sized the payload again: grown, it gave back more than it took (the counts went
 * below 0, which {@code Broker.memoryStats} hid by clamping at 0); cut, it left bytes counted for ever.
 */
class MutablePayloadSizeTest {

    private static final int OVERHEAD = BrokerOptions.MESSAGE_OVERHEAD_BYTES;

    @TempDir
    Path dir;

    /** How a queue stores its messages, and how its sends get there. */
    enum Lane {
        /** A plain queue of a broker without a budget: lock-free sends (the send inbox), the ring. */
        RING(false, QueueSpec.named("q")),
        /** The same with a budget: a send reserves its bytes before its lock-free push. */
        RING_WITH_BUDGET(true, QueueSpec.named("q")),
        /** A byte limit: sends under the lock, stored in the ring. */
        MAX_BYTES(true, QueueSpec.named("q").maxBytes(1 << 20)),
        /** Key order: entries. */
        KEY_ORDERED(true, QueueSpec.named("q").ordering(Ordering.KEY_ORDERED)),
        /** A queue TTL: entries (in the TTL heap too). */
        TTL(true, QueueSpec.named("q").messageTtl(Duration.ofHours(1)));

        final boolean budget;
        final QueueSpec spec;

        Lane(boolean budget, QueueSpec spec) {
            this.budget = budget;
            this.spec = spec;
        }
    }

    /** Reads a broker's and its queues' counts after each step: never below 0, and the same bytes in both. */
    private static final class Counts {
        final List<String> seen = new ArrayList<>();
        private final Broker broker;
        private final MessageQueue<?> queue;

        Counts(Broker broker, MessageQueue<?> queue) {
            this.broker = broker;
            this.queue = queue;
        }

        void check(String step) {
            seen.add(step + ": queue " + queue.stats().bytes() + " B, broker " + broker.memoryUsed() + " B");
            long bytes = 0;
            long messages = 0;
            for (QueueStats st : broker.stats()) { // the queue's dead-letter queue too
                assertThat(st.bytes()).as("bytes of %s after %s", st.name(), step).isNotNegative();
                bytes += st.bytes();
                messages += st.ready() + st.inFlight() + st.delayed();
            }
            assertThat(broker.memoryUsed()).as("broker memory after %s", step).isEqualTo(bytes + messages * OVERHEAD);
            assertThat(broker.memoryStats().used()).isEqualTo(broker.memoryUsed());
        }

        void zero() {
            assertThat(queue.stats().bytes()).as("queue bytes at the end (%s)", seen).isZero();
            assertThat(broker.memoryUsed()).as("broker memory at the end (%s)", seen).isZero();
        }
    }

    private static Broker broker(boolean budget) {
        return budget ? Broker.create(BrokerOptions.defaults().memoryBudget(1 << 20)) : Broker.create();
    }

    /**
     * Sends {@code first} and {@code second} (keyed, for the key-ordered lane), runs {@code afterSend}, receives both,
     * runs {@code afterReceive}, acks both: the counts are checked after each step and are 0 at the end.
     */
    private static <P> void sendChangeReceiveChangeAck(Lane lane, P first, P second, Runnable afterSend,
            Runnable afterReceive) {
        Broker b = broker(lane.budget);
        MessageQueue<P> q = b.declare(lane.spec);
        Counts counts = new Counts(b, q);
        assertThat(q.send(OutboundMessage.of(first).key("k1"), 0).accepted()).isTrue();
        assertThat(q.send(OutboundMessage.of(second).key("k2"), 0).accepted()).isTrue();
        afterSend.run();
        counts.check("sent, then changed");
        List<Lease<P>> ls = q.receive(2, 0);
        assertThat(ls).hasSize(2);
        counts.check("received");
        afterReceive.run();
        for (Lease<P> l : ls) {
            assertThat(q.ack(l, 0)).isEqualTo(LeaseOutcome.OK);
            counts.check("acked " + l.message().id());
        }
        counts.zero();
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Lane.class)
    void aStringBuilderGrownAndCutWhileQueuedGivesBackExactlyWhatItWasCounted(Lane lane) {
        StringBuilder grown = new StringBuilder("0123456789");
        StringBuilder cut = new StringBuilder("0123456789");
        sendChangeReceiveChangeAck(lane, grown, cut, () -> {
            grown.append("x".repeat(30)); // by its producer, after the send (before a lock-free send is stored, too)
            cut.setLength(3);
        }, () -> {
            grown.append("y".repeat(50)); // by its consumer
            cut.setLength(0);
        });
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Lane.class)
    void aByteBufferWhosePositionItsProducerMovesGivesBackExactlyWhatItWasCounted(Lane lane) {
        ByteBuffer read = ByteBuffer.wrap(new byte[100]);
        ByteBuffer unread = ByteBuffer.wrap(new byte[100]).position(60);
        sendChangeReceiveChangeAck(lane, read, unread, () -> {
            read.position(100); // the producer reads what it sent in place
            unread.position(0);
        }, () -> {
            read.position(0);
            unread.position(100);
        });
    }

    /** Every other way out: a dead letter, an expiry, a purge, a delete; and a nack and redelivery on the way. */
    @Test
    void deadLettersExpiryPurgeAndDeleteGiveBackWhatWasCounted() {
        Broker b = broker(true);
        MessageQueue<StringBuilder> q = b.declare(QueueSpec.named("q").maxDeliveries(2).deadLetterQueue("dlq"));
        Counts counts = new Counts(b, q);
        StringBuilder p = new StringBuilder("abc");
        q.send(OutboundMessage.of(p).priority(3), 0);
        Lease<StringBuilder> first = q.receive(1, 0).get(0);
        p.append("d".repeat(20));
        assertThat(q.nack(first, Duration.ZERO, 0)).isEqualTo(LeaseOutcome.OK);
        counts.check("nacked");
        Lease<StringBuilder> second = q.receive(1, 0).get(0);
        p.setLength(1);
        assertThat(q.reject(second, "bad", 0)).isEqualTo(LeaseOutcome.OK);
        counts.check("dead-lettered");
        MessageQueue<StringBuilder> dlq = b.<StringBuilder>get("dlq").orElseThrow();
        assertThat(dlq.stats().bytes()).as("counted as it arrived").isEqualTo(2);
        p.append("e".repeat(40));
        dlq.ack(dlq.receive(1, 0).get(0), 0);
        assertThat(dlq.stats().bytes()).isZero();
        counts.zero();

        MessageQueue<StringBuilder> ttl = b.declare(QueueSpec.named("ttl").messageTtl(Duration.ofSeconds(1)));
        StringBuilder expiring = new StringBuilder("12345");
        ttl.send(OutboundMessage.of(expiring), 0);
        expiring.append("6".repeat(10));
        ttl.advance(1_000);
        assertThat(ttl.stats().expired()).isEqualTo(1);
        assertThat(ttl.stats().bytes()).isZero();
        assertThat(b.memoryUsed()).isZero();

        MessageQueue<StringBuilder> purged = b.declare(QueueSpec.named("purged"));
        StringBuilder cut = new StringBuilder("0123456789");
        purged.send(OutboundMessage.of(cut), 0);
        purged.send(OutboundMessage.of(cut).priority(1), 0);
        cut.setLength(0);
        assertThat(purged.purge(0)).isEqualTo(2);
        assertThat(purged.stats().bytes()).isZero();
        assertThat(b.memoryUsed()).isZero();

        MessageQueue<StringBuilder> deleted = b.declare(QueueSpec.named("deleted"));
        StringBuilder grown = new StringBuilder("0");
        deleted.send(OutboundMessage.of(grown), 0);
        grown.append("1".repeat(99));
        assertThat(b.delete("deleted", 0)).isTrue();
        assertThat(b.memoryUsed()).isZero();
    }

    /** A durable queue (entries, a journal): the same, and its recovered messages too. */
    @Test
    void aDurableQueueGivesBackWhatItCounted() throws IOException {
        Codec<StringBuilder> codec = Codec.of(s -> s.toString().getBytes(StandardCharsets.UTF_8),
                bytes -> new StringBuilder(new String(bytes, StandardCharsets.UTF_8)));
        DurabilityOptions opts = DurabilityOptions.defaults().clock(() -> 0L);
        BrokerOptions budget = BrokerOptions.defaults().memoryBudget(1 << 20);
        StringBuilder p = new StringBuilder("abcdef");
        try (DurableBroker d = DurableBroker.open(dir, opts, budget)) {
            MessageQueue<StringBuilder> q = d.declare(QueueSpec.named("q"), codec);
            Counts counts = new Counts(d.broker(), q);
            q.send(OutboundMessage.of(p), 0);
            q.send(OutboundMessage.of(new StringBuilder("kept")), 0);
            p.append("g".repeat(30));
            counts.check("sent, then grown");
            assertThat(q.ack(q.receive(1, 0).get(0), 0)).isEqualTo(LeaseOutcome.OK);
            assertThat(q.stats().bytes()).isEqualTo(8);
            d.whenDurable(d.lastSeq()).join();
        }
        try (DurableBroker d = DurableBroker.open(dir, opts.declareRecoveredWith(codec), budget)) {
            MessageQueue<StringBuilder> q = d.broker().<StringBuilder>get("q").orElseThrow();
            Counts counts = new Counts(d.broker(), q);
            Lease<StringBuilder> l = q.receive(1, 0).get(0);
            l.payload().append("h".repeat(64));
            assertThat(q.ack(l, 0)).isEqualTo(LeaseOutcome.OK);
            counts.zero();
        }
    }
}
