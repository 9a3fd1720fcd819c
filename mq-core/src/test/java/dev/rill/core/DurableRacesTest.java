package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Races on the durable broker's close path. Each was first reproduced every time with pauses injected at the racing
 * points (see the commit messages); these tests keep the interleavings covered.
 */
class DurableRacesTest {

    private static final QueueSpec SPEC = QueueSpec.named("races");

    @TempDir
    Path dir;

    private final AtomicLong clock = new AtomicLong(1_000_000);

    private DurableBroker open() throws Exception {
        return DurableBroker.open(dir, DurabilityOptions.defaults().clock(clock::get));
    }

    /**
     * A close() called while another thread's close() runs returns only once the log is closed: synced, and the
     * directory released, so it opens again at once with what was sent.
     */
    @Test
    void aSecondCloseReturnsOnlyOnceTheLogIsClosed() throws Exception {
        DurableBroker b = open();
        MessageQueue<String> q = b.declare(SPEC, Codec.utf8());
        assertThat(q.send(OutboundMessage.of("sent"), clock.get()).status()).isEqualTo(SendOutcome.Status.ENQUEUED);

        CompletableFuture<Void> first = CompletableFuture.runAsync(() -> {
            try {
                b.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        // the first close is under way once its queues refuse sends
        await().atMost(Duration.ofSeconds(10)).until(() ->
                q.send(OutboundMessage.of("late"), clock.get()).status() == SendOutcome.Status.CLOSED);
        b.close();

        try (DurableBroker again = open()) { // fails while the first close still holds the directory
            MessageQueue<String> r = again.declare(SPEC, Codec.utf8());
            assertThat(r.stats().ready()).isEqualTo(1);
        }
        first.get(10, TimeUnit.SECONDS);
    }
}
