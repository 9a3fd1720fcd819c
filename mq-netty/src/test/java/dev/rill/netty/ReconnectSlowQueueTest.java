package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.netty.internal.transport.RemoteBroker;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.RillException;
import dev.rill.reactive.SendResult;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * After a reconnect each queue resumes as soon as its own declaration is answered on the new connection: a queue
 * whose declaration the server holds (a durable server decoding a large recovered backlog for it, say) holds back its
 * own operations only. Before, the client handed the new connection out once every queue was declared again, so the
 * sends, requests and receive streams of every other queue waited for the slowest declaration (and failed after
 * {@code reconnectWait}). The held queue's operations wait for its declaration, not sent before it (the server would
 * refuse them as made on an unknown queue), and then go, each exactly once.
 */
class ReconnectSlowQueueTest {

    private static final Duration TIMEOUT = ServingFixture.TIMEOUT;

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onRealTime();
    /** The broker served, in front of the fixture's: it holds the declarations of "slow" when told to. */
    private final HoldingBroker served = new HoldingBroker(fixture.local(), "slow");

    /** The server of {@link #served}, once {@link #client} made it. */
    private RillServer server;

    /** @return a client of a server of {@link #served}, with {@code options} and a short reconnect backoff */
    private RemoteBroker client(ClientOptions options) {
        server = fixture.bind(ServerOptions.defaults().broker(served));
        return (RemoteBroker) fixture.connect(server, options.reconnectBackoff(Duration.ofMillis(10),
                Duration.ofMillis(50)));
    }

    private static ReactiveQueue<String> queue(RemoteBroker client, String name) {
        return client.queue(QueueSpec.named(name), Codec.utf8()).block(TIMEOUT);
    }

