package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.netty.internal.transport.PeerLog;
import dev.rill.netty.internal.transport.PeerLog.Reason;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * The rate limit of the server's log about its peers, on virtual time: at most N lines per reason, peer host and
 * window and M per reason from all hosts, a bounded table of hosts, every connection counted, one summary line per
 * reason of what was suppressed (from which host, or how many) at the window's end (or when the server closes), and
 * lines that stay one line of bounded length whatever the cause's text.
 */
class PeerLogTest {

    @RegisterExtension
    final LogCapture log = new LogCapture();

    private final VirtualTimeScheduler clock = VirtualTimeScheduler.create();
    private final PeerLog peers = new PeerLog(clock, 3, 8, 4, Duration.ofSeconds(60));
    private final InetSocketAddress peer = new InetSocketAddress("127.0.0.1", 40001);

    private static InetSocketAddress from(String host, int port) {
        return new InetSocketAddress(host, port);
    }

    /** @return the summary line that starts with {@code head}, with the limits of {@link #peers} */
    private static String summary(String head) {
        return head + " (at most 3 per peer and 8 in all, per reason and 60 s; every one is counted:"
                + " RillServer.connectionErrors(), rill_connection_errors_total)";
    }

    @AfterEach
    void stopClock() {
        clock.dispose();
    }

    @Test
    void undeliverableMessagesAreRateLimitedLikeAReasonButNotCountedAsConnectionErrors() {
        for (int i = 0; i < 5; i++) {
            peers.undeliverable(peer, "queue 'jobs', subscription 1: message " + i + " cannot be delivered");
        }
        assertThat(log.lines()).containsExactly(
                "subscription of 127.0.0.1:40001 [undeliverable]: queue 'jobs', subscription 1: message 0 cannot be"
                        + " delivered",
                "subscription of 127.0.0.1:40001 [undeliverable]: queue 'jobs', subscription 1: message 1 cannot be"
                        + " delivered",
                "subscription of 127.0.0.1:40001 [undeliverable]: queue 'jobs', subscription 1: message 2 cannot be"
                        + " delivered");
        assertThat(log.shown()).allSatisfy(r -> assertThat(r.getLevel()).isEqualTo(Level.WARNING));
        clock.advanceTimeBy(Duration.ofSeconds(60));
        assertThat(log.lines()).hasSize(4).last().isEqualTo("[undeliverable] 2 more similar lines suppressed from"
                + " 127.0.0.1 (at most 3 per peer and 8 in all, per reason and 60 s)");
        assertThat(peers.counts()).hasSize(Reason.values().length).allSatisfy((reason, n) -> assertThat(n).isZero());
    }

    @Test
    void atMostNLinesPerReasonPeerAndWindowThenOneSummaryAtTheWindowsEnd() {
        for (int i = 0; i < 10; i++) {
            peers.refused(peer, Reason.AUTH_FAILED, "unknown token");
        }
        peers.refused(peer, Reason.PROTOCOL_ERROR, "unknown frame type 0xee"); // a reason of its own: not limited
        assertThat(log.lines()).containsExactly(
                "connection from 127.0.0.1:40001 refused [auth_failed]: unknown token",
                "connection from 127.0.0.1:40001 refused [auth_failed]: unknown token",
                "connection from 127.0.0.1:40001 refused [auth_failed]: unknown token",
                "connection from 127.0.0.1:40001 refused [protocol_error]: unknown frame type 0xee");
        assertThat(log.shown()).allSatisfy(r -> assertThat(r.getLevel()).isEqualTo(Level.WARNING));
        assertThat(peers.count(Reason.AUTH_FAILED)).isEqualTo(10);

        clock.advanceTimeBy(Duration.ofSeconds(59));
        assertThat(log.lines()).hasSize(4);
        clock.advanceTimeBy(Duration.ofSeconds(1));
        assertThat(log.lines()).hasSize(5).last()
                .isEqualTo(summary("[auth_failed] 7 more similar lines suppressed from 127.0.0.1"));

        // the next window starts with the next connection: its lines are written again
        peers.refused(peer, Reason.AUTH_FAILED, "a token is required");
        assertThat(log.lines()).hasSize(6).last()
                .isEqualTo("connection from 127.0.0.1:40001 refused [auth_failed]: a token is required");
        assertThat(peers.counts()).containsEntry("auth_failed", 11L).containsEntry("protocol_error", 1L)
                .containsEntry("tls_handshake", 0L).hasSize(Reason.values().length);
    }

