package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueEvent;
import dev.rill.core.QueueSpec;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/**
 * Races between a caller's thread and another thread in the in-JVM layer: a cancel, a timeout or a broker close
 * landing while a send registers as a writer, a lease is emitted, an events stream or a queue view is being set
 * up. Each was reproduced every time by pausing the two racing points (LockSupport.parkNanos) in the production
 * code; without the pauses these tests run the same interleavings when they happen to occur.
 */
class ReactiveRacesTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final int ROUNDS = 20;

    private final ExecutorService other = Executors.newSingleThreadExecutor();

    @AfterEach
    void stop() {
        other.shutdownNow();
    }

    private static InMemoryQueue<String> queue(ReactiveBroker broker, QueueSpec spec) {
        return (InMemoryQueue<String>) broker.queue(spec, Codec.utf8()).block(TIMEOUT);
    }

    @Test
    void aSendCancelledWhileItRegistersAsAWriterLeavesNoWaiterBehind() throws InterruptedException {
        ReactiveBroker broker = Rill.inMemory();
        try {
            InMemoryQueue<String> q = queue(broker, QueueSpec.named("full").capacity(1));
            q.send(OutboundMessage.of("a")).block(TIMEOUT);
            for (int i = 0; i < ROUNDS; i++) {
                CountDownLatch cancelled = new CountDownLatch(1);
                // the send runs (and finds the queue full) on this thread; the cancel comes from another one
                q.send(OutboundMessage.of("b" + i))
                        .doOnSubscribe(s -> other.execute(() -> {
                            s.cancel();
                            cancelled.countDown();
                        }))
                        .subscribe();
                assertThat(cancelled.await(5, TimeUnit.SECONDS)).isTrue();
                assertThat(q.writers.size()).as("round %d: writers left after the cancel", i).isZero();
            }
            assertThat(q.core.stats().ready()).isEqualTo(1);
        } finally {
            broker.close().block(TIMEOUT);
        }
    }

    @Test
    void aReceiveOneThatTimesOutWhileALeaseIsEmittedDoesNotHoldTheMessage() {
        ReactiveBroker broker = Rill.inMemory();
        try {
            InMemoryQueue<String> q = queue(broker, QueueSpec.named("look"));
            for (int i = 0; i < 5; i++) {
                q.send(OutboundMessage.of("m" + i)).block(TIMEOUT);
                Delivery<String> first = q.receiveOne(Duration.ofMillis(20)).block(TIMEOUT);
                // either the receive got it, or the message went back to the queue at once (not after 30 s)
                Delivery<String> d = first != null ? first : q.receiveOne(Duration.ZERO).block(TIMEOUT);
                assertThat(d).as("round %d: the message is neither received nor receivable", i).isNotNull();
                assertThat(d.payload()).isEqualTo("m" + i);
                d.ack().block(TIMEOUT);
            }
            assertThat(q.core.stats().inFlight()).isZero();
        } finally {
            broker.close().block(TIMEOUT);
        }
    }

    @Test
    void eventsSubscribedWhileTheBrokerClosesComplete() {
        for (int i = 0; i < 5; i++) {
            ReactiveBroker broker = Rill.inMemory();
            ReactiveQueue<String> q = queue(broker, QueueSpec.named("ev"));
            Flux<QueueEvent> events = q.events()
                    .doOnSubscribe(s -> other.execute(() -> broker.close().subscribe()));
            StepVerifier.create(events).expectComplete().verify(Duration.ofSeconds(1));
        }
    }

    @Test
    void aQueueDeclaredWhileTheBrokerClosesIsClosedToo() throws InterruptedException {
        for (int i = 0; i < 5; i++) {
            ReactiveBroker broker = Rill.inMemory();
            CountDownLatch closed = new CountDownLatch(1);
            Mono<ReactiveQueue<String>> declare = broker.queue(QueueSpec.named("late"), Codec.utf8())
                    .doOnSubscribe(s -> other.execute(() -> broker.close().subscribe(null, null, closed::countDown)));
            ReactiveQueue<String> q;
            try {
                q = declare.block(TIMEOUT);
            } catch (QueueClosedException e) {
                continue; // the broker was closed first: fine
            }
            assertThat(closed.await(5, TimeUnit.SECONDS)).isTrue();
            // a queue handed out by a broker that closed meanwhile must be closed: its streams end, nothing hangs
            StepVerifier.create(q.receive()).expectError(QueueClosedException.class).verify(Duration.ofSeconds(1));
            StepVerifier.create(q.send(OutboundMessage.of("x"))).expectError(QueueClosedException.class)
                    .verify(Duration.ofSeconds(1));
        }
    }
}
