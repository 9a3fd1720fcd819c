package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.Overflow;
import dev.rill.core.QueueSpec;
import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.WireMessage;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import reactor.core.publisher.Flux;

/**
 * A send by a token without the send right on a queue it may attach to (receive only) fails with the server's
 * FORBIDDEN, on every protocol version. The server granted SEND_CREDIT only with the send right, and a client sends
 * only on credit: the send waited for ever (the CLI's {@code rill send} for its --timeout, then "no answer").
 */
class SendWithoutRightTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onVirtualTime();
    private final ReactiveBroker local = fixture.local();

    private RillServer receiveOnlyServer() {
        local.queue(QueueSpec.named("orders"), Codec.bytes()).block(TIMEOUT);
        return fixture.serve(ServerOptions.defaults()
                .token("reader", Permissions.none().allow("orders*", Permission.RECEIVE)));
    }

    @Test
    void sendsAndSendManyFailWithForbiddenNamingTheQueueAndTheRight() {
        RillServer server = receiveOnlyServer();
        ReactiveBroker client = fixture.connect(server, ClientOptions.defaults().token("reader").reconnectAttempts(0));
        ReactiveQueue<String> q = client.lookup("orders", Codec.utf8()).block(TIMEOUT);

        assertThatThrownBy(() -> q.send(OutboundMessage.of("one")).block(TIMEOUT))
                .isInstanceOf(AccessDeniedException.class)
                .hasMessageContaining("the token does not grant the send right on queue 'orders'");
        // several at once: each is refused in turn (the credit a refused SEND took is granted back)
        List<CompletableFuture<?>> sends = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            sends.add(q.send(OutboundMessage.of("m" + i)).toFuture());
        }
        for (CompletableFuture<?> s : sends) {
            assertThatThrownBy(() -> s.get(TIMEOUT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS))
                    .hasCauseInstanceOf(AccessDeniedException.class);
        }
        assertThatThrownBy(() -> q.sendMany(Flux.range(0, 100).map(i -> OutboundMessage.of("many" + i)))
                .blockLast(TIMEOUT))
                .isInstanceOf(AccessDeniedException.class).hasMessageContaining("send right on queue 'orders'");
        // the queue's other rights still work on the connection, and nothing was stored
        assertThat(q.receiveOne(Duration.ZERO).block(TIMEOUT)).isNull();
        assertThat(local.stats().block(TIMEOUT).get(0).sent()).isZero();
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 5, 6})
    void aClientOfEveryVersionGetsCreditAndItsSendIsRefused(int version) throws Exception {
        RillServer server = receiveOnlyServer();
        try (RawClient raw = new RawClient(server.port())) {
            raw.send(new Frame.Hello(List.of(version), "old"));
            assertThat(raw.readUntil(Frame.HelloOk.class).version()).isEqualTo(version);
            raw.send(new Frame.Auth("reader"));
            raw.readUntil(Frame.AuthOk.class);
            // version 1 has no DESCRIBE: a DECLARE of the existing queue's spec attaches it without the manage right
            raw.send(version == 1 ? Frame.Declare.of(1, QueueSpec.named("orders")) : new Frame.Describe(1, "orders"));
            for (int round = 0; round < 3; round++) {
                Frame.SendCredit credit = raw.readUntil(Frame.SendCredit.class);
                assertThat(credit.queue()).isEqualTo("orders");
                assertThat(credit.credit()).isEqualTo(1);
                int id = 10 + round;
                WireMessage m = new WireMessage(("m" + round).repeat(100).getBytes(StandardCharsets.UTF_8), null, 0,
                        0, 0, null, Map.of());
                raw.send(new Frame.Send(id, "orders", Overflow.WAIT, List.of(m)));
                Frame.Error e = raw.readUntil(Frame.Error.class);
                assertThat(e.id()).isEqualTo(id);
                assertThat(e.code()).isEqualTo(ErrorCode.FORBIDDEN);
                assertThat(e.message()).isEqualTo("the token does not grant the send right on queue 'orders'");
            }
        }
        assertThat(local.stats().block(TIMEOUT).get(0).sent()).isZero();
    }
}
