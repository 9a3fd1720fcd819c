package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The plain-FIFO fast lane ({@link FifoRing}): first deliveries of priority-0 messages without key order, delay or
 * TTL live in the ring; everything else that can happen to them (expiry, nack, extend, reject, release, compaction,
 * a journal attached) moves them out to entries. These tests drive each of those paths through the public API and
 * check that behaviour is the same as for any message (the model-based test checks the whole against a reference).
 */
class FifoRingTest {

    private static final Duration VIS = Duration.ofMillis(100);

    private static MessageQueue<String> queue() {
        return MessageQueue.create(QueueSpec.named("q").visibilityTimeout(VIS));
    }

    private static OutboundMessage<String> msg(String p) {
        return OutboundMessage.of(p);
    }

    private static List<String> payloads(List<Lease<String>> leases) {
        return leases.stream().map(Lease::payload).toList();
    }

    @Test
    void acksInAnyOrderFreeEverySlotAndStaleHandlesDeleteNothing() {
        MessageQueue<String> q = queue();
        for (int i = 0; i < 10; i++) {
            q.send(msg("m" + i), 0);
        }
        List<Lease<String>> got = q.receive(10, 1);
        assertThat(payloads(got)).containsExactly("m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9");
        assertThat(got).allSatisfy(l -> assertThat(l.deliveryCount()).isEqualTo(1));
        for (int i = 9; i >= 0; i -= 2) { // odd ones first, from the back: holes behind leased slots
            assertThat(q.ack(got.get(i), 2)).isEqualTo(LeaseOutcome.OK);
        }
        assertThat(q.ack(got.get(9), 2)).isEqualTo(LeaseOutcome.STALE);
        for (int i = 0; i < 10; i += 2) {
            assertThat(q.ack(got.get(i), 3)).isEqualTo(LeaseOutcome.OK);
        }
        assertThat(q.size()).isZero();
        assertThat(q.stats().acked()).isEqualTo(10);
        assertThat(q.stats().inFlight()).isZero();
        for (Lease<String> l : got) {
            assertThat(q.ack(l, 4)).isEqualTo(LeaseOutcome.STALE);
            assertThat(q.nack(l, Duration.ZERO, 4)).isEqualTo(LeaseOutcome.STALE);
            assertThat(q.extend(l, VIS, 4)).isEqualTo(LeaseOutcome.STALE);
        }
        assertThat(q.receive(10, 5)).isEmpty();
    }

    @Test
    void keyAndHeadersTravelThroughTheRing() {
        MessageQueue<String> q = queue();
        long id = q.send(msg("p").key("k1").headers(Map.of("h", "v")), 7).messageId();
        q.send(msg("plain"), 8);
        List<Lease<String>> got = q.receive(2, 9);
        Message<String> m = got.get(0).message();
        assertThat(m.id()).isEqualTo(id);
        assertThat(m.key()).isEqualTo("k1");
        assertThat(m.headers()).isEqualTo(Map.of("h", "v"));
        assertThat(m.timestamp()).isEqualTo(7);
        assertThat(got.get(1).message().key()).isNull();
        assertThat(got.get(1).message().headers()).isEmpty();
    }

