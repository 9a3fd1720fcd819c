package dev.rill.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
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
        assertAckDeletedIt();
    }

    @Test
    void theSameStepsRunOnAServerGivenItsUrl() {
        RillServer server = RillServer.bindNow(ServerOptions.defaults().broker(broker), Duration.ofSeconds(10));
        ReactiveBroker remote = ReactiveHelloWorld.open("rill://127.0.0.1:" + server.port());
        try {
            ReactiveHelloWorld.Summary s = ReactiveHelloWorld.run(remote,
                    new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));

            assertThat(s.received()).isEqualTo("Hello, World!");
            assertThat(s.deliveryCount()).isEqualTo(1);
            assertThat(s.emptyAfterAck()).isTrue();
            assertAckDeletedIt(); // on the server's broker
        } finally {
            remote.close().block(Duration.ofSeconds(5));
            server.disposeNow(Duration.ofSeconds(5));
        }
    }

    /** The ack really deleted the message: nothing left, one delivery, one ack. */
    private void assertAckDeletedIt() {
        var stats = broker.stats().block(Duration.ofSeconds(5));
        assertThat(stats).singleElement().satisfies(q -> {
            assertThat(q.sent()).isEqualTo(1);
            assertThat(q.delivered()).isEqualTo(1);
            assertThat(q.acked()).isEqualTo(1);
            assertThat(q.size()).isZero();
        });
    }
}
