package dev.rill.bench;

import dev.rill.core.MessageQueue;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.SendOutcome;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.ref.Reference;

/**
 * Measures the heap a {@code MessageQueue} needs per queued message beyond the payload: fills a queue with
 * {@code n} messages that all share one payload object (so payload bytes are counted once, not per message) and
 * compares the used heap after a full, settled GC with the used heap before the queue existed.
 *
 * <p>Run: {@code java -Xmx2g -cp mq-bench/target/benchmarks.jar dev.rill.bench.MemoryFootprint 10000000}
 * (the default is 1,000,000 messages). Prints {@code key=value} lines; exits with status 1 if the queue could not
 * hold them all.
 */
public final class MemoryFootprint {

    private static final MemoryMXBean MEMORY = ManagementFactory.getMemoryMXBean();

    private MemoryFootprint() {
    }

    /**
     * The outcome of one measurement.
     *
     * @param messages messages queued
     * @param usedBefore used heap before the queue was created, bytes
     * @param usedAfter used heap with the queue full, bytes
     * @param maxHeap the heap limit, bytes
     */
    public record Result(long messages, long usedBefore, long usedAfter, long maxHeap) {

        /** @return heap bytes per queued message beyond the shared payload */
        public double bytesPerMessage() {
            return (usedAfter - usedBefore) / (double) messages;
        }
    }

    /**
     * Fills a fresh queue with {@code n} messages of one shared small payload and measures the heap it retains.
     *
     * @param n messages, at least 1
     * @return the measurement
     */
    public static Result measure(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("n must be >= 1, was " + n);
        }
        OutboundMessage<Integer> message = OutboundMessage.of(Integer.valueOf(4242));
        long before = settledUsedHeap();
        MessageQueue<Integer> queue = MessageQueue.create(QueueSpec.named("footprint").capacity(n));
        long now = 0;
        for (int i = 0; i < n; i++) {
            SendOutcome out = queue.send(message, now);
            if (out.status() != SendOutcome.Status.ENQUEUED) {
                throw new IllegalStateException("send " + i + " reported " + out);
            }
        }
        long after = settledUsedHeap();
        if (queue.size() != n) {
            throw new IllegalStateException("queue holds " + queue.size() + ", expected " + n);
        }
        Reference.reachabilityFence(queue);
        return new Result(n, before, after, Runtime.getRuntime().maxMemory());
    }

    /**
     * Runs full GCs until the used heap stops moving (two readings within 64 KiB, at most 20 GCs).
     *
     * @return used heap bytes
     */
    static long settledUsedHeap() {
        long previous = Long.MIN_VALUE;
        long used = 0;
        for (int i = 0; i < 20; i++) {
            System.gc();
            used = MEMORY.getHeapMemoryUsage().getUsed();
            if (i > 0 && Math.abs(used - previous) < 64 * 1024) {
                break;
            }
            previous = used;
        }
        return used;
    }

    /**
     * Measures and prints.
     *
     * @param args optional message count (default 1,000,000)
     */
    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0].replace("_", "")) : 1_000_000;
        Result r;
        try {
            r = measure(n);
        } catch (OutOfMemoryError e) {
            System.out.println("messages=" + n);
            System.out.println("fits=false (OutOfMemoryError with max heap "
                    + mib(Runtime.getRuntime().maxMemory()) + " MiB)");
            System.exit(1);
            return;
        }
        System.out.println("messages=" + r.messages());
        System.out.printf("bytes_per_message=%.1f%n", r.bytesPerMessage());
        System.out.println("used_heap_before_mib=" + mib(r.usedBefore()));
        System.out.println("used_heap_full_mib=" + mib(r.usedAfter()));
        System.out.println("max_heap_mib=" + mib(r.maxHeap()));
        System.out.println("fits=true");
    }

    private static long mib(long bytes) {
        return bytes / (1024 * 1024);
    }
}
