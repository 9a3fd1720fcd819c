package dev.rill.reactive;

import dev.rill.core.Codec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A UTF-8 codec whose encoding of one payload waits until released. A durable queue encodes a payload on the sending
 * thread, inside the core's send and before the queue's lock ({@code Journal.prepare}): declared as a durable queue's
 * codec, this holds the send of that payload in the middle of its store, on a thread the test knows, for as long as
 * the test needs (shared with the transport's tests through the test jar).
 */
public final class HeldEncoding implements Codec<String> {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    private final String held;
    private final CountDownLatch entered = new CountDownLatch(1);
    private final CountDownLatch released = new CountDownLatch(1);

    /** @param held the payload whose encoding waits */
    public HeldEncoding(String held) {
        this.held = held;
    }

    @Override
    public byte[] encode(String payload) {
        if (held.equals(payload)) {
            entered.countDown();
            try {
                released.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return payload.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public String decode(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /**
     * Acks the head of {@code queue} (full, with the held payload's send waiting for room) on a thread of its own,
     * whose writable edge then stores the waiting send and is held in its encoding; runs {@code action} while it is
     * held, then releases it and waits for that thread to finish.
     *
     * @param queue the queue, declared with this codec on a durable broker
     * @param action what the test does while the store is under way
     * @param <R> the action's result type
     * @return the action's result
     * @throws Exception the action's, or an {@link AssertionError} if the store did not start within 20 s
     */
    public <R> R whileStoring(ReactiveQueue<String> queue, Callable<R> action) throws Exception {
        Thread acker = new Thread(() -> queue.receiveOne(Duration.ZERO).flatMap(Delivery::ack).block(TIMEOUT),
                "held-encoding-acker");
        acker.start();
        try {
            if (!entered.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError("the ack did not let the send of '" + held + "' in");
            }
            return action.call();
        } finally {
            released.countDown();
            acker.join(TIMEOUT.toMillis());
        }
    }
}
