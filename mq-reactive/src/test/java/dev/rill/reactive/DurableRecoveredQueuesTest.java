package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.test.StepVerifier;
import reactor.test.scheduler.VirtualTimeScheduler;

/** Queues recovered from the log, seen through {@link ReactiveBroker} before and after they are declared again. */
class DurableRecoveredQueuesTest {

    private static final Duration T = Duration.ofSeconds(10);
    private static final QueueSpec JOBS = QueueSpec.named("jobs").maxDeliveries(5).deadLetterQueue("jobs.dlq");

    @TempDir
    Path dir;

    private final VirtualTimeScheduler vts = VirtualTimeScheduler.create();

    @AfterEach
    void dispose() {
        vts.dispose();
    }

    /** jobs: "ready" ready, "later" delayed by a minute. */
    private void fill() {
        ReactiveBroker b = Rill.embedded(dir, DurabilityOptions.defaults(), vts);
        ReactiveQueue<String> q = b.queue(JOBS, Codec.utf8()).block(T);
        q.send(OutboundMessage.of("ready")).block(T);
        q.send(OutboundMessage.of("later").delay(Duration.ofMinutes(1))).block(T);
        b.close().block(T);
    }

    private static QueueStats stats(ReactiveBroker b, String name) {
        return b.stats().block(T).stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void lookupDeclaresARecoveredQueueAgainWithItsRecordedSpec() {
        fill();
        ReactiveBroker b = Rill.embedded(dir, DurabilityOptions.defaults(), vts);
        ReactiveQueue<String> q = b.lookup("jobs", Codec.utf8()).block(T);
        assertThat(q.spec()).isEqualTo(JOBS.validate());
        Delivery<String> d = q.receiveOne(Duration.ZERO).block(T);
        assertThat(d.payload()).isEqualTo("ready");
        d.ack().block(T);
        assertThat(b.lookup("jobs.dlq", Codec.utf8()).block(T).spec().name()).isEqualTo("jobs.dlq");
        StepVerifier.create(b.lookup("nope", Codec.utf8())).expectError(QueueNotFoundException.class).verify(T);
        b.close().block(T);
    }

    @Test
    void listStatsPurgeAndDeleteWorkBeforeTheQueueIsDeclaredAgain() {
        fill();
        ReactiveBroker b = Rill.embedded(dir, DurabilityOptions.defaults(), vts);
        assertThat(b.list().block(T)).containsExactly("jobs", "jobs.dlq");
        assertThat(stats(b, "jobs").ready()).isEqualTo(1);
        assertThat(stats(b, "jobs").delayed()).isEqualTo(1);
        StepVerifier.create(b.redrive("jobs.dlq", 5)).expectErrorSatisfies(e -> assertThat(e)
                .hasMessageContaining("recovered from the log but not declared again yet")).verify(T);
        assertThat(b.purge("jobs").block(T)).isEqualTo(2);
        assertThat(b.delete("jobs.dlq").block(T)).isTrue();
        StepVerifier.create(b.purge("nope")).expectError(QueueNotFoundException.class).verify(T);
        b.close().block(T);

        ReactiveBroker again = Rill.embedded(dir, DurabilityOptions.defaults(), vts);
        assertThat(again.list().block(T)).containsExactly("jobs");
        ReactiveQueue<String> q = again.queue(JOBS, Codec.utf8()).block(T);
        assertThat(q.stats().block(T).size()).isZero();
        again.close().block(T);
    }

    @Test
    void declareRecoveredWithMakesQueuesLiveAtOpenWithTheirTimersRunning() {
        fill();
        ReactiveBroker b = Rill.embedded(dir, DurabilityOptions.defaults().declareRecoveredWith(Codec.utf8()), vts);
        assertThat(stats(b, "jobs").delayed()).isEqualTo(1);
        vts.advanceTimeBy(Duration.ofMinutes(1)); // nobody declared jobs: the timer made at open releases "later"
        assertThat(stats(b, "jobs").ready()).isEqualTo(2);
        ReactiveQueue<String> q = b.queue(JOBS, Codec.utf8()).block(T);
        List<String> got = q.receive().take(2).map(d -> d.payload()).collectList().block(T);
        assertThat(got).containsExactly("ready", "later");
        b.close().block(T);
    }
}
