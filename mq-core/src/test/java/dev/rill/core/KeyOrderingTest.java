package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link Ordering#KEY_ORDERED}: one lease per key, order per key, independent keys, keyless FIFO. */
class KeyOrderingTest {

    private static final long VIS = 1_000;

    private static MessageQueue<String> queue() {
        return MessageQueue.create(QueueSpec.named("keyed").ordering(Ordering.KEY_ORDERED)
                .visibilityTimeout(Duration.ofMillis(VIS)));
    }

    private static OutboundMessage<String> msg(String payload, String key) {
        return OutboundMessage.of(payload).key(key);
    }

    private static List<String> payloads(List<Lease<String>> leases) {
        return leases.stream().map(Lease::payload).toList();
    }

    @Test
    void atMostOneLeasedMessagePerKey() {
        MessageQueue<String> q = queue();
        q.send(msg("k1-a", "k1"), 0);
        q.send(msg("k1-b", "k1"), 0);
        q.send(msg("k1-c", "k1"), 0);
        q.send(msg("k2-a", "k2"), 0);
        List<Lease<String>> got = q.receive(10, 0);
        assertThat(payloads(got)).containsExactlyInAnyOrder("k1-a", "k2-a");
        assertThat(got).extracting(l -> l.message().key()).containsExactlyInAnyOrder("k1", "k2");
        assertThat(q.receive(10, 0)).isEmpty();
        // messages waiting behind their key count as ready
        assertThat(q.stats().ready()).isEqualTo(2);
        assertThat(q.stats().inFlight()).isEqualTo(2);

        Lease<String> k1a = got.stream().filter(l -> l.payload().equals("k1-a")).findFirst().orElseThrow();
        q.ack(k1a.handle(), 1);
        assertThat(payloads(q.receive(10, 1))).containsExactly("k1-b");
        assertThat(q.receive(10, 1)).isEmpty();
    }

    @Test
    void keyOrderIsKeptAcrossLeaseExpiry() {
        MessageQueue<String> q = queue();
        q.send(msg("a", "k"), 0);
        q.send(msg("b", "k"), 0);
        assertThat(payloads(q.receive(10, 0))).containsExactly("a");
        List<Lease<String>> again = q.receive(10, VIS);
        assertThat(payloads(again)).containsExactly("a");
        assertThat(again.get(0).deliveryCount()).isEqualTo(2);
        q.ack(again.get(0).handle(), VIS + 1);
        assertThat(payloads(q.receive(10, VIS + 1))).containsExactly("b");
    }

    @Test
    void keyOrderIsKeptAcrossNackNowAndNackWithDelay() {
        MessageQueue<String> q = queue();
        q.send(msg("a", "k"), 0);
        q.send(msg("b", "k"), 0);
        Lease<String> a = q.receive(10, 0).get(0);
        q.nack(a.handle(), Duration.ZERO, 1);
        Lease<String> a2 = q.receive(10, 2).get(0);
        assertThat(a2.payload()).isEqualTo("a");
        q.nack(a2.handle(), Duration.ofMillis(500), 3);
        // the key is held while its head backs off: b must not overtake
        assertThat(q.receive(10, 502)).isEmpty();
        List<Lease<String>> a3 = q.receive(10, 503);
        assertThat(payloads(a3)).containsExactly("a");
        assertThat(a3.get(0).deliveryCount()).isEqualTo(3);
        q.ack(a3.get(0).handle(), 504);
        assertThat(payloads(q.receive(10, 504))).containsExactly("b");
    }

    @Test
    void releaseKeepsKeyOrder() {
        MessageQueue<String> q = queue();
        q.send(msg("a", "k"), 0);
        q.send(msg("b", "k"), 0);
        Lease<String> a = q.receive(10, 0).get(0);
        q.release(a.handle(), 1);
        List<Lease<String>> got = q.receive(10, 1);
        assertThat(payloads(got)).containsExactly("a");
        assertThat(got.get(0).deliveryCount()).isEqualTo(1);
    }

    @Test
    void otherKeysProceedWhileOneKeysHeadKeepsFailing() {
        MessageQueue<String> q = queue();
        q.send(msg("poison", "bad"), 0);
        q.send(msg("stuck", "bad"), 0);
        for (int i = 0; i < 5; i++) {
            q.send(msg("good" + i, "good"), 0);
            q.send(msg("other" + i, "other" + i), 0);
        }
        List<String> done = new ArrayList<>();
        long now = 0;
        for (int round = 0; round < 20 && done.size() < 10; round++) {
            for (Lease<String> l : q.receive(100, now)) {
                if (l.message().key().equals("bad")) {
                    assertThat(l.payload()).isEqualTo("poison");
                    q.nack(l.handle(), Duration.ofMillis(50), now);
                } else {
                    done.add(l.payload());
                    q.ack(l.handle(), now);
                }
            }
            now += 10;
        }
        assertThat(done).containsExactlyInAnyOrder("good0", "good1", "good2", "good3", "good4", "other0", "other1",
                "other2", "other3", "other4");
        assertThat(done.stream().filter(s -> s.startsWith("good")).toList())
                .containsExactly("good0", "good1", "good2", "good3", "good4");
        assertThat(q.stats().nacked()).isGreaterThanOrEqualTo(1);
        assertThat(q.peek(10)).extracting(Message::payload).containsExactly("stuck");
    }

