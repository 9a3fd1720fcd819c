package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Priority order: higher first, FIFO within a priority, returned messages ahead of newer ones of their priority. */
class PriorityTest {

    private static MessageQueue<String> queue() {
        return MessageQueue.create(QueueSpec.named("prio"));
    }

    private static OutboundMessage<String> msg(String payload, int priority) {
        return OutboundMessage.of(payload).priority(priority);
    }

    private static List<String> payloads(List<Lease<String>> leases) {
        return leases.stream().map(Lease::payload).toList();
    }

    @Test
    void higherPriorityFirst() {
        MessageQueue<String> q = queue();
        q.send(msg("p0", 0), 0);
        q.send(msg("p5", 5), 0);
        q.send(msg("p9", 9), 0);
        q.send(msg("p1", 1), 0);
        List<Lease<String>> got = q.receive(10, 0);
        assertThat(payloads(got)).containsExactly("p9", "p5", "p1", "p0");
        assertThat(got).extracting(l -> l.message().priority()).containsExactly(9, 5, 1, 0);
    }

    @Test
    void fifoWithinAPriority() {
        MessageQueue<String> q = queue();
        for (int i = 0; i < 5; i++) {
            q.send(msg("low" + i, 2), i);
            q.send(msg("high" + i, 7), i);
        }
        assertThat(payloads(q.receive(10, 10))).containsExactly("high0", "high1", "high2", "high3", "high4", "low0",
                "low1", "low2", "low3", "low4");
    }

    @Test
    void receivingOneAtATimeFollowsTheSameOrder() {
        MessageQueue<String> q = queue();
        q.send(msg("a", 3), 0);
        q.send(msg("b", 8), 0);
        q.send(msg("c", 3), 0);
        List<String> seen = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            seen.add(q.receive(1, 0).get(0).payload());
        }
        assertThat(seen).containsExactly("b", "a", "c");
    }

    @Test
    void aHigherPriorityArrivalOvertakesWaitingMessages() {
        MessageQueue<String> q = queue();
        q.send(msg("a", 0), 0);
        q.send(msg("b", 0), 0);
        assertThat(payloads(q.receive(1, 0))).containsExactly("a");
        q.send(msg("urgent", 9), 1);
        assertThat(payloads(q.receive(2, 1))).containsExactly("urgent", "b");
    }

    @Test
    void returnedMessagesComeBeforeNewerOnesOfTheirPriority() {
        MessageQueue<String> q = queue();
        q.send(msg("a", 4), 0);
        q.send(msg("b", 4), 0);
        q.send(msg("c", 4), 0);
        List<Lease<String>> ab = q.receive(2, 0);
        q.send(msg("d", 4), 1);
        // returned out of order; they come back in their original order, ahead of c and d
        q.nack(ab.get(1).handle(), Duration.ZERO, 2);
        q.nack(ab.get(0).handle(), Duration.ZERO, 3);
        assertThat(payloads(q.receive(10, 4))).containsExactly("a", "b", "c", "d");
    }

    @Test
    void expiredLeasesComeBackAheadOfNewerMessages() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("prio").visibilityTimeout(Duration.ofSeconds(1)));
        q.send(msg("a", 1), 0);
        q.send(msg("b", 1), 0);
        assertThat(payloads(q.receive(1, 0))).containsExactly("a");
        q.send(msg("c", 1), 500);
        List<Lease<String>> got = q.receive(10, 1_000);
        assertThat(payloads(got)).containsExactly("a", "b", "c");
        assertThat(got).extracting(Lease::deliveryCount).containsExactly(2, 1, 1);
    }

    @Test
    void delayedRetryKeepsItsPlaceWithinItsPriority() {
        MessageQueue<String> q = queue();
        q.send(msg("a", 2), 0);
        Lease<String> a = q.receive(1, 0).get(0);
        q.nack(a.handle(), Duration.ofMillis(100), 0);
        q.send(msg("b", 2), 10);
        q.send(msg("c", 2), 20);
        assertThat(payloads(q.receive(10, 100))).containsExactly("a", "b", "c");
    }

    @Test
    void returnedLowPriorityMessageDoesNotOvertakeAHigherPriority() {
        MessageQueue<String> q = queue();
        q.send(msg("low", 1), 0);
        Lease<String> low = q.receive(1, 0).get(0);
        q.send(msg("high", 6), 1);
        q.send(msg("mid", 3), 1);
        q.nack(low.handle(), Duration.ZERO, 2);
        assertThat(payloads(q.receive(10, 3))).containsExactly("high", "mid", "low");
    }

    @Test
    void returnedAndNewMessagesInterleaveByIdAcrossManyReturns() {
        MessageQueue<String> q = queue();
        for (int i = 0; i < 10; i++) {
            q.send(msg("m" + i, 5), 0);
        }
        List<Lease<String>> all = q.receive(10, 0);
        // return the even ones, ack the odd ones
        for (int i = 9; i >= 0; i--) {
            if (i % 2 == 0) {
                q.nack(all.get(i).handle(), Duration.ZERO, 1);
            } else {
                q.ack(all.get(i).handle(), 1);
            }
        }
        q.send(msg("new", 5), 2);
        assertThat(payloads(q.receive(10, 2))).containsExactly("m0", "m2", "m4", "m6", "m8", "new");
    }

    @Test
    void peekFollowsPriorityOrder() {
        MessageQueue<String> q = queue();
        q.send(msg("p0", 0), 0);
        q.send(msg("p9", 9), 0);
        q.send(msg("p4", 4), 0);
        assertThat(q.peek(10)).extracting(Message::payload).containsExactly("p9", "p4", "p0");
    }
}
