package dev.rill.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.QueueStats;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.Rill;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class GracefulDrainExampleTest {

    private final ReactiveBroker broker = Rill.inMemory();

    @AfterEach
    void close() {
        broker.close().block(Duration.ofSeconds(5));
    }

    @Test
    void drainLetsRunningHandlersFinishOrGivesTheirMessagesBackAndLosesNothing() {
        GracefulDrainExample.Summary s = GracefulDrainExample.run(broker, 40, 8,
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));

        // phase 1: every handler that started finished and was acked; none was cut short
        GracefulDrainExample.Phase p1 = s.finishing();
        assertThat(p1.handlersStarted()).isGreaterThanOrEqualTo(8).isLessThan(40);
        assertThat(p1.handlersCompleted()).isEqualTo(p1.handlersStarted());
        assertThat(p1.handlersCancelled()).isZero();
        assertThat(p1.after().acked()).isEqualTo(p1.handlersCompleted());
        assertThat(p1.after().inFlight()).isZero();
        assertThat(p1.after().nacked()).isZero();
        assertNothingLost(p1.before(), 40);
        assertNothingLost(p1.after(), 40);

        // phase 2: handlers outlast the grace; each is cancelled and its message is ready again at once
        GracefulDrainExample.Phase p2 = s.cutShort();
        assertThat(p2.handlersStarted()).isGreaterThanOrEqualTo(8);
        assertThat(p2.handlersCompleted()).isZero();
        assertThat(p2.handlersCancelled()).isEqualTo(p2.handlersStarted());
        assertThat(p2.drainTook()).isGreaterThanOrEqualTo(Duration.ofMillis(100));
        assertThat(p2.after().acked()).isEqualTo(p1.after().acked());
        assertThat(p2.after().nacked()).isEqualTo(p2.handlersCancelled());
        assertThat(p2.after().inFlight()).isZero();
        assertThat(p2.after().ready()).isEqualTo(40 - p2.after().acked());
        assertNothingLost(p2.before(), 40);
        assertNothingLost(p2.after(), 40);
    }

    private static void assertNothingLost(QueueStats stats, int sent) {
        assertThat(stats.sent()).isEqualTo(sent);
        assertThat(stats.acked() + stats.size()).isEqualTo(sent);
    }
}
