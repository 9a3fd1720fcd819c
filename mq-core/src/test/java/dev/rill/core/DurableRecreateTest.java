package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.rill.core.internal.RetiredIds;
import dev.rill.core.log.LogOptions;
import dev.rill.core.log.LogRecord;
import dev.rill.core.log.SegmentedLog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
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

    private static List<Path> segmentFiles(Path d) throws java.io.IOException {
        try (java.util.stream.Stream<Path> files = Files.list(d)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".log")).sorted().toList();
        }
    }

    /** Sends and acks {@code rounds} x 10 messages of about 300 bytes on {@code churn}, syncing after each round. */
    private void churn(DurableBroker b, MessageQueue<String> churn, int rounds) {
        for (int round = 0; round < rounds; round++) {
            for (int i = 0; i < 10; i++) {
                churn.send(OutboundMessage.of("x".repeat(300)), clock.get());
            }
            for (Lease<String> l : churn.receive(10, clock.get())) {
                churn.ack(l.handle(), clock.get());
            }
            sync(b);
        }
    }

    /**
     * Recovery kept a deleted queue's next id only while the log held its DELETE. Once compaction had dropped the
     * segment holding it, a queue declared again under the name after a restart started at 1: its first dead letter's
     * {@code x-rill-original-id} repeated the one of a dead letter of the old queue still in the dead-letter queue.
     * Every segment now starts with the next ids of the deleted names, so the DELETE's segment can go.
     */
    @Test
    void idsContinueAfterARestartOnceCompactionDroppedTheSegmentHoldingTheDelete() throws Exception {
        DurabilityOptions opts = DurabilityOptions.defaults().clock(clock::get).segmentBytes(4096);
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            MessageQueue<String> q = b.declare(ROUTED, Codec.utf8());
            MessageQueue<String> churn = b.declare(QueueSpec.named("churn"), Codec.utf8());
            assertThat(deadLetter(q, "old-dead")).isEqualTo(1);
            q.send(OutboundMessage.of("old-2"), clock.get());
            q.send(OutboundMessage.of("old-3"), clock.get());
            assertThat(b.broker().delete("q", clock.get())).isTrue();
            sync(b);
            List<Path> files = segmentFiles(dir);
            Path holdingTheDelete = files.get(files.size() - 1);
            churn(b, churn, 30); // ~30 segments: the old dead letter is relocated, the old segments go
            await().atMost(Duration.ofSeconds(30)).until(() -> !segmentFiles(dir).contains(
                    holdingTheDelete));
        }
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            MessageQueue<String> q = b.declare(ROUTED, Codec.utf8());
            assertThat(deadLetter(q, "new-dead")).as("first id after the restart").isEqualTo(4);
            List<Message<?>> dead = List.copyOf(b.broker().get("q.dlq").orElseThrow().peek(10));
            assertThat(dead.stream().map(m -> (Object) m.payload())).containsExactly("old-dead", "new-dead");
            assertThat(dead.stream().map(m -> m.headers().get(Message.HEADER_ORIGINAL_ID))).containsExactly("1", "4");
        }
    }

    /**
     * The next ids of deleted names are kept per name for the {@value RetiredIds#MAX_NAMES} deleted last; an older
     * one goes into a floor that a queue of a name with nothing else to go by starts from. Ids stay monotonic per name
     * across restarts, and what every segment starts with stays bounded however many names come and go.
     */
    @Test
    void manyDeletedNamesStayBoundedAndIdsStayMonotonicPerName() throws Exception {
        DurabilityOptions opts = DurabilityOptions.defaults().clock(clock::get).segmentBytes(64 * 1024);
        int names = RetiredIds.MAX_NAMES + 100;
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            MessageQueue<String> first = b.declare(QueueSpec.named("t-0"), Codec.utf8());
            for (int i = 0; i < 7; i++) {
                first.send(OutboundMessage.of("m"), clock.get()); // ids 1..7: next 8, the highest of all
            }
            assertThat(b.broker().delete("t-0", clock.get())).isTrue();
            for (int n = 1; n < names; n++) {
                MessageQueue<String> t = b.declare(QueueSpec.named("t-" + n), Codec.utf8());
                t.send(OutboundMessage.of("m"), clock.get()); // id 1: next 2
                assertThat(b.broker().delete("t-" + n, clock.get())).isTrue();
            }
            sync(b);
            // within the run: t-0 was let go (the oldest of more than MAX_NAMES): a fresh name starts at the floor
            // (so did the names declared after t-0 was let go)
            assertThat(b.declare(QueueSpec.named("fresh-1"), Codec.utf8()).send(OutboundMessage.of("m"), clock.get())
                    .messageId()).isEqualTo(8);
            assertThat(b.broker().delete("fresh-1", clock.get())).isTrue();
            sync(b);
        }
        List<LogRecord> newestStart = new ArrayList<>();
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            sync(b);
            // the segment this open started holds the retired names: at most MAX_NAMES of them (t-0 .. t-100 went
            // into the floor), and the floor
            // one listing: with two, compaction could drop an older segment in between, and the index then named it
            List<Path> files = segmentFiles(dir);
            Path newest = files.get(files.size() - 1);
            Path copy = Files.createDirectories(dir.resolve("newest-only"));
            Files.copy(newest, copy.resolve(newest.getFileName()));
            try (SegmentedLog log = SegmentedLog.open(copy, LogOptions.defaults(), newestStart::add)) {
                assertThat(log.recovery().records()).isEqualTo(newestStart.size());
            }
            assertThat(b.declare(QueueSpec.named("t-0"), Codec.utf8()).send(OutboundMessage.of("m"), clock.get())
                    .messageId()).as("t-0, let go into the floor").isEqualTo(8);
            assertThat(b.declare(QueueSpec.named("fresh-2"), Codec.utf8()).send(OutboundMessage.of("m"), clock.get())
                    .messageId()).as("a fresh name").isEqualTo(8);
            assertThat(b.declare(QueueSpec.named("t-200"), Codec.utf8()).send(OutboundMessage.of("m"),
                    clock.get()).messageId()).as("a name kept one by one").isEqualTo(2);
            assertThat(b.declare(QueueSpec.named("t-" + (names - 1)), Codec.utf8()).send(OutboundMessage.of("m"),
                    clock.get()).messageId()).as("kept too, declared when the floor was 8").isEqualTo(9);
            assertThat(b.declare(QueueSpec.named("fresh-1"), Codec.utf8()).send(OutboundMessage.of("m"),
                    clock.get()).messageId()).as("deleted last, after its id 8").isEqualTo(9);
        }
        long deletes = newestStart.stream().filter(r -> r instanceof LogRecord.Delete).count();
        assertThat(deletes).isEqualTo(RetiredIds.MAX_NAMES + 1); // the names kept, and the floor
        assertThat(newestStart).contains(new LogRecord.Declare(RetiredIds.FLOOR_NAME, new byte[0], 8));
    }

    private static final class SegmentedLogBound {
        static final int BOUND = 12;
    }
}