    @Test
    void aClientReconnectingInALoopDoesNotHideASecondPeerWithTheSameReason() {
        for (int i = 0; i < 20; i++) {
            peers.refused(from("10.0.0.7", 50000 + i), Reason.AUTH_FAILED, "unknown token"); // a new port each time
        }
        peers.refused(from("10.0.0.8", 40000), Reason.AUTH_FAILED, "a token is required");
        assertThat(log.lines()).containsExactly(
                "connection from 10.0.0.7:50000 refused [auth_failed]: unknown token",
                "connection from 10.0.0.7:50001 refused [auth_failed]: unknown token",
                "connection from 10.0.0.7:50002 refused [auth_failed]: unknown token",
                "connection from 10.0.0.8:40000 refused [auth_failed]: a token is required");

        clock.advanceTimeBy(Duration.ofSeconds(60));
        assertThat(log.lines()).hasSize(5).last()
                .isEqualTo(summary("[auth_failed] 17 more similar lines suppressed from 10.0.0.7"));
        assertThat(peers.count(Reason.AUTH_FAILED)).isEqualTo(21);
    }

    @Test
    void aFloodFromManyHostsStopsAtTheReasonsCapAndTheSummarySaysHowManyPeersAndWhichOneMost() {
        for (int i = 0; i < 5; i++) {
            peers.refused(from("10.0.0.9", 1000 + i), Reason.PROTOCOL_ERROR, "unknown frame type 0xee");
        }
        for (int h = 1; h <= 20; h++) {
            peers.refused(from("10.0.1." + h, 2000), Reason.PROTOCOL_ERROR, "unknown frame type 0xee");
        }
        // 3 from 10.0.0.9, then 5 hosts until the cap of 8: 2 + 15 hosts suppressed beyond it
        assertThat(log.lines()).hasSize(8);
        assertThat(log.lines().subList(3, 8)).allSatisfy(l -> assertThat(l).startsWith("connection from 10.0.1."));
        clock.advanceTimeBy(Duration.ofSeconds(60));
        assertThat(log.lines()).hasSize(9).last().isEqualTo(summary("[protocol_error] 17 more similar lines"
                + " suppressed from 16 peers, 2 of them from 10.0.0.9"));
        assertThat(peers.count(Reason.PROTOCOL_ERROR)).isEqualTo(25);
    }

    @Test
    void theTableOfHostsIsBoundedTheHostSeenLeastRecentlyIsForgottenAndStartsAfresh() {
        PeerLog wide = new PeerLog(clock, 2, 100, 3, Duration.ofSeconds(60));
        InetSocketAddress a = from("10.0.0.1", 1);
        for (int i = 0; i < 3; i++) {
            wide.refused(a, Reason.AUTH_FAILED, "unknown token"); // 2 lines, 1 suppressed
        }
        wide.refused(from("10.0.0.2", 1), Reason.AUTH_FAILED, "unknown token");
        wide.refused(from("10.0.0.3", 1), Reason.AUTH_FAILED, "unknown token");
        wide.refused(a, Reason.AUTH_FAILED, "unknown token"); // seen again: still remembered, suppressed
        wide.refused(from("10.0.0.4", 1), Reason.AUTH_FAILED, "unknown token"); // forgets 10.0.0.2, not 10.0.0.1
        wide.refused(a, Reason.AUTH_FAILED, "unknown token"); // still remembered: suppressed
        assertThat(log.lines()).filteredOn(l -> l.startsWith("connection from 10.0.0.1:")).hasSize(2);
        wide.refused(from("10.0.0.2", 1), Reason.AUTH_FAILED, "unknown token"); // forgotten: a line again
        wide.refused(from("10.0.0.2", 1), Reason.AUTH_FAILED, "unknown token"); // second line of its fresh budget
        wide.refused(from("10.0.0.5", 1), Reason.AUTH_FAILED, "unknown token"); // forgets 10.0.0.3
        wide.refused(from("10.0.0.6", 1), Reason.AUTH_FAILED, "unknown token"); // forgets 10.0.0.1
        wide.refused(a, Reason.AUTH_FAILED, "unknown token"); // forgotten: a line again
        assertThat(log.lines()).filteredOn(l -> l.startsWith("connection from 10.0.0.1:")).hasSize(3);
        assertThat(log.lines()).filteredOn(l -> l.startsWith("connection from 10.0.0.2:")).hasSize(3);
        clock.advanceTimeBy(Duration.ofSeconds(60));
        assertThat(log.lines()).last().isEqualTo("[auth_failed] 3 more similar lines suppressed from 10.0.0.1 (at"
                + " most 2 per peer and 100 in all, per reason and 60 s; every one is counted:"
                + " RillServer.connectionErrors(), rill_connection_errors_total)");
    }

