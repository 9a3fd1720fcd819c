package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.QueueSpec;
import dev.rill.netty.Permission;
import dev.rill.netty.Permissions;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.Rill;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code rill send} with a token that may only receive from the queue (tokens file {@code orders*=receive}): exit 4,
 * "permission denied" naming the queue and the right. Before, the server granted such a token no SEND_CREDIT, the
 * client never sent, and the command waited its --timeout and exited 3 ("no answer ... may or may not have been
 * stored").
 */
class SendWithoutRightCliTest {

    private static final Duration T = Duration.ofSeconds(10);

    private ReactiveBroker broker;
    private RillServer server;
    private String url;

    @BeforeEach
    void start() {
        broker = Rill.inMemory();
        broker.queue(QueueSpec.named("orders"), Codec.bytes()).block(T);
        server = RillServer.bindNow(ServerOptions.defaults().port(0).broker(broker)
                .token("reader", Permissions.none().allow("orders*", Permission.RECEIVE)), T);
        url = "rill://127.0.0.1:" + server.port();
    }

    @AfterEach
    void stop() {
        server.disposeNow(T);
        broker.close().block(T);
    }

    @Test
    void sendingWithAReceiveOnlyTokenExitsFourNamingTheRight() {
        // --timeout far above how long a refusal takes: before, the command waited all of it
        Cli.Result one = Cli.run("send", "orders", "--url", url, "--token", "reader", "--timeout", "60s", "hello");
        assertThat(one.code()).as(one.toString()).isEqualTo(ExitCodes.DENIED);
        assertThat(one.err()).contains("permission denied")
                .contains("the token does not grant the send right on queue 'orders'");

        Cli.Result lines = Cli.runWithInput("a\nb\nc\n", "send", "orders", "--url", url, "--token", "reader",
                "--timeout", "60s");
        assertThat(lines.code()).as(lines.toString()).isEqualTo(ExitCodes.DENIED);
        assertThat(lines.err()).contains("the token does not grant the send right on queue 'orders'");
        assertThat(broker.stats().block(T).get(0).sent()).isZero();
    }
}
