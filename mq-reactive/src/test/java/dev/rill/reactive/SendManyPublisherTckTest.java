package dev.rill.reactive;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.reactivestreams.Publisher;
import org.reactivestreams.tck.PublisherVerification;
import org.reactivestreams.tck.TestEnvironment;
import org.testng.annotations.AfterClass;
import reactor.core.publisher.Flux;

/**
 * Reactive Streams TCK for {@link ReactiveQueue#sendMany}: the result stream of n sends. Run by the TestNG engine
 * on the JUnit Platform.
 */
public class SendManyPublisherTckTest extends PublisherVerification<SendResult<String>> {

    private static final Duration BLOCK = Duration.ofSeconds(10);

    private final ReactiveBroker broker = Rill.inMemory();
    private final AtomicInteger names = new AtomicInteger();

    public SendManyPublisherTckTest() {
        super(new TestEnvironment(ReceivePublisherTckTest.TCK_TIMEOUT_MILLIS,
                ReceivePublisherTckTest.TCK_NO_SIGNALS_MILLIS, ReceivePublisherTckTest.TCK_POLL_MILLIS),
                ReceivePublisherTckTest.TCK_TIMEOUT_MILLIS);
    }

    @AfterClass
    public void closeBroker() {
        broker.close().block(BLOCK);
    }

    private ReactiveQueue<String> newQueue(int capacity) {
        return broker.queue(QueueSpec.named("tck-send-" + names.incrementAndGet()).capacity(capacity), Codec.utf8())
                .block(BLOCK);
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
