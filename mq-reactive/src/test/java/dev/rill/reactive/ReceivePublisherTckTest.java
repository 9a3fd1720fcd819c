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

/**
 * Reactive Streams TCK for {@link ReactiveQueue#receive(ReceiveOptions)}: a queue pre-filled with n messages,
 * received through {@code maxMessages(n)} so the completion rules run too. Run by the TestNG engine on the JUnit
 * Platform.
 */
public class ReceivePublisherTckTest extends PublisherVerification<Delivery<String>> {

    /** The TCK's default 100 ms is too tight for a busy 2-core machine. */
    static final long TCK_TIMEOUT_MILLIS = 1_000;
    /** How long "no further signal" checks watch; they pass by waiting, so this bounds the suite's run time. */
    static final long TCK_NO_SIGNALS_MILLIS = 200;
    /**
     * How often a wait for an expected error looks for it. The two-argument {@link TestEnvironment} polls at the
     * default timeout, so each {@code expectError} (the spec309 rules) slept the whole second even though the error
     * comes at once; polling every 10 ms keeps the same one-second bound and returns when the error is there.
     */
    static final long TCK_POLL_MILLIS = 10;
    private static final Duration BLOCK = Duration.ofSeconds(10);

    private final ReactiveBroker broker = Rill.inMemory();
    private final AtomicInteger names = new AtomicInteger();

    public ReceivePublisherTckTest() {
        super(new TestEnvironment(TCK_TIMEOUT_MILLIS, TCK_NO_SIGNALS_MILLIS, TCK_POLL_MILLIS), TCK_TIMEOUT_MILLIS);
    }

    @AfterClass
    public void closeBroker() {
        broker.close().block(BLOCK);
    }

    private ReactiveQueue<String> newQueue() {
        return broker.queue(QueueSpec.named("tck-receive-" + names.incrementAndGet()).unbounded(), Codec.utf8())
                .block(BLOCK);
    }

    @Override
    public Publisher<Delivery<String>> createPublisher(long elements) {
        ReactiveQueue<String> q = newQueue();
        for (long i = 0; i < elements; i++) {
            q.send(OutboundMessage.of("m" + i)).block(BLOCK);
        }
        return q.receive(ReceiveOptions.defaults().maxMessages(elements));
    }

    @Override
    public Publisher<Delivery<String>> createFailedPublisher() {
        ReactiveQueue<String> q = newQueue();
        broker.delete(q.name()).block(BLOCK);
        return q.receive();
    }

    @Override
    public long maxElementsFromPublisher() {
        return 4_096;
    }
}
