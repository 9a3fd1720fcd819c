package dev.rill.netty.internal.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.netty.ClientOptions;
import dev.rill.netty.ForwardingBroker;
import dev.rill.netty.RillClient;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * The last line of defence: a frame the encoder refuses although every API check let its values through fails the
 * one operation it belongs to, and the connection (its streams, the other calls) goes on.
 */
class FrameRefusedTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    private final ReactiveBroker local = Rill.inMemory();
    private final List<Runnable> cleanup = new ArrayList<>();

    @AfterEach
    void tearDown() {
        for (int i = cleanup.size() - 1; i >= 0; i--) {
            cleanup.get(i).run();
        }
        local.close().block(TIMEOUT);
    }

    private RemoteBroker client(ReactiveBroker served) {
        RillServer server = RillServer.bindNow(ServerOptions.defaults().port(0).broker(served), TIMEOUT);
        cleanup.add(() -> server.disposeNow(TIMEOUT));
        ReactiveBroker c = RillClient.connect(URI.create("rill://127.0.0.1:" + server.port()),
                ClientOptions.defaults().reconnectAttempts(0)).block(TIMEOUT);
        cleanup.add(() -> c.close().block(TIMEOUT));
        return (RemoteBroker) c;
    }

    /** A stream on {@code queue}, open until the end of the test. */
    private BlockingQueue<String> receiving(ReactiveBroker client, String queue) {
        ReactiveQueue<String> q = client.queue(QueueSpec.named(queue), Codec.utf8()).block(TIMEOUT);
        BlockingQueue<String> got = new LinkedBlockingQueue<>();
        Disposable d = q.receive().flatMap(x -> x.ack().thenReturn(x.message().payload()))
                .subscribe(got::add, e -> got.add("error: " + e));
        cleanup.add(d::dispose);
        return got;
    }

    private static void stillConnected(ReactiveBroker client, String queue, BlockingQueue<String> got)
            throws InterruptedException {
        client.queue(QueueSpec.named(queue), Codec.utf8()).block(TIMEOUT).send(OutboundMessage.of("after"))
                .block(TIMEOUT);
        assertThat(got.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("after");
    }

    /** A request frame the encoder refuses fails that request with the encoder's reason. */
    @Test
    void aRequestTheEncoderRefusesFailsThatRequestOnly() throws Exception {
        RemoteBroker client = client(local);
        BlockingQueue<String> got = receiving(client, "work");
        String name = "n".repeat(2000); // past the checks of the public API: straight to the connection
        assertThatThrownBy(() -> client.call(name, id -> new Frame.Purge(id, name), f -> ((Frame.Result) f).value())
                .block(TIMEOUT)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("PURGE not sent: queue is 2000 UTF-8 bytes, the limit is 1024");
        stillConnected(client, "work", got);
    }

    /**
     * A served broker (any {@code ReactiveBroker}, not only Rill's) may name a queue longer than the wire carries: the
     * LIST is answered with an error instead of never (answered on another thread, the check of the answer threw in
     * an event-loop task and the request hung; answered on the loop, Reactor turned the throw into a second answer).
     */
    @Test
    void aListTheServerCannotEncodeIsAnsweredWithAnError() throws Exception {
        ReactiveBroker served = new ForwardingBroker(local) {
            @Override
            public Mono<List<String>> list() {
                return delegate.list().map(l -> {
                    List<String> more = new ArrayList<>(l);
                    more.add("q".repeat(2000));
                    return more;
                }).publishOn(Schedulers.boundedElastic()); // answered on another thread, as a remote broker does
            }
        };
        RemoteBroker client = client(served);
        BlockingQueue<String> got = receiving(client, "work");
        assertThatThrownBy(() -> client.list().block(TIMEOUT)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("2000 UTF-8 bytes, the limit is 1024");
        stillConnected(client, "work", got);
    }
}
