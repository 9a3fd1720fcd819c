package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Extensions at the edges of their duration, and the lease's deadline as extensions move it: a ring lease (first
 * delivery of a plain message), an entry lease (a redelivery) and a key-ordered one.
 */
class LeaseDeadlineTest {

    private static MessageQueue<String> queue(QueueSpec spec) {
        return MessageQueue.create(spec.visibilityTimeout(Duration.ofSeconds(10)));
    }

    private static Lease<String> one(MessageQueue<String> q, long now) {
        List<Lease<String>> got = q.receive(1, now);
        assertThat(got).hasSize(1);
        return got.get(0);
    }

    private static List<Lease<String>> leases(MessageQueue<String> q) {
        q.send(OutboundMessage.of("ring"), 0);
        Lease<String> ring = one(q, 0);
        q.send(OutboundMessage.of("again"), 0);
        q.nack(one(q, 0).handle(), Duration.ZERO, 0);
        Lease<String> entry = one(q, 0);
        assertThat(entry.deliveryCount()).isEqualTo(2);
        return List.of(ring, entry);
    }

    @Test
    void theLeaseTellsTheDeadlineOfItsLastExtension() {
        for (QueueSpec spec : List.of(QueueSpec.named("fifo"), QueueSpec.named("keyed").ordering(Ordering.KEY_ORDERED))) {
            MessageQueue<String> q = queue(spec);
            long t = 1_000;
            for (Lease<String> l : leases(q)) {
                assertThat(l.deadline()).isEqualTo(10_000);
                assertThat(q.extend(l.handle(), Duration.ofSeconds(60), t)).isEqualTo(LeaseOutcome.OK);
                assertThat(l.deadline()).as(spec.name()).isEqualTo(t + 60_000);
                assertThat(q.extend(l.handle(), Duration.ofSeconds(1), t + 1_000)).isEqualTo(LeaseOutcome.OK);
                assertThat(l.deadline()).as("shortened").isEqualTo(t + 2_000);
                t += 2_000;
            }
            // a caller whose clock is behind the queue's: the deadline counts from the queue's latest time
            assertThat(q.advance(t)).isEqualTo(Long.MAX_VALUE);
            assertThat(q.stats().expiredLeases()).isEqualTo(2);
            Lease<String> late = one(q, t); // one of the two, back after its lease ran out
            assertThat(q.extend(late.handle(), Duration.ofSeconds(5), t - 500)).isEqualTo(LeaseOutcome.OK);
            assertThat(late.deadline()).isEqualTo(t + 5_000);
            assertThat(q.stats().expiredLeases()).isEqualTo(2);
        }
    }

    @Test
    void aStaleExtensionLeavesTheDeadline() {
        MessageQueue<String> q = queue(QueueSpec.named("stale"));
        for (Lease<String> l : leases(q)) {
            assertThat(q.extend(l.handle(), Duration.ofSeconds(60), 10_000)).isEqualTo(LeaseOutcome.STALE);
            assertThat(l.deadline()).isEqualTo(10_000);
        }
    }

    @Test
    void extensionsRoundUpToAMillisecondAndSaturate() {
        MessageQueue<String> q = queue(QueueSpec.named("edges"));
        for (Lease<String> l : leases(q)) {
            assertThat(q.extend(l.handle(), Duration.ofNanos(1), 5_000)).isEqualTo(LeaseOutcome.OK);
            assertThat(l.deadline()).as("a positive duration never ends the lease at once").isEqualTo(5_001);
            assertThat(q.extend(l.handle(), Duration.ofMillis(2).plusNanos(1), 5_000)).isEqualTo(LeaseOutcome.OK);
            assertThat(l.deadline()).isEqualTo(5_003);
            assertThat(q.extend(l.handle(), Duration.ofSeconds(Long.MAX_VALUE), 5_000)).isEqualTo(LeaseOutcome.OK);
            assertThat(l.deadline()).isEqualTo(Long.MAX_VALUE);
            assertThat(q.extend(l.handle(), Duration.ofMillis(Long.MAX_VALUE - 1), 5_000)).isEqualTo(LeaseOutcome.OK);
            assertThat(l.deadline()).isEqualTo(Long.MAX_VALUE);
            assertThatThrownBy(() -> q.extend(l.handle(), Duration.ZERO, 5_000))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> q.extend(l.handle(), Duration.ofNanos(-1), 5_000))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThat(l.deadline()).isEqualTo(Long.MAX_VALUE);
        }
        assertThat(q.advance(Long.MAX_VALUE - 1)).isEqualTo(Long.MAX_VALUE);
        assertThat(q.stats().inFlight()).isEqualTo(2);
    }

    @Test
    void aSubMillisecondVisibilityRoundsUp() {
        MessageQueue<String> q = queue(QueueSpec.named("short"));
        q.send(OutboundMessage.of("m"), 0);
        Lease<String> s = q.receive(1, Duration.ofNanos(1), 0).get(0);
        assertThat(s.deadline()).isEqualTo(1);
        assertThat(q.ack(s.handle(), 0)).isEqualTo(LeaseOutcome.OK);
    }

    @Test
    void aNackDelayTooLongForMillisSaturates() {
        MessageQueue<String> q = queue(QueueSpec.named("nack"));
        q.send(OutboundMessage.of("m"), 0);
        Lease<String> l = one(q, 0);
        assertThat(q.nack(l.handle(), Duration.ofSeconds(Long.MAX_VALUE), 0)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.stats().delayed()).isEqualTo(1);
        assertThat(q.nextDeadline()).isEqualTo(Long.MAX_VALUE);
    }
}
