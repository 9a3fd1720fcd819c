package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.LeaseOutcome;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * An ACK frame of many tags is settled in one call to the queue when every live tag in it comes from one queue, and
 * one tag at a time otherwise: either way each tag gets its own outcome, in the frame's order, and a tag that is
 * unknown, repeated or whose lease ran out is STALE without touching the others.
 */
class BatchedAckTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onVirtualTime();
    private final VirtualTimeScheduler serverClock = fixture.clock();
    private final ReactiveBroker local = fixture.local();

    private QueueStats stats(String queue) {
        return fixture.stats(queue);
    }

    private static long[] deliver(RawClient raw, int subscription, int n) throws Exception {
        raw.send(new Frame.Credit(subscription, n));
        long[] tags = new long[n];
        for (int i = 0; i < n; i++) {
            Frame.Deliver d = raw.readUntil(Frame.Deliver.class);
            assertThat(d.subscriptionId()).isEqualTo(subscription);
            tags[i] = d.deliveryTag();
        }
        return tags;
    }

    @Test
    void eachTagOfAnAckFrameGetsItsOwnOutcomeWhetherTheFrameIsSettledInOneCallOrTagByTag() throws Exception {
        QueueSpec a = QueueSpec.named("a").visibilityTimeout(Duration.ofSeconds(10));
        QueueSpec b = QueueSpec.named("b");
        // byte[] payloads, as the server's own view of the broker's queues has them
        ReactiveQueue<byte[]> qa = local.queue(a, Codec.bytes()).block(TIMEOUT);
        ReactiveQueue<byte[]> qb = local.queue(b, Codec.bytes()).block(TIMEOUT);
        for (int i = 0; i < 4; i++) {
            qa.send(OutboundMessage.of(new byte[] {(byte) i})).block(TIMEOUT);
        }
        qb.send(OutboundMessage.of(new byte[] {9})).block(TIMEOUT);
        RillServer server = fixture.serve(ServerOptions.defaults());

        try (RawClient raw = new RawClient(server.port())) {
            raw.send(new Frame.Hello(List.of(2), "raw"));
            raw.readUntil(Frame.HelloOk.class);
            raw.send(Frame.Declare.of(1, a));
            raw.readUntil(Frame.DeclareOk.class);
            raw.send(Frame.Declare.of(2, b));
            raw.readUntil(Frame.DeclareOk.class);
            raw.send(new Frame.Subscribe(10, "a", 0, 0, 0));
            raw.readUntil(Frame.SubscribeOk.class);
            raw.send(new Frame.Subscribe(11, "b", 0, 0, 0));
            raw.readUntil(Frame.SubscribeOk.class);

            long[] early = deliver(raw, 10, 2);
            serverClock.advanceTimeBy(Duration.ofSeconds(6));
            long[] late = deliver(raw, 10, 2);
            serverClock.advanceTimeBy(Duration.ofSeconds(5)); // the early two leases ran out, the late two live on

            // every live tag from queue a: one call to the queue
            raw.send(new Frame.Ack(20, new long[] {late[0], early[0], late[0], 999_999L, late[1]}));
            assertThat(raw.readUntil(Frame.SettleResult.class)).isEqualTo(new Frame.SettleResult(20, List.of(
                    LeaseOutcome.OK, LeaseOutcome.STALE, LeaseOutcome.STALE, LeaseOutcome.STALE, LeaseOutcome.OK)));
            assertThat(stats("a").acked()).isEqualTo(2);
            assertThat(stats("a").ready()).isEqualTo(2); // the two whose leases ran out

            // tags of two queues in one frame: settled one by one, with the same answers
            long[] again = deliver(raw, 10, 1);
            long[] fromB = deliver(raw, 11, 1);
            raw.send(new Frame.Ack(21, new long[] {again[0], fromB[0], early[1]}));
            assertThat(raw.readUntil(Frame.SettleResult.class)).isEqualTo(new Frame.SettleResult(21, List.of(
                    LeaseOutcome.OK, LeaseOutcome.OK, LeaseOutcome.STALE)));
        }
        assertThat(stats("a").acked()).isEqualTo(3);
        assertThat(stats("a").size()).isEqualTo(1);
        assertThat(stats("b").acked()).isEqualTo(1);
        assertThat(stats("b").size()).isZero();
    }
}
