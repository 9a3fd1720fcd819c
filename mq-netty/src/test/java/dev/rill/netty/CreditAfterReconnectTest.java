package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.netty.internal.transport.RemoteBroker;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.LeaseExpiredException;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.ReceiveOptions;
import dev.rill.reactive.RillException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.reactivestreams.Subscription;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;

/**
 * The credit a stream gives the server after a reconnect is exactly its outstanding demand: deliveries it got on the
 * lost connection (and holds, unsettled) are not asked for again, and what it asked for and did not get is. The
 * server never leases more than that plus the stream's prefetch; the held deliveries were released by the server when
 * the connection was lost, and settling them says the lease is over.
 */
class CreditAfterReconnectTest {

    private static final Duration TIMEOUT = ServingFixture.TIMEOUT;
    private static final int PREFETCH = 2;

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onVirtualTime(); // no lease ever runs out

    @Test
    void afterAReconnectTheServerLeasesTheOutstandingDemandPlusThePrefetchAndNoMore() {
        RillServer server = fixture.serve(ServerOptions.defaults());
        RemoteBroker client = (RemoteBroker) fixture.connect(server, ClientOptions.defaults()
                .reconnectBackoff(Duration.ofMillis(5), Duration.ofMillis(20)));
        QueueSpec spec = QueueSpec.named("credit");
        ReactiveQueue<String> q = client.queue(spec, Codec.utf8()).block(TIMEOUT);
        q.sendMany(Flux.range(0, 100).map(i -> OutboundMessage.of("m" + i))).blockLast(TIMEOUT);
        List<Delivery<String>> got = new CopyOnWriteArrayList<>();
        BaseSubscriber<Delivery<String>> consumer = new BaseSubscriber<>() {
            @Override
            protected void hookOnSubscribe(Subscription s) {
                s.request(5);
            }

            @Override
            protected void hookOnNext(Delivery<String> d) {
                got.add(d);
            }
        };
        q.receive(ReceiveOptions.defaults().prefetch(PREFETCH)).subscribe(consumer);
        fixture.atEnd(consumer::dispose);
        await().atMost(TIMEOUT).until(() -> got.size() == 5 && inFlight() == 5 + PREFETCH);

        client.dropConnection();
        // the new connection: subscribed again with no demand outstanding; the old leases were released
        await().atMost(TIMEOUT).until(() -> server.connectionCount() == 1 && inFlight() == PREFETCH
                && fixture.stats("credit").ready() == 100 - PREFETCH);
        q.send(OutboundMessage.of("probe")).block(TIMEOUT); // a round trip on the new connection
        assertThat(got).hasSize(5);
        assertThat(inFlight()).isEqualTo(PREFETCH);

        consumer.request(3);
        await().atMost(TIMEOUT).until(() -> got.size() == 8);
        q.send(OutboundMessage.of("probe 2")).block(TIMEOUT);
        assertThat(got).hasSize(8);
        assertThat(inFlight()).isEqualTo(3 + PREFETCH);
        // the held deliveries of the lost connection are over (their messages are in the queue again)
        for (Delivery<String> old : got.subList(0, 5)) {
            assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> old.ack().block(TIMEOUT)))
                    .isInstanceOfAny(LeaseExpiredException.class, RillException.class);
        }
    }

    private long inFlight() {
        QueueStats s = fixture.stats("credit");
        return s.inFlight();
    }
}
