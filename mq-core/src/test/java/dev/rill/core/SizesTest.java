package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** Payload sizing for byte limits and stats, and a queue's one-entry cache of its payload class. */
class SizesTest {

    private static long size(Object p) {
        return Sizes.of(p, Sizes.kind(p.getClass()));
    }

    @Test
    void sizesEveryKnownKindAndZeroForOthers() {
        assertThat(size(new byte[7])).isEqualTo(7);
        assertThat(size("abc")).isEqualTo(6);
        assertThat(size(ByteBuffer.allocate(10).position(4))).isEqualTo(6);
        assertThat(size(ByteBuffer.allocateDirect(5))).as("a subclass of ByteBuffer").isEqualTo(5);
        assertThat(size(new StringBuilder("abcd"))).as("a CharSequence").isEqualTo(8);
        assertThat(size(42)).isZero();
        assertThat(size(new Object())).isZero();
    }

    @Test
    void aQueueSeeingPayloadsOfChangingClassesCountsBytesRight() {
        MessageQueue<Object> q = MessageQueue.create(QueueSpec.named("q"));
        Object[] payloads = {new byte[3], "ab", 5, new StringBuilder("xyz"), new byte[10], ByteBuffer.allocate(2), 7L};
        long expected = 0;
        for (Object p : payloads) {
            q.send(OutboundMessage.of(p), 0);
            expected += size(p);
            assertThat(q.stats().bytes()).isEqualTo(expected);
        }
        assertThat(expected).isEqualTo(3 + 4 + 0 + 6 + 10 + 2 + 0);
        for (Lease<Object> l : q.receive(10, 1)) {
            q.ack(l, 2);
        }
        assertThat(q.stats().bytes()).isZero();
    }

    @Test
    void aByteLimitCountsEveryKindOfPayload() {
        MessageQueue<Object> q = MessageQueue.create(QueueSpec.named("q").maxBytes(10));
        assertThat(q.send(OutboundMessage.of(new StringBuilder("abcd")), 0).status())
                .isEqualTo(SendOutcome.Status.ENQUEUED); // 8 bytes
        assertThat(q.send(OutboundMessage.of(new byte[3]), 0).status()).isEqualTo(SendOutcome.Status.FULL);
        assertThat(q.send(OutboundMessage.of(new byte[2]), 0).status()).isEqualTo(SendOutcome.Status.ENQUEUED);
        assertThat(q.send(OutboundMessage.of(1), 0).status()).as("0 bytes still fits").isEqualTo(
                SendOutcome.Status.ENQUEUED);
    }
}