    @Test
    void otherKeysProceedWhileOneKeysLeaseIsOut() {
        MessageQueue<String> q = queue();
        q.send(msg("slow", "a"), 0);
        q.send(msg("after-slow", "a"), 0);
        q.send(msg("b1", "b"), 0);
        q.send(msg("b2", "b"), 0);
        List<Lease<String>> first = q.receive(10, 0);
        assertThat(payloads(first)).containsExactlyInAnyOrder("slow", "b1");
        Lease<String> b1 = first.stream().filter(l -> l.payload().equals("b1")).findFirst().orElseThrow();
        q.ack(b1.handle(), 1);
        assertThat(payloads(q.receive(10, 1))).containsExactly("b2");
    }

    @Test
    void poisonHeadIsDeadLetteredAfterMaxDeliveriesAndItsKeyMovesOn() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("keyed").ordering(Ordering.KEY_ORDERED)
                .visibilityTimeout(Duration.ofMillis(VIS)).maxDeliveries(2).discardDeadLetters());
        q.send(msg("poison", "k"), 0);
        q.send(msg("next", "k"), 0);
        assertThat(payloads(q.receive(10, 0))).containsExactly("poison");
        assertThat(payloads(q.receive(10, VIS))).containsExactly("poison");
        assertThat(payloads(q.receive(10, 2 * VIS))).containsExactly("next");
        assertThat(q.stats().deadLettered()).isEqualTo(1);
    }

    @Test
    void ackRejectAndTtlOfTheHeldMessageFreeTheKey() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("keyed").ordering(Ordering.KEY_ORDERED)
                .visibilityTimeout(Duration.ofMillis(VIS)));
        q.send(msg("a", "k"), 0);
        q.send(msg("b", "k"), 0);
        q.send(msg("c", "k").ttl(Duration.ofMillis(5_000)), 0);
        q.send(msg("d", "k"), 0);
        Lease<String> a = q.receive(10, 0).get(0);
        q.ack(a.handle(), 1);
        Lease<String> b = q.receive(10, 1).get(0);
        assertThat(b.payload()).isEqualTo("b");
        q.reject(b.handle(), "no", 2);
        Lease<String> c = q.receive(10, 4_500).get(0);
        assertThat(c.payload()).isEqualTo("c");
        // c's TTL runs out while leased; when its lease ends it expires and d is next
        assertThat(q.receive(10, 5_000)).isEmpty();
        List<Lease<String>> d = q.receive(10, 5_500);
        assertThat(payloads(d)).containsExactly("d");
        assertThat(q.stats().expired()).isEqualTo(1);
    }

    @Test
    void headExpiringWhileBackingOffFreesTheKey() {
        MessageQueue<String> q = queue();
        q.send(msg("a", "k").ttl(Duration.ofMillis(200)), 0);
        q.send(msg("b", "k"), 0);
        Lease<String> a = q.receive(10, 0).get(0);
        q.nack(a.handle(), Duration.ofMillis(500), 10);
        assertThat(q.receive(10, 199)).isEmpty();
        assertThat(payloads(q.receive(10, 200))).containsExactly("b");
        assertThat(q.stats().expired()).isEqualTo(1);
        assertThat(q.stats().delayed()).isZero();
    }

    @Test
    void headDeadLetteredByNackFreesTheKey() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("keyed").ordering(Ordering.KEY_ORDERED)
                .maxDeliveries(1).discardDeadLetters());
        q.send(msg("a", "k"), 0);
        q.send(msg("b", "k"), 0);
        q.nack(q.receive(10, 0).get(0).handle(), Duration.ofSeconds(1), 1);
        assertThat(payloads(q.receive(10, 2))).containsExactly("b");
        assertThat(q.stats().deadLettered()).isEqualTo(1);
    }

    @Test
    void expiringReadyHeadLetsTheNextOneThrough() {
        MessageQueue<String> q = queue();
        q.send(msg("holder", "k"), 0);
        q.send(msg("short", "k").ttl(Duration.ofMillis(100)), 0);
        q.send(msg("last", "k"), 0);
        Lease<String> holder = q.receive(10, 0).get(0);
        q.advance(100); // "short" expires while waiting behind the key
        assertThat(q.stats().expired()).isEqualTo(1);
        q.ack(holder.handle(), 101);
        assertThat(payloads(q.receive(10, 101))).containsExactly("last");
    }

    @Test
    void expiringNonHeadMessageKeepsTheRestInOrder() {
        MessageQueue<String> q = queue();
        q.send(msg("a", "k"), 0);
        q.send(msg("b", "k").ttl(Duration.ofMillis(100)), 0);
        q.send(msg("c", "k"), 0);
        q.advance(100);
        List<String> seen = new ArrayList<>();
        for (long t = 101; t < 110; t++) {
            for (Lease<String> l : q.receive(10, t)) {
                seen.add(l.payload());
                q.ack(l.handle(), t);
            }
        }
        assertThat(seen).containsExactly("a", "c");
    }

    @Test
    void keylessMessagesInAKeyOrderedQueueActFifo() {
        MessageQueue<String> q = queue();
        q.send(OutboundMessage.of("x1"), 0);
        q.send(OutboundMessage.of("x2"), 0);
        q.send(msg("k1", "k"), 0);
        q.send(OutboundMessage.of("x3"), 0);
        List<Lease<String>> got = q.receive(10, 0);
        assertThat(payloads(got)).containsExactly("x1", "x2", "k1", "x3");
        assertThat(got.get(0).message().key()).isNull();
        // returned keyless messages come back in their order, like FIFO
        q.nack(got.get(1).handle(), Duration.ZERO, 1);
        q.nack(got.get(0).handle(), Duration.ZERO, 1);
        assertThat(payloads(q.receive(10, 1))).containsExactly("x1", "x2");
    }

    @Test
    void withinAKeyOrderWinsOverPriority() {
        MessageQueue<String> q = queue();
        q.send(msg("low-first", "k").priority(0), 0);
        q.send(msg("high-second", "k").priority(9), 0);
        List<String> seen = new ArrayList<>();
        for (long t = 0; t < 5; t++) {
            for (Lease<String> l : q.receive(10, t)) {
                seen.add(l.payload());
                q.ack(l.handle(), t);
            }
        }
        assertThat(seen).containsExactly("low-first", "high-second");
    }

    @Test
    void keysStillHonourPriorityBetweenKeys() {
        MessageQueue<String> q = queue();
        q.send(msg("a-low", "a").priority(1), 0);
        q.send(msg("b-high", "b").priority(8), 0);
        q.send(OutboundMessage.of("plain-mid").priority(5), 0);
        assertThat(payloads(q.receive(10, 0))).containsExactly("b-high", "plain-mid", "a-low");
    }

    @Test
    void delayedKeyedMessageJoinsItsKeyWhenDue() {
        MessageQueue<String> q = queue();
        q.send(msg("later", "k").delay(Duration.ofMillis(100)), 0);
        q.send(msg("now", "k"), 0);
        Lease<String> now = q.receive(10, 0).get(0);
        assertThat(now.payload()).isEqualTo("now");
        assertThat(q.receive(10, 100)).isEmpty(); // due, but "now" still holds the key
        q.ack(now.handle(), 101);
        assertThat(payloads(q.receive(10, 101))).containsExactly("later");
    }

    @Test
    void purgeForgetsKeys() {
        MessageQueue<String> q = queue();
        q.send(msg("a", "k"), 0);
        q.send(msg("b", "k"), 0);
        Lease<String> a = q.receive(1, 0).get(0);
        q.purge(1);
        assertThat(q.ack(a.handle(), 2)).isEqualTo(LeaseOutcome.STALE);
        q.send(msg("c", "k"), 3);
        q.send(msg("d", "k"), 3);
        assertThat(payloads(q.receive(10, 3))).containsExactly("c");
    }

    @Test
    void manyKeysEachDeliverInOrder() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("keyed").ordering(Ordering.KEY_ORDERED));
        int keys = 20;
        int perKey = 10;
        for (int i = 0; i < perKey; i++) {
            for (int k = 0; k < keys; k++) {
                q.send(msg(k + ":" + i, "key" + k), 0);
            }
        }
        List<List<Integer>> seen = new ArrayList<>();
        for (int k = 0; k < keys; k++) {
            seen.add(new ArrayList<>());
        }
        long now = 0;
        int round = 0;
        while (q.size() > 0 && round++ < 1_000) {
            List<Lease<String>> got = q.receive(7, now);
            for (Lease<String> l : got) {
                String[] p = l.payload().split(":");
                int k = Integer.parseInt(p[0]);
                // fail every third first delivery: a nack now, to be redelivered in order
                if (l.deliveryCount() == 1 && (k + Integer.parseInt(p[1])) % 3 == 0) {
                    q.nack(l.handle(), Duration.ZERO, now);
                } else {
                    seen.get(k).add(Integer.parseInt(p[1]));
                    q.ack(l.handle(), now);
                }
            }
            now++;
        }
        for (int k = 0; k < keys; k++) {
            assertThat(seen.get(k)).as("key %d", k).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
        }
    }

    @Test
    void fifoQueueIgnoresKeysForOrderingButKeepsThemOnMessages() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("fifo"));
        q.send(msg("a", "k"), 0);
        q.send(msg("b", "k"), 0);
        List<Lease<String>> got = q.receive(10, 0);
        assertThat(payloads(got)).containsExactly("a", "b");
        assertThat(got).extracting(l -> l.message().key()).containsExactly("k", "k");
    }
}