    @Test
    void anExpiredRingLeaseIsRedeliveredBeforeNewerMessagesWithItsCountKept() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        q.send(msg("b"), 0);
        q.send(msg("c"), 0);
        List<Lease<String>> first = q.receive(2, 10); // a, b until 110
        assertThat(q.nextDeadline()).isEqualTo(110);
        q.send(msg("d"), 50);
        assertThat(q.ack(first.get(0), 110)).as("at the deadline the lease is over").isEqualTo(LeaseOutcome.STALE);
        List<Lease<String>> again = q.receive(10, 110);
        assertThat(payloads(again)).containsExactly("a", "b", "c", "d");
        assertThat(again).extracting(Lease::deliveryCount).containsExactly(2, 2, 1, 1);
        assertThat(q.stats().expiredLeases()).isEqualTo(2);
        for (Lease<String> l : again) {
            assertThat(q.ack(l, 111)).isEqualTo(LeaseOutcome.OK);
        }
        assertThat(q.size()).isZero();
    }

    @Test
    void extendMovesTheLeaseOutButItsHandleKeepsWorking() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        q.send(msg("b"), 0);
        Lease<String> a = q.receive(1, 0).get(0);
        Lease<String> b = q.receive(1, 0).get(0);
        assertThat(q.extend(a, Duration.ofMillis(500), 50)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.extend(a, Duration.ofMillis(500), 60)).isEqualTo(LeaseOutcome.OK); // twice: still the same lease
        assertThat(q.advance(200)).as("b expired at 100, a runs until 560").isEqualTo(560);
        assertThat(q.ack(b, 200)).isEqualTo(LeaseOutcome.STALE);
        Lease<String> b2 = q.receive(1, 200).get(0);
        assertThat(b2.payload()).isEqualTo("b");
        assertThat(q.ack(a, 299)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.ack(a, 299)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.extend(a, VIS, 299)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.ack(b2, 299)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.size()).isZero();
    }

    @Test
    void anExtendedLeaseExpiresAtItsNewDeadline() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        Lease<String> a = q.receive(1, 0).get(0);
        q.extend(a, Duration.ofMillis(300), 50); // until 350
        assertThat(q.receive(1, 349)).isEmpty();
        assertThat(q.ack(a, 350)).isEqualTo(LeaseOutcome.STALE);
        Lease<String> again = q.receive(1, 350).get(0);
        assertThat(again.deliveryCount()).isEqualTo(2);
        assertThat(q.ack(again, 351)).isEqualTo(LeaseOutcome.OK);
    }

    @Test
    void nackReleaseAndRejectOfRingLeases() {
        Broker broker = Broker.create();
        MessageQueue<String> q = broker.declare(QueueSpec.named("q").visibilityTimeout(VIS).deadLetterQueue("dlq"));
        MessageQueue<String> dlq = broker.<String>get("dlq").orElseThrow();
        long idA = q.send(msg("a").headers(Map.of("h", "1")), 0).messageId();
        q.send(msg("b"), 0);
        q.send(msg("c"), 0);
        List<Lease<String>> got = q.receive(3, 1);
        assertThat(q.nack(got.get(0), Duration.ofMillis(20), 2)).isEqualTo(LeaseOutcome.OK); // a: ready at 22
        assertThat(q.release(got.get(1), 2)).isEqualTo(LeaseOutcome.OK); // b: ready now, delivery not counted
        assertThat(q.reject(got.get(2), "bad", 2)).isEqualTo(LeaseOutcome.OK); // c: to the DLQ
        for (Lease<String> l : got) {
            assertThat(q.ack(l, 3)).isEqualTo(LeaseOutcome.STALE);
        }
        Lease<String> b = q.receive(5, 3).get(0);
        assertThat(b.payload()).isEqualTo("b");
        assertThat(b.deliveryCount()).isEqualTo(1);
        assertThat(q.receive(5, 21)).isEmpty();
        Lease<String> a = q.receive(5, 22).get(0);
        assertThat(a.message().id()).isEqualTo(idA);
        assertThat(a.deliveryCount()).isEqualTo(2);
        assertThat(a.message().headers()).isEqualTo(Map.of("h", "1"));
        Lease<String> dead = dlq.receive(1, 23).get(0);
        assertThat(dead.payload()).isEqualTo("c");
        assertThat(dead.message().headers()).containsEntry(Message.HEADER_DEAD_LETTER_REASON, "bad")
                .containsEntry(Message.HEADER_SOURCE_QUEUE, "q");
    }

    @Test
    void aShorterLeaseAfterALongerOneStillEndsFirst() {
        MessageQueue<String> q = queue();
        q.send(msg("long"), 0);
        q.send(msg("short"), 0);
        Lease<String> longLease = q.receive(1, Duration.ofMillis(1000), 0).get(0);
        Lease<String> shortLease = q.receive(1, Duration.ofMillis(10), 0).get(0);
        assertThat(q.nextDeadline()).isEqualTo(10);
        assertThat(q.advance(10)).isEqualTo(1000);
        assertThat(q.ack(shortLease, 10)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.receive(5, 10)).extracting(Lease::payload).containsExactly("short");
        assertThat(q.ack(longLease, 999)).isEqualTo(LeaseOutcome.OK);
    }

    @Test
    void aDelayedMessageFallingDueQueuesBehindReadyRingMessages() {
        MessageQueue<String> q = queue();
        q.send(msg("delayed").delay(Duration.ofMillis(5)), 0);
        q.send(msg("b"), 1);
        q.send(msg("c"), 2);
        q.advance(5);
        q.send(msg("d"), 6); // behind the due message, as in one FIFO
        q.send(msg("ttl").ttl(Duration.ofSeconds(60)), 7);
        q.send(msg("e"), 8);
        assertThat(q.peek(10)).extracting(Message::payload).containsExactly("b", "c", "delayed", "d", "ttl", "e");
        assertThat(payloads(q.receive(10, 9))).containsExactly("b", "c", "delayed", "d", "ttl", "e");
    }

    @Test
    void higherPrioritiesAndOlderRetriesComeFirst() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        q.send(msg("b"), 0);
        Lease<String> a = q.receive(1, 0).get(0);
        q.nack(a, Duration.ZERO, 1);
        q.send(msg("urgent").priority(5), 2);
        q.send(msg("c"), 3);
        assertThat(payloads(q.receive(10, 4))).containsExactly("urgent", "a", "b", "c");
    }

    @Test
    void purgeMakesRingHandlesStale() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        q.send(msg("b"), 0);
        Lease<String> a = q.receive(1, 0).get(0);
        assertThat(q.purge(1)).isEqualTo(2);
        assertThat(q.ack(a, 2)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.receive(5, 2)).isEmpty();
        q.send(msg("c"), 3);
        Lease<String> c = q.receive(5, 3).get(0);
        assertThat(c.payload()).isEqualTo("c");
        assertThat(q.ack(a, 4)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.ack(c, 4)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.size()).isZero();
    }

    @Test
    void aLeaseHeldWhileManyMessagesFlowKeepsTheRingBounded() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q").visibilityTimeout(Duration.ofHours(1))
                .capacity(1000));
        q.send(msg("pinned"), 0);
        Lease<String> pinned = q.receive(1, 0).get(0);
        Lease<String> pinnedToo = null;
        ArrayList<ReceiptHandle> hs = new ArrayList<>();
        for (int round = 0; round < 2000; round++) {
            for (int i = 0; i < 50; i++) {
                q.send(msg("m"), round);
            }
            List<Lease<String>> got = q.receive(50, round);
            assertThat(got).hasSize(50);
            if (round == 1000) {
                pinnedToo = got.get(0); // a second long-held lease, mid-stream
                hs.addAll(got.subList(1, 50));
            } else {
                hs.addAll(got);
            }
            assertThat(q.ackAll(hs, round)).containsOnly(LeaseOutcome.OK);
            hs.clear();
        }
        assertThat(q.ringLength()).as("100,000 messages passed while two leases were held").isLessThanOrEqualTo(256);
        assertThat(q.size()).isEqualTo(2);
        assertThat(q.extend(pinned, Duration.ofHours(1), 3000)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.ack(pinned, 3001)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.ack(pinnedToo, 3001)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.size()).isZero();
        assertThat(q.stats().inFlight()).isZero();
    }

    @Test
    void aBacklogGrowsTheRingAndDrainsInOrder() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q").visibilityTimeout(VIS).capacity(100_000));
        for (int i = 0; i < 100_000; i++) {
            assertThat(q.send(msg(Integer.toString(i)), 0).status()).isEqualTo(SendOutcome.Status.ENQUEUED);
        }
        assertThat(q.send(msg("over"), 0).status()).isEqualTo(SendOutcome.Status.FULL);
        assertThat(q.ringLength()).isEqualTo(131_072);
        int next = 0;
        List<Lease<String>> got;
        while (!(got = q.receive(1000, 1)).isEmpty()) {
            for (Lease<String> l : got) {
                assertThat(l.payload()).isEqualTo(Integer.toString(next++));
                assertThat(q.ack(l, 2)).isEqualTo(LeaseOutcome.OK);
            }
        }
        assertThat(next).isEqualTo(100_000);
        assertThat(q.size()).isZero();
    }

    @Test
    void attachingAJournalMovesRingMessagesOutWithoutChangingAnything() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        q.send(msg("b"), 0);
        q.send(msg("c"), 0);
        Lease<String> a = q.receive(1, 1).get(0);
        List<String> journaled = new ArrayList<>();
        q.setJournal(new Journal<>() {
            @Override
            public byte[] prepare(OutboundMessage<String> message) {
                return message.payload().getBytes(java.nio.charset.StandardCharsets.UTF_8);
            }

            @Override
            public void sent(Entry<String> e, byte[] payload, String dedupId, long dedupExpiresAt) {
                journaled.add("sent " + new String(payload, java.nio.charset.StandardCharsets.UTF_8));
            }

            @Override
            public void accepted(Entry<String> e, String sourceQueue, long sourceId) {
            }

            @Override
            public void delivered(long id, int deliveryCount) {
                journaled.add("delivered " + id);
            }

            @Override
            public void acked(long id) {
                journaled.add("acked " + id);
            }

            @Override
            public void nacked(long id, long readyAt) {
            }

            @Override
            public void deadLettered(long id, int deliveryCount, String reason, boolean routed) {
            }

            @Override
            public void dropped(long id) {
            }

            @Override
            public void purged() {
            }
        });
        q.send(msg("d"), 2);
        assertThat(journaled).as("sends after the journal is attached are journaled").containsExactly("sent d");
        assertThat(q.ack(a, 3)).isEqualTo(LeaseOutcome.OK);
        List<Lease<String>> rest = q.receive(10, 4);
        assertThat(payloads(rest)).containsExactly("b", "c", "d");
        assertThat(journaled).contains("acked " + a.messageId(), "delivered " + rest.get(0).messageId());
    }
}
