package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.rill.core.log.FsyncPolicy;
import dev.rill.core.log.LogRecord;
import dev.rill.core.log.LogOptions;
import dev.rill.core.log.SegmentedLog;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DurableBrokerTest {

    @TempDir
    Path dir;

    private final AtomicLong clock = new AtomicLong(1_000_000);

    private static final QueueSpec ORDERS = QueueSpec.named("orders").maxDeliveries(2).deadLetterQueue("orders.dlq")
            .visibilityTimeout(Duration.ofSeconds(30));

    private static final QueueSpec LONG_LIVED = QueueSpec.named("orders").maxDeliveries(5)
            .visibilityTimeout(Duration.ofHours(1)).deadLetterQueue("orders.dlq");

    private DurableBroker open() throws IOException {
        return DurableBroker.open(dir, DurabilityOptions.defaults().clock(clock::get));
    }

    private static void sync(DurableBroker b) {
        b.whenDurable(b.lastSeq()).orTimeout(30, TimeUnit.SECONDS).join();
    }

    private List<Path> segmentFiles() throws IOException {
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".log")).toList();
        }
    }

    private static List<String> payloads(List<Message<String>> ms) {
        return ms.stream().map(Message::payload).collect(Collectors.toList());
    }

    @Test
    void restartRebuildsExactStateAfterAcksNacksWithDelayAndDeadLetters() throws IOException {
        long now = clock.get();
        try (DurableBroker b = open()) {
            MessageQueue<String> q = b.declare(ORDERS, Codec.utf8());
            for (int i = 1; i <= 6; i++) {
                assertThat(q.send(OutboundMessage.of("m" + i), now).status()).isEqualTo(SendOutcome.Status.ENQUEUED);
            }
            q.send(OutboundMessage.of("delayed").delay(Duration.ofSeconds(60)), now);
            q.send(OutboundMessage.of("dedup").dedupId("d-1"), now);
            q.send(OutboundMessage.of("keyed").key("k").priority(3).header("h", "v"), now);
            // keyed (priority 3) first, then m1..m4
            List<Lease<String>> ls = q.receive(5, now);
            assertThat(ls).extracting(Lease::payload).containsExactly("keyed", "m1", "m2", "m3", "m4");
            assertThat(q.ack(ls.get(1), now)).isEqualTo(LeaseOutcome.OK); // m1 acked
            assertThat(q.ack(ls.get(2), now)).isEqualTo(LeaseOutcome.OK); // m2 acked
            assertThat(q.nack(ls.get(3), Duration.ofSeconds(20), now)).isEqualTo(LeaseOutcome.OK); // m3 back at +20s
            assertThat(q.reject(ls.get(4), "bad m4", now)).isEqualTo(LeaseOutcome.OK); // m4 -> dlq
            // "keyed" stays leased (un-acked): ready again after restart with delivery count 1
            // m5 reaches maxDeliveries: two deliveries, two nacks -> dead letter
            Lease<String> m5 = q.receive(1, now).get(0);
            assertThat(m5.payload()).isEqualTo("m5");
            q.nack(m5, Duration.ZERO, now);
            Lease<String> m5again = q.receive(1, now).get(0);
            assertThat(m5again.payload()).isEqualTo("m5");
            q.nack(m5again, Duration.ZERO, now);
            sync(b);
        }
        clock.addAndGet(1000); // restart 1 s later: m3 (back at +20 s) and "delayed" (+60 s) still wait
        try (DurableBroker b = open()) {
            assertThat(b.recovery().tornTail()).isEmpty();
            assertThat(b.recoveredQueues()).contains("orders", "orders.dlq");
            MessageQueue<String> q = b.declare(ORDERS, Codec.utf8());
            MessageQueue<String> dlq = b.broker().<String>get("orders.dlq").orElseThrow();
            long t = clock.get();
            QueueStats s = q.stats();
            assertThat(s.ready()).isEqualTo(3); // keyed, m6, dedup
            assertThat(s.delayed()).isEqualTo(2); // m3, delayed
            assertThat(s.inFlight()).isZero();
            assertThat(payloads(q.peek(10))).containsExactly("keyed", "m6", "dedup");
            assertThat(q.peek(10).get(0).headers()).containsEntry("h", "v");
            assertThat(q.peek(10).get(0).key()).isEqualTo("k");
            // dedup window still open: the same dedup id is a duplicate of the recovered message
            SendOutcome dup = q.send(OutboundMessage.of("again").dedupId("d-1"), t);
            assertThat(dup.status()).isEqualTo(SendOutcome.Status.DUPLICATE);
            // new ids continue after the recovered ones
            SendOutcome fresh = q.send(OutboundMessage.of("fresh"), t);
            assertThat(fresh.messageId()).isGreaterThan(9);
            // delivery counts kept: "keyed" was delivered once
            List<Lease<String>> ls = q.receive(1, t);
            assertThat(ls.get(0).payload()).isEqualTo("keyed");
            assertThat(ls.get(0).deliveryCount()).isEqualTo(2);
            // DLQ: m4 (rejected) and m5 (max deliveries) with their headers, in order
            List<Message<String>> dead = dlq.peek(10);
            assertThat(payloads(dead)).containsExactly("m4", "m5");
            assertThat(dead.get(0).headers()).containsEntry(Message.HEADER_DEAD_LETTER_REASON, "bad m4")
                    .containsEntry(Message.HEADER_SOURCE_QUEUE, "orders");
            assertThat(dead.get(1).headers()).containsEntry(Message.HEADER_DELIVERY_COUNT, "2");
            // delays survive: m3 ready at +20 s of the first run, "delayed" at +60 s
            long firstNow = t - 1000;
            List<Lease<String>> early = q.receive(10, firstNow + 19_999);
            assertThat(early).extracting(Lease::payload).containsExactly("m6", "dedup", "fresh");
            assertThat(q.ackAll(List.copyOf(early), firstNow + 19_999)).containsOnly(LeaseOutcome.OK);
            assertThat(q.receive(10, firstNow + 20_000).stream().map(Lease::payload)).containsExactly("m3");
            assertThat(q.receive(10, firstNow + 60_000).stream().map(Lease::payload)).containsExactly("delayed");
            sync(b);
        }
    }

    @Test
    void unackedLeasesAreReadyAgainAfterRestartAndAckedOnesNeverComeBack() throws IOException {
        long now = clock.get();
        try (DurableBroker b = open()) {
            MessageQueue<String> q = b.declare(QueueSpec.named("q"), Codec.utf8());
            for (int i = 0; i < 100; i++) {
                q.send(OutboundMessage.of("m" + i), now);
            }
            List<Lease<String>> ls = q.receive(100, now);
            for (int i = 0; i < 100; i += 2) {
                q.ack(ls.get(i), now);
            }
            sync(b);
        }
        try (DurableBroker b = open()) {
            MessageQueue<String> q = b.declare(QueueSpec.named("q"), Codec.utf8());
            List<Lease<String>> ls = q.receive(1000, clock.get());
            assertThat(ls).extracting(Lease::payload)
                    .containsExactlyElementsOf(java.util.stream.IntStream.range(0, 100).filter(i -> i % 2 == 1)
                            .mapToObj(i -> "m" + i).toList());
            assertThat(ls).allSatisfy(l -> assertThat(l.deliveryCount()).isEqualTo(2));
        }
    }

    @Test
    void purgeDeleteAndTtlDropSurviveRestartsAndStateSurvivesSeveralRestarts() throws IOException {
        long now = clock.get();
        try (DurableBroker b = open()) {
            MessageQueue<String> a = b.declare(QueueSpec.named("a"), Codec.utf8());
            MessageQueue<String> p = b.declare(QueueSpec.named("p"), Codec.utf8());
            MessageQueue<String> d = b.declare(QueueSpec.named("d"), Codec.utf8());
            a.send(OutboundMessage.of("short").ttl(Duration.ofSeconds(1)), now);
            a.send(OutboundMessage.of("long"), now);
            p.send(OutboundMessage.of("x"), now);
            d.send(OutboundMessage.of("y"), now);
            p.purge(now);
            b.broker().delete("d", now);
            a.advance(now + 1000); // "short" expires and is dropped
            sync(b);
        }
        for (int round = 0; round < 3; round++) { // restarts with nothing new: every open starts a segment
            try (DurableBroker b = open()) {
                assertThat(b.recoveredQueues()).containsExactlyInAnyOrder("a", "p");
                MessageQueue<String> a = b.declare(QueueSpec.named("a"), Codec.utf8());
                assertThat(payloads(a.peek(10))).containsExactly("long");
                assertThat(b.declare(QueueSpec.named("p"), Codec.utf8()).size()).isZero();
                sync(b);
            }
        }
    }

    @Test
    void compactionKeepsEverythingLiveAcrossRestarts() throws IOException {
        long now = clock.get();
        DurabilityOptions opts = DurabilityOptions.defaults().clock(clock::get).segmentBytes(4096)
                .fsync(FsyncPolicy.never());
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            MessageQueue<String> q = b.declare(QueueSpec.named("q"), Codec.utf8());
            for (int round = 0; round < 20; round++) {
                for (int i = 0; i < 20; i++) {
                    q.send(OutboundMessage.of(round + "-" + i + "-" + "x".repeat(100)), now);
                }
                List<Lease<String>> ls = q.receive(20, now);
                for (int i = 0; i < ls.size(); i++) {
                    if (!(round == 7 && i == 3)) { // one message stays un-acked
                        q.ack(ls.get(i), now);
                    }
                }
            }
            sync(b);
            await().atMost(Duration.ofSeconds(30)).until(() -> b.logStats().segmentsDeleted() > 0);
        }
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            MessageQueue<String> q = b.declare(QueueSpec.named("q"), Codec.utf8());
            assertThat(payloads(q.peek(10))).containsExactly("7-3-" + "x".repeat(100));
        }
    }

    @Test
    void longLivedMessagesAreRelocatedSoTheyDoNotPinTheLog() throws IOException {
        long now = clock.get();
        DurabilityOptions opts = DurabilityOptions.defaults().clock(clock::get).segmentBytes(4096);
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            MessageQueue<String> q = b.declare(LONG_LIVED, Codec.utf8());
            q.send(OutboundMessage.of("redelivered").key("k").priority(2).header("h", "v"), now);
            q.send(OutboundMessage.of("nacked-for-later"), now);
            q.send(OutboundMessage.of("poison"), now);
            q.send(OutboundMessage.of("delayed").delay(Duration.ofHours(1)), now);
            List<Lease<String>> ls = q.receive(3, now);
            assertThat(ls).extracting(Lease::payload).containsExactly("redelivered", "nacked-for-later", "poison");
            q.nack(ls.get(0), Duration.ZERO, now); // delivery count 1, ready again
            q.nack(ls.get(1), Duration.ofMinutes(10), now); // delivery count 1, ready at now + 10 min
            q.reject(ls.get(2), "bad poison", now); // to orders.dlq: its payload stays in the SEND of "orders"
            List<Path> original = segmentFiles(); // the segment that holds the four SENDs
            assertThat(original).hasSize(1);
            // traffic on another queue fills and empties many segments around the four long-lived messages
            MessageQueue<String> churn = b.declare(QueueSpec.named("churn"), Codec.utf8());
            for (int round = 0; round < 60; round++) {
                for (int i = 0; i < 10; i++) {
                    churn.send(OutboundMessage.of(round + "-" + i + "-" + "x".repeat(200)), now);
                }
                for (Lease<String> l : churn.receive(10, now)) {
                    churn.ack(l, now);
                }
                sync(b);
            }
            // ~55 segments were written; relocation keeps only the last few. A half-live oldest segment is relocated
            // once 8 segments are behind it (SegmentedLog.RELOCATE_BEHIND), so under this traffic the log cycles
            // between 2 and 9 segments and a quiet one keeps at most 8. Where in the cycle the traffic stops shifts
            // with where the copies land between batches; it waited for 6 here, and with 61 or 62 rounds instead of
            // 60 the log stays at 7 or 8 for good
            await().atMost(Duration.ofSeconds(30)).until(() -> b.logStats().segments() <= 8
                    && original.stream().noneMatch(Files::exists));
            assertThat(b.logStats().messagesRelocated()).isGreaterThanOrEqualTo(4);
            assertThat(b.logStats().segmentsDeleted()).isGreaterThan(40);
        }
        clock.addAndGet(1000);
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            long t = clock.get();
            MessageQueue<String> q = b.declare(LONG_LIVED, Codec.utf8());
            MessageQueue<String> dlq = b.broker().<String>get("orders.dlq").orElseThrow();
            assertThat(b.recoveredQueues()).contains("churn");
            assertThat(b.declare(QueueSpec.named("churn"), Codec.utf8()).size()).isZero();
            QueueStats st = q.stats();
            assertThat(st.ready()).isEqualTo(1); // "redelivered"
            assertThat(st.delayed()).isEqualTo(2); // "nacked-for-later" (+10 min) and "delayed" (+1 h)
            List<Message<String>> poison = dlq.peek(10);
            assertThat(payloads(poison)).containsExactly("poison");
            assertThat(poison.get(0).headers())
                    .containsEntry(Message.HEADER_DEAD_LETTER_REASON, "bad poison")
                    .containsEntry(Message.HEADER_SOURCE_QUEUE, "orders")
                    .containsEntry(Message.HEADER_DELIVERY_COUNT, "1");
            Lease<String> again = q.receive(1, t).get(0);
            assertThat(again.payload()).isEqualTo("redelivered");
            assertThat(again.deliveryCount()).isEqualTo(2); // its first delivery survived the relocations
            assertThat(again.message().key()).isEqualTo("k");
            assertThat(again.message().priority()).isEqualTo(2);
            assertThat(again.message().headers()).containsEntry("h", "v");
            List<Lease<String>> later = q.receive(5, t + Duration.ofMinutes(10).toMillis());
            assertThat(later).extracting(Lease::payload).containsExactly("nacked-for-later");
            assertThat(later.get(0).deliveryCount()).isEqualTo(2);
            sync(b);
        }
        clock.addAndGet(Duration.ofMinutes(11).toMillis());
        try (DurableBroker b = DurableBroker.open(dir, opts)) { // deliveries logged on top of the copies count too
            MessageQueue<String> q = b.declare(LONG_LIVED, Codec.utf8());
            List<Lease<String>> ls = q.receive(5, clock.get());
            assertThat(ls).extracting(Lease::payload).containsExactly("redelivered", "nacked-for-later");
            assertThat(ls).extracting(Lease::deliveryCount).containsExactly(3, 3);
            assertThat(payloads(b.broker().<String>get("orders.dlq").orElseThrow().peek(10)))
                    .containsExactly("poison");
        }
    }

    @Test
    void aCrashBetweenRelocatingAndDeletingReplaysTheCopyOverTheOriginal() throws IOException {
        // what a crash after the copies were fsynced but before the old segment was deleted leaves behind: the
        // original SEND, later records about it, and the copy (SEND + its state) at the end of the log
        byte[] spec = SpecFormat.encode(ORDERS);
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> { })) {
            log.append(new LogRecord.Declare("orders", spec, 1));
            log.append(new LogRecord.Send("orders", 1, 5, "k", 1, Map.of("h", "v"), "old".getBytes(), 0, 0, null, 0));
            log.append(new LogRecord.Send("orders", 2, 6, null, 0, Map.of(), "next".getBytes(), 0, 0, null, 0));
            log.append(new LogRecord.Delivered("orders", 1, 1));
            log.append(new LogRecord.Nack("orders", 1, 0));
            log.append(new LogRecord.Send("orders", 1, 5, "k", 1, Map.of("h", "v"), "old".getBytes(), 0, 0, null, 0));
            long last = log.append(new LogRecord.Delivered("orders", 1, 1));
            log.whenDurable(last).join();
        }
        try (DurableBroker b = open()) {
            MessageQueue<String> q = b.declare(ORDERS, Codec.utf8());
            assertThat(q.size()).isEqualTo(2);
            List<Lease<String>> ls = q.receive(5, clock.get());
            assertThat(ls).extracting(Lease::payload).containsExactly("old", "next"); // id order kept
            assertThat(ls.get(0).deliveryCount()).isEqualTo(2);
            assertThat(ls.get(1).deliveryCount()).isEqualTo(1);
        }
    }

    @Test
    void deadLetterCutByACrashBeforeItReachedTheDeadLetterQueueIsDeliveredThere() throws IOException {
        byte[] spec = SpecFormat.encode(ORDERS);
        try (SegmentedLog log = SegmentedLog.open(dir, LogOptions.defaults(), r -> { })) {
            log.append(new LogRecord.Declare("orders", spec, 1));
            log.append(new LogRecord.Send("orders", 1, 5, null, 0, Map.of(), "poison".getBytes(), 0, 0, null, 0));
            log.append(new LogRecord.Delivered("orders", 1, 1));
            long last = log.append(new LogRecord.DeadLetter("orders", 1, 1, "bad", true));
            log.whenDurable(last).join(); // the crash came before the ACCEPT in orders.dlq
        }
        for (int i = 0; i < 2; i++) { // the completed move is logged: the second restart sees it once
            try (DurableBroker b = open()) {
                b.declare(ORDERS, Codec.utf8());
                MessageQueue<String> dlq = b.broker().<String>get("orders.dlq").orElseThrow();
                assertThat(payloads(dlq.peek(10))).containsExactly("poison");
                assertThat(dlq.peek(1).get(0).headers()).containsEntry(Message.HEADER_DEAD_LETTER_REASON, "bad")
                        .containsEntry(Message.HEADER_ORIGINAL_ID, "1");
                assertThat(b.broker().get("orders").orElseThrow().size()).isZero();
                sync(b);
            }
        }
    }

    @Test
    void secondBrokerOnTheSameDirectoryFailsClearly() throws IOException {
        try (DurableBroker b = open()) {
            assertThatThrownBy(this::open).isInstanceOf(IOException.class).hasMessageContaining("in use");
        }
    }

    @Test
    void aDirectoryThatCannotBeWrittenIsRefusedAtStartNamingIt() throws IOException {
        Path readOnly = Files.createDirectories(dir.resolve("read-only"));
        Files.setPosixFilePermissions(readOnly, PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            Path target = readOnly;
            if (Files.isWritable(readOnly)) {
                // root ignores permission bits: use a directory the kernel itself keeps read-only
                target = Path.of("/sys/kernel");
            }
            assumeTrue(Files.isDirectory(target), "no read-only directory available on this machine");
            Path ro = target;
            assertThatThrownBy(() -> DurableBroker.open(ro, DurabilityOptions.defaults()))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining(ro.toString());
            assertThatThrownBy(() -> DurableBroker.open(ro.resolve("data"), DurabilityOptions.defaults()))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("cannot create log directory " + ro.resolve("data"));
            assertThat(ro.resolve("LOCK")).doesNotExist();
        } finally {
            Files.setPosixFilePermissions(readOnly, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    @Test
    void queueWithRecoveredMessagesNeedsItsCodec() throws IOException {
        try (DurableBroker b = open()) {
            b.declare(QueueSpec.named("q"), Codec.utf8()).send(OutboundMessage.of("x"), clock.get());
            sync(b);
        }
        try (DurableBroker b = open()) {
            assertThatThrownBy(() -> b.broker().declare(QueueSpec.named("q")))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("declare(spec, codec)");
            assertThat(b.declare(QueueSpec.named("q"), Codec.utf8()).size()).isEqualTo(1);
        }
    }
}
