package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.Limits;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A connection's place in {@link ServerOptions#maxConnections(int)} is free by the time its client sees the
 * connection end, whoever ended it: a client that reconnects at once (a reconnect loop) is accepted, not refused with
 * TOO_MANY_CONNECTIONS because the server had not yet counted the old connection out.
 *
 * <p>Each test repeats the close and the reconnect many times: the server used to free the place after writing the
 * last frame and closing the socket, so the client could read the end of the stream, reconnect and be counted
 * before the server got there (a window of microseconds, milliseconds on a loaded machine).
 */
class ConnectionSlotTest {

    private static final int ROUNDS = 200;

    @RegisterExtension
    final ServingFixture fx = ServingFixture.onRealTime();

    /** Opens a connection and says HELLO; the server counts it from the accept. */
    private static RawClient hello(RillServer server, int round) throws Exception {
        RawClient raw = new RawClient(server.port());
        raw.send(new Frame.Hello(List.of(Limits.PROTOCOL_VERSION), "slot"));
        Frame answer = raw.read();
        assertThat(answer).as("round %d: the connection before this one still held the only place", round)
                .isInstanceOf(Frame.HelloOk.class);
        return raw;
    }

    /** The client read the end of the stream: its place is free already, so a reconnect is accepted. */
    private static void endOfStreamSeen(RillServer server, RawClient raw, int round) throws Exception {
        assertThat(raw.closedByPeer()).isTrue();
        assertThat(server.connectionCount()).as("round %d: connections once the client saw the close", round)
                .isZero();
    }

    @Test
    void aClientBeyondTheLimitIsToldWhichServerOptionSetsIt() {
        RillServer server = fx.serve(ServerOptions.defaults().maxConnections(1));
        fx.connect(server, ClientOptions.defaults().reconnectAttempts(0));
        // the client's error, not only the server's log, says what to do about it
        assertThatThrownBy(() -> fx.connect(server, ClientOptions.defaults().reconnectAttempts(0)))
                .hasMessageContaining("TOO_MANY_CONNECTIONS")
                .hasMessageContaining("the server is at its limit of 1 connections")
                .hasMessageContaining("ServerOptions.maxConnections")
                .hasMessageContaining("rill serve --max-connections");
    }

    @Test
    void aClientRefusedForItsTokenCanReconnectAtOnce() throws Exception {
        RillServer server = fx.serve(ServerOptions.defaults().maxConnections(1).token("s3cret", Permissions.all()));
        for (int round = 0; round < ROUNDS; round++) {
            try (RawClient raw = hello(server, round)) {
                raw.send(new Frame.Auth("wrong"));
                assertThat(raw.readUntil(Frame.Error.class).code()).isEqualTo(ErrorCode.AUTH_FAILED);
                endOfStreamSeen(server, raw, round);
            }
        }
        assertThat(server.connectionErrors()).containsEntry("auth_failed", (long) ROUNDS)
                .containsEntry("max_connections", 0L);
    }

    @Test
    void aClientClosedForIdlenessCanReconnectAtOnce() throws Exception {
        // Netty's idle timer, wall clock: kept short; the rounds wait for it, nothing here measures it
        RillServer server = fx.serve(ServerOptions.defaults().maxConnections(1).idleTimeout(Duration.ofMillis(20)));
        int rounds = ROUNDS / 4;
        for (int round = 0; round < rounds; round++) {
            try (RawClient raw = new RawClient(server.port())) { // silent from the start: no race with the timer
                assertThat(raw.readUntil(Frame.Error.class).code())
                        .as("round %d: refused (TOO_MANY_CONNECTIONS) instead of idle", round)
                        .isEqualTo(ErrorCode.IDLE_TIMEOUT);
                endOfStreamSeen(server, raw, round);
            }
        }
        assertThat(server.connectionErrors()).containsEntry("idle_timeout", (long) rounds)
                .containsEntry("max_connections", 0L);
    }

    @Test
    void aClientThatClosedPolitelyCanReconnectOnceTheServerAnsweredItsClose() throws Exception {
        RillServer server = fx.serve(ServerOptions.defaults().maxConnections(1));
        for (int round = 0; round < ROUNDS; round++) {
            try (RawClient raw = hello(server, round)) {
                raw.send(new Frame.Close(ErrorCode.NONE, "bye"));
                assertThat(raw.readUntil(Frame.Close.class)).isNotNull(); // the server's answer
                endOfStreamSeen(server, raw, round);
            }
        }
        assertThat(server.connectionErrors()).containsEntry("max_connections", 0L);
    }
}
