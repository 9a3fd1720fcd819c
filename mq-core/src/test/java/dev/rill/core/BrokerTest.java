package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;

import dev.rill.core.SendOutcome.Status;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link Broker}: declare, dead-letter routing, redrive, delete, purge, list and stats. */
class BrokerTest {

    private static OutboundMessage<String> msg(String payload) {
        return OutboundMessage.of(payload);
    }

    private static Lease<String> one(MessageQueue<String> q, long now) {
        List<Lease<String>> got = q.receive(1, now);
        assertThat(got).hasSize(1);
        return got.get(0);
    }

    private static MessageQueue<String> queue(Broker b, String name) {
        return b.<String>get(name).orElseThrow();
    }

    // ------------------------------------------------------------------------------------------- declare

    @Test
    void declareIsIdempotentForAnEqualSpec() {
        Broker b = Broker.create();
        MessageQueue<String> q1 = b.declare(QueueSpec.named("orders").capacity(10));
        q1.send(msg("kept"), 0);
        MessageQueue<String> q2 = b.declare(QueueSpec.named("orders").capacity(10));
        assertThat(q2).isSameAs(q1);
        assertThat(q2.size()).isEqualTo(1);
        assertThat(b.<String>get("orders")).containsSame(q1);
    }

    @Test
    void declareWithAnotherSpecFailsNamingEachDifferingField() {
        Broker b = Broker.create();
        b.declare(QueueSpec.named("orders").capacity(10));
        assertThatIllegalArgumentException()
                .isThrownBy(() -> b.declare(QueueSpec.named("orders").capacity(20)
                        .visibilityTimeout(Duration.ofSeconds(5))))
                .withMessageContaining("'orders'")
                .withMessageContaining("capacity: 10 vs 20")
                .withMessageContaining("visibilityTimeout: PT30S vs PT5S")
                .withMessageNotContaining("dedupWindow");
        assertThat(queue(b, "orders").spec().capacity()).isEqualTo(10);
    }

