package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Flux;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * Under fsync ALWAYS, nack (with and without delay), reject and extend complete only once their records are durable:
 * a copy of the data directory taken right after the Mono completed (what a crash at that moment leaves) already
 * holds them.
 */
class DurableSettlementTest {

    private static final Duration T = Duration.ofSeconds(10);
    private static final QueueSpec JOBS = QueueSpec.named("jobs").maxDeliveries(5).deadLetterQueue("jobs.dlq");

    @TempDir
    Path dir;

    private final VirtualTimeScheduler vts = VirtualTimeScheduler.create();

    @AfterEach
    void dispose() {
        vts.dispose();
    }

    private ReactiveBroker open(Path d) {
        return Rill.embedded(d, DurabilityOptions.defaults(), vts);
    }

    /** A copy of the directory taken while the broker runs is what a crash at that moment would leave. */
    private static Path snapshot(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> s = Files.list(from)) {
            for (Path p : s.toList()) {
                if (p.getFileName().toString().endsWith(".log")) {
                    Files.copy(p, to.resolve(p.getFileName()));
                }
            }
        }
        return to;
    }

    /** What a broker opened on {@code d} holds: jobs' stats, jobs' ready payloads, the dead letters. */
    private record State(QueueStats jobs, List<Message<String>> ready, List<Message<String>> dead) {
    }

    private State recover(Path d) {
        ReactiveBroker b = open(d);
        try {
            ReactiveQueue<String> q = b.queue(JOBS, Codec.utf8()).block(T);
            ReactiveQueue<String> dlq = b.queue(QueueSpec.named("jobs.dlq"), Codec.utf8()).block(T);
            return new State(q.stats().block(T), q.peek(100).collectList().block(T),
                    dlq.peek(100).collectList().block(T));
        } finally {
            b.close().block(T);
        }
    }

    private static List<String> payloads(List<Message<String>> ms) {
        return ms.stream().map(Message::payload).toList();
    }

    @RepeatedTest(3)
    void nackRejectAndExtendAreOnDiskWhenTheirMonoCompletes() throws IOException {
        Path live = dir.resolve("live");
        ReactiveBroker b = open(live);
        ReactiveQueue<String> q = b.queue(JOBS, Codec.utf8()).block(T);
        q.sendMany(Flux.just("a", "b", "c", "d").map(OutboundMessage::of)).blockLast(T);
        List<Delivery<String>> ds = q.receive().take(4).collectList().block(T);
        assertThat(ds).extracting(Delivery::payload).containsExactly("a", "b", "c", "d");

        ds.get(0).nack(Duration.ofMinutes(5)).block(T);
        State afterNack = recover(snapshot(live, dir.resolve("crash-nack")));
        ds.get(1).reject("unparseable").block(T);
        State afterReject = recover(snapshot(live, dir.resolve("crash-reject")));
        ds.get(2).nack().block(T);
        State afterPlainNack = recover(snapshot(live, dir.resolve("crash-plain-nack")));
        ds.get(3).extend(Duration.ofMinutes(1)).block(T);
        State afterExtend = recover(snapshot(live, dir.resolve("crash-extend")));
        b.close().block(T);

        // a: back in five minutes (delayed), with its delivery counted; b, c, d: leases are not recovered, ready
        assertThat(afterNack.jobs().delayed()).isEqualTo(1);
        assertThat(payloads(afterNack.ready())).containsExactly("b", "c", "d");
        assertThat(afterNack.dead()).isEmpty();

        // b: in the dead-letter queue with its reason, no longer in jobs
        assertThat(afterReject.jobs().delayed()).isEqualTo(1);
        assertThat(payloads(afterReject.ready())).containsExactly("c", "d");
        assertThat(payloads(afterReject.dead())).containsExactly("b");
        assertThat(afterReject.dead().get(0).headers()).containsEntry(Message.HEADER_DEAD_LETTER_REASON, "unparseable")
                .containsEntry(Message.HEADER_SOURCE_QUEUE, "jobs").containsEntry(Message.HEADER_DELIVERY_COUNT, "1");

        assertThat(payloads(afterPlainNack.ready())).containsExactly("c", "d");
        assertThat(payloads(afterExtend.ready())).containsExactly("c", "d");
        assertThat(afterExtend.jobs().delayed()).isEqualTo(1);
        assertThat(payloads(afterExtend.dead())).containsExactly("b");
    }

    @RepeatedTest(3)
    void aNackedMessageComesBackAfterItsDelayWithItsDeliveryCountAfterACrash() throws IOException {
        Path live = dir.resolve("live");
        ReactiveBroker b = open(live);
        ReactiveQueue<String> q = b.queue(JOBS, Codec.utf8()).block(T);
        q.send(OutboundMessage.of("retry-me")).block(T);
        Delivery<String> d = q.receiveOne(Duration.ZERO).block(T);
        d.nack(Duration.ofSeconds(30)).block(T);
        Path crash = snapshot(live, dir.resolve("crash"));
        b.close().block(T);

        ReactiveBroker r = open(crash);
        ReactiveQueue<String> q2 = r.queue(JOBS, Codec.utf8()).block(T);
        assertThat(q2.receiveOne(Duration.ZERO).block(T)).as("still in its retry delay").isNull();
        vts.advanceTimeBy(Duration.ofSeconds(30));
        Delivery<String> again = q2.receiveOne(Duration.ZERO).block(T);
        assertThat(again).isNotNull();
        assertThat(again.payload()).isEqualTo("retry-me");
        assertThat(again.deliveryCount()).isEqualTo(2);
        again.ack().block(T);
        r.close().block(T);
    }
}
