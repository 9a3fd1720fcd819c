package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.SendOutcome.Status;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Deduplication on send: the window, its edges, and what does and does not reset it. */
class DedupTest {

    private static final long WINDOW = 5_000;

    private static MessageQueue<String> queue() {
        return MessageQueue.create(QueueSpec.named("dedup").dedupWindow(Duration.ofMillis(WINDOW)));
    }

    private static OutboundMessage<String> msg(String payload, String dedupId) {
        return OutboundMessage.of(payload).dedupId(dedupId);
    }

    @Test
    void duplicateWithinWindowReportsTheOriginalAndIsCounted() {
        MessageQueue<String> q = queue();
        SendOutcome first = q.send(msg("a", "d"), 0);
        SendOutcome dup = q.send(msg("b", "d"), 100);
        assertThat(first.status()).isEqualTo(Status.ENQUEUED);
        assertThat(dup).isEqualTo(new SendOutcome(Status.DUPLICATE, first.messageId()));
        assertThat(q.size()).isEqualTo(1);
        assertThat(q.stats().duplicates()).isEqualTo(1);
        assertThat(q.stats().sent()).isEqualTo(1);
        assertThat(q.receive(10, 100)).extracting(Lease::payload).containsExactly("a");
    }

    @Test
    void duplicateAtWindowMinusOneAcceptedAgainAtWindowEnd() {
        MessageQueue<String> q = queue();
        long id = q.send(msg("a", "d"), 1_000).messageId();
        SendOutcome late = q.send(msg("a", "d"), 1_000 + WINDOW - 1);
        assertThat(late.status()).isEqualTo(Status.DUPLICATE);
        assertThat(late.messageId()).isEqualTo(id);
        SendOutcome fresh = q.send(msg("a", "d"), 1_000 + WINDOW);
        assertThat(fresh.status()).isEqualTo(Status.ENQUEUED);
        assertThat(fresh.messageId()).isGreaterThan(id);
        assertThat(q.size()).isEqualTo(2);
    }

    @Test
    void aNewWindowStartsWithTheNewMessage() {
        MessageQueue<String> q = queue();
        q.send(msg("a", "d"), 0);
        long second = q.send(msg("a", "d"), WINDOW).messageId();
        SendOutcome dup = q.send(msg("a", "d"), 2 * WINDOW - 1);
        assertThat(dup.status()).isEqualTo(Status.DUPLICATE);
        assertThat(dup.messageId()).isEqualTo(second);
        assertThat(q.send(msg("a", "d"), 2 * WINDOW).status()).isEqualTo(Status.ENQUEUED);
    }

    @Test
    void duplicatesDoNotExtendTheWindow() {
        MessageQueue<String> q = queue();
        q.send(msg("a", "d"), 0);
        for (long t = 1_000; t < WINDOW; t += 1_000) {
            assertThat(q.send(msg("a", "d"), t).status()).isEqualTo(Status.DUPLICATE);
        }
        assertThat(q.send(msg("a", "d"), WINDOW).status()).isEqualTo(Status.ENQUEUED);
    }

    @Test
    void duplicateEvenAfterTheOriginalWasAcked() {
        MessageQueue<String> q = queue();
        long id = q.send(msg("a", "d"), 0).messageId();
        Lease<String> l = q.receive(1, 0).get(0);
        assertThat(q.ack(l.handle(), 10)).isEqualTo(LeaseOutcome.OK);
        SendOutcome dup = q.send(msg("a", "d"), 20);
        assertThat(dup.status()).isEqualTo(Status.DUPLICATE);
        assertThat(dup.messageId()).isEqualTo(id);
        assertThat(q.size()).isZero();
        assertThat(q.receive(1, 30)).isEmpty();
    }

    @Test
    void duplicateAfterTheOriginalWasDroppedOrExpired() {
        MessageQueue<String> q = queue();
        long id = q.send(msg("a", "d").ttl(Duration.ofMillis(10)), 0).messageId();
        q.advance(10);
        assertThat(q.stats().expired()).isEqualTo(1);
        assertThat(q.send(msg("a", "d"), 11)).isEqualTo(new SendOutcome(Status.DUPLICATE, id));
    }

    @Test
    void distinctIdsAndMessagesWithoutIdAreIndependent() {
        MessageQueue<String> q = queue();
        assertThat(q.send(msg("a", "d1"), 0).status()).isEqualTo(Status.ENQUEUED);
        assertThat(q.send(msg("a", "d2"), 0).status()).isEqualTo(Status.ENQUEUED);
        assertThat(q.send(OutboundMessage.of("a"), 0).status()).isEqualTo(Status.ENQUEUED);
        assertThat(q.send(OutboundMessage.of("a"), 0).status()).isEqualTo(Status.ENQUEUED);
        assertThat(q.size()).isEqualTo(4);
    }

    @Test
    void duplicateOfAStoredMessageWinsOverFull() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q").capacity(1));
        long id = q.send(msg("a", "d"), 0).messageId();
        assertThat(q.send(msg("b", "other"), 0).status()).isEqualTo(Status.FULL);
        // a producer retrying a send that already went through learns that it did
        assertThat(q.send(msg("a", "d"), 0)).isEqualTo(new SendOutcome(Status.DUPLICATE, id));
    }

    @Test
    void aRefusedSendDoesNotRecordItsDedupId() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q").capacity(1));
        q.send(OutboundMessage.of("filler"), 0);
        assertThat(q.send(msg("a", "d"), 0).status()).isEqualTo(Status.FULL);
        q.ack(q.receive(1, 0).get(0).handle(), 1);
        assertThat(q.send(msg("a", "d"), 2).status()).isEqualTo(Status.ENQUEUED);
        q.close();
        assertThat(q.send(msg("x", "closed"), 3).status()).isEqualTo(Status.CLOSED);
        assertThat(q.send(msg("a", "d"), 3).status()).isEqualTo(Status.CLOSED);
    }

    @Test
    void duplicatesWithinOneBatch() {
        MessageQueue<String> q = queue();
        List<SendOutcome> out = q.sendAll(List.of(msg("a", "d"), msg("b", "e"), msg("c", "d")), 0);
        assertThat(out).extracting(SendOutcome::status).containsExactly(Status.ENQUEUED, Status.ENQUEUED,
                Status.DUPLICATE);
        assertThat(out.get(2).messageId()).isEqualTo(out.get(0).messageId());
        assertThat(q.size()).isEqualTo(2);
    }

    @Test
    void windowIsATimerUntilItEnds() {
        MessageQueue<String> q = queue();
        q.send(msg("a", "d"), 100);
        Lease<String> l = q.receive(1, Duration.ofMillis(10), 100).get(0);
        q.ack(l.handle(), 101);
        assertThat(q.nextDeadline()).isEqualTo(100 + WINDOW);
        assertThat(q.advance(100 + WINDOW - 1)).isEqualTo(100 + WINDOW);
        assertThat(q.advance(100 + WINDOW)).isEqualTo(Long.MAX_VALUE);
        assertThat(q.send(msg("a", "d"), 100 + WINDOW).status()).isEqualTo(Status.ENQUEUED);
    }

    @Test
    void defaultWindowIsFiveMinutes() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("q"));
        q.send(msg("a", "d"), 0);
        assertThat(q.send(msg("a", "d"), 299_999).status()).isEqualTo(Status.DUPLICATE);
        assertThat(q.send(msg("a", "d"), 300_000).status()).isEqualTo(Status.ENQUEUED);
    }
}
