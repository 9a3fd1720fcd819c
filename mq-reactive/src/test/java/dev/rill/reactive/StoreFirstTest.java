package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.OutboundMessage;
import dev.rill.core.Overflow;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.internal.StoreFirst;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Flux;

/** {@link StoreFirst}: the transport-side send that completes when stored, with durability awaited per run. */
class StoreFirstTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @SuppressWarnings("unchecked")
    private static StoreFirst<String> storeFirst(ReactiveQueue<String> q) {
        assertThat(q).isInstanceOf(StoreFirst.class);
        return (StoreFirst<String>) q;
    }

    @Test
    void aRunOfStoredSendsIsDurableAfterOneWaitAndSurvivesARestart() {
        ReactiveBroker broker = Rill.embedded(dir);
        List<SendResult<String>> results = new CopyOnWriteArrayList<>();
        try {
            ReactiveQueue<String> q = broker.queue(QueueSpec.named("sf"), Codec.utf8()).block(TIMEOUT);
            StoreFirst<String> sf = storeFirst(q);
            for (int i = 0; i < 500; i++) {
                // each completes on the calling thread once stored: the next is stored right behind it
                sf.sendStored(OutboundMessage.of("m" + i), SendOptions.defaults()).subscribe(results::add);
            }
            assertThat(results).hasSize(500);
            sf.durableSoFar().block(TIMEOUT);
        } finally {
            broker.close().block(TIMEOUT);
        }
        assertThat(results).extracting(SendResult::messageId).isSorted().doesNotHaveDuplicates();
        ReactiveBroker again = Rill.embedded(dir);
        try {
            ReactiveQueue<String> q = again.queue(QueueSpec.named("sf"), Codec.utf8()).block(TIMEOUT);
            List<String> got = q.receive(ReceiveOptions.defaults().maxMessages(500)).map(Delivery::payload)
                    .collectList().block(TIMEOUT);
            List<String> expected = new ArrayList<>();
            for (int i = 0; i < 500; i++) {
                expected.add("m" + i);
            }
            assertThat(got).containsExactlyElementsOf(expected);
        } finally {
            again.close().block(TIMEOUT);
        }
    }

    @Test
    void aStoredSendWaitsForRoomOrFailsLikeSend() {
        ReactiveBroker broker = Rill.inMemory();
        try {
            ReactiveQueue<String> q = broker.queue(QueueSpec.named("full").capacity(1), Codec.utf8()).block(TIMEOUT);
            StoreFirst<String> sf = storeFirst(q);
            assertThat(sf.sendStored(OutboundMessage.of("a"), SendOptions.defaults()).block(TIMEOUT)).isNotNull();
            List<SendResult<String>> waiting = new CopyOnWriteArrayList<>();
            sf.sendStored(OutboundMessage.of("b"), SendOptions.defaults().overflow(Overflow.WAIT))
                    .subscribe(waiting::add);
            assertThat(waiting).isEmpty();
            Flux.from(sf.sendStored(OutboundMessage.of("c"), SendOptions.defaults().overflow(Overflow.FAIL)))
                    .as(reactor.test.StepVerifier::create)
                    .expectError(QueueFullException.class)
                    .verify(TIMEOUT);
            q.receiveOne(Duration.ZERO).flatMap(Delivery::ack).block(TIMEOUT);
            assertThat(waiting).extracting(r -> r.message().payload()).containsExactly("b");
            sf.durableSoFar().block(TIMEOUT); // in memory: at once
        } finally {
            broker.close().block(TIMEOUT);
        }
    }
}
