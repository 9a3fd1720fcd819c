package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.QueueEvent;
import dev.rill.core.QueueSpec;
import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.Limits;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.RillException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.core.Disposable;

/**
 * {@link ServerOptions#maxSubscriptionsPerConnection(int)} counts receive and events streams together, as the
 * protocol's one id space for both says; a stream beyond it ends at once with an error naming the limit, and the
 * connection goes on. Before, a receive stream was counted against the other receive streams only: a connection
 * with events streams open could hold twice the limit; and a SUBSCRIBE with the id of an open events stream was
 * accepted, two streams sharing one id.
 */
class SubscriptionLimitTest {

    private static final Duration TIMEOUT = ServingFixture.TIMEOUT;

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onRealTime();

    @Test
    void eventsAndReceiveStreamsShareTheLimit() throws Exception {
        RillServer server = fixture.serve(ServerOptions.defaults().maxSubscriptionsPerConnection(1));
        ReactiveBroker client = fixture.connect(server, ClientOptions.defaults());
        ReactiveQueue<String> q = client.queue(QueueSpec.named("limited"), Codec.utf8()).block(TIMEOUT);
        BlockingQueue<Object> events = new LinkedBlockingQueue<>();
        Disposable watching = q.events().subscribe(events::add, events::add);
        fixture.atEnd(watching::dispose);
        client.stats().block(TIMEOUT); // a round trip: the events stream is open on the server

        Throwable e = org.assertj.core.api.Assertions.catchThrowable(() -> q.receive().blockFirst(TIMEOUT));

        assertThat(e).isInstanceOf(RillException.class)
                .hasMessage("server error TOO_MANY_SUBSCRIPTIONS: at most 1 subscriptions (receive and events"
                        + " streams) per connection (ServerOptions.maxSubscriptionsPerConnection): end one, or use"
                        + " another client");
        // the events stream and the connection go on
        q.send(dev.rill.core.OutboundMessage.of("m")).block(TIMEOUT);
        assertThat(events.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isInstanceOfSatisfying(QueueEvent.class,
                ev -> assertThat(ev.type()).isEqualTo(QueueEvent.Type.ENQUEUED));
    }

    @Test
    void aSubscribeWithTheIdOfAnOpenEventsStreamIsADuplicate() throws Exception {
        RillServer server = fixture.serve(ServerOptions.defaults());
        try (RawClient c = new RawClient(server.port())) {
            c.send(new Frame.Hello(List.of(Limits.PROTOCOL_VERSION), "raw"));
            assertThat(c.read()).isInstanceOf(Frame.HelloOk.class);
            c.send(Frame.Declare.of(1, QueueSpec.named("ids")));
            assertThat(c.readUntil(Frame.DeclareOk.class)).isNotNull();
            c.send(new Frame.SubscribeEvents(7, "ids"));
            assertThat(c.readUntil(Frame.SubscribeOk.class).subscriptionId()).isEqualTo(7);

            c.send(new Frame.Subscribe(7, "ids", 0, 0, 0));

            Frame.Error e = c.readUntil(Frame.Error.class);
            assertThat(e.id()).isEqualTo(7);
            assertThat(e.code()).isEqualTo(ErrorCode.DUPLICATE_ID);
        }
    }
}
