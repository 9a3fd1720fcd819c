package dev.rill.netty;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.SendResult;
import java.net.URI;
import java.util.concurrent.atomic.AtomicInteger;
import org.reactivestreams.Publisher;
import org.reactivestreams.tck.PublisherVerification;
import org.reactivestreams.tck.TestEnvironment;
import org.testng.annotations.AfterClass;

/**
 * Reactive Streams TCK for a remote single {@code send} (a one-element publisher whose subscription is the message
 * on its way), against an in-process {@link RillServer} on 127.0.0.1. The failed publisher is a send the codec
 * cannot encode. Run by the TestNG engine on the JUnit Platform.
 */
public class RemoteSendTckTest extends PublisherVerification<SendResult<String>> {

    private final RillServer server = RillServer.bindNow(ServerOptions.defaults(), RemoteSendManyTckTest.BLOCK);
    private final ReactiveBroker client = RillClient.connect(URI.create("rill://127.0.0.1:" + server.port()),
            ClientOptions.defaults()).block(RemoteSendManyTckTest.BLOCK);
    private final ReactiveQueue<String> queue = client.queue(QueueSpec.named("tck-send"), Codec.utf8())
            .block(RemoteSendManyTckTest.BLOCK);
    private final AtomicInteger sent = new AtomicInteger();

    public RemoteSendTckTest() {
        super(new TestEnvironment(RemoteSendManyTckTest.TCK_TIMEOUT_MILLIS,
                RemoteSendManyTckTest.TCK_NO_SIGNALS_MILLIS), RemoteSendManyTckTest.TCK_TIMEOUT_MILLIS);
    }

    @AfterClass
    public void close() {
        client.close().block(RemoteSendManyTckTest.BLOCK);
        server.disposeNow(RemoteSendManyTckTest.BLOCK);
    }

    @Override
    public Publisher<SendResult<String>> createPublisher(long elements) {
        return queue.send(OutboundMessage.of("m" + sent.incrementAndGet()));
    }

    @Override
    public Publisher<SendResult<String>> createFailedPublisher() {
        Codec<String> broken = new Codec<>() {
            @Override
            public byte[] encode(String value) {
                throw new IllegalStateException("cannot encode (TCK)");
            }

            @Override
            public String decode(byte[] bytes) {
                return new String(bytes, java.nio.charset.StandardCharsets.UTF_8);
            }
        };
        ReactiveQueue<String> q = client.queue(QueueSpec.named("tck-send"), broken).block(RemoteSendManyTckTest.BLOCK);
        return q.send(OutboundMessage.of("never"));
    }

    @Override
    public long maxElementsFromPublisher() {
        return 1;
    }
}
