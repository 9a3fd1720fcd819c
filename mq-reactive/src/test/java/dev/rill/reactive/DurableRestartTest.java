package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Flux;
import reactor.test.scheduler.VirtualTimeScheduler;

/** Restarts of {@link Rill#embedded(Path)} on a real disk with fsync ALWAYS, on virtual time. */
class DurableRestartTest {

    private static final Duration T = Duration.ofSeconds(10);
    private static final QueueSpec JOBS = QueueSpec.named("jobs").maxDeliveries(3).deadLetterQueue("jobs.dlq");

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

    private static ReactiveQueue<String> jobs(ReactiveBroker b) {
        return b.queue(JOBS, Codec.utf8()).block(T);
    }

    private static List<String> peek(ReactiveQueue<String> q) {
        return q.peek(100).map(Message::payload).collectList().block(T);
    }

    @Test
    void sendAckNackWithDelayAndDeadLetterThenRestartGivesExactState() {
        ReactiveBroker b = open(dir);
        ReactiveQueue<String> q = jobs(b);
        q.sendMany(Flux.range(1, 8).map(i -> OutboundMessage.of("j" + i))).blockLast(T);
        List<Delivery<String>> ds = q.receive().take(6).collectList().block(T);
        assertThat(ds).extracting(Delivery::payload).containsExactly("j1", "j2", "j3", "j4", "j5", "j6");
        ds.get(0).ack().block(T);
        ds.get(1).ack().block(T);
        ds.get(2).nack(Duration.ofMinutes(5)).block(T);
        ds.get(3).reject("unparseable").block(T);
        // j5, j6 stay leased: ready again after the restart, delivery count 1
        b.close().block(T);

        vts.advanceTimeBy(Duration.ofMinutes(1)); // the restart happens a minute later
        ReactiveBroker b2 = open(dir);
        ReactiveQueue<String> q2 = jobs(b2);
        QueueStats s = q2.stats().block(T);
        assertThat(s.ready()).isEqualTo(4);
        assertThat(s.delayed()).isEqualTo(1);
        assertThat(peek(q2)).containsExactly("j5", "j6", "j7", "j8");
        ReactiveQueue<String> dlq = b2.queue(QueueSpec.named("jobs.dlq"), Codec.utf8()).block(T);
        assertThat(peek(dlq)).containsExactly("j4");
        List<Delivery<String>> again = q2.receive().take(4).collectList().block(T);
        assertThat(again).extracting(Delivery::deliveryCount).containsExactly(2, 2, 1, 1);
        Flux.fromIterable(again).concatMap(Delivery::ack).blockLast(T);
        // j3 comes back at minute 5 of the first run's clock
        assertThat(q2.receiveOne(Duration.ZERO).block(T)).isNull();
        vts.advanceTimeBy(Duration.ofMinutes(4));
        Delivery<String> j3 = q2.receiveOne(Duration.ZERO).block(T);
        assertThat(j3).isNotNull();
        assertThat(j3.payload()).isEqualTo("j3");
        assertThat(j3.deliveryCount()).isEqualTo(2);
        j3.ack().block(T);
        b2.close().block(T);

        ReactiveBroker b3 = open(dir);
        assertThat(jobs(b3).stats().block(T).size()).isZero();
        b3.close().block(T);
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

    @Test
    void aCompletedSendOrAckIsOnDiskAtOnceUnderAlways() throws IOException {
        Path live = dir.resolve("live");
        ReactiveBroker b = open(live);
        ReactiveQueue<String> q = jobs(b);
        q.send(OutboundMessage.of("a")).block(T);
        q.send(OutboundMessage.of("b")).block(T);
        Path crash1 = snapshot(live, dir.resolve("crash1")); // no close: as if killed right now
        Delivery<String> a = q.receiveOne(Duration.ZERO).block(T);
        a.ack().block(T);
        Path crash2 = snapshot(live, dir.resolve("crash2"));
        b.close().block(T);

        ReactiveBroker r1 = open(crash1);
        assertThat(peek(jobs(r1))).containsExactly("a", "b");
        r1.close().block(T);
        ReactiveBroker r2 = open(crash2);
        assertThat(peek(jobs(r2))).containsExactly("b");
        r2.close().block(T);
    }

    @Test
    void secondBrokerOnTheSameDirectoryIsRefusedClearly() {
        ReactiveBroker b = open(dir);
        assertThatThrownBy(() -> open(dir)).isInstanceOf(UncheckedIOException.class)
                .hasMessageContaining("in use by another broker");
        b.close().block(T);
        open(dir).close().block(T); // free again
    }
}
