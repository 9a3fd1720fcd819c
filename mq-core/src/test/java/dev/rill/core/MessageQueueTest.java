package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import dev.rill.core.SendOutcome.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Unit tests of the core state machine: send, receive, settle, time, batches, stats, peek, purge, close. */
class MessageQueueTest {

    private static final long VIS = QueueSpec.DEFAULT_VISIBILITY_TIMEOUT.toMillis();

    private static MessageQueue<String> queue() {
        return MessageQueue.create(QueueSpec.named("q"));
    }

    private static MessageQueue<String> queue(QueueSpec spec) {
        return MessageQueue.create(spec);
    }

    private static OutboundMessage<String> msg(String payload) {
        return OutboundMessage.of(payload);
    }

    private static List<String> payloads(List<Lease<String>> leases) {
        return leases.stream().map(Lease::payload).toList();
    }

    private static Lease<String> one(MessageQueue<String> q, long now) {
        List<Lease<String>> got = q.receive(1, now);
        assertThat(got).hasSize(1);
        return got.get(0);
    }

    // ------------------------------------------------------------------------------------------------ Send

    @Test
    void enqueuedWithPositiveIncreasingIdsAndTimestamp() {
        MessageQueue<String> q = queue();
        SendOutcome a = q.send(msg("a"), 10);
        SendOutcome b = q.send(msg("b"), 20);
        assertThat(a.status()).isEqualTo(Status.ENQUEUED);
        assertThat(a.accepted()).isTrue();
        assertThat(a.messageId()).isPositive();
        assertThat(b.messageId()).isGreaterThan(a.messageId());
        List<Lease<String>> got = q.receive(2, 30);
        assertThat(got).extracting(l -> l.message().id()).containsExactly(a.messageId(), b.messageId());
        assertThat(got).extracting(l -> l.message().timestamp()).containsExactly(10L, 20L);
        assertThat(q.size()).isEqualTo(2);
    }

    @Test
    void duplicateReportsOriginalIdAndStoresNothing() {
        MessageQueue<String> q = queue();
        SendOutcome first = q.send(msg("a").dedupId("d1"), 0);
        SendOutcome again = q.send(msg("other").dedupId("d1"), 1);
        assertThat(again.status()).isEqualTo(Status.DUPLICATE);
        assertThat(again.messageId()).isEqualTo(first.messageId());
        assertThat(again.accepted()).isTrue();
        assertThat(q.size()).isEqualTo(1);
        assertThat(payloads(q.receive(10, 2))).containsExactly("a");
    }

    @Test
    void fullAtCapacityCountingReadyLeasedAndDelayed() {
        MessageQueue<String> q = queue(QueueSpec.named("q").capacity(3));
        assertThat(q.send(msg("ready"), 0).status()).isEqualTo(Status.ENQUEUED);
        assertThat(q.send(msg("leased"), 0).status()).isEqualTo(Status.ENQUEUED);
        one(q, 0);
        assertThat(q.send(msg("delayed").delay(Duration.ofSeconds(5)), 0).status()).isEqualTo(Status.ENQUEUED);
        assertThat(q.isFull()).isTrue();

        SendOutcome full = q.send(msg("x"), 0);
        assertThat(full.status()).isEqualTo(Status.FULL);
        assertThat(full.messageId()).isZero();
        assertThat(full.accepted()).isFalse();
        assertThat(q.size()).isEqualTo(3);
        assertThat(q.stats().sent()).isEqualTo(3);
    }

    @Test
    void roomAgainAfterAck() {
        MessageQueue<String> q = queue(QueueSpec.named("q").capacity(1));
        q.send(msg("a"), 0);
        assertThat(q.send(msg("b"), 0).status()).isEqualTo(Status.FULL);
        Lease<String> a = one(q, 0);
        assertThat(q.send(msg("b"), 0).status()).isEqualTo(Status.FULL);
        assertThat(q.ack(a.handle(), 1)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.isFull()).isFalse();
        assertThat(q.send(msg("b"), 2).status()).isEqualTo(Status.ENQUEUED);
    }

