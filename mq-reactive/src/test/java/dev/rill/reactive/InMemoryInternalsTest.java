package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.test.scheduler.VirtualTimeScheduler;

/** In-memory specifics the contract cannot see: waiter bookkeeping and the one timer per queue. */
class InMemoryInternalsTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private final VirtualTimeScheduler vts = VirtualTimeScheduler.create();
    private final ReactiveBroker broker = Rill.inMemory(vts);

    @AfterEach
    void close() {
        broker.close().block(TIMEOUT);
        vts.dispose();
    }

    private InMemoryQueue<String> queue(QueueSpec spec) {
        return (InMemoryQueue<String>) broker.queue(spec, Codec.utf8()).block(TIMEOUT);
    }

    @Test
    void cancellingAWaitingSendRemovesItsWaiter() {
        InMemoryQueue<String> q = queue(QueueSpec.named("w").capacity(1));
        q.send(OutboundMessage.of("a")).block(TIMEOUT);
        Disposable waiting = q.send(OutboundMessage.of("b")).subscribe();
        assertThat(q.writers).hasSize(1);
        waiting.dispose();
        assertThat(q.writers).isEmpty();
    }

    @Test
    void cancellingAnIdleReceiveRemovesItsWaiter() {
        InMemoryQueue<String> q = queue(QueueSpec.named("r"));
        Disposable d = q.receive().subscribe();
        assertThat(q.readers).hasSize(1);
        d.dispose();
        assertThat(q.readers).isEmpty();
    }

    @Test
    void aWaitingSendIsWokenByTheWritableEdgeAndUnregisters() {
        InMemoryQueue<String> q = queue(QueueSpec.named("edge").capacity(1));
        q.send(OutboundMessage.of("a")).block(TIMEOUT);
        SendResult<String>[] result = new SendResult[1];
        q.send(OutboundMessage.of("b")).subscribe(r -> result[0] = r);
        assertThat(result[0]).isNull();
        q.receiveOne(Duration.ZERO).flatMap(Delivery::ack).block(TIMEOUT);
        assertThat(result[0]).isNotNull();
        assertThat(q.writers).isEmpty();
    }

    @Test
    void oneTimerAtTheQueuesNextDeadline() {
        InMemoryQueue<String> q = queue(QueueSpec.named("t").visibilityTimeout(Duration.ofSeconds(30)));
        assertThat(q.timer.scheduledAt()).isEqualTo(Long.MAX_VALUE); // nothing pending, nothing scheduled
        q.send(OutboundMessage.of("a")).block(TIMEOUT);
        assertThat(q.timer.scheduledAt()).isEqualTo(Long.MAX_VALUE);
        q.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(q.timer.scheduledAt()).isEqualTo(30_000);
        q.send(OutboundMessage.of("b").delay(Duration.ofSeconds(5))).block(TIMEOUT);
        assertThat(q.timer.scheduledAt()).isEqualTo(5_000);
        vts.advanceTimeBy(Duration.ofSeconds(5));
        assertThat(q.timer.scheduledAt()).isEqualTo(30_000);
        assertThat(q.core.nextDeadline()).isEqualTo(30_000);
        vts.advanceTimeBy(Duration.ofSeconds(25));
        assertThat(q.timer.scheduledAt()).isEqualTo(Long.MAX_VALUE);
        assertThat(vts.now(TimeUnit.MILLISECONDS)).isEqualTo(30_000);
    }
}
