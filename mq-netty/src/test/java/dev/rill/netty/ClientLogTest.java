package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.QueueSpec;
import dev.rill.netty.internal.transport.RemoteBroker;
import java.time.Duration;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What the client logs about its connection (it logged nothing, even through a 55 s outage): one WARNING when the
 * connection is lost, with the cause in words; while reconnecting fails, at most one line per log interval (30 s;
 * shortened here) with the attempts so far and the next delay; one INFO when it is back, saying how long it was
 * away; one ERROR when it gives up. One line each, no stack trace for network errors.
 */
class ClientLogTest {

    private static final Duration TIMEOUT = ServingFixture.TIMEOUT;

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onRealTime();

    @RegisterExtension
    final LogCapture log = new LogCapture(RemoteBroker.LOGGER);

    @Test
    void anOutageIsOneWarningAFewProgressLinesAndOneInfoWhenBack() {
        RillServer first = fixture.serve(ServerOptions.defaults());
        int port = first.port();
        RemoteBroker client = (RemoteBroker) fixture.connect(first, ClientOptions.defaults()
                .reconnectBackoff(Duration.ofMillis(5), Duration.ofMillis(10)));
        client.reconnectLogInterval(Duration.ofMillis(300));
        client.queue(QueueSpec.named("logged"), Codec.utf8()).block(TIMEOUT);
        assertThat(log.all()).isEmpty();

        long start = System.nanoTime();
        first.disposeNow(TIMEOUT);
        ClosingListener refusing = fixture.closeAtEnd(new ClosingListener(port));
        await().atMost(TIMEOUT).until(() -> log.linesWith("still no connection").size() >= 2);
        refusing.close();
        fixture.serve(ServerOptions.defaults().port(port));
        await().atMost(TIMEOUT).until(() -> !log.linesWith("re-established").isEmpty());
        long elapsedMillis = (System.nanoTime() - start) / 1_000_000;

        List<String> lines = log.lines();
        assertThat(lines.get(0)).startsWith("connection to 127.0.0.1:" + port + " lost: ")
                .endsWith("; reconnecting (backoff 5..10 ms)");
        assertThat(log.shown().get(0).getLevel()).isEqualTo(Level.WARNING);
        List<String> progress = log.linesWith("still no connection");
        assertThat(progress.get(0)).matches("still no connection to 127\\.0\\.0\\.1:" + port
                + " after \\d+ failed attempts over \\d+\\.\\d s \\(last: .+\\); next attempt in \\d+ ms");
        // many attempts (one every 5..10 ms), few lines: at most one per 300 ms
        assertThat(refusing.accepted()).isGreaterThan(3 * progress.size());
        assertThat(progress.size()).isLessThanOrEqualTo(1 + (int) (elapsedMillis / 300));
        String back = lines.get(lines.size() - 1);
        assertThat(back).matches("connection to 127\\.0\\.0\\.1:" + port
                + " re-established after \\d+\\.\\d s \\(\\d+ failed attempts\\)");
        assertThat(log.shown().get(lines.size() - 1).getLevel()).isEqualTo(Level.INFO);
        assertThat(lines).hasSize(2 + progress.size());
        assertThat(log.shown()).extracting(LogRecord::getThrown).containsOnlyNulls();
        assertThat(lines).allMatch(l -> !l.contains("\n"));
    }

    /** Also: {@code reconnectAttempts(3)} makes 3 attempts (it made 4, Reactor's retries after a first try). */
    @Test
    void aClientThatGivesUpSaysSoOnce() {
        RillServer server = fixture.serve(ServerOptions.defaults());
        int port = server.port();
        var client = fixture.connect(server, ClientOptions.defaults().reconnectAttempts(3)
                .reconnectBackoff(Duration.ofMillis(5), Duration.ofMillis(10)));
        server.disposeNow(TIMEOUT);
        await().atMost(TIMEOUT).until(() -> !log.linesWith("giving up").isEmpty());
        List<LogRecord> shown = log.shown();
        assertThat(shown).hasSize(2);
        assertThat(shown.get(0).getMessage()).startsWith("connection to 127.0.0.1:" + port + " lost: ")
                .endsWith("; reconnecting (backoff 5..10 ms, at most 3 attempts)");
        assertThat(shown.get(1).getLevel()).isEqualTo(Level.SEVERE);
        assertThat(shown.get(1).getMessage()).startsWith("connection to 127.0.0.1:" + port
                + " not re-established after 3 attempts over ").contains("giving up: ")
                .endsWith("; receive streams end and operations fail").doesNotContain("lost and not re-established");
        assertThat(shown).extracting(LogRecord::getThrown).containsOnlyNulls();
        assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> client.stats().block(TIMEOUT)))
                .hasMessageContaining("not re-established after 3 attempts");
    }
}