    @Test
    void theLimitsMustBeConsistent() {
        assertThatThrownBy(() -> new PeerLog(clock, 0, 8, 4, Duration.ofSeconds(1)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new PeerLog(clock, 3, 2, 4, Duration.ofSeconds(1)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new PeerLog(clock, 3, 8, 0, Duration.ofSeconds(1)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new PeerLog(clock, 3, 8, 4, Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aWindowWithNothingSuppressedEndsWithoutASummary() {
        peers.closed(peer, Reason.IDLE_TIMEOUT, "nothing received for 500 ms");
        clock.advanceTimeBy(Duration.ofMinutes(5));
        peers.closed(peer, Reason.IDLE_TIMEOUT, "nothing received for 500 ms");
        assertThat(log.lines()).containsExactly(
                "connection from 127.0.0.1:40001 closed [idle_timeout]: nothing received for 500 ms",
                "connection from 127.0.0.1:40001 closed [idle_timeout]: nothing received for 500 ms");
        assertThat(log.shown()).allSatisfy(r -> assertThat(r.getLevel()).isEqualTo(Level.INFO));
    }

    @Test
    void closingSummarisesWhatWasSuppressedAtOnceAndLaterConnectionsAreOnlyCounted() {
        for (int i = 0; i < 5; i++) {
            peers.refused(peer, Reason.MAX_CONNECTIONS, "the server is at its limit of 8 connections");
        }
        peers.close().block(Duration.ofSeconds(5));
        assertThat(log.lines()).hasSize(4).last().asString().startsWith("[max_connections] 2 more similar lines");
        peers.refused(peer, Reason.MAX_CONNECTIONS, "the server is at its limit of 8 connections");
        clock.advanceTimeBy(Duration.ofMinutes(2));
        assertThat(log.lines()).hasSize(4);
        assertThat(peers.count(Reason.MAX_CONNECTIONS)).isEqualTo(6);
    }

    @Test
    void aBugIsAnErrorWithItsStackTraceAndAPeerThatLeftEarlyIsOnlyDebug() {
        IllegalStateException bug = new IllegalStateException("boom");
        peers.failed(peer, bug);
        peers.debug(peer, "closed by the peer during the TLS handshake");
        assertThat(log.shown()).singleElement().satisfies(r -> {
            assertThat(r.getLevel()).isEqualTo(Level.SEVERE);
            assertThat(r.getMessage()).isEqualTo("connection from 127.0.0.1:40001 closed [internal_error]: a bug in"
                    + " the server: java.lang.IllegalStateException: boom");
            assertThat(r.getThrown()).isSameAs(bug);
        });
        assertThat(log.all()).extracting(LogRecord::getMessage)
                .contains("connection from 127.0.0.1:40001: closed by the peer during the TLS handshake");
        assertThat(peers.counts().values().stream().mapToLong(Long::longValue).sum()).isEqualTo(1);
    }

    @Test
    void aLineIsOneLineOfBoundedLengthWhateverTheCauseSays() {
        peers.refused(new InetSocketAddress("::1", 7), Reason.PROTOCOL_ERROR, "first\nforged line\r\u0007" + "x".repeat(2000));
        String line = log.lines().get(0);
        assertThat(line).startsWith("connection from [0:0:0:0:0:0:0:1]:7 refused [protocol_error]: first forged line")
                .doesNotContain("\n", "\r", "\u0007").endsWith("…");
        assertThat(line.length()).isLessThan(400);
    }
}
