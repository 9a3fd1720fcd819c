package dev.rill.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.Rill;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The example at a smaller size (5,000 messages into a queue of 200): the same bounds must hold. */
class BackpressureExampleTest {

    private final ReactiveBroker broker = Rill.inMemory();

    @AfterEach
    void close() {
        broker.close().block(Duration.ofSeconds(5));
    }

    @Test
    void everyMessageArrivesWhileQueueDepthInFlightAndOutstandingStayBounded() {
        BackpressureExample.Config config = new BackpressureExample.Config(5_000, 200, 16, Duration.ofMillis(1), 64);
        BackpressureExample.Summary s = BackpressureExample.run(broker, config,
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));

        assertThat(s.sent()).isEqualTo(5_000);
        assertThat(s.consumed()).isEqualTo(5_000);
        assertThat(s.finalStats().acked()).isEqualTo(5_000);
        assertThat(s.finalStats().size()).isZero();
        // the producer was faster: the queue filled up...
        assertThat(s.maxQueueDepth()).isGreaterThanOrEqualTo(config.capacity() / 2);
        // ...but never past its capacity, and leases reached the consumer's demand but never went past it
        // (the printed maximum agrees with the in-flight counts the progress lines show)...
        assertThat(s.maxQueueDepth()).isLessThanOrEqualTo(config.capacity());
        assertThat(s.maxInFlight()).isEqualTo(config.consumerConcurrency());
        // ...and the producer was never asked for more than the queue, sendMany and the consumer can hold
        assertThat(s.maxOutstanding())
                .isLessThanOrEqualTo(config.capacity() + config.sendMaxInFlight() + config.consumerConcurrency());
    }
}
