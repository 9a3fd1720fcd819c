package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.Overflow;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.internal.StoreFirst;
import dev.rill.reactive.internal.Withdrawable;
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

    /**
     * A withdrawal asked for while the send stores its message (on the thread whose ack freed room, held in the
     * durable queue's encoding of the payload, before the lock) is refused, and the stored result still arrives:
     * cancelling the send's Mono there would have dropped the result of a stored message.
     */
    @Test
    void aWithdrawalMeetingTheStoreIsRefusedAndTheResultArrives() throws Exception {
        onHeldQueue((q, codec, w, signals) -> {
            assertThat(codec.whileStoring(q, w::withdraw)).as("withdrawn while storing").isFalse();
            assertThat(signals).singleElement().isInstanceOf(SendResult.class);
            assertThat(q.peek(10).map(Message::payload).collectList().block(TIMEOUT)).containsExactly("b");
        });
    }

    /**
     * A withdrawal asked for while the send waits for room is granted, and the room freed later does not store it
     * (before the send's Mono is even disposed): the next send gets that room.
     */
    @Test
    void aWithdrawnWaitingSendNeverStores() {
        ReactiveBroker broker = Rill.inMemory();
        try {
            ReactiveQueue<String> q = broker.queue(QueueSpec.named("full").capacity(1), Codec.utf8()).block(TIMEOUT);
            Withdrawable w = new Withdrawable();
            List<Object> signals = waitingSend(q, w);
            assertThat(w.withdraw()).as("withdrawn while waiting").isTrue();
            q.receiveOne(Duration.ZERO).flatMap(Delivery::ack).block(TIMEOUT); // room: the send wakes, stores nothing
            assertThat(signals).isEmpty();
            assertThat(q.send(OutboundMessage.of("c"), SendOptions.defaults().overflow(Overflow.FAIL)).block(TIMEOUT))
                    .isNotNull();
            assertThat(q.peek(10).map(Message::payload).collectList().block(TIMEOUT)).containsExactly("c");
        } finally {
            broker.close().block(TIMEOUT);
        }
    }

    /**
     * A withdrawal asked for while the send stores its message, whose store then finds the queue full again (another
     * send took the room), ends the send with WithdrawnException: it neither stores nor goes back to waiting for room
     * while its caller waits for its result.
     */
    @Test
    void aWithdrawalMeetingAStoreThatFindsTheQueueFullEndsTheSend() throws Exception {
        onHeldQueue((q, codec, w, signals) -> {
            boolean withdrawn = codec.whileStoring(q, () -> {
                q.send(OutboundMessage.of("c")).block(TIMEOUT); // takes the room "b" is being encoded for
                return w.withdraw();
            }); // released: "b" reaches the lock and finds the queue full
            assertThat(withdrawn).as("withdrawn while storing").isFalse();
            assertThat(signals).singleElement().isInstanceOf(Withdrawable.WithdrawnException.class);
            q.receiveOne(Duration.ZERO).flatMap(Delivery::ack).block(TIMEOUT); // room again: nobody waits for it
            assertThat(q.stats().block(TIMEOUT).size()).isZero();
        });
    }

    /** A test run on a durable queue whose codec holds the encoding of "b", while "b" waits there for room. */
    @FunctionalInterface
    private interface HeldCase {
        void run(ReactiveQueue<String> q, HeldEncoding codec, Withdrawable w, List<Object> signals) throws Exception;
    }

    /** Runs {@code body} with "b" sent store-first, withdrawable, to a full durable queue ({@link #waitingSend}). */
    private void onHeldQueue(HeldCase body) throws Exception {
        HeldEncoding codec = new HeldEncoding("b");
        ReactiveBroker broker = Rill.embedded(dir);
        try {
            ReactiveQueue<String> q = broker.queue(QueueSpec.named("held").capacity(1), codec).block(TIMEOUT);
            Withdrawable w = new Withdrawable();
            body.run(q, codec, w, waitingSend(q, w));
        } finally {
            broker.close().block(TIMEOUT);
        }
    }

    /**
     * Fills {@code q} (capacity 1) with "a", then sends "b" store-first under WAIT with {@code w}: it waits for room.
     *
     * @return the send's signals as they come: its result, or its error
     */
    private static List<Object> waitingSend(ReactiveQueue<String> q, Withdrawable w) {
        q.send(OutboundMessage.of("a")).block(TIMEOUT);
        List<Object> signals = new CopyOnWriteArrayList<>();
        storeFirst(q).sendStored(OutboundMessage.of("b"), SendOptions.defaults().overflow(Overflow.WAIT), w)
                .subscribe(signals::add, signals::add);
        assertThat(signals).isEmpty();
        return signals;
    }
}
