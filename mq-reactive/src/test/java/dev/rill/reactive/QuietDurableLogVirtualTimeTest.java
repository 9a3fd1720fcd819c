package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.log.FsyncPolicy;
import dev.rill.core.log.RecoveryListener;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Flux;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * A durable broker on a {@link VirtualTimeScheduler} runs its log on that scheduler's clock, the idle writer's
 * wake-up included: once every message is acked, the dedup windows of their sends are all that keeps the old
 * segments, and the quiet log drops them when virtual time passes the windows' end, with no append and no real
 * waiting. The writer used to park for the virtual time left (ten minutes here) in real time: advancing virtual time
 * did not wake it, and the segments stayed for ten real minutes (or until the next append).
 */
class QuietDurableLogVirtualTimeTest {

    private static final Duration T = Duration.ofSeconds(30);
    private static final Duration WINDOW = Duration.ofMinutes(10);
    private static final int MESSAGES = 40;

    @TempDir
    Path dir;

    private static List<Path> segments(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.filter(p -> p.getFileName().toString().matches("\\d{20}\\.log")).sorted().toList();
        }
    }

    /** Whether the log's writer thread is parked (nothing to write, no step it may take yet). */
    private boolean writerParked() {
        String name = "rill-log-writer-" + dir.getFileName();
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals(name))
                .anyMatch(t -> t.getState() == Thread.State.WAITING || t.getState() == Thread.State.TIMED_WAITING);
    }

    @Test
    void aQuietLogDropsItsSegmentsWhenVirtualTimePassesTheDedupWindow() throws Exception {
        VirtualTimeScheduler vts = VirtualTimeScheduler.create();
        ReactiveBroker broker = Rill.embedded(dir, DurabilityOptions.defaults().fsync(FsyncPolicy.never())
                .segmentBytes(4096).recoveryListener(RecoveryListener.none()), vts);
        try {
            ReactiveQueue<String> q = broker.queue(QueueSpec.named("q").dedupWindow(WINDOW), Codec.utf8()).block(T);
            q.sendMany(Flux.range(1, MESSAGES).map(i -> OutboundMessage.of("m" + i + "-" + "x".repeat(300))
                    .dedupId("d" + i))).blockLast(T);
            q.receive(ReceiveOptions.defaults().maxMessages(MESSAGES)).concatMap(Delivery::ack).then().block(T);
            assertThat(q.stats().block(T).ready()).isZero();

            List<Path> written = segments(dir);
            assertThat(written).as("segments written").hasSizeGreaterThanOrEqualTo(4);
            List<Path> old = written.subList(0, written.size() - 1);
            // every message is acked: only the windows keep the closed segments, and the writer waits for their end
            await().atMost(T).until(this::writerParked);
            assertThat(old).as("kept while the windows are open").allMatch(Files::exists);

            vts.advanceTimeBy(WINDOW.plusMinutes(1));
            await().atMost(T).until(() -> old.stream().noneMatch(Files::exists));
            assertThat(segments(dir)).hasSize(1);
        } finally {
            broker.close().block(T);
            vts.dispose();
        }
    }
}
