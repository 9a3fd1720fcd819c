package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Races on a durable broker's confirmation and close paths. Each was first reproduced every time with pauses
 * injected at the racing points (see the commit messages); these tests keep the interleavings covered.
 */
class DurableRacesTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final QueueSpec SPEC = QueueSpec.named("races");

    @TempDir
    Path dir;

    /**
     * A close() subscribed while another close() is under way ends only once the broker is closed: the log synced and
     * the directory released, so it can be opened again at once and holds what was confirmed.
     */
    @Test
    void aSecondCloseEndsOnlyOnceTheFirstHasClosedTheLog() throws Exception {
        Path data = dir.resolve("twice");
        ReactiveBroker broker = Rill.embedded(data);
        ReactiveQueue<String> q = broker.queue(SPEC, Codec.utf8()).block(TIMEOUT);
        q.send(OutboundMessage.of("confirmed")).block(TIMEOUT);

        CompletableFuture<Void> first = broker.close().toFuture();
        // the first close is under way once declarations are refused
        await().atMost(TIMEOUT).until(() -> broker.queue(SPEC, Codec.utf8())
                .map(v -> false)
                .onErrorResume(QueueClosedException.class, e -> reactor.core.publisher.Mono.just(true))
                .block(TIMEOUT));
        broker.close().block(TIMEOUT);

        ReactiveBroker again = Rill.embedded(data); // fails while the first close still holds the directory
        try {
            ReactiveQueue<String> r = again.queue(SPEC, Codec.utf8()).block(TIMEOUT);
            assertThat(r.stats().block(TIMEOUT).ready()).isEqualTo(1);
        } finally {
            again.close().block(TIMEOUT);
        }
        first.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    }
}
