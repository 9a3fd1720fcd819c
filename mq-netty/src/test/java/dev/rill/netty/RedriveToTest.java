package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReceiveOptions;
import java.io.IOException;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Redrive to a target queue over the network (protocol version 4): the rights it needs, and what a client gets from
 * a server of an earlier version. What it moves and its errors are in the contract suite.
 */
class RedriveToTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onVirtualTime();
    private final ReactiveBroker local = fixture.local();

    private RillServer serve(ServerOptions options) {
        return fixture.serve(options);
    }

    private ReactiveBroker connect(int port, String token) {
        ClientOptions options = ClientOptions.defaults().reconnectAttempts(0);
        return fixture.connect(port, token == null ? options : options.token(token));
    }

    /** "work" dead-letters two messages into "work.dlq"; "parked" is empty. */
    private void deadLetterTwo() {
        var work = local.queue(QueueSpec.named("work").deadLetterQueue("work.dlq"), Codec.utf8()).block(TIMEOUT);
        local.queue(QueueSpec.named("parked"), Codec.utf8()).block(TIMEOUT);
        work.send(OutboundMessage.of("one")).block(TIMEOUT);
        work.send(OutboundMessage.of("two")).block(TIMEOUT);
        work.receive(ReceiveOptions.defaults().maxMessages(2)).concatMap(d -> d.reject("bad")).blockLast(TIMEOUT);
    }

    private long ready(String queue) {
        return local.stats().block(TIMEOUT).stream().filter(q -> q.name().equals(queue)).findFirst().orElseThrow()
                .ready();
    }

    @Test
    void aTokenNeedsTheManageRightOnTheSourceAndTheSendRightOnTheTarget() {
        RillServer server = serve(ServerOptions.defaults()
                .token("manager", Permissions.none().allow("work.dlq", Permission.MANAGE))
                .token("mover", Permissions.none().allow("work.dlq", Permission.MANAGE)
                        .allow("parked", Permission.SEND))
                .token("sender", Permissions.none().allow("work.dlq", Permission.SEND)
                        .allow("parked", Permission.SEND)));
        deadLetterTwo();

        // moving messages into a queue is sending to it: the manage right on the dead-letter queue is not enough
        assertThatThrownBy(() -> connect(server.port(), "manager").redrive("work.dlq", "parked", 10).block(TIMEOUT))
                .isInstanceOf(AccessDeniedException.class)
                .hasMessage("the token does not grant the send right on queue 'parked'");
        assertThatThrownBy(() -> connect(server.port(), "sender").redrive("work.dlq", "parked", 10).block(TIMEOUT))
                .isInstanceOf(AccessDeniedException.class)
                .hasMessage("the token does not grant the manage right on queue 'work.dlq'");
        assertThat(ready("work.dlq")).isEqualTo(2);

        assertThat(connect(server.port(), "mover").redrive("work.dlq", "parked", 10).block(TIMEOUT)).isEqualTo(2);
        assertThat(ready("work.dlq")).isZero();
        assertThat(ready("parked")).isEqualTo(2);
    }

    @Test
    void aServerOfVersionThreeIsNotAskedAndThePlainRedriveStillWorksThere() throws IOException {
        RillServer server = serve(ServerOptions.defaults());
        deadLetterTwo();
        FrameCountingRelay relay = new FrameCountingRelay(server.port(), 3);
        fixture.closeAtEnd(relay);
        ReactiveBroker client = connect(relay.port(), null);

        assertThatThrownBy(() -> client.redrive("work.dlq", "parked", 10).block(TIMEOUT))
                .isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("protocol version 3")
                .hasMessageContaining("needs version 4");
        assertThat(relay.clientFrames(0x1E)).isZero(); // nothing was sent: an old server would close the connection
        assertThat(ready("work.dlq")).isEqualTo(2);

        assertThat(client.redrive("work.dlq", 1).block(TIMEOUT)).isEqualTo(1); // back to "work", its source
        assertThat(ready("work")).isEqualTo(1);
    }
}
