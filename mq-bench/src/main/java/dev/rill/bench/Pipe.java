package dev.rill.bench;

import java.util.Objects;

/**
 * One producer-to-consumer transport under test: a queue plus the loops that push {@code n} small messages through
 * it. The loops live in the implementation (not behind a per-message virtual call) so each variant is measured with
 * its own straight-line code.
 *
 * <p>Payloads are pre-boxed {@code Integer}s {@code 0..payloads-1}; message {@code i} carries {@code i % payloads}.
 * The consumer sums the payloads it receives (so its work cannot be optimized away and a test can check it) and,
 * when given a {@code seen} array, counts every payload value it receives.
 *
 * <p>Waiting: a consumer facing an empty queue and a producer facing a full one park, like
 * {@code BlockingQueue.take}/{@code put} do; nobody spins on the other thread's core.
 */
abstract class Pipe {

    /** The transports compared by {@link CoreThroughputBenchmark}. */
    enum Kind {
        /** {@code ArrayBlockingQueue.put} / {@code take}. */
        ABQ,
        /** {@code ArrayBlockingQueue.put} / {@code take} then {@code drainTo} up to 63 more (a batched reference). */
        ABQ_DRAIN,
        /** {@code LinkedBlockingQueue.put} / {@code take}. */
        LBQ,
        /** {@code MessageQueue}: send one, receive one, ack one. */
        CORE_SINGLE,
        /** {@code MessageQueue}: send one at a time; {@code receive(64)} then {@code ackAll}. */
        CORE_BATCH_RECV,
        /** {@code MessageQueue}: {@code offerAll} of 64; {@code receive(64)} then {@code ackAll}. */
        CORE_BATCH_ALL
    }

    /** Batch size of the batched variants. */
    static final int BATCH = 64;

    final Integer[] payloads;
    final int payloadMask;

    Pipe(int payloadCount) {
        if (payloadCount < 1 || Integer.bitCount(payloadCount) != 1) {
            throw new IllegalArgumentException("payloadCount must be a power of two, was " + payloadCount);
        }
        this.payloads = new Integer[payloadCount];
        for (int i = 0; i < payloadCount; i++) {
            payloads[i] = Integer.valueOf(i); // fresh boxes above 127: the queue never sees a shared cache object
        }
        this.payloadMask = payloadCount - 1;
        // Every kind runs with the clock's ticker thread in its JVM, also those that read no clock: on 2 cores its
        // 1,000 wake-ups a second preempt the producer or the consumer, which cost the queues that read it
        // 10-15% (measured: 1 producer + 1 consumer one at a time, 7.5M -> 6.4-6.9M msg/s) and must cost the
        // reference queue the same
        TickingClock.millis();
    }

    /**
     * Creates a transport.
     *
     * @param kind which one
     * @param capacity the queue's capacity in messages (the same for every kind)
     * @param payloadCount distinct payloads, a power of two
     * @return a new, empty transport
     */
    static Pipe create(Kind kind, int capacity, int payloadCount) {
        Objects.requireNonNull(kind, "kind");
        return switch (kind) {
            case ABQ -> new BlockingQueuePipe(BlockingQueuePipe.Type.ARRAY, capacity, payloadCount, false);
            case ABQ_DRAIN -> new BlockingQueuePipe(BlockingQueuePipe.Type.ARRAY, capacity, payloadCount, true);
            case LBQ -> new BlockingQueuePipe(BlockingQueuePipe.Type.LINKED, capacity, payloadCount, false);
            case CORE_SINGLE -> new CorePipe(capacity, payloadCount, 1, 1);
            case CORE_BATCH_RECV -> new CorePipe(capacity, payloadCount, 1, BATCH);
            case CORE_BATCH_ALL -> new CorePipe(capacity, payloadCount, BATCH, BATCH);
        };
    }

    /**
     * Sends messages {@code 0..n-1} in order, waiting while the queue is full. Runs on the producer thread.
     *
     * @param n how many
     * @throws InterruptedException if interrupted while waiting
     */
    abstract void produce(int n) throws InterruptedException;

    /**
     * Receives (and for the core: acknowledges) exactly {@code n} messages, waiting while the queue is empty. Runs
     * on the consumer thread.
     *
     * @param n how many
     * @param seen null, or an array indexed by payload value that counts receipts
     * @return the sum of the received payloads
     * @throws InterruptedException if interrupted while waiting
     */
    abstract long consume(int n, int[] seen) throws InterruptedException;

    /** @return messages held by the queue now (0 after a complete run) */
    abstract long size();

    /**
     * The payload sum a complete run of {@code n} messages must produce.
     *
     * @param n messages sent
     * @param payloadCount distinct payloads
     * @return the expected {@link #consume} result
     */
    static long expectedSum(int n, int payloadCount) {
        long sum = 0;
        for (int i = 0; i < n; i++) {
            sum += i & (payloadCount - 1);
        }
        return sum;
    }
}
