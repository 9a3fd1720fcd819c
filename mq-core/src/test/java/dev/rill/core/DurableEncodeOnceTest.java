package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A durable queue encodes each payload once per send call, on the sender's thread before the queue's lock: a payload
 * its codec cannot encode is refused up front (nothing stored, nothing logged), so a core user waiting on
 * {@code whenDurable(lastSeq())} is never told a message is durable that a restart would lose; and the log's writer
 * thread runs no codec for sends.
 */
class DurableEncodeOnceTest {

    @TempDir
    Path dir;

    private final AtomicLong clock = new AtomicLong(1_000_000);

    private DurableBroker open() throws IOException {
        return DurableBroker.open(dir, DurabilityOptions.defaults().clock(clock::get));
    }

    private static void sync(DurableBroker b) {
        b.whenDurable(b.lastSeq()).orTimeout(30, TimeUnit.SECONDS).join();
    }

    private static List<String> payloads(List<Message<String>> ms) {
        return ms.stream().map(Message::payload).collect(Collectors.toList());
    }

    /** Encodes any text but text starting with "bad", as a user's codec that cannot encode some values would. */
    private static final Codec<String> PICKY = new Codec<>() {
        @Override
        public byte[] encode(String payload) {
            if (payload.startsWith("bad-null")) {
                return null;
            }
            if (payload.startsWith("bad")) {
                throw new IllegalStateException("cannot encode " + payload);
            }
            return payload.getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public String decode(byte[] bytes) {
            return new String(bytes, StandardCharsets.UTF_8);
        }
    };

    /** UTF-8, counting its encode calls and remembering the threads they ran on. */
    private static final class CountingCodec implements Codec<String> {
        final AtomicInteger encodes = new AtomicInteger();
        final Set<String> threads = ConcurrentHashMap.newKeySet();

        @Override
        public byte[] encode(String payload) {
            encodes.incrementAndGet();
            threads.add(Thread.currentThread().getName());
            return payload.getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public String decode(byte[] bytes) {
            return new String(bytes, StandardCharsets.UTF_8);
        }
    }

    @Test
    void coreSendsRefuseAnUnencodablePayloadUpFrontAndTheRestSurviveARestartExactly() throws IOException {
        long now = clock.get();
        List<Message<String>> before;
        try (DurableBroker b = open()) {
            MessageQueue<String> q = b.declare(QueueSpec.named("p"), PICKY);
            assertThat(q.send(OutboundMessage.of("ok-1"), now).status()).isEqualTo(SendOutcome.Status.ENQUEUED);
            long seq = b.lastSeq();

            assertThatThrownBy(() -> q.send(OutboundMessage.of("bad-1"), now))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("queue 'p'").hasMessageContaining("cannot encode bad-1")
                    .hasMessageContaining("not stored");
            assertThatThrownBy(() -> q.send(OutboundMessage.of("bad-null"), now))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("as null");
            assertThatThrownBy(() -> q.sendAll(List.of(OutboundMessage.of("ok-x"), OutboundMessage.of("bad-2"),
                    OutboundMessage.of("ok-y")), now))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cannot encode bad-2");
            assertThatThrownBy(() -> q.offerAll(List.of(OutboundMessage.of("ok-z"), OutboundMessage.of("bad-3")),
                    now))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cannot encode bad-3");
            assertThat(b.lastSeq()).as("nothing logged for the refused sends").isEqualTo(seq);
            assertThat(q.size()).as("nothing stored for the refused sends, none of a refused batch").isEqualTo(1);

            // the others of every shape are stored, logged and confirmed
            assertThat(q.sendAll(List.of(OutboundMessage.of("ok-2"), OutboundMessage.of("ok-3").key("k").priority(2)
                    .header("h", "v")), now)).extracting(SendOutcome::status)
                    .containsExactly(SendOutcome.Status.ENQUEUED, SendOutcome.Status.ENQUEUED);
            assertThat(q.offerAll(List.of(OutboundMessage.of("ok-4").dedupId("d-4")), now)).isEqualTo(1);
            assertThat(q.send(OutboundMessage.of("ok-5").ttl(Duration.ofHours(1)), now).status())
                    .isEqualTo(SendOutcome.Status.ENQUEUED);
            // what the old hole confirmed: a refused payload followed by another thread's (here: the next) record
            assertThatThrownBy(() -> q.send(OutboundMessage.of("bad-4"), now))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThat(q.send(OutboundMessage.of("ok-6"), now).status()).isEqualTo(SendOutcome.Status.ENQUEUED);
            b.whenDurable(b.lastSeq()).orTimeout(30, TimeUnit.SECONDS).join(); // completes normally
            before = q.peek(100);
            assertThat(payloads(before)).containsExactly("ok-3", "ok-1", "ok-2", "ok-4", "ok-5", "ok-6");
        }
        clock.addAndGet(1000);
        try (DurableBroker b = open()) {
            MessageQueue<String> q = b.declare(QueueSpec.named("p"), PICKY);
            List<Message<String>> after = q.peek(100);
            assertThat(payloads(after)).as("what was confirmed is all there is, before and after")
                    .containsExactlyElementsOf(payloads(before));
            for (int i = 0; i < before.size(); i++) {
                Message<String> m = before.get(i);
                Message<String> r = after.get(i);
                assertThat(r.id()).isEqualTo(m.id());
                assertThat(r.key()).isEqualTo(m.key());
                assertThat(r.priority()).isEqualTo(m.priority());
                assertThat(r.headers()).isEqualTo(m.headers());
                assertThat(r.timestamp()).isEqualTo(m.timestamp());
            }
            // the dedup id of ok-4 is still in its window after the restart
            assertThat(q.send(OutboundMessage.of("ok-4").dedupId("d-4"), clock.get()).status())
                    .isEqualTo(SendOutcome.Status.DUPLICATE);
        }
    }

    @Test
    void manyCoreSendersWaitingOnLastSeqAreNeverConfirmedForALostMessage() throws Exception {
        int threads = 4;
        int perThread = 500;
        ConcurrentLinkedQueue<String> confirmed = new ConcurrentLinkedQueue<>();
        AtomicInteger refused = new AtomicInteger();
        AtomicInteger failures = new AtomicInteger();
        try (DurableBroker b = open()) {
            MessageQueue<String> q = b.declare(QueueSpec.named("p").unbounded(), PICKY);
            CountDownLatch start = new CountDownLatch(1);
            CountDownLatch done = new CountDownLatch(threads * perThread);
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                Thread th = new Thread(() -> {
                    try {
                        start.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                    for (int i = 0; i < perThread; i++) {
                        String p = (i % 3 == 0 ? "bad-" : "ok-") + id + "-" + i;
                        try {
                            if (i % 5 == 0) {
                                q.sendAll(List.of(OutboundMessage.of(p)), clock.get());
                            } else {
                                q.send(OutboundMessage.of(p), clock.get());
                            }
                        } catch (IllegalArgumentException e) {
                            refused.incrementAndGet();
                            done.countDown();
                            continue;
                        }
                        b.whenDurable(b.lastSeq()).whenComplete((v, e) -> {
                            if (e == null) {
                                confirmed.add(p);
                            } else {
                                failures.incrementAndGet();
                            }
                            done.countDown();
                        });
                    }
                });
                th.start();
                ts.add(th);
            }
            start.countDown();
            assertThat(done.await(60, TimeUnit.SECONDS)).isTrue();
            for (Thread th : ts) {
                th.join();
            }
            assertThat(failures.get()).isZero();
            assertThat(confirmed).noneMatch(p -> p.startsWith("bad"));
            assertThat(refused.get()).isEqualTo(threads * ((perThread + 2) / 3));
            assertThat(q.size()).isEqualTo(confirmed.size());
        }
        try (DurableBroker b = open()) {
            MessageQueue<String> q = b.declare(QueueSpec.named("p").unbounded(), PICKY);
            assertThat(payloads(q.peek(threads * perThread))).containsExactlyInAnyOrderElementsOf(confirmed);
        }
    }

    @Test
    void eachPayloadIsEncodedOncePerSendOnTheSendersThreadAndNeverOnTheLogsThreads() throws Exception {
        CountingCodec codec = new CountingCodec();
        QueueSpec spec = QueueSpec.named("c").unbounded().maxDeliveries(1).deadLetterQueue("c.dlq");
        int threads = 3;
        int perThread = 200;
        Set<String> senders = ConcurrentHashMap.newKeySet();
        int expected;
        try (DurableBroker b = open()) {
            MessageQueue<String> q = b.declare(spec, codec);
            long now = clock.get();
            q.send(OutboundMessage.of("one"), now);
            q.send(OutboundMessage.of("delayed").delay(Duration.ofMinutes(5)), now);
            q.sendAll(List.of(OutboundMessage.of("a"), OutboundMessage.of("b"), OutboundMessage.of("c")), now);
            q.offerAll(List.of(OutboundMessage.of("d"), OutboundMessage.of("e")), now);
            senders.add(Thread.currentThread().getName());
            assertThat(codec.encodes.get()).isEqualTo(7);

            CountDownLatch start = new CountDownLatch(1);
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                Thread th = new Thread(() -> {
                    try {
                        start.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                    for (int i = 0; i < perThread; i += 2) {
                        q.send(OutboundMessage.of(id + ":" + i), clock.get());
                        q.sendAll(List.of(OutboundMessage.of(id + ":" + (i + 1))), clock.get());
                    }
                }, "sender-" + t);
                senders.add(th.getName());
                th.start();
                ts.add(th);
            }
            start.countDown();
            for (Thread th : ts) {
                th.join();
            }
            expected = 7 + threads * perThread;
            assertThat(codec.encodes.get()).as("one encode per payload per send call").isEqualTo(expected);

            // moves that reuse the stored bytes encode nothing: a dead letter, and a restart's recovery below
            Lease<String> l = q.receive(1, now).get(0);
            q.reject(l, "to the dlq", now);
            assertThat(b.broker().get("c.dlq").orElseThrow().size()).isEqualTo(1);
            sync(b);
            assertThat(codec.encodes.get()).isEqualTo(expected);
            assertThat(codec.threads).as("encoded on the senders' threads only, never on the log's")
                    .isSubsetOf(senders).noneMatch(n -> n.startsWith("rill-log"));
        }
        try (DurableBroker b = open()) {
            MessageQueue<String> q = b.declare(spec, codec);
            assertThat(q.size()).isEqualTo(expected - 1);
            assertThat(b.broker().get("c.dlq").orElseThrow().size()).isEqualTo(1);
            assertThat(codec.encodes.get()).as("recovery decodes, it does not encode").isEqualTo(expected);
        }
    }

    @Test
    void aSendRefusedAsFullEncodesNothingAndOneThatFindsRoomUnderTheLockEncodesOnce() throws IOException {
        // a producer waiting for room tries again on every writable edge: each refusal must not cost an encode
        CountingCodec codec = new CountingCodec();
        long now = clock.get();
        try (DurableBroker b = open()) {
            MessageQueue<String> q = b.declare(QueueSpec.named("full").capacity(2), codec);
            q.send(OutboundMessage.of("a").ttl(Duration.ofSeconds(1)), now);
            q.send(OutboundMessage.of("b"), now);
            assertThat(codec.encodes.get()).isEqualTo(2);
            for (int i = 0; i < 5; i++) {
                assertThat(q.send(OutboundMessage.of("refused"), now).status()).isEqualTo(SendOutcome.Status.FULL);
            }
            assertThat(codec.encodes.get()).as("refused as full: nothing encoded").isEqualTo(2);
            // looks full (two stored), but "a" expires under the lock at this time: the send encodes then, once
            assertThat(q.send(OutboundMessage.of("c"), now + 2000).status()).isEqualTo(SendOutcome.Status.ENQUEUED);
            assertThat(codec.encodes.get()).isEqualTo(3);
            assertThat(payloads(q.peek(10))).containsExactly("b", "c");
            sync(b);
        }
        try (DurableBroker b = open()) {
            assertThat(payloads(b.declare(QueueSpec.named("full").capacity(2), codec).peek(10)))
                    .containsExactly("b", "c");
        }
    }

    @Test
    void redriveIntoAQueueWhoseCodecRefusesTheMessageLeavesItInTheDeadLetterQueue() throws IOException {
        long now = clock.get();
        try (DurableBroker b = open()) {
            MessageQueue<String> src = b.declare(QueueSpec.named("src").maxDeliveries(1).deadLetterQueue("src.dlq"),
                    Codec.utf8());
            MessageQueue<String> picky = b.declare(QueueSpec.named("picky"), PICKY);
            src.send(OutboundMessage.of("bad-redrive"), now);
            src.reject(src.receive(1, now).get(0), "poison", now);
            MessageQueue<String> dlq = b.broker().<String>get("src.dlq").orElseThrow();
            assertThat(dlq.size()).isEqualTo(1);
            assertThatThrownBy(() -> b.broker().redrive("src.dlq", "picky", 10, now))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cannot encode bad-redrive");
            assertThat(picky.size()).isZero();
            assertThat(payloads(dlq.peek(10))).as("released, ready again in the dead-letter queue")
                    .containsExactly("bad-redrive");
            assertThat(dlq.receive(1, now)).extracting(Lease::payload).containsExactly("bad-redrive");
            sync(b);
        }
    }

    @Test
    void aQueueDeclaredWithoutACodecRefusesSendsInsteadOfLosingThem() throws IOException {
        try (DurableBroker b = open()) {
            MessageQueue<String> q = b.broker().declare(QueueSpec.named("raw"));
            assertThatThrownBy(() -> q.send(OutboundMessage.of("x"), clock.get()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("has no codec");
            assertThat(q.size()).isZero();
        }
    }
}
