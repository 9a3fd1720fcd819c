package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.rill.core.log.LogOptions;
import dev.rill.core.log.LogRecord;
import dev.rill.core.log.SegmentedLog;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A queue name that gets a new queue (after a delete, or in place of a closed queue) while the old one's records
 * are still being logged: after a restart the name holds exactly what the new queue held.
 */
class DurableRecreateTest {

    private static final QueueSpec SPEC = QueueSpec.named("q");

    @TempDir
    Path dir;

    private final AtomicLong clock = new AtomicLong(1_000_000);

    private DurableBroker open() throws Exception {
        return DurableBroker.open(dir, DurabilityOptions.defaults().clock(clock::get));
    }

    private static void sync(DurableBroker b) {
        b.whenDurable(b.lastSeq()).orTimeout(30, TimeUnit.SECONDS).join();
    }

    private static List<String> payloads(MessageQueue<String> q) {
        return q.peek(100).stream().map(Message::payload).toList();
    }

    /**
     * Broker.delete takes the queue out of the map, then purges and closes it and only then logs the DELETE. A
     * declare of the same name in between logged the new queue's DECLARE and sends before that DELETE (and before
     * the old queue's PURGE): after a restart the new queue's confirmed messages were gone. The old queue's listener
     * holds the delete right after its purge, so the interleaving happens every time.
     */
    @Test
    void aQueueDeclaredWhileTheOldQueueOfItsNameIsBeingDeletedKeepsItsMessagesAfterARestart() throws Exception {
        try (DurableBroker b = open()) {
            MessageQueue<String> old = b.declare(SPEC, Codec.utf8());
            old.send(OutboundMessage.of("old-1"), clock.get());
            old.send(OutboundMessage.of("old-2"), clock.get());
            CountDownLatch purged = new CountDownLatch(1);
            CountDownLatch go = new CountDownLatch(1);
            old.setListener(new QueueListener() {
                @Override
                public boolean wantsEvents() {
                    return true;
                }

                @Override
                public void onEvents(List<QueueEvent> events) {
                    if (events.stream().anyMatch(e -> e.type() == QueueEvent.Type.PURGED)) {
                        purged.countDown();
                        try {
                            go.await(30, TimeUnit.SECONDS);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                }
            });
            CompletableFuture<Boolean> deleting = CompletableFuture.supplyAsync(() -> b.broker().delete("q", clock.get()));
            assertThat(purged.await(30, TimeUnit.SECONDS)).isTrue();
            MessageQueue<String> fresh = b.declare(SPEC, Codec.utf8());
            assertThat(fresh).isNotSameAs(old);
            assertThat(fresh.send(OutboundMessage.of("new-1"), clock.get()).status())
                    .isEqualTo(SendOutcome.Status.ENQUEUED);
            sync(b); // confirmed
            go.countDown();
            assertThat(deleting.get(30, TimeUnit.SECONDS)).isTrue();
            assertThat(payloads(fresh)).containsExactly("new-1");
            sync(b);
        }
        for (int i = 0; i < 2; i++) {
            try (DurableBroker b = open()) {
                assertThat(payloads(b.declare(SPEC, Codec.utf8()))).containsExactly("new-1");
                sync(b);
            }
        }
    }

    /**
     * A closed queue is replaced by the next declare of its name; the new queue started its ids at 1 again, so its
     * records named the old queue's messages: after a restart the old and new messages were mixed, the new ones
     * overwriting the old ones of the same id.
     */
    @Test
    void aClosedQueueReplacedByADeclareComesBackAsTheNewQueue() throws Exception {
        try (DurableBroker b = open()) {
            MessageQueue<String> old = b.declare(SPEC, Codec.utf8());
            old.send(OutboundMessage.of("old-1"), clock.get());
            old.send(OutboundMessage.of("old-2"), clock.get());
            old.close();
            MessageQueue<String> fresh = b.declare(SPEC, Codec.utf8());
            assertThat(fresh).isNotSameAs(old);
            fresh.send(OutboundMessage.of("new-1"), clock.get());
            assertThat(payloads(fresh)).containsExactly("new-1");
            sync(b);
        }
        try (DurableBroker b = open()) {
            assertThat(payloads(b.declare(SPEC, Codec.utf8()))).containsExactly("new-1");
        }
    }

    /** Declares after close() are refused: nothing they would log can become durable. */
    @Test
    void aDeclareAfterCloseIsRefused() throws Exception {
        DurableBroker b = open();
        b.declare(SPEC, Codec.utf8());
        b.close();
        assertThatThrownBy(() -> b.declare(QueueSpec.named("other"), Codec.utf8()))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    /**
     * A dead letter cut by a crash whose source queue was deleted before the crash has nowhere to go and is dropped
     * at the next open; the log went on counting it live in its segment, so that segment, and with oldest-first
     * deletion every later one, was never deleted.
     */
    @Test
    void aDeadLetterDroppedAtOpenDoesNotPinTheLog() throws Exception {
        QueueSpec orders = QueueSpec.named("orders").deadLetterQueue("orders.dlq");
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> { })) {
            log.append(new LogRecord.Declare("orders", SpecFormat.encode(orders), 1));
            log.append(new LogRecord.Send("orders", 1, 5, null, 0, Map.of(), "poison".getBytes(), 0, 0, null, 0));
            log.append(new LogRecord.DeadLetter("orders", 1, 1, "bad", true));
            long last = log.append(new LogRecord.Delete("orders")); // the crash came before the ACCEPT
            log.whenDurable(last).join();
        }
        DurabilityOptions opts = DurabilityOptions.defaults().clock(clock::get).segmentBytes(4096);
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            assertThat(b.recoveredQueues()).doesNotContain("orders");
            MessageQueue<String> churn = b.declare(QueueSpec.named("churn"), Codec.utf8());
            for (int round = 0; round < 20; round++) { // ~20 segments of sent-and-acked traffic
                for (int i = 0; i < 10; i++) {
                    churn.send(OutboundMessage.of("x".repeat(300)), clock.get());
                }
                for (Lease<String> l : churn.receive(10, clock.get())) {
                    churn.ack(l, clock.get());
                }
                sync(b);
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> b.logStats().segments() <= 3);
        }
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            assertThat(b.broker().list()).containsExactly("churn");
        }
    }
    private static final QueueSpec ROUTED = QueueSpec.named("q").deadLetterQueue("q.dlq");

    /** Sends a message, leases it and rejects it into the dead-letter queue; returns its id. */
    private long deadLetter(MessageQueue<String> q, String payload) {
        long id = q.send(OutboundMessage.of(payload), clock.get()).messageId();
        List<Lease<String>> ls = q.receive(1, clock.get());
        assertThat(ls).hasSize(1);
        assertThat(q.reject(ls.get(0).handle(), "bad", clock.get())).isEqualTo(LeaseOutcome.OK);
        return id;
    }

    /**
     * A deleted queue's next id lived only in memory: after a restart a queue declared again under its name started
     * at 1. Its first dead letter then had the origin of a dead letter of the old queue still in the dead-letter
     * queue; the log tracked one message per origin, lost the old one, never relocated it, and kept its segment and,
     * oldest first, every segment after it: disk use grew with traffic. Ids now continue across the restart.
     */
    @Test
    void aQueueDeclaredAgainAfterItsDeleteAndARestartContinuesItsIds() throws Exception {
        DurabilityOptions opts = DurabilityOptions.defaults().clock(clock::get).segmentBytes(4096);
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            MessageQueue<String> q = b.declare(ROUTED, Codec.utf8());
            assertThat(deadLetter(q, "old-dead")).isEqualTo(1);
            q.send(OutboundMessage.of("old-2"), clock.get());
            assertThat(b.broker().delete("q", clock.get())).isTrue();
            sync(b);
        }
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            MessageQueue<String> q = b.declare(ROUTED, Codec.utf8());
            assertThat(deadLetter(q, "new-dead")).as("first id after the restart").isEqualTo(3);
            MessageQueue<String> churn = b.declare(QueueSpec.named("churn"), Codec.utf8());
            for (int round = 0; round < 30; round++) { // ~30 segments of sent-and-acked traffic
                for (int i = 0; i < 10; i++) {
                    churn.send(OutboundMessage.of("x".repeat(300)), clock.get());
                }
                for (Lease<String> l : churn.receive(10, clock.get())) {
                    churn.ack(l.handle(), clock.get());
                }
                sync(b);
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> b.logStats().segments() <= SegmentedLogBound.BOUND);
        }
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            b.declare(ROUTED, Codec.utf8());
            List<Message<?>> dead = List.copyOf(b.broker().get("q.dlq").orElseThrow().peek(10));
            assertThat(dead.stream().map(m -> (Object) m.payload())).containsExactly("old-dead", "new-dead");
            assertThat(dead.stream().map(m -> m.headers().get(Message.HEADER_ORIGINAL_ID)))
                    .containsExactly("1", "3");
        }
    }

    /** The same within one run, for a queue recovered from the log and deleted before it was declared again. */
    @Test
    void aRecoveredQueueDeletedBeforeItsDeclareLeavesItsIdsBehind() throws Exception {
        try (DurableBroker b = open()) {
            MessageQueue<String> q = b.declare(ROUTED, Codec.utf8());
            deadLetter(q, "old-dead");
            q.send(OutboundMessage.of("old-2"), clock.get());
            sync(b);
        }
        try (DurableBroker b = open()) {
            assertThat(b.recoveredQueues()).contains("q");
            assertThat(b.broker().delete("q", clock.get())).isTrue();
            MessageQueue<String> q = b.declare(ROUTED, Codec.utf8());
            assertThat(q.send(OutboundMessage.of("new"), clock.get()).messageId()).isEqualTo(3);
            sync(b);
        }
        try (DurableBroker b = open()) {
            MessageQueue<String> q = b.declare(ROUTED, Codec.utf8());
            assertThat(payloads(q)).containsExactly("new");
            assertThat(q.send(OutboundMessage.of("next"), clock.get()).messageId()).isEqualTo(4);
        }
    }

    private static final class SegmentedLogBound {
        static final int BOUND = 12;
    }
}