    @Test
    void closedQueueRefusesSendsReturnsNothingButKeepsMessages() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        q.send(msg("b"), 0);
        Lease<String> a = one(q, 0);
        assertThat(q.isClosed()).isFalse();
        q.close();
        assertThat(q.isClosed()).isTrue();
        SendOutcome out = q.send(msg("c"), 1);
        assertThat(out.status()).isEqualTo(Status.CLOSED);
        assertThat(out.messageId()).isZero();
        assertThat(out.accepted()).isFalse();
        assertThat(q.receive(10, 1)).isEmpty();
        assertThat(q.ack(a.handle(), 1)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.sendAll(List.of(msg("d"), msg("e")), 1)).extracting(SendOutcome::status)
                .containsExactly(Status.CLOSED, Status.CLOSED);
        assertThat(q.size()).isEqualTo(2);
        assertThatCode(q::close).doesNotThrowAnyException();
        assertThat(q.isClosed()).isTrue();
    }

    @Test
    void nullMessageIsRejected() {
        assertThatNullPointerException().isThrownBy(() -> queue().send(null, 0)).withMessageContaining("message");
    }

    // -------------------------------------------------------------------------------------------- MaxBytes

    @Test
    void byteLimitRefusesWhatDoesNotFitAndAcceptsWhatDoes() {
        MessageQueue<byte[]> q = MessageQueue.create(QueueSpec.named("q").maxBytes(10));
        assertThat(q.send(OutboundMessage.of(new byte[4]), 0).status()).isEqualTo(Status.ENQUEUED);
        assertThat(q.send(OutboundMessage.of(new byte[4]), 0).status()).isEqualTo(Status.ENQUEUED);
        assertThat(q.send(OutboundMessage.of(new byte[3]), 0).status()).isEqualTo(Status.FULL);
        assertThat(q.isFull()).isFalse();
        assertThat(q.send(OutboundMessage.of(new byte[2]), 0).status()).isEqualTo(Status.ENQUEUED);
        assertThat(q.stats().bytes()).isEqualTo(10);
        assertThat(q.isFull()).isTrue();
        assertThat(q.send(OutboundMessage.of(new byte[1]), 0).status()).isEqualTo(Status.FULL);

        Lease<byte[]> first = q.receive(1, 0).get(0);
        assertThat(q.ack(first.handle(), 0)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.stats().bytes()).isEqualTo(6);
        assertThat(q.send(OutboundMessage.of(new byte[4]), 0).status()).isEqualTo(Status.ENQUEUED);
    }

    @Test
    void stringsCountTwoBytesPerChar() {
        MessageQueue<String> q = queue(QueueSpec.named("q").maxBytes(6));
        assertThat(q.send(msg("abc"), 0).status()).isEqualTo(Status.ENQUEUED);
        assertThat(q.stats().bytes()).isEqualTo(6);
        assertThat(q.send(msg("d"), 0).status()).isEqualTo(Status.FULL);
    }

    @Test
    void payloadLargerThanMaxBytesIsAnError() {
        MessageQueue<byte[]> q = MessageQueue.create(QueueSpec.named("big").maxBytes(10));
        assertThatIllegalArgumentException().isThrownBy(() -> q.send(OutboundMessage.of(new byte[11]), 0))
                .withMessageContaining("'big'").withMessageContaining("11 bytes")
                .withMessageContaining("maxBytes=10");
        assertThat(q.send(OutboundMessage.of(new byte[10]), 0).status()).isEqualTo(Status.ENQUEUED);
        assertThat(q.size()).isEqualTo(1);
    }

    @Test
    void sendAllWithAnOversizedPayloadStoresNothing() {
        MessageQueue<byte[]> q = MessageQueue.create(QueueSpec.named("q").maxBytes(10));
        List<OutboundMessage<byte[]>> batch = List.of(OutboundMessage.of(new byte[1]),
                OutboundMessage.of(new byte[11]));
        assertThatIllegalArgumentException().isThrownBy(() -> q.sendAll(batch, 0))
                .withMessageContaining("maxBytes=10");
        assertThat(q.size()).isZero();
    }

    // --------------------------------------------------------------------------------------------- Receive

    @Test
    void emptyQueueGivesEmptyList() {
        assertThat(queue().receive(5, 0)).isNotNull().isEmpty();
    }

    @Test
    void takesAtMostMaxInFifoOrder() {
        MessageQueue<String> q = queue();
        for (String s : List.of("a", "b", "c", "d", "e")) {
            q.send(msg(s), 0);
        }
        assertThat(payloads(q.receive(3, 0))).containsExactly("a", "b", "c");
        assertThat(payloads(q.receive(3, 0))).containsExactly("d", "e");
        assertThat(q.receive(3, 0)).isEmpty();
        assertThat(q.stats().inFlight()).isEqualTo(5);
        assertThat(q.stats().ready()).isZero();
    }

    @Test
    void leaseCarriesMessageHandleCountAndDefaultDeadline() {
        MessageQueue<String> q = queue(QueueSpec.named("lq"));
        long id = q.send(msg("a").header("h", "v"), 100).messageId();
        Lease<String> l = one(q, 250);
        assertThat(l.payload()).isEqualTo("a");
        assertThat(l.message().id()).isEqualTo(id);
        assertThat(l.message().headers()).containsExactly(Map.entry("h", "v"));
        assertThat(l.deliveryCount()).isEqualTo(1);
        assertThat(l.deadline()).isEqualTo(250 + VIS);
        assertThat(l.handle().messageId()).isEqualTo(id);
        assertThat(l.handle().deliveryCount()).isEqualTo(1);
        assertThat(l.handle().queueName()).isEqualTo("lq");
        assertThat(l.handle().toString()).contains("lq");
    }

    @Test
    void customVisibilityAppliesToThoseLeasesOnly() {
        MessageQueue<String> q = queue();
        q.send(msg("short"), 0);
        q.send(msg("default"), 0);
        Lease<String> s = q.receive(1, Duration.ofMillis(500), 0).get(0);
        Lease<String> d = one(q, 0);
        assertThat(s.deadline()).isEqualTo(500);
        assertThat(d.deadline()).isEqualTo(VIS);
        assertThat(q.receive(5, 499)).isEmpty();
        Lease<String> again = one(q, 500);
        assertThat(again.payload()).isEqualTo("short");
        assertThat(again.deliveryCount()).isEqualTo(2);
        assertThat(q.receive(5, VIS - 1)).isEmpty();
        assertThat(payloads(q.receive(5, VIS))).containsExactly("default");
    }

    @Test
    void invalidArgumentsNameTheirValue() {
        MessageQueue<String> q = queue();
        assertThatIllegalArgumentException().isThrownBy(() -> q.receive(0, 0)).withMessage("max must be >= 1, was 0");
        assertThatIllegalArgumentException().isThrownBy(() -> q.receive(-3, Duration.ofSeconds(1), 0))
                .withMessage("max must be >= 1, was -3");
        assertThatIllegalArgumentException().isThrownBy(() -> q.receive(1, Duration.ZERO, 0))
                .withMessageContaining("visibility").withMessageContaining("PT0S");
        assertThatIllegalArgumentException().isThrownBy(() -> q.receive(1, Duration.ofMillis(-1), 0))
                .withMessageContaining("visibility");
        assertThatNullPointerException().isThrownBy(() -> q.receive(1, null, 0)).withMessageContaining("visibility");
    }

    // -------------------------------------------------------------------------------------------- LeaseEnd

    @Test
    void ackOneMillisecondBeforeDeadlineIsOk() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        Lease<String> l = one(q, 0);
        assertThat(q.ack(l.handle(), l.deadline() - 1)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.size()).isZero();
        assertThat(q.receive(1, l.deadline() + VIS)).isEmpty();
    }

    @Test
    void ackAtDeadlineIsStaleWithoutAnyAdvance() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        Lease<String> l = one(q, 0);
        assertThat(q.ack(l.handle(), l.deadline())).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.stats().acked()).isZero();
        assertThat(q.stats().expiredLeases()).isEqualTo(1);
        Lease<String> again = one(q, l.deadline());
        assertThat(again.deliveryCount()).isEqualTo(2);
        assertThat(again.message().id()).isEqualTo(l.message().id());
    }

    @Test
    void everySettleAtDeadlineIsStale() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        Lease<String> l = one(q, 0);
        long d = l.deadline();
        assertThat(q.nack(l.handle(), Duration.ZERO, d)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.extend(l.handle(), Duration.ofSeconds(10), d)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.reject(l.handle(), "no", d)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.release(l.handle(), d)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.ackAll(List.of(l.handle()), d)).containsExactly(LeaseOutcome.STALE);
        assertThat(q.stats().nacked()).isZero();
        assertThat(q.stats().deadLettered()).isZero();
        assertThat(q.size()).isEqualTo(1);
    }

    // ---------------------------------------------------------------------------------------- StaleHandles

    @Test
    void oldHandleAfterExpiryAndRedeliveryChangesNothing() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        Lease<String> first = one(q, 0);
        Lease<String> second = one(q, VIS);
        assertThat(second.deliveryCount()).isEqualTo(2);
        assertThat(q.ack(first.handle(), VIS + 1)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.nack(first.handle(), Duration.ZERO, VIS + 1)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.extend(first.handle(), Duration.ofHours(1), VIS + 1)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.reject(first.handle(), "x", VIS + 1)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.release(first.handle(), VIS + 1)).isEqualTo(LeaseOutcome.STALE);
        // the current lease is untouched
        assertThat(q.stats().inFlight()).isEqualTo(1);
        assertThat(q.ack(second.handle(), VIS + 1)).isEqualTo(LeaseOutcome.OK);
    }

    @Test
    void doubleAckIsStale() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        Lease<String> l = one(q, 0);
        assertThat(q.ack(l.handle(), 1)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.ack(l.handle(), 1)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.stats().acked()).isEqualTo(1);
    }

    @Test
    void handleIsStaleAfterReleaseAndAfterNack() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        Lease<String> l = one(q, 0);
        assertThat(q.release(l.handle(), 1)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.ack(l.handle(), 2)).isEqualTo(LeaseOutcome.STALE);
        Lease<String> l2 = one(q, 3);
        assertThat(q.nack(l2.handle(), Duration.ZERO, 4)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.ack(l2.handle(), 5)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.stats().ready()).isEqualTo(1);
    }

    @Test
    void handleIsStaleAfterPurge() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        Lease<String> l = one(q, 0);
        assertThat(q.purge(1)).isEqualTo(1);
        assertThat(q.ack(l.handle(), 2)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.nack(l.handle(), Duration.ZERO, 2)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.extend(l.handle(), Duration.ofSeconds(1), 2)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.size()).isZero();
        assertThat(q.receive(1, 10 * VIS)).isEmpty();
    }

    @Test
    void handleFromAnotherQueueIsAnError() {
        MessageQueue<String> a = queue(QueueSpec.named("a"));
        MessageQueue<String> b = queue(QueueSpec.named("b"));
        a.send(msg("x"), 0);
        Lease<String> l = one(a, 0);
        ReceiptHandle h = l.handle();
        assertThatIllegalArgumentException().isThrownBy(() -> b.ack(h, 1)).withMessageContaining("'a'")
                .withMessageContaining("'b'");
        assertThatIllegalArgumentException().isThrownBy(() -> b.nack(h, Duration.ZERO, 1));
        assertThatIllegalArgumentException().isThrownBy(() -> b.extend(h, Duration.ofSeconds(1), 1));
        assertThatIllegalArgumentException().isThrownBy(() -> b.reject(h, "r", 1));
        assertThatIllegalArgumentException().isThrownBy(() -> b.release(h, 1));
        assertThatIllegalArgumentException().isThrownBy(() -> b.ackAll(List.of(h), 1));
        // a queue of the same name is still another queue
        MessageQueue<String> a2 = queue(QueueSpec.named("a"));
        assertThatIllegalArgumentException().isThrownBy(() -> a2.ack(h, 1));
        assertThat(a.ack(h, 1)).isEqualTo(LeaseOutcome.OK);
    }

    @Test
    void nullHandleIsRejected() {
        assertThatNullPointerException().isThrownBy(() -> queue().ack(null, 0)).withMessageContaining("handle");
    }

    // ------------------------------------------------------------------------------------------------ Nack

    @Test
    void nackNowMakesItReadyAheadOfNewerMessages() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        q.send(msg("b"), 0);
        q.send(msg("c"), 0);
        List<Lease<String>> ab = q.receive(2, 0);
        q.send(msg("d"), 1);
        assertThat(q.nack(ab.get(1).handle(), Duration.ZERO, 2)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.nack(ab.get(0).handle(), Duration.ZERO, 3)).isEqualTo(LeaseOutcome.OK);
        List<Lease<String>> all = q.receive(10, 4);
        assertThat(payloads(all)).containsExactly("a", "b", "c", "d");
        assertThat(all).extracting(Lease::deliveryCount).containsExactly(2, 2, 1, 1);
        assertThat(q.stats().nacked()).isEqualTo(2);
    }

    @Test
    void nackWithDelayIsInvisibleUntilDueThenAheadOfNewerMessages() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        Lease<String> a = one(q, 0);
        assertThat(q.nack(a.handle(), Duration.ofSeconds(1), 0)).isEqualTo(LeaseOutcome.OK);
        q.send(msg("b"), 10);
        q.send(msg("c"), 20);
        assertThat(q.stats().delayed()).isEqualTo(1);
        assertThat(q.nextDeadline()).isEqualTo(1000);
        assertThat(q.advance(999)).isEqualTo(1000);
        assertThat(q.peek(10)).extracting(Message::payload).containsExactly("b", "c");
        assertThat(q.stats().ready()).isEqualTo(2);
        List<Lease<String>> all = q.receive(10, 1000);
        assertThat(payloads(all)).containsExactly("a", "b", "c");
        assertThat(all.get(0).deliveryCount()).isEqualTo(2);
        assertThat(q.stats().delayed()).isZero();
    }

    @Test
    void delayedNackIsNotReceivableBeforeDue() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        Lease<String> a = one(q, 0);
        q.nack(a.handle(), Duration.ofMillis(300), 100);
        assertThat(q.receive(5, 399)).isEmpty();
        assertThat(one(q, 400).payload()).isEqualTo("a");
    }

    @Test
    void negativeDelayIsAnError() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        Lease<String> a = one(q, 0);
        assertThatIllegalArgumentException().isThrownBy(() -> q.nack(a.handle(), Duration.ofMillis(-1), 0))
                .withMessageContaining("delay").withMessageContaining("-0.001S");
        assertThatNullPointerException().isThrownBy(() -> q.nack(a.handle(), null, 0));
        assertThat(q.ack(a.handle(), 1)).isEqualTo(LeaseOutcome.OK);
    }

    // ---------------------------------------------------------------------------------------------- Extend

    @Test
    void extendPushesTheDeadline() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        Lease<String> l = one(q, 0);
        assertThat(q.extend(l.handle(), Duration.ofSeconds(60), 10_000)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.nextDeadline()).isEqualTo(70_000);
        assertThat(q.receive(1, VIS)).isEmpty();
        assertThat(q.ack(l.handle(), 69_999)).isEqualTo(LeaseOutcome.OK);
    }

    @Test
    void extendedLeaseStillEndsAtItsNewDeadline() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        Lease<String> l = one(q, 0);
        q.extend(l.handle(), Duration.ofSeconds(60), 10_000);
        assertThat(q.ack(l.handle(), 70_000)).isEqualTo(LeaseOutcome.STALE);
        assertThat(one(q, 70_000).deliveryCount()).isEqualTo(2);
    }

    @Test
    void extendAfterExpiryIsStale() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        Lease<String> l = one(q, 0);
        assertThat(q.extend(l.handle(), Duration.ofSeconds(60), VIS)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.stats().ready()).isEqualTo(1);
        assertThat(q.stats().inFlight()).isZero();
    }

    @Test
    void extendCanShortenTheLease() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        Lease<String> l = one(q, 0);
        assertThat(q.extend(l.handle(), Duration.ofMillis(1), 10)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.nextDeadline()).isEqualTo(11);
        assertThat(q.ack(l.handle(), 11)).isEqualTo(LeaseOutcome.STALE);
        assertThat(one(q, 11).deliveryCount()).isEqualTo(2);
    }

    @Test
    void extendingOneOfManyLeasesKeepsTheOthersOnTime() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        q.send(msg("b"), 0);
        q.send(msg("c"), 0);
        List<Lease<String>> ls = q.receive(3, 0);
        q.extend(ls.get(0).handle(), Duration.ofSeconds(100), 0);
        q.extend(ls.get(2).handle(), Duration.ofMillis(10), 0);
        List<Lease<String>> c = q.receive(5, 10);
        assertThat(payloads(c)).containsExactly("c");
        q.ack(c.get(0).handle(), 10);
        List<Lease<String>> b = q.receive(5, VIS);
        assertThat(payloads(b)).containsExactly("b");
        q.ack(b.get(0).handle(), VIS);
        assertThat(q.receive(5, 99_999)).isEmpty();
        assertThat(payloads(q.receive(5, 100_000))).containsExactly("a");
    }

    @Test
    void nonPositiveDurationIsAnError() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        Lease<String> l = one(q, 0);
        assertThatIllegalArgumentException().isThrownBy(() -> q.extend(l.handle(), Duration.ZERO, 0))
                .withMessageContaining("duration").withMessageContaining("PT0S");
        assertThatIllegalArgumentException().isThrownBy(() -> q.extend(l.handle(), Duration.ofSeconds(-1), 0));
    }

    // ------------------------------------------------------------------------------------ RejectAndRelease

    @Test
    void rejectWithoutDeadLetterQueueDropsTheMessage() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        Lease<String> l = one(q, 0);
        assertThat(q.reject(l.handle(), "bad", 1)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.size()).isZero();
        assertThat(q.stats().deadLettered()).isEqualTo(1);
        assertThat(q.receive(1, 10 * VIS)).isEmpty();
        assertThat(q.reject(l.handle(), "bad", 2)).isEqualTo(LeaseOutcome.STALE);
    }

    @Test
    void rejectWithDiscardDeadLettersDropsTheMessage() {
        MessageQueue<String> q = queue(QueueSpec.named("q").maxDeliveries(3).discardDeadLetters());
        q.send(msg("a"), 0);
        Lease<String> l = one(q, 0);
        assertThat(q.reject(l.handle(), null, 1)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.size()).isZero();
        assertThat(q.stats().deadLettered()).isEqualTo(1);
    }

    @Test
    void releaseReturnsAtOnceWithoutCountingADelivery() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        q.send(msg("b"), 0);
        Lease<String> a = one(q, 0);
        assertThat(q.release(a.handle(), 1)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.stats().delivered()).isZero();
        Lease<String> again = one(q, 2);
        assertThat(again.payload()).isEqualTo("a");
        assertThat(again.deliveryCount()).isEqualTo(1);
        assertThat(q.stats().delivered()).isEqualTo(1);
    }

    // --------------------------------------------------------------------------------------- MaxDeliveries

    @Test
    void expiryPastMaxDeliveriesDiscardsWhenConfigured() {
        MessageQueue<String> q = queue(QueueSpec.named("q").visibilityTimeout(Duration.ofSeconds(1))
                .maxDeliveries(2).discardDeadLetters());
        q.send(msg("poison"), 0);
        assertThat(one(q, 0).deliveryCount()).isEqualTo(1);
        assertThat(one(q, 1000).deliveryCount()).isEqualTo(2);
        assertThat(q.receive(1, 2000)).isEmpty();
        QueueStats s = q.stats();
        assertThat(s.deadLettered()).isEqualTo(1);
        assertThat(s.expiredLeases()).isEqualTo(2);
        assertThat(s.size()).isZero();
    }

    @Test
    void nackOfTheLastAllowedDeliveryDiscards() {
        MessageQueue<String> q = queue(QueueSpec.named("q").maxDeliveries(2).discardDeadLetters());
        q.send(msg("poison"), 0);
        q.nack(one(q, 0).handle(), Duration.ZERO, 1);
        Lease<String> second = one(q, 2);
        assertThat(q.nack(second.handle(), Duration.ofSeconds(5), 3)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.size()).isZero();
        assertThat(q.stats().deadLettered()).isEqualTo(1);
        assertThat(q.stats().delayed()).isZero();
    }

    @Test
    void releaseDoesNotUseUpADelivery() {
        MessageQueue<String> q = queue(QueueSpec.named("q").maxDeliveries(1).discardDeadLetters());
        q.send(msg("a"), 0);
        for (int i = 0; i < 5; i++) {
            assertThat(q.release(one(q, i).handle(), i)).isEqualTo(LeaseOutcome.OK);
        }
        Lease<String> l = one(q, 10);
        assertThat(l.deliveryCount()).isEqualTo(1);
        assertThat(q.ack(l.handle(), 11)).isEqualTo(LeaseOutcome.OK);
    }

    // ------------------------------------------------------------------------------------------------ Time

    @Test
    void advanceReturnsMaxValueWhenNothingIsPending() {
        MessageQueue<String> q = queue();
        assertThat(q.advance(0)).isEqualTo(Long.MAX_VALUE);
        assertThat(q.nextDeadline()).isEqualTo(Long.MAX_VALUE);
        q.send(msg("a"), 0);
        assertThat(q.advance(1)).isEqualTo(Long.MAX_VALUE); // a ready message has no timer
        q.ack(one(q, 2).handle(), 3);
        assertThat(q.advance(4)).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void advanceReturnsTheEarliestPendingDeadline() {
        MessageQueue<String> q = queue(QueueSpec.named("q").dedupWindow(Duration.ofSeconds(50)));
        q.send(msg("leased"), 0);
        one(q, 0); // lease ends at 30_000
        q.send(msg("delayed").delay(Duration.ofSeconds(20)), 0);
        q.send(msg("ttl").ttl(Duration.ofSeconds(10)), 0);
        q.send(msg("dedup").dedupId("d"), 5_000);
        assertThat(q.advance(5_000)).isEqualTo(10_000);
        assertThat(q.advance(10_000)).isEqualTo(20_000);
        assertThat(q.stats().expired()).isEqualTo(1);
        assertThat(q.advance(20_000)).isEqualTo(30_000);
        assertThat(q.stats().delayed()).isZero();
        assertThat(q.advance(30_000)).isEqualTo(55_000);
        assertThat(q.stats().expiredLeases()).isEqualTo(1);
        assertThat(q.advance(55_000)).isEqualTo(Long.MAX_VALUE);
        assertThat(q.nextDeadline()).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void advanceAppliesDueTimersOnly() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        q.send(msg("b"), 0);
        Lease<String> a = q.receive(1, 0).get(0);
        Lease<String> b = q.receive(1, Duration.ofSeconds(60), 0).get(0);
        assertThat(q.advance(VIS - 1)).isEqualTo(VIS);
        assertThat(q.stats().inFlight()).isEqualTo(2);
        assertThat(q.advance(VIS)).isEqualTo(60_000);
        assertThat(q.stats().inFlight()).isEqualTo(1);
        assertThat(q.stats().ready()).isEqualTo(1);
        assertThat(q.ack(a.handle(), VIS)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.ack(b.handle(), VIS)).isEqualTo(LeaseOutcome.OK);
    }

    @Test
    void advanceCostsOnlyWhatFallsDue() {
        // 100k leases, out-of-order deadlines included, then 100k advances with nothing due: an advance that
        // scanned the leases would take ~10^10 steps; one that looks only at what is due takes milliseconds.
        int n = 100_000;
        MessageQueue<Integer> q = MessageQueue.create(QueueSpec.named("big").unbounded());
        for (int i = 0; i < n; i++) {
            q.send(OutboundMessage.of(i), 0);
        }
        for (int i = 0; i < n; i++) {
            q.receive(1, Duration.ofMillis(1_000_000 + (i * 7919L) % n), 0);
        }
        long start = System.nanoTime();
        long next = 0;
        for (int i = 1; i <= n; i++) {
            next = q.advance(i);
        }
        long tookMs = (System.nanoTime() - start) / 1_000_000;
        assertThat(next).isEqualTo(1_000_000);
        assertThat(q.stats().inFlight()).isEqualTo(n);
        assertThat(tookMs).as("100k advances with nothing due took %d ms", tookMs).isLessThan(5_000);
        // and what falls due is exactly what is expired
        q.advance(1_000_000 + n / 2 - 1);
        assertThat(q.stats().expiredLeases()).isEqualTo(n / 2);
        assertThat(q.stats().ready()).isEqualTo(n / 2);
    }

    @Test
    void clockGoingBackwardsIsTreatedAsTheLatestSeen() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 1_000);
        q.send(msg("b"), 500); // earlier than already seen: counts as 1_000
        List<Lease<String>> ls = q.receive(2, 0);
        assertThat(ls).extracting(l -> l.message().timestamp()).containsExactly(1_000L, 1_000L);
        assertThat(ls).extracting(Lease::deadline).containsOnly(1_000 + VIS);
        assertThat(q.ack(ls.get(0).handle(), 1_000 + VIS)).isEqualTo(LeaseOutcome.STALE);
        // going back after the deadline passed does not revive the lease
        assertThat(q.ack(ls.get(0).handle(), 0)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.ack(ls.get(1).handle(), 5)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.stats().expiredLeases()).isEqualTo(2);
        assertThat(q.receive(5, 0)).extracting(Lease::deadline).containsOnly(1_000 + 2 * VIS);
    }

    // --------------------------------------------------------------------------------------------- Batches

    @Test
    void sendAllReportsEachOutcomeInOrder() {
        MessageQueue<String> q = queue(QueueSpec.named("q").capacity(3));
        List<SendOutcome> out = q.sendAll(List.of(msg("a").dedupId("x"), msg("b"), msg("a2").dedupId("x"),
                msg("c")), 0);
        assertThat(out).extracting(SendOutcome::status).containsExactly(Status.ENQUEUED, Status.ENQUEUED,
                Status.DUPLICATE, Status.ENQUEUED);
        assertThat(out.get(2).messageId()).isEqualTo(out.get(0).messageId());
        assertThat(payloads(q.receive(10, 0))).containsExactly("a", "b", "c");
    }

    @Test
    void sendAllStopsAtTheFirstFull() {
        MessageQueue<byte[]> q = MessageQueue.create(QueueSpec.named("q").maxBytes(10).capacity(5));
        List<SendOutcome> out = q.sendAll(List.of(OutboundMessage.of(new byte[6]), OutboundMessage.of(new byte[6]),
                OutboundMessage.of(new byte[1]), OutboundMessage.of(new byte[1]).dedupId("d")), 0);
        // the 1-byte messages would fit, but storing them would overtake the refused one
        assertThat(out).extracting(SendOutcome::status).containsExactly(Status.ENQUEUED, Status.FULL, Status.FULL,
                Status.FULL);
        assertThat(q.size()).isEqualTo(1);
        assertThat(q.send(OutboundMessage.of(new byte[1]).dedupId("d"), 1).status()).isEqualTo(Status.ENQUEUED);
    }

    @Test
    void sendAllByCapacityStoresThePrefix() {
        MessageQueue<String> q = queue(QueueSpec.named("q").capacity(2));
        List<SendOutcome> out = q.sendAll(List.of(msg("a"), msg("b"), msg("c"), msg("d")), 0);
        assertThat(out).extracting(SendOutcome::status).containsExactly(Status.ENQUEUED, Status.ENQUEUED,
                Status.FULL, Status.FULL);
        assertThat(payloads(q.receive(10, 0))).containsExactly("a", "b");
    }

    @Test
    void sendAllOfNothingAndWithNulls() {
        MessageQueue<String> q = queue();
        assertThat(q.sendAll(List.of(), 0)).isEmpty();
        List<OutboundMessage<String>> withNull = Arrays.asList(msg("a"), null);
        assertThatNullPointerException().isThrownBy(() -> q.sendAll(withNull, 0)).withMessageContaining("messages[1]");
        assertThat(q.size()).isZero();
    }

    @Test
    void anAckedMessagesLeaseAndHandleOutliveTheReuseOfItsEntry() {
        MessageQueue<String> q = queue(QueueSpec.named("q").capacity(1));
        q.send(OutboundMessage.of("a").key("ka").header("h", "1"), 5);
        Lease<String> a = one(q, 6);
        assertThat(q.ack(a.handle(), 7)).isEqualTo(LeaseOutcome.OK);
        q.send(msg("b"), 8); // stored in the entry a had (capacity 1, one free entry)
        Lease<String> b = one(q, 9);
        assertThat(b.deliveryCount()).isEqualTo(1);
        // a's lease still shows a, and its handle cannot touch b
        assertThat(a.payload()).isEqualTo("a");
        assertThat(a.message().key()).isEqualTo("ka");
        assertThat(a.message().headers()).containsEntry("h", "1");
        assertThat(a.message().timestamp()).isEqualTo(5);
        assertThat(a.messageId()).isNotEqualTo(b.messageId());
        assertThat(q.ack(a.handle(), 10)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.nack(a.handle(), Duration.ZERO, 10)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.stats().inFlight()).isEqualTo(1);
        assertThat(b.message().payload()).isEqualTo("b");
        assertThat(q.ack(b.handle(), 11)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.size()).isZero();
    }

    @Test
    void offerAllCountsTheAcceptedPrefix() {
        MessageQueue<String> q = queue(QueueSpec.named("q").capacity(3));
        int accepted = q.offerAll(List.of(msg("a").dedupId("x"), msg("b"), msg("a2").dedupId("x"), msg("c"),
                msg("d"), msg("e")), 0);
        assertThat(accepted).isEqualTo(4); // a, b, the duplicate of a, c; d refused for capacity, e not tried
        assertThat(q.stats().duplicates()).isEqualTo(1);
        assertThat(payloads(q.receive(10, 0))).containsExactly("a", "b", "c");
        assertThat(q.offerAll(List.of(), 0)).isZero();
    }

    @Test
    void offerAllStopsAtTheFirstFullByBytes() {
        MessageQueue<byte[]> q = MessageQueue.create(QueueSpec.named("q").maxBytes(10).capacity(5));
        assertThat(q.offerAll(List.of(OutboundMessage.of(new byte[6]), OutboundMessage.of(new byte[6]),
                OutboundMessage.of(new byte[1])), 0)).isEqualTo(1);
        assertThat(q.size()).isEqualTo(1);
        assertThatIllegalArgumentException().isThrownBy(() -> q.offerAll(List.of(OutboundMessage.of(new byte[1]),
                OutboundMessage.of(new byte[11])), 0)).withMessageContaining("maxBytes=10");
        assertThat(q.size()).isEqualTo(1);
    }

    @Test
    void offerAllOnAClosedQueueStoresNothing() {
        MessageQueue<String> q = queue();
        q.close();
        assertThat(q.offerAll(List.of(msg("a")), 0)).isEqualTo(-1);
        assertThat(q.size()).isZero();
        List<OutboundMessage<String>> withNull = Arrays.asList(msg("a"), null);
        assertThatNullPointerException().isThrownBy(() -> q.offerAll(withNull, 0)).withMessageContaining("messages[1]");
    }

    @Test
    void offerAllFiresTheReadableEdgeOnce() {
        MessageQueue<String> q = queue();
        int[] readable = new int[1];
        q.setListener(new QueueListener() {
            @Override
            public void onReadable() {
                readable[0]++;
            }
        });
        assertThat(q.offerAll(List.of(msg("a"), msg("b")), 0)).isEqualTo(2);
        assertThat(q.offerAll(List.of(msg("c")), 0)).isEqualTo(1);
        assertThat(readable[0]).isEqualTo(1);
    }

    @Test
    void ackAllReportsEachOutcomeInOrder() {
        MessageQueue<String> q = queue();
        for (String s : List.of("a", "b", "c")) {
            q.send(msg(s), 0);
        }
        List<Lease<String>> ls = q.receive(3, 0);
        q.release(ls.get(2).handle(), 0);
        List<ReceiptHandle> hs = List.of(ls.get(0).handle(), ls.get(1).handle(), ls.get(0).handle(),
                ls.get(2).handle());
        assertThat(q.ackAll(hs, 1)).containsExactly(LeaseOutcome.OK, LeaseOutcome.OK, LeaseOutcome.STALE,
                LeaseOutcome.STALE);
        assertThat(q.stats().acked()).isEqualTo(2);
        assertThat(payloads(q.receive(5, 2))).containsExactly("c");
        assertThat(q.ackAll(List.of(), 3)).isEmpty();
    }

    @Test
    void ackAllWithAForeignHandleAcksNothing() {
        MessageQueue<String> q = queue(QueueSpec.named("q"));
        MessageQueue<String> other = queue(QueueSpec.named("other"));
        q.send(msg("a"), 0);
        other.send(msg("b"), 0);
        ReceiptHandle mine = one(q, 0).handle();
        ReceiptHandle theirs = one(other, 0).handle();
        assertThatIllegalArgumentException().isThrownBy(() -> q.ackAll(List.of(mine, theirs), 1))
                .withMessageContaining("'other'");
        assertThat(q.stats().acked()).isZero();
        assertThat(q.ack(mine, 1)).isEqualTo(LeaseOutcome.OK);
    }

    // -------------------------------------------------------------------------------------- StatsPeekPurge

    @Test
    void statsCountEveryKindOfEvent() {
        MessageQueue<String> q = queue(QueueSpec.named("st").capacity(10).maxDeliveries(2).discardDeadLetters());
        q.send(msg("acked"), 0);
        q.send(msg("nacked"), 0);
        q.send(msg("expiring"), 0);
        q.send(msg("dup").dedupId("d"), 0);
        q.send(msg("dup").dedupId("d"), 0);
        q.send(msg("ttl").ttl(Duration.ofMillis(10)).priority(0), 0);
        q.send(msg("later").delay(Duration.ofHours(1)), 0);
        List<Lease<String>> ls = q.receive(4, Duration.ofMillis(5), 0); // acked, nacked, expiring, dup
        q.ack(ls.get(0).handle(), 1);
        q.nack(ls.get(1).handle(), Duration.ZERO, 1);
        q.reject(ls.get(3).handle(), "bad", 1);
        QueueStats s = q.stats();
        assertThat(s.name()).isEqualTo("st");
        assertThat(s.capacity()).isEqualTo(10);
        assertThat(s.sent()).isEqualTo(6);
        assertThat(s.duplicates()).isEqualTo(1);
        assertThat(s.delivered()).isEqualTo(4);
        assertThat(s.acked()).isEqualTo(1);
        assertThat(s.nacked()).isEqualTo(1);
        assertThat(s.deadLettered()).isEqualTo(1);
        assertThat(s.ready()).isEqualTo(2); // nacked, ttl
        assertThat(s.inFlight()).isEqualTo(1); // expiring
        assertThat(s.delayed()).isEqualTo(1);
        assertThat(s.size()).isEqualTo(4);
        assertThat(s.bytes()).isEqualTo(2L * ("nacked" + "expiring" + "ttl" + "later").length());
        q.advance(10); // "expiring" lease ends at 5, "ttl" expires at 10
        s = q.stats();
        assertThat(s.expiredLeases()).isEqualTo(1);
        assertThat(s.expired()).isEqualTo(1);
        assertThat(s.ready()).isEqualTo(2); // nacked, expiring
        assertThat(q.purge(11)).isEqualTo(3);
        s = q.stats();
        assertThat(s.purged()).isEqualTo(3);
        assertThat(s.size()).isZero();
        assertThat(s.bytes()).isZero();
        assertThat(s.ready() + s.inFlight() + s.delayed()).isZero();
    }

    @Test
    void peekDoesNotLease() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        q.send(msg("b"), 0);
        assertThat(q.peek(10)).extracting(Message::payload).containsExactly("a", "b");
        assertThat(q.peek(1)).extracting(Message::payload).containsExactly("a");
        assertThat(q.stats().delivered()).isZero();
        assertThat(q.stats().inFlight()).isZero();
        List<Lease<String>> ls = q.receive(2, 0);
        assertThat(ls).extracting(Lease::deliveryCount).containsExactly(1, 1);
        assertThat(q.peek(10)).isEmpty();
    }

    @Test
    void peekShowsReadyMessagesOnlyInDeliveryOrder() {
        MessageQueue<String> q = queue();
        q.send(msg("a"), 0);
        q.send(msg("b"), 0);
        q.send(msg("hi").priority(7), 0);
        q.send(msg("later").delay(Duration.ofSeconds(1)), 0);
        List<Lease<String>> ls = q.receive(2, 0); // hi, a
        q.nack(ls.get(1).handle(), Duration.ZERO, 0);
        assertThat(q.peek(10)).extracting(Message::payload).containsExactly("a", "b");
        q.nack(ls.get(0).handle(), Duration.ZERO, 0);
        assertThat(q.peek(10)).extracting(Message::payload).containsExactly("hi", "a", "b");
        assertThat(payloads(q.receive(10, 0))).containsExactly("hi", "a", "b");
        assertThatIllegalArgumentException().isThrownBy(() -> q.peek(0)).withMessage("max must be >= 1, was 0");
    }

    @Test
    void purgeRemovesReadyDelayedAndLeased() {
        MessageQueue<String> q = queue();
        q.send(msg("ready"), 0);
        q.send(msg("leased"), 0);
        q.send(msg("delayed").delay(Duration.ofSeconds(1)), 0);
        q.send(msg("first"), 0);
        one(q, 0);
        one(q, 0);
        assertThat(q.purge(1)).isEqualTo(4);
        assertThat(q.size()).isZero();
        assertThat(q.peek(10)).isEmpty();
        assertThat(q.receive(10, 10 * VIS)).isEmpty();
        assertThat(q.advance(10 * VIS)).isEqualTo(Long.MAX_VALUE);
        assertThat(q.purge(10 * VIS)).isZero();
        // still usable
        q.send(msg("after"), 10 * VIS);
        assertThat(payloads(q.receive(10, 10 * VIS))).containsExactly("after");
    }

    @Test
    void purgeKeepsDedupIds() {
        MessageQueue<String> q = queue();
        long id = q.send(msg("a").dedupId("d"), 0).messageId();
        q.purge(1);
        SendOutcome again = q.send(msg("a").dedupId("d"), 2);
        assertThat(again.status()).isEqualTo(Status.DUPLICATE);
        assertThat(again.messageId()).isEqualTo(id);
    }

    @Test
    void purgeOfAFullQueueMakesRoom() {
        MessageQueue<String> q = queue(QueueSpec.named("q").capacity(2));
        q.send(msg("a"), 0);
        q.send(msg("b").ttl(Duration.ofSeconds(1)), 0);
        one(q, 0);
        assertThat(q.isFull()).isTrue();
        q.purge(1);
        assertThat(q.isFull()).isFalse();
        List<SendOutcome> out = new ArrayList<>();
        out.add(q.send(msg("c"), 2));
        out.add(q.send(msg("d"), 2));
        assertThat(out).extracting(SendOutcome::status).containsOnly(Status.ENQUEUED);
        assertThat(q.advance(5_000)).isEqualTo(Long.MAX_VALUE); // the purged TTL timer is gone too
        assertThat(q.size()).isEqualTo(2);
    }

    @Test
    void nameSpecAndToString() {
        QueueSpec spec = QueueSpec.named("named").capacity(7);
        MessageQueue<String> q = queue(spec);
        assertThat(q.name()).isEqualTo("named");
        assertThat(q.spec()).isEqualTo(spec);
        assertThat(q.toString()).contains("named");
    }

    // ---------------------------------------------------------------------------------------------- Create

    @Test
    void createRejectsASpecNamingADeadLetterQueue() {
        QueueSpec spec = QueueSpec.named("orders").deadLetterQueue("orders.dlq");
        assertThatIllegalArgumentException().isThrownBy(() -> MessageQueue.create(spec))
                .withMessageContaining("deadLetterQueue=orders.dlq").withMessageContaining("Broker");
    }

    @Test
    void createValidatesTheSpec() {
        assertThatIllegalArgumentException()
                .isThrownBy(() -> MessageQueue.create(QueueSpec.named("q").maxDeliveries(3)))
                .withMessageContaining("maxDeliveries=3");
    }

    @Test
    void aDeadLetterReasonIsCutAtItsLimitButNeverInsideASurrogatePair() {
        int max = OutboundMessage.MAX_STRING_LENGTH;
        assertThat(MessageQueue.truncate(null)).isEqualTo("unspecified");
        assertThat(MessageQueue.truncate("")).isEqualTo("unspecified");
        assertThat(MessageQueue.truncate("x".repeat(max))).hasSize(max);
        assertThat(MessageQueue.truncate("x".repeat(max + 5))).hasSize(max);
        // an emoji (two chars) across the limit is dropped whole, not halved
        String acrossTheLimit = "a".repeat(max - 1) + "\uD83D\uDE00" + "b";
        assertThat(MessageQueue.truncate(acrossTheLimit)).isEqualTo("a".repeat(max - 1));
        String beforeTheLimit = "a".repeat(max - 2) + "\uD83D\uDE00" + "b";
        assertThat(MessageQueue.truncate(beforeTheLimit)).isEqualTo("a".repeat(max - 2) + "\uD83D\uDE00");
    }
}
