package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A {@link ByteBuffer} payload read in place by its consumer: the queue keeps the buffer as it was sent, so a
 * redelivery reads the whole message again, and the bytes counted for it (the queue's {@code maxBytes}, the broker's
 * memory budget: a buffer's remaining bytes) are all given back when it goes.
 */
class ByteBufferPayloadTest {

    private static final long NOW = 1_000;

    /** Drains the buffer as a consumer that reads it in place does. */
    private static byte[] readAll(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    private static byte[] bytes(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 7 + 1);
        }
        return b;
    }

    @ParameterizedTest(name = "{0}")
    // a byte limit keeps the queue off the lock-free send inbox; with the budget alone it has one (a buffer, whose
    // size may change, is sent under the lock and stored as an entry all the same: MutablePayloadSizeTest)
    @ValueSource(strings = {"queue maxBytes and broker budget", "broker budget only"})
    void aBufferReadInPlaceIsWholeOnRedeliveryAndAllItsBytesComeBackOnAck(String kind) {
        Broker broker = Broker.create(BrokerOptions.defaults().memoryBudget(1 << 20));
        QueueSpec spec = QueueSpec.named("buffers");
        if (kind.startsWith("queue")) {
            spec = spec.maxBytes(10_000);
        }
        MessageQueue<ByteBuffer> q = broker.declare(spec);
        byte[] sent = bytes(100);
        assertThat(q.send(OutboundMessage.of(ByteBuffer.wrap(sent)), NOW).accepted()).isTrue();
        long held = broker.memoryUsed();
        assertThat(held).isEqualTo(100 + BrokerOptions.MESSAGE_OVERHEAD_BYTES);
        assertThat(q.stats().bytes()).isEqualTo(100);

        assertThat(q.peek(1)).singleElement().satisfies(m -> assertThat(readAll(m.payload())).isEqualTo(sent));

        Lease<ByteBuffer> first = q.receive(1, NOW).get(0);
        assertThat(readAll(first.payload())).isEqualTo(sent);
        assertThat(first.payload().remaining()).isZero();
        assertThat(readAll(first.message().payload())).as("its Message shares the lease's view").isEmpty();
        assertThat(q.nack(first, Duration.ZERO, NOW)).isEqualTo(LeaseOutcome.OK);

        Lease<ByteBuffer> again = q.receive(1, NOW).get(0);
        assertThat(again.deliveryCount()).isEqualTo(2);
        assertThat(readAll(again.payload())).as("the redelivery reads the whole message").isEqualTo(sent);
        assertThat(q.stats().bytes()).isEqualTo(100);
        assertThat(broker.memoryUsed()).isEqualTo(held);

        assertThat(q.ack(again, NOW)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.stats().bytes()).as("the queue's byte count").isZero();
        assertThat(broker.memoryUsed()).as("the broker's budget").isZero();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"queue maxBytes and broker budget", "broker budget only"})
    void aBufferReadInPlaceAndDeadLetteredArrivesWholeInTheDeadLetterQueue(String kind) {
        Broker broker = Broker.create(BrokerOptions.defaults().memoryBudget(1 << 20));
        QueueSpec spec = QueueSpec.named("src").maxDeliveries(1).deadLetterQueue("src-dlq");
        if (kind.startsWith("queue")) {
            spec = spec.maxBytes(10_000);
        }
        MessageQueue<ByteBuffer> q = broker.declare(spec);
        byte[] sent = bytes(64);
        q.send(OutboundMessage.of(ByteBuffer.wrap(sent)), NOW);
        Lease<ByteBuffer> l = q.receive(1, NOW).get(0);
        readAll(l.payload());
        assertThat(q.reject(l, "bad", NOW)).isEqualTo(LeaseOutcome.OK);

        MessageQueue<ByteBuffer> dlq = broker.<ByteBuffer>get("src-dlq").orElseThrow();
        List<Lease<ByteBuffer>> dead = dlq.receive(1, NOW);
        assertThat(dead).singleElement().satisfies(d -> assertThat(readAll(d.payload())).isEqualTo(sent));
        dlq.ack(dead.get(0), NOW);
        assertThat(q.stats().bytes()).isZero();
        assertThat(dlq.stats().bytes()).isZero();
        assertThat(broker.memoryUsed()).isZero();
    }
}