    @Test
    void aQueueSlowToDeclareAgainHoldsBackOnlyItsOwnOperations() throws Exception {
        // the set-up of a connection is bounded by the connect timeout: far above the time the test holds it
        RemoteBroker client = client(ClientOptions.defaults().connectTimeout(TIMEOUT.multipliedBy(3)));
        ReactiveQueue<String> fast = queue(client, "fast");
        ReactiveQueue<String> slow = queue(client, "slow");
        BlockingQueue<String> fastGot = fixture.receiving(client, "fast");
        BlockingQueue<String> slowGot = fixture.receiving(client, "slow");
        ReactiveQueue<String> slowHere = fixture.local().queue(QueueSpec.named("slow"), Codec.utf8()).block(TIMEOUT);

        served.hold();
        client.dropConnection();
        await().atMost(TIMEOUT).until(() -> served.held() == 1); // the new connection's DECLARE of "slow" is held

        // "fast" works on the new connection: a send, its receive stream, a request
        assertThat(fast.send(OutboundMessage.of("after")).block(TIMEOUT).messageId()).isPositive();
        assertThat(fastGot.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("after");
        assertThat(fast.stats().block(TIMEOUT).name()).isEqualTo("fast");

        // "slow" waits for its declaration: nothing of it reached the server (which would refuse it as unknown)
        CompletableFuture<SendResult<String>> held = slow.send(OutboundMessage.of("held")).toFuture();
        CompletableFuture<QueueStats> stats = slow.stats().toFuture();
        assertThat(fast.send(OutboundMessage.of("round trip")).block(TIMEOUT).messageId()).isPositive();
        assertThat(fastGot.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("round trip");
        assertThat(held).as("the send to the queue still declaring").isNotDone();
        assertThat(stats).as("the stats of the queue still declaring").isNotDone();
        assertThat(slowHere.stats().block(TIMEOUT).size()).isZero();
        assertThat(served.held()).isEqualTo(1);

        served.release();
        SendResult<String> r = held.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(r.duplicate()).isFalse();
        assertThat(stats.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).name()).isEqualTo("slow");
        assertThat(slowGot.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("held");
        // exactly once: the next message of the stream is the one sent after it
        slow.send(OutboundMessage.of("next")).block(TIMEOUT);
        assertThat(slowGot.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("next");
        assertThat(slowGot).isEmpty();
        assertThat(fastGot).isEmpty();
    }

    @Test
    void whatWaitsForADeclarationNeverAnsweredGoesOnTheNextConnectionOnce() throws Exception {
        // the set-up of a connection is bounded by the connect timeout: the held one is dropped after it
        RemoteBroker client = client(ClientOptions.defaults().connectTimeout(Duration.ofSeconds(1)));
        ReactiveQueue<String> slow = queue(client, "slow");
        BlockingQueue<String> slowGot = fixture.receiving(client, "slow");
        slow.send(OutboundMessage.of("before")).block(TIMEOUT);
        assertThat(slowGot.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("before");

        served.hold(); // the next declaration of "slow" only: never answered, its connection is given up
        client.dropConnection();
        await().atMost(TIMEOUT).until(() -> served.held() == 1);
        CompletableFuture<SendResult<String>> held = slow.send(OutboundMessage.of("held")).toFuture();
        CompletableFuture<QueueStats> stats = slow.stats().toFuture();

        // on the connection after: each once, the stream resubscribed
        assertThat(held.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).duplicate()).isFalse();
        assertThat(stats.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).name()).isEqualTo("slow");
        assertThat(slowGot.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("held");
        slow.send(OutboundMessage.of("next")).block(TIMEOUT);
        assertThat(slowGot.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("next");
        assertThat(served.held()).isEqualTo(1);
        served.release(); // the declaration held on the dropped connection: its answer goes nowhere
    }

    @Test
    void anOperationWaitsForItsQueuesDeclarationAtMostTheReconnectWait() throws Exception {
        RemoteBroker client = client(ClientOptions.defaults().connectTimeout(TIMEOUT.multipliedBy(3))
                .reconnectWait(Duration.ofMillis(300)));
        ReactiveQueue<String> fast = queue(client, "fast");
        ReactiveQueue<String> slow = queue(client, "slow");

        served.hold();
        client.dropConnection();
        await().atMost(TIMEOUT).until(() -> served.held() == 1);
        // as an operation made while disconnected waits for the connection: bounded, with the reason
        assertThatThrownBy(() -> slow.stats().block(TIMEOUT)).isInstanceOf(RillException.class)
                .hasMessageContaining("queue 'slow' was not declared again on the new connection")
                .hasMessageContaining("within 300 ms (ClientOptions.reconnectWait)");
        // (each within its own 300 ms once its queue is declared: retried, not to depend on a loaded machine's pace)
        await().atMost(TIMEOUT).ignoreExceptions().until(() -> fast.stats().block(TIMEOUT).name().equals("fast"));

        served.release();
        await().atMost(TIMEOUT).ignoreExceptions().until(() -> slow.stats().block(TIMEOUT).name().equals("slow"));
    }

    @Test
    void closeWhileAQueueIsDeclaredAgainEndsWhatWaitsForItAndTheConnection() throws Exception {
        RemoteBroker client = client(ClientOptions.defaults().connectTimeout(TIMEOUT.multipliedBy(3)));
        ReactiveQueue<String> slow = queue(client, "slow");
        BlockingQueue<String> slowGot = fixture.receiving(client, "slow");

        served.hold();
        client.dropConnection();
        await().atMost(TIMEOUT).until(() -> served.held() == 1);
        CompletableFuture<QueueStats> stats = slow.stats().toFuture();
        client.close().block(TIMEOUT);

        assertThat(slowGot.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).startsWith("error: ")
                .contains("QueueClosedException");
        assertThat(catchThrowable(() -> stats.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)))
                .hasRootCauseInstanceOf(RillException.class).hasRootCauseMessage("the client is closed");
        await().atMost(TIMEOUT).until(() -> server.connectionCount() == 0);
        served.release();
    }

    /**
     * Serves a broker; once told to, holds the next declaration of one queue (without blocking a thread) until
     * released, the later ones going through.
     */
    private static final class HoldingBroker extends ForwardingBroker {
        private final String queue;
        private final AtomicInteger held = new AtomicInteger();
        private volatile Sinks.Empty<Void> gate;

        HoldingBroker(ReactiveBroker delegate, String queue) {
            super(delegate);
            this.queue = queue;
        }

        void hold() {
            gate = Sinks.empty();
        }

        void release() {
            gate.tryEmitEmpty();
        }

        int held() {
            return held.get();
        }

        @Override
        public <T> Mono<ReactiveQueue<T>> queue(QueueSpec spec, Codec<T> codec) {
            return Mono.defer(() -> {
                Sinks.Empty<Void> g = gate;
                if (g == null || !spec.name().equals(queue) || held.get() > 0 || !held.compareAndSet(0, 1)) {
                    return delegate.queue(spec, codec);
                }
                return g.asMono().then(Mono.defer(() -> delegate.queue(spec, codec)));
            });
        }
    }
}
