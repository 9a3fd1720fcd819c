package dev.rill.bench;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Runs one producer and one consumer through a {@link Pipe}: the producer on a dedicated, long-lived thread, the
 * consumer on the calling thread. A run returns when the consumer has consumed all {@code n} messages and the
 * producer has returned, so the time of a run is the end-to-end time of {@code n} messages.
 */
final class EndToEnd implements AutoCloseable {

    private final ExecutorService producer = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "rill-bench-producer");
        t.setDaemon(true);
        return t;
    });

    /**
     * Pushes {@code n} messages from the producer thread to this thread.
     *
     * @param pipe the transport, empty
     * @param n messages
     * @param seen null, or per-payload receipt counts (see {@link Pipe#consume})
     * @return the consumer's payload sum
     * @throws InterruptedException if interrupted
     * @throws ExecutionException if the producer failed
     */
    long run(Pipe pipe, int n, int[] seen) throws InterruptedException, ExecutionException {
        Future<?> sent = producer.submit(() -> {
            pipe.produce(n);
            return null;
        });
        long sum;
        try {
            sum = pipe.consume(n, seen);
        } catch (InterruptedException | RuntimeException e) {
            sent.cancel(true);
            throw e;
        }
        sent.get();
        return sum;
    }

    @Override
    public void close() {
        producer.shutdownNow();
    }
}
