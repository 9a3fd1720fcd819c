package dev.rill.netty;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.SendOptions;
import dev.rill.reactive.SendResult;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.reactivestreams.Publisher;
import org.reactivestreams.tck.PublisherVerification;
import org.reactivestreams.tck.TestEnvironment;
import org.testng.annotations.AfterClass;
import reactor.core.publisher.Flux;

/**
 * Reactive Streams TCK for a remote {@code sendMany} (the result stream of n sends over the network, one result per
 * SEND answer), against an in-process {@link RillServer} on 127.0.0.1. Run by the TestNG engine on the JUnit
 * Platform.
 */
public class RemoteSendManyTckTest extends PublisherVerification<SendResult<String>> {

    static final long TCK_TIMEOUT_MILLIS = 1_000;
    static final long TCK_NO_SIGNALS_MILLIS = 200;
    static final Duration BLOCK = Duration.ofSeconds(10);

    private final RillServer server = RillServer.bindNow(ServerOptions.defaults(), BLOCK);
    private final ReactiveBroker client = RillClient.connect(URI.create("rill://127.0.0.1:" + server.port()),
            ClientOptions.defaults()).block(BLOCK);
    private final AtomicInteger names = new AtomicInteger();

    public RemoteSendManyTckTest() {
        super(new TestEnvironment(TCK_TIMEOUT_MILLIS, TCK_NO_SIGNALS_MILLIS), TCK_TIMEOUT_MILLIS);
    }

    @AfterClass
    public void close() {
        client.close().block(BLOCK);
        server.disposeNow(BLOCK);
    }

    private ReactiveQueue<String> newQueue(int capacity) {
        return client.queue(QueueSpec.named("tck-send-many-" + names.incrementAndGet()).capacity(capacity),
                Codec.utf8()).block(BLOCK);
    }

    @Override
    public Publisher<SendResult<String>> createPublisher(long elements) {
        ReactiveQueue<String> q = newQueue((int) Math.max(1, elements));
        return q.sendMany(Flux.range(0, (int) elements).map(i -> OutboundMessage.of("m" + i)),
                SendOptions.defaults().maxInFlight(16));
    }

    @Override
    public Publisher<SendResult<String>> createFailedPublisher() {
        ReactiveQueue<String> q = newQueue(1);
        return q.sendMany(Flux.error(new IllegalStateException("upstream failed (TCK)")));
    }

    @Override
    public long maxElementsFromPublisher() {
        return 4_096;
    }
}
