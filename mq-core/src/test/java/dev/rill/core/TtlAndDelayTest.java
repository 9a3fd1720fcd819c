package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Time to live (queue-wide, per message, while ready, delayed or leased) and delayed delivery. */
class TtlAndDelayTest {

    private static OutboundMessage<String> msg(String payload) {
        return OutboundMessage.of(payload);
    }

    private static List<String> payloads(List<Lease<String>> leases) {
        return leases.stream().map(Lease::payload).toList();
    }

    // ---------------------------------------------------------------------------------------------- TTL

    @Test
    void queueTtlDropsAReadyMessageExactlyAtItsExpiry() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q").messageTtl(Duration.ofSeconds(1)));
        q.send(msg("a"), 500);
        assertThat(q.nextDeadline()).isEqualTo(1_500);
        assertThat(q.advance(1_499)).isEqualTo(1_500);
        assertThat(q.stats().ready()).isEqualTo(1);
        assertThat(q.receive(1, 1_500)).isEmpty();
        QueueStats s = q.stats();
        assertThat(s.expired()).isEqualTo(1);
        assertThat(s.size()).isZero();
        assertThat(s.bytes()).isZero();
        assertThat(q.size()).isZero();
    }

    @Test
    void readyMessageIsDeliverableUntilItsExpiry() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q").messageTtl(Duration.ofSeconds(1)));
        q.send(msg("a"), 0);
        assertThat(payloads(q.receive(1, 999))).containsExactly("a");
    }

    @Test
    void perMessageTtlWithoutQueueTtl() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q"));
        q.send(msg("short").ttl(Duration.ofMillis(100)), 0);
        q.send(msg("forever"), 0);
        assertThat(payloads(q.receive(10, 100))).containsExactly("forever");
        assertThat(q.stats().expired()).isEqualTo(1);
    }

    @Test
    void theShorterOfQueueAndMessageTtlWins() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q").messageTtl(Duration.ofMillis(1_000)));
        q.send(msg("msgShorter").ttl(Duration.ofMillis(300)), 0);
        q.send(msg("queueShorter").ttl(Duration.ofMillis(5_000)), 0);
        q.send(msg("queueOnly"), 0);
        q.advance(299);
        assertThat(q.stats().ready()).isEqualTo(3);
        q.advance(300);
        assertThat(q.peek(10)).extracting(Message::payload).containsExactly("queueShorter", "queueOnly");
        q.advance(999);
        assertThat(q.stats().ready()).isEqualTo(2);
        assertThat(q.advance(1_000)).isEqualTo(Long.MAX_VALUE);
        assertThat(q.stats().expired()).isEqualTo(3);
        assertThat(q.size()).isZero();
    }

    @Test
    void expiresWhileDelayedAndIsNeverDelivered() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q"));
        q.send(msg("a").delay(Duration.ofSeconds(2)).ttl(Duration.ofSeconds(1)), 0);
        assertThat(q.stats().delayed()).isEqualTo(1);
        assertThat(q.advance(1_000)).isEqualTo(Long.MAX_VALUE);
        assertThat(q.stats().delayed()).isZero();
        assertThat(q.stats().expired()).isEqualTo(1);
        assertThat(q.receive(1, 2_000)).isEmpty();
        assertThat(q.stats().delivered()).isZero();
    }

    @Test
    void delayEqualToTtlIsNeverDelivered() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q"));
        q.send(msg("a").delay(Duration.ofSeconds(1)).ttl(Duration.ofSeconds(1)), 0);
        assertThat(q.receive(1, 1_000)).isEmpty();
        assertThat(q.stats().expired()).isEqualTo(1);
        assertThat(q.size()).isZero();
    }

    @Test
    void expiresWhileBackingOffAfterANack() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q"));
        q.send(msg("a").ttl(Duration.ofSeconds(1)), 0);
        Lease<String> l = q.receive(1, 0).get(0);
        q.nack(l.handle(), Duration.ofSeconds(5), 100);
        assertThat(q.advance(999)).isEqualTo(1_000);
        assertThat(q.stats().delayed()).isEqualTo(1);
        assertThat(q.advance(1_000)).isEqualTo(Long.MAX_VALUE);
        assertThat(q.stats().delayed()).isZero();
        assertThat(q.stats().expired()).isEqualTo(1);
        assertThat(q.receive(1, 5_100)).isEmpty();
    }

    @Test
    void leasedMessagePastTtlCanStillBeAcked() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q").messageTtl(Duration.ofSeconds(1)));
        q.send(msg("a"), 0);
        Lease<String> l = q.receive(1, Duration.ofSeconds(5), 500).get(0);
        q.advance(2_000);
        assertThat(q.stats().inFlight()).isEqualTo(1);
        assertThat(q.stats().expired()).isZero();
        assertThat(q.ack(l.handle(), 2_000)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.stats().acked()).isEqualTo(1);
        assertThat(q.stats().expired()).isZero();
        assertThat(q.size()).isZero();
    }

    @Test
    void leasedMessagePastTtlExpiresWhenItsLeaseEnds() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q").messageTtl(Duration.ofSeconds(1)));
        q.send(msg("a"), 0);
        Lease<String> l = q.receive(1, Duration.ofSeconds(5), 500).get(0);
        assertThat(q.advance(1_000)).isEqualTo(5_500);
        assertThat(q.stats().expired()).isZero();
        assertThat(q.extend(l.handle(), Duration.ofSeconds(1), 5_000)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.advance(5_999)).isEqualTo(6_000);
        assertThat(q.stats().inFlight()).isEqualTo(1);
        assertThat(q.receive(1, 6_000)).isEmpty();
        QueueStats s = q.stats();
        assertThat(s.expiredLeases()).isEqualTo(1);
        assertThat(s.expired()).isEqualTo(1);
        assertThat(s.size()).isZero();
        assertThat(q.advance(6_000)).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void leasedMessagePastTtlExpiresWhenNackedOrReleased() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q").messageTtl(Duration.ofSeconds(1)));
        q.send(msg("a"), 0);
        q.send(msg("b"), 0);
        List<Lease<String>> ls = q.receive(2, 0);
        assertThat(q.nack(ls.get(0).handle(), Duration.ZERO, 1_000)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.release(ls.get(1).handle(), 1_000)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.receive(5, 1_000)).isEmpty();
        assertThat(q.stats().expired()).isEqualTo(2);
        assertThat(q.size()).isZero();
    }

    @Test
    void returnedMessageStillInsideItsTtlIsDelivered() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q").messageTtl(Duration.ofSeconds(10)));
        q.send(msg("a"), 0);
        Lease<String> l = q.receive(1, 0).get(0);
        q.nack(l.handle(), Duration.ZERO, 100);
        assertThat(q.receive(1, 9_999)).extracting(Lease::deliveryCount).containsExactly(2);
    }

    @Test
    void deadLetterExpiryActionMovesExpiredMessagesToTheDeadLetterQueue() {
        Broker broker = Broker.create();
        MessageQueue<String> q = broker.declare(QueueSpec.named("src").messageTtl(Duration.ofSeconds(1))
                .deadLetterQueue("src.dlq").onExpiry(ExpiryAction.DEAD_LETTER));
        q.send(msg("leased"), 0);
        assertThat(q.receive(1, Duration.ofSeconds(3), 0)).extracting(Lease::payload).containsExactly("leased");
        q.send(msg("ready").key("k").priority(3).header("h", "v"), 0);
        q.advance(1_000);
        MessageQueue<String> dlq = broker.<String>get("src.dlq").orElseThrow();
        List<Message<String>> dead = dlq.peek(10);
        assertThat(dead).hasSize(1);
        Message<String> m = dead.get(0);
        assertThat(m.payload()).isEqualTo("ready");
        assertThat(m.priority()).isEqualTo(3);
        assertThat(m.key()).isEqualTo("k");
        assertThat(m.headers()).containsEntry("h", "v")
                .containsEntry(Message.HEADER_DEAD_LETTER_REASON, "expired")
                .containsEntry(Message.HEADER_SOURCE_QUEUE, "src")
                .containsEntry(Message.HEADER_DELIVERY_COUNT, "0");
        assertThat(q.stats().deadLettered()).isEqualTo(1);
        q.advance(3_000);
        assertThat(dlq.peek(10)).extracting(Message::payload).containsExactly("ready", "leased");
        assertThat(dlq.peek(10).get(1).headers()).containsEntry(Message.HEADER_DELIVERY_COUNT, "1");
        assertThat(q.size()).isZero();
    }

    // ---------------------------------------------------------------------------------------------- delay

    @Test
    void delayedMessageIsInvisibleUntilDue() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q"));
        long id = q.send(msg("a").delay(Duration.ofSeconds(1)), 100).messageId();
        assertThat(q.stats().delayed()).isEqualTo(1);
        assertThat(q.stats().ready()).isZero();
        assertThat(q.peek(5)).isEmpty();
        assertThat(q.nextDeadline()).isEqualTo(1_100);
        assertThat(q.receive(1, 1_099)).isEmpty();
        List<Lease<String>> got = q.receive(1, 1_100);
        assertThat(got).singleElement().satisfies(l -> {
            assertThat(l.message().id()).isEqualTo(id);
            assertThat(l.deliveryCount()).isEqualTo(1);
            assertThat(l.message().timestamp()).isEqualTo(100);
        });
        assertThat(q.stats().delayed()).isZero();
    }

    @Test
    void zeroDelayIsImmediate() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q"));
        q.send(msg("a").delay(Duration.ZERO), 0);
        assertThat(q.stats().delayed()).isZero();
        assertThat(payloads(q.receive(1, 0))).containsExactly("a");
    }

    @Test
    void delayedMessagesBecomeReadyInDueOrderThenSendOrder() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q"));
        q.send(msg("a300").delay(Duration.ofMillis(300)), 0);
        q.send(msg("b100").delay(Duration.ofMillis(100)), 0);
        q.send(msg("c200").delay(Duration.ofMillis(200)), 0);
        q.send(msg("d200").delay(Duration.ofMillis(150)), 50);
        assertThat(payloads(q.receive(10, 1_000))).containsExactly("b100", "c200", "d200", "a300");
    }

    @Test
    void aDelayedMessageQueuesBehindWhatWasReadyBeforeItWasDue() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q"));
        q.send(msg("delayed").delay(Duration.ofMillis(100)), 0);
        q.send(msg("early"), 50);
        q.send(msg("late"), 150); // the delayed one fell due at 100, before this send
        assertThat(payloads(q.receive(10, 150))).containsExactly("early", "delayed", "late");
    }

    @Test
    void delayedMessagesCountTowardsCapacity() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q").capacity(1));
        q.send(msg("a").delay(Duration.ofSeconds(1)), 0);
        assertThat(q.send(msg("b"), 0).status()).isEqualTo(SendOutcome.Status.FULL);
    }

    @Test
    void delayedReleaseTurnsIntoReadableAfterAdvance() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q"));
        q.send(msg("a").delay(Duration.ofMillis(10)), 0);
        assertThat(q.advance(5)).isEqualTo(10);
        assertThat(q.advance(10)).isEqualTo(Long.MAX_VALUE);
        assertThat(q.stats().ready()).isEqualTo(1);
        assertThat(q.peek(1)).extracting(Message::payload).containsExactly("a");
    }
}