    @Test
    void declareValidatesTheSpec() {
        Broker b = Broker.create();
        assertThatIllegalArgumentException().isThrownBy(() -> b.declare(QueueSpec.named("q").maxDeliveries(2)))
                .withMessageContaining("maxDeliveries=2");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> b.declare(QueueSpec.named("q").deadLetterQueue("q")))
                .withMessageContaining("deadLetterQueue");
        assertThat(b.list()).isEmpty();
    }

    @Test
    void declareCreatesTheDeadLetterQueueWithDefaults() {
        Broker b = Broker.create();
        b.declare(QueueSpec.named("orders").maxDeliveries(3).deadLetterQueue("orders.dlq"));
        assertThat(b.list()).containsExactly("orders", "orders.dlq");
        assertThat(queue(b, "orders.dlq").spec()).isEqualTo(QueueSpec.named("orders.dlq"));
        // an existing dead-letter queue is kept as it is
        MessageQueue<String> custom = b.declare(QueueSpec.named("dlq2").capacity(5));
        b.declare(QueueSpec.named("other").deadLetterQueue("dlq2"));
        assertThat(queue(b, "dlq2")).isSameAs(custom);
    }

    // ------------------------------------------------------------------------------------------- routing

    @Test
    void rejectMovesTheMessageToTheDeadLetterQueueWithHeaders() {
        Broker b = Broker.create();
        MessageQueue<String> q = b.declare(QueueSpec.named("src").deadLetterQueue("dlq"));
        long id = q.send(msg("payload").key("k1").priority(6).header("app", "x"), 0).messageId();
        Lease<String> l = one(q, 0);
        assertThat(q.reject(l.handle(), "cannot parse", 5)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.size()).isZero();
        assertThat(q.stats().deadLettered()).isEqualTo(1);

        MessageQueue<String> dlq = queue(b, "dlq");
        Lease<String> dead = one(dlq, 5);
        Message<String> m = dead.message();
        assertThat(m.payload()).isEqualTo("payload");
        assertThat(m.key()).isEqualTo("k1");
        assertThat(m.priority()).isEqualTo(6);
        assertThat(m.headers()).containsOnly(
                Map.entry("app", "x"),
                Map.entry(Message.HEADER_DEAD_LETTER_REASON, "cannot parse"),
                Map.entry(Message.HEADER_SOURCE_QUEUE, "src"),
                Map.entry(Message.HEADER_DELIVERY_COUNT, "1"),
                Map.entry(Message.HEADER_ORIGINAL_ID, Long.toString(id)));
        assertThat(dead.deliveryCount()).isEqualTo(1);
    }

    @Test
    void rejectReasonDefaultsAndIsCut() {
        assertThat(deadLetterReasons(null, "", "r".repeat(5_000)))
                .containsExactly("rejected", "unspecified", "r".repeat(1_024));
    }

    /** Rejects one message with each reason, in order, and returns the reason headers of the dead letters. */
    private static List<String> deadLetterReasons(String... reasons) {
        Broker b = Broker.create();
        MessageQueue<String> q = b.declare(QueueSpec.named("src").deadLetterQueue("dlq"));
        for (int i = 0; i < reasons.length; i++) {
            q.send(msg("m" + i), 0);
        }
        List<Lease<String>> ls = q.receive(reasons.length, 0);
        for (int i = 0; i < reasons.length; i++) {
            q.reject(ls.get(i).handle(), reasons[i], 1);
        }
        return queue(b, "dlq").peek(10).stream().map(m -> m.headers().get(Message.HEADER_DEAD_LETTER_REASON))
                .toList();
    }

    /**
     * A reason with an unpaired surrogate (free text cut by the caller's code) is kept with U+FFFD in its place: the
     * header has a UTF-8 form, so a remote consumer of the dead-letter queue can be sent the message. Pairs stay.
     */
    @Test
    void rejectReasonWithALoneSurrogateIsMadeEncodable() {
        // the second's pair would straddle the cut at 1024 characters
        assertThat(deadLetterReasons("bad \uD83D here, \uD83D\uDE00 fine, \uDE00 too",
                "x".repeat(1_023) + "\uD83D\uDE00", "tail \uD83D"))
                .containsExactly("bad \uFFFD here, \uD83D\uDE00 fine, \uFFFD too", "x".repeat(1_023),
                        "tail \uFFFD");
    }

    @Test
    void maxDeliveriesByExpiryRoutesToTheDeadLetterQueue() {
        Broker b = Broker.create();
        MessageQueue<String> q = b.declare(QueueSpec.named("src").visibilityTimeout(Duration.ofSeconds(1))
                .maxDeliveries(3).deadLetterQueue("dlq"));
        long id = q.send(msg("poison"), 0).messageId();
        for (int i = 0; i < 3; i++) {
            assertThat(one(q, i * 1_000L).deliveryCount()).isEqualTo(i + 1);
        }
        assertThat(b.advance(3_000)).isEqualTo(Long.MAX_VALUE);
        assertThat(q.size()).isZero();
        assertThat(q.stats().deadLettered()).isEqualTo(1);
        Message<String> m = queue(b, "dlq").peek(1).get(0);
        assertThat(m.headers()).containsEntry(Message.HEADER_DELIVERY_COUNT, "3")
                .containsEntry(Message.HEADER_ORIGINAL_ID, Long.toString(id))
                .containsEntry(Message.HEADER_SOURCE_QUEUE, "src")
                .containsEntry(Message.HEADER_DEAD_LETTER_REASON, "max deliveries reached (3)");
    }

    @Test
    void maxDeliveriesByNackRoutesToTheDeadLetterQueue() {
        Broker b = Broker.create();
        MessageQueue<String> q = b.declare(QueueSpec.named("src").maxDeliveries(2).deadLetterQueue("dlq"));
        q.send(msg("poison"), 0);
        assertThat(q.nack(one(q, 0).handle(), Duration.ZERO, 1)).isEqualTo(LeaseOutcome.OK);
        assertThat(queue(b, "dlq").size()).isZero();
        assertThat(q.nack(one(q, 2).handle(), Duration.ofSeconds(10), 3)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.size()).isZero();
        MessageQueue<String> dlq = queue(b, "dlq");
        assertThat(dlq.peek(1)).singleElement().satisfies(m -> {
            assertThat(m.payload()).isEqualTo("poison");
            assertThat(m.headers()).containsEntry(Message.HEADER_DELIVERY_COUNT, "2");
        });
    }

    @Test
    void deadLettersBypassTheDeadLetterQueuesCapacity() {
        Broker b = Broker.create();
        MessageQueue<String> dlq = b.declare(QueueSpec.named("dlq").capacity(1));
        MessageQueue<String> q = b.declare(QueueSpec.named("src").deadLetterQueue("dlq"));
        for (int i = 0; i < 3; i++) {
            q.send(msg("m" + i), 0);
        }
        for (Lease<String> l : q.receive(3, 0)) {
            q.reject(l.handle(), "no", 1);
        }
        assertThat(dlq.size()).isEqualTo(3);
        assertThat(dlq.send(msg("plain"), 1).status()).isEqualTo(Status.FULL);
    }

    @Test
    void deadLetterToADeletedDeadLetterQueueRecreatesIt() {
        Broker b = Broker.create();
        MessageQueue<String> q = b.declare(QueueSpec.named("src").deadLetterQueue("dlq"));
        MessageQueue<String> oldDlq = queue(b, "dlq");
        assertThat(b.delete("dlq", 0)).isTrue();
        assertThat(b.list()).containsExactly("src");
        q.send(msg("a"), 0);
        q.reject(one(q, 0).handle(), "no", 1);
        MessageQueue<String> newDlq = queue(b, "dlq");
        assertThat(newDlq).isNotSameAs(oldDlq);
        assertThat(newDlq.peek(1)).extracting(Message::payload).containsExactly("a");
        assertThat(oldDlq.size()).isZero();
    }

    @Test
    void deadLetterToAClosedDeadLetterQueueGoesToANewOne() {
        Broker b = Broker.create();
        MessageQueue<String> q = b.declare(QueueSpec.named("src").deadLetterQueue("dlq"));
        MessageQueue<String> oldDlq = queue(b, "dlq");
        oldDlq.close();
        q.send(msg("a"), 0);
        q.reject(one(q, 0).handle(), "no", 1);
        assertThat(queue(b, "dlq")).isNotSameAs(oldDlq);
        assertThat(queue(b, "dlq").size()).isEqualTo(1);
    }

    @Test
    void keyOrderedDeadLetterQueueKeepsKeyOrder() {
        Broker b = Broker.create();
        MessageQueue<String> dlq = b.declare(QueueSpec.named("dlq").ordering(Ordering.KEY_ORDERED));
        MessageQueue<String> q = b.declare(QueueSpec.named("src").ordering(Ordering.KEY_ORDERED)
                .deadLetterQueue("dlq"));
        q.send(msg("a").key("k"), 0);
        q.send(msg("b").key("k"), 0);
        q.reject(one(q, 0).handle(), "no", 1);
        q.reject(one(q, 1).handle(), "no", 2);
        assertThat(dlq.receive(10, 3)).extracting(Lease::payload).containsExactly("a");
    }

    // ------------------------------------------------------------------------------------------- redrive

    @Test
    void redriveMovesMessagesBackToTheirSourceAsNew() {
        Broker b = Broker.create();
        MessageQueue<String> q = b.declare(QueueSpec.named("src").ordering(Ordering.KEY_ORDERED)
                .deadLetterQueue("dlq"));
        q.send(msg("a").key("k").priority(3).header("app", "1"), 0);
        q.send(msg("b"), 0);
        for (Lease<String> l : q.receive(2, 0)) {
            q.nack(l.handle(), Duration.ZERO, 1);
        }
        for (Lease<String> l : q.receive(2, 2)) {
            q.reject(l.handle(), "bad", 3);
        }
        assertThat(queue(b, "dlq").size()).isEqualTo(2);

        assertThat(b.redrive("dlq", 10, 4)).isEqualTo(2);
        assertThat(queue(b, "dlq").size()).isZero();
        List<Lease<String>> back = q.receive(10, 5);
        assertThat(back).extracting(Lease::payload).containsExactly("a", "b");
        Lease<String> a = back.get(0);
        assertThat(a.deliveryCount()).isEqualTo(1);
        assertThat(a.message().key()).isEqualTo("k");
        assertThat(a.message().priority()).isEqualTo(3);
        assertThat(a.message().headers()).containsOnly(Map.entry("app", "1"));
        assertThat(back.get(1).message().headers()).isEmpty();
    }

    @Test
    void redriveMovesAtMostMaxOldestFirst() {
        Broker b = Broker.create();
        MessageQueue<String> q = b.declare(QueueSpec.named("src").deadLetterQueue("dlq"));
        for (String s : List.of("a", "b", "c")) {
            q.send(msg(s), 0);
        }
        for (Lease<String> l : q.receive(3, 0)) {
            q.reject(l.handle(), "x", 1);
        }
        assertThat(b.redrive("dlq", 2, 2)).isEqualTo(2);
        assertThat(q.peek(10)).extracting(Message::payload).containsExactly("a", "b");
        assertThat(queue(b, "dlq").peek(10)).extracting(Message::payload).containsExactly("c");
        assertThatIllegalArgumentException().isThrownBy(() -> b.redrive("dlq", 0, 3))
                .withMessage("max must be >= 1, was 0");
        assertThat(b.redrive("dlq", 5, 3)).isEqualTo(1);
        assertThat(b.redrive("dlq", 5, 3)).isZero();
    }

    @Test
    void redriveToAnExplicitTarget() {
        Broker b = Broker.create();
        MessageQueue<String> q = b.declare(QueueSpec.named("src").deadLetterQueue("dlq"));
        MessageQueue<String> target = b.declare(QueueSpec.named("elsewhere"));
        q.send(msg("a"), 0);
        q.reject(one(q, 0).handle(), "x", 1);
        assertThat(b.redrive("dlq", "elsewhere", 10, 2)).isEqualTo(1);
        assertThat(target.peek(10)).extracting(Message::payload).containsExactly("a");
        assertThat(q.size()).isZero();
    }

    @Test
    void redriveStopsWhenTheSourceIsFull() {
        Broker b = Broker.create();
        MessageQueue<String> q = b.declare(QueueSpec.named("src").capacity(2).deadLetterQueue("dlq"));
        q.send(msg("a"), 0);
        q.send(msg("b"), 0);
        for (Lease<String> l : q.receive(2, 0)) {
            q.reject(l.handle(), "x", 1);
        }
        q.send(msg("filler"), 2);
        assertThat(b.redrive("dlq", 10, 3)).isEqualTo(1);
        assertThat(q.peek(10)).extracting(Message::payload).containsExactly("filler", "a");
        MessageQueue<String> dlq = queue(b, "dlq");
        // the one left behind is ready again and its redrive attempt did not count as a delivery
        assertThat(dlq.stats().inFlight()).isZero();
        Lease<String> left = one(dlq, 4);
        assertThat(left.payload()).isEqualTo("b");
        assertThat(left.deliveryCount()).isEqualTo(1);
    }

    @Test
    void redriveOfAMessageWithoutSourceHeaderFailsAndLeavesItInPlace() {
        Broker b = Broker.create();
        MessageQueue<String> dlq = b.declare(QueueSpec.named("dlq"));
        dlq.send(msg("orphan"), 0);
        assertThatIllegalStateException().isThrownBy(() -> b.redrive("dlq", 10, 1))
                .withMessageContaining("'dlq'").withMessageContaining(Message.HEADER_SOURCE_QUEUE);
        assertThat(dlq.stats().ready()).isEqualTo(1);
        assertThat(dlq.stats().delivered()).isZero();
    }

    @Test
    void redriveToAGoneSourceFailsAndLeavesTheMessageInPlace() {
        Broker b = Broker.create();
        MessageQueue<String> q = b.declare(QueueSpec.named("src").deadLetterQueue("dlq"));
        q.send(msg("a"), 0);
        q.reject(one(q, 0).handle(), "x", 1);
        b.delete("src", 2);
        assertThatIllegalStateException().isThrownBy(() -> b.redrive("dlq", 10, 3))
                .withMessageContaining("'src' does not exist");
        assertThat(queue(b, "dlq").stats().ready()).isEqualTo(1);
        assertThatIllegalStateException().isThrownBy(() -> b.redrive("dlq", "nowhere", 10, 3))
                .withMessageContaining("'nowhere'");
        assertThatIllegalArgumentException().isThrownBy(() -> b.redrive("no-such-dlq", 10, 3))
                .withMessageContaining("no queue named 'no-such-dlq'");
    }

    // ------------------------------------------------------------------------------------------- admin

    @Test
    void deleteRemovesTheQueueAndStalesItsHandles() {
        Broker b = Broker.create();
        MessageQueue<String> q = b.declare(QueueSpec.named("q"));
        q.send(msg("a"), 0);
        q.send(msg("b"), 0);
        Lease<String> l = one(q, 0);
        assertThat(b.delete("q", 1)).isTrue();
        assertThat(b.get("q")).isEmpty();
        assertThat(b.list()).isEmpty();
        assertThat(q.ack(l.handle(), 2)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.size()).isZero();
        assertThat(q.send(msg("c"), 2).status()).isEqualTo(Status.CLOSED);
        assertThat(b.delete("q", 3)).isFalse();
        // a new queue of the same name is a fresh one; old handles do not belong to it
        MessageQueue<String> again = b.declare(QueueSpec.named("q").capacity(3));
        assertThat(again).isNotSameAs(q);
        assertThat(again.size()).isZero();
        assertThatIllegalArgumentException().isThrownBy(() -> again.ack(l.handle(), 4));
    }

    @Test
    void purgeByName() {
        Broker b = Broker.create();
        MessageQueue<String> q = b.declare(QueueSpec.named("q"));
        q.send(msg("a"), 0);
        q.send(msg("b"), 0);
        Lease<String> l = one(q, 0);
        assertThat(b.purge("q", 1)).isEqualTo(2);
        assertThat(q.ack(l.handle(), 2)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.stats().purged()).isEqualTo(2);
        assertThat(b.list()).containsExactly("q");
        assertThatIllegalArgumentException().isThrownBy(() -> b.purge("nope", 0))
                .withMessage("no queue named 'nope'");
    }

    @Test
    void listAndStatsAreSortedByName() {
        Broker b = Broker.create();
        b.declare(QueueSpec.named("zeta"));
        b.declare(QueueSpec.named("alpha").deadLetterQueue("mid"));
        MessageQueue<String> alpha = queue(b, "alpha");
        alpha.send(msg("x"), 0);
        assertThat(b.list()).containsExactly("alpha", "mid", "zeta");
        List<QueueStats> stats = b.stats();
        assertThat(stats).extracting(QueueStats::name).containsExactly("alpha", "mid", "zeta");
        assertThat(stats.get(0).ready()).isEqualTo(1);
        assertThat(stats.get(0).sent()).isEqualTo(1);
        assertThat(b.get("missing")).isEmpty();
    }

    @Test
    void advanceRunsEveryQueueAndReturnsTheEarliestDeadline() {
        Broker b = Broker.create();
        MessageQueue<String> a = b.declare(QueueSpec.named("a").visibilityTimeout(Duration.ofMillis(500)));
        MessageQueue<String> c = b.declare(QueueSpec.named("c"));
        assertThat(b.advance(0)).isEqualTo(Long.MAX_VALUE);
        a.send(msg("x"), 0);
        one(a, 0);
        c.send(msg("y").delay(Duration.ofMillis(200)), 0);
        assertThat(b.advance(100)).isEqualTo(200);
        assertThat(b.advance(200)).isEqualTo(500);
        assertThat(c.stats().ready()).isEqualTo(1);
        assertThat(b.advance(500)).isEqualTo(Long.MAX_VALUE);
        assertThat(a.stats().ready()).isEqualTo(1);
        assertThat(a.stats().expiredLeases()).isEqualTo(1);
    }
}
