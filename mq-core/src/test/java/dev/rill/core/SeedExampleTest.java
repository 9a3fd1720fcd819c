package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The seed: send "Hello, World!", receive it, delete (ack) it, receive again: nothing. */
class SeedExampleTest {

    @Test
    void sendReceiveDeleteReceiveNothing() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("hello"));
        long now = 0;

        SendOutcome sent = q.send(OutboundMessage.of("Hello, World!"), now);
        assertThat(sent.status()).isEqualTo(SendOutcome.Status.ENQUEUED);

        List<Lease<String>> got = q.receive(1, now);
        assertThat(got).singleElement().satisfies(l -> {
            assertThat(l.payload()).isEqualTo("Hello, World!");
            assertThat(l.message().id()).isEqualTo(sent.messageId());
            assertThat(l.deliveryCount()).isEqualTo(1);
        });

        assertThat(q.ack(got.get(0).handle(), now)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.receive(1, now)).isEmpty();
        // and it stays gone after the visibility timeout
        assertThat(q.receive(1, now + 60_000)).isEmpty();
        assertThat(q.stats().size()).isZero();
    }

    @Test
    void unackedMessageComesBackAfterVisibilityTimeout() {
        MessageQueue<String> q = MessageQueue.create(QueueSpec.named("hello"));
        q.send(OutboundMessage.of("Hello, World!"), 0);
        Lease<String> first = q.receive(1, 0).get(0);
        assertThat(q.receive(1, 29_999)).isEmpty();
        Lease<String> second = q.receive(1, 30_000).get(0);
        assertThat(second.deliveryCount()).isEqualTo(2);
        assertThat(q.ack(first.handle(), 30_000)).isEqualTo(LeaseOutcome.STALE);
        assertThat(q.ack(second.handle(), 30_000)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.ack(second.handle(), 30_000)).isEqualTo(LeaseOutcome.STALE);
    }
}
