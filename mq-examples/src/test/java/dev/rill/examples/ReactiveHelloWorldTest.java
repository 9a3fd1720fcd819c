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

class ReactiveHelloWorldTest {

    private final ReactiveBroker broker = Rill.inMemory();

    @AfterEach
    void close() {
        broker.close().block(Duration.ofSeconds(5));
    }

    @Test
    void sendsReceivesAcksThenFindsNothing() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        ReactiveHelloWorld.Summary s = ReactiveHelloWorld.run(broker,
                new PrintStream(buf, true, StandardCharsets.UTF_8));

        assertThat(s.received()).isEqualTo("Hello, World!");
        assertThat(s.deliveryCount()).isEqualTo(1);
        assertThat(s.emptyAfterAck()).isTrue();
        assertThat(buf.toString(StandardCharsets.UTF_8)).containsSubsequence("send    -> id=" + s.messageId(),
                "receive -> \"Hello, World!\" (delivery 1)", "ack     -> deleted", "receive -> nothing");
        // the ack really deleted it: nothing left, one delivery, one ack
        var stats = broker.stats().block(Duration.ofSeconds(5));
        assertThat(stats).singleElement().satisfies(q -> {
            assertThat(q.sent()).isEqualTo(1);
            assertThat(q.delivered()).isEqualTo(1);
            assertThat(q.acked()).isEqualTo(1);
            assertThat(q.size()).isZero();
        });
    }
}
