package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Queues recovered from the log: admin calls before they are declared again, declaring them again, eager restore. */
class RecoveredQueuesTest {

    @TempDir
    Path dir;

    private final AtomicLong clock = new AtomicLong(5_000_000);

    private static final QueueSpec DLQ = QueueSpec.named("orders.dlq").visibilityTimeout(Duration.ofSeconds(5));
    private static final QueueSpec ORDERS = QueueSpec.named("orders").maxDeliveries(3).deadLetterQueue("orders.dlq");

    private DurableBroker open() throws IOException {
        return DurableBroker.open(dir, DurabilityOptions.defaults().clock(clock::get));
    }

    private static void sync(DurableBroker b) {
        b.whenDurable(b.lastSeq()).orTimeout(30, TimeUnit.SECONDS).join();
    }

    /** orders: m1 ready, m2 nacked for a minute, m3 rejected into orders.dlq (declared with its own spec). */
    private void fill() throws IOException {
        long now = clock.get();
        try (DurableBroker b = open()) {
            b.declare(DLQ, Codec.utf8());
            MessageQueue<String> q = b.declare(ORDERS, Codec.utf8());
            for (String p : List.of("m1", "m2", "m3")) {
                q.send(OutboundMessage.of(p), now);
            }
            List<Lease<String>> ls = q.receive(3, now);
            q.release(ls.get(0).handle(), now);
            q.nack(ls.get(1), Duration.ofMinutes(1), now);
            q.reject(ls.get(2), "bad", now);
            sync(b);
        }
    }

    private static QueueStats stats(DurableBroker b, String name) {
        return b.broker().stats().stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void queuesNotDeclaredAgainYetAreListedCountedPurgedAndDeletedThroughTheBroker() throws IOException {
        fill();
        try (DurableBroker b = open()) {
            Broker broker = b.broker();
            assertThat(broker.get("orders")).isEmpty();
            assertThat(broker.list()).containsExactly("orders", "orders.dlq");
            assertThat(broker.exists("orders")).isTrue();
            assertThat(broker.exists("nope")).isFalse();
            QueueStats orders = stats(b, "orders");
            assertThat(orders.ready()).isEqualTo(1);
            assertThat(orders.delayed()).isEqualTo(1);
            assertThat(orders.inFlight()).isZero();
            assertThat(orders.bytes()).isEqualTo(4); // "m1" and "m2" as UTF-8
            assertThat(orders.capacity()).isEqualTo(ORDERS.capacity());
            assertThat(stats(b, "orders.dlq").ready()).isEqualTo(1);

            assertThatThrownBy(() -> broker.redrive("orders.dlq", 10, clock.get()))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("queue 'orders.dlq' was recovered from the log but not declared again yet");
            assertThat(broker.purge("orders.dlq", clock.get())).isEqualTo(1);
            assertThat(stats(b, "orders.dlq").size()).isZero();
            assertThat(broker.delete("orders", clock.get())).isTrue();
            assertThat(broker.list()).containsExactly("orders.dlq");
            assertThat(broker.delete("orders", clock.get())).isFalse();
            sync(b);
        }
        try (DurableBroker b = open()) { // the purge and the delete were logged
            assertThat(b.broker().list()).containsExactly("orders.dlq");
            assertThat(stats(b, "orders.dlq").size()).isZero();
            assertThat(b.declare(ORDERS, Codec.utf8()).stats().size()).isZero();
        }
    }

    @Test
    void aRecoveredQueueDeclaredAgainIsFullyUsableAndKeepsWorkingAcrossFurtherRestarts() throws IOException {
        fill();
        try (DurableBroker b = open()) {
            MessageQueue<String> q = b.declare(ORDERS, Codec.utf8());
            assertThat(b.declare(ORDERS, Codec.utf8())).isSameAs(q); // declaring again is idempotent
            // its dead-letter queue came back with it (source codec, its own recorded spec)
            assertThat(b.recoveredQueues()).isEmpty();
            assertThat(b.broker().get("orders.dlq").orElseThrow().spec()).isEqualTo(DLQ);
            long now = clock.get();
            assertThat(q.send(OutboundMessage.of("m4"), now).status()).isEqualTo(SendOutcome.Status.ENQUEUED);
            List<Lease<String>> ls = q.receive(10, now);
            assertThat(ls).extracting(Lease::payload).containsExactly("m1", "m4");
            assertThat(ls.get(0).message().id()).isLessThan(ls.get(1).message().id());
            assertThat(q.ack(ls.get(0), now)).isEqualTo(LeaseOutcome.OK);
            // a rejected message reaches the recovered dead-letter queue, which then is live with its codec
            assertThat(q.reject(ls.get(1), "no", now)).isEqualTo(LeaseOutcome.OK);
            MessageQueue<String> dlq = b.broker().<String>get("orders.dlq").orElseThrow();
            assertThat(dlq.peek(10)).extracting(Message::payload).containsExactly("m3", "m4");
            sync(b);
        }
        clock.addAndGet(Duration.ofMinutes(2).toMillis()); // m2's retry delay is over
        try (DurableBroker b = open()) {
            MessageQueue<String> q = b.declare(ORDERS, Codec.utf8());
            assertThat(q.peek(10)).extracting(Message::payload).containsExactly("m2");
            MessageQueue<String> dlq = b.declare(DLQ, Codec.utf8());
            assertThat(dlq.peek(10)).extracting(Message::payload).containsExactly("m3", "m4");
        }
    }

    @Test
    void declareRecoveredWithBringsEveryQueueBackAtOpenWithItsRecordedSpec() throws IOException {
        fill();
        DurabilityOptions eager = DurabilityOptions.defaults().clock(clock::get).declareRecoveredWith(Codec.utf8());
        assertThat(DurabilityOptions.defaults().declareRecoveredWith()).isEmpty();
        assertThat(eager.declareRecoveredWith()).isPresent();
        try (DurableBroker b = DurableBroker.open(dir, eager)) {
            assertThat(b.recoveredQueues()).isEmpty();
            MessageQueue<String> q = b.broker().<String>get("orders").orElseThrow();
            MessageQueue<String> dlq = b.broker().<String>get("orders.dlq").orElseThrow();
            assertThat(q.spec()).isEqualTo(ORDERS);
            assertThat(dlq.spec()).isEqualTo(DLQ); // its own recorded spec, not the implicit default
            assertThat(q.peek(10)).extracting(Message::payload).containsExactly("m1");
            assertThat(q.stats().delayed()).isEqualTo(1);
            assertThat(dlq.peek(10)).extracting(Message::payload).containsExactly("m3");
            assertThat(b.declare(ORDERS, Codec.utf8())).isSameAs(q);
            assertThatThrownBy(() -> b.declare(QueueSpec.named("orders"), Codec.utf8()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("different spec");
        }
    }
}
