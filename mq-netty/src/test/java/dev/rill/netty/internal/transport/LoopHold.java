package dev.rill.netty.internal.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.util.concurrent.EventExecutor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Keeps event loops busy (each runs a task that waits on a latch) until closed, so a test can check what must not
 * have happened before they run again (a close that needs them, say).
 */
final class LoopHold implements AutoCloseable {

    private final CountDownLatch hold = new CountDownLatch(1);

    /**
     * Returns once every loop runs the holding task.
     *
     * @param loops the loops to hold
     * @param bound how long they are held at most, and how long this waits for them
     */
    LoopHold(Iterable<? extends EventExecutor> loops, Duration bound) throws InterruptedException {
        List<EventExecutor> all = new ArrayList<>();
        loops.forEach(all::add);
        CountDownLatch held = new CountDownLatch(all.size());
        for (EventExecutor loop : all) {
            loop.execute(() -> {
                held.countDown();
                try {
                    hold.await(bound.toMillis(), TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }
        assertThat(held.await(bound.toMillis(), TimeUnit.MILLISECONDS)).as("the loops held").isTrue();
    }

    /** Lets the loops go. */
    @Override
    public void close() {
        hold.countDown();
    }
}
