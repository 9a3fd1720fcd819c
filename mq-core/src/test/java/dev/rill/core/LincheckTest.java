package dev.rill.core;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.jetbrains.lincheck.datastructures.ThreadIdGen;
import org.jetbrains.lincheck.datastructures.IntGen;
import org.junit.jupiter.api.Test;

/**
 * Linearizability of {@link MessageQueue}'s concurrent operations, checked by Lincheck against the same class run
 * sequentially. Plain sends take the lock-free inbox, dedup sends the lock: both race for ids and capacity. Results are made comparable: sends report the outcome and id, receives the id and delivery count,
 * settles the outcome and id of the handle they used (each thread settles the oldest handle it holds).
 *
 * <p>Time is a shared logical clock that only {@link #tick()} moves; with a 2 ms visibility timeout, ticks make
 * leases run out, so stale handles and redeliveries are part of the checked histories. Thread ids come from
 * {@link ThreadIdGen} (0 for the init part, 1..n for the parallel threads, n+1 for the post part) so that the
 * sequential run keeps the same per-thread handles.
 */
@Param(name = "value", gen = IntGen.class, conf = "1:9")
public class LincheckTest {

    private static final int THREADS = 3;

    private final MessageQueue<Integer> queue = MessageQueue.create(QueueSpec.named("lin")
            .capacity(3)
            .visibilityTimeout(Duration.ofMillis(2)));
    private final AtomicLong clock = new AtomicLong();
    @SuppressWarnings("unchecked")
    private final ArrayDeque<ReceiptHandle>[] held = new ArrayDeque[THREADS + 2]; // 0: init part, 1..THREADS, then the post part

    public LincheckTest() {
        for (int i = 0; i < held.length; i++) {
            held[i] = new ArrayDeque<>();
        }
    }

    /** @return outcome and id of a send, e.g. {@code ENQUEUED#2}, {@code FULL#0} */
    @Operation
    public String send(@Param(name = "value") int value) {
        SendOutcome o = queue.send(OutboundMessage.of(value), clock.get());
        return o.status() + "#" + o.messageId();
    }

    /**
     * A send under the queue's lock (a dedup id), racing the lock-free plain sends above for ids and capacity.
     *
     * @return outcome and id
     */
    @Operation
    public String sendDedup(@Param(name = "value") int value) {
        SendOutcome o = queue.send(OutboundMessage.of(value).dedupId("d" + value), clock.get());
        return o.status() + "#" + o.messageId();
    }

    /** @return the received message's id, payload and delivery count, or {@code none} */
    @Operation
    public String receive(@Param(gen = ThreadIdGen.class) int thread) {
        List<Lease<Integer>> got = queue.receive(1, clock.get());
        if (got.isEmpty()) {
            return "none";
        }
        Lease<Integer> l = got.get(0);
        held[thread].addLast(l.handle());
        return l.message().id() + "=" + l.payload() + "/" + l.deliveryCount();
    }

    @Operation
    public String ack(@Param(gen = ThreadIdGen.class) int thread) {
        ReceiptHandle h = held[thread].pollFirst();
        return h == null ? "no handle" : queue.ack(h, clock.get()) + "#" + h.messageId();
    }

    @Operation
    public String nack(@Param(gen = ThreadIdGen.class) int thread) {
        ReceiptHandle h = held[thread].pollFirst();
        return h == null ? "no handle" : queue.nack(h, Duration.ZERO, clock.get()) + "#" + h.messageId();
    }

    @Operation
    public String release(@Param(gen = ThreadIdGen.class) int thread) {
        ReceiptHandle h = held[thread].pollFirst();
        return h == null ? "no handle" : queue.release(h, clock.get()) + "#" + h.messageId();
    }

    /** @return size, ready and in-flight counts and the delivered/acked counters */
    @Operation
    public String stats() {
        QueueStats s = queue.stats();
        return s.size() + ":" + s.ready() + ":" + s.inFlight() + ":" + s.delivered() + ":" + s.acked();
    }

    @Operation
    public long size() {
        return queue.size();
    }

    /**
     * Moves the shared clock one millisecond and tells the queue, so the tick takes effect at one point: the first
     * queue call that sees the new time (a call made with an older reading is clamped to the latest time seen).
     * The next deadline advance reports is not returned: which leases it sees depends on where, between reading
     * the clock and calling the queue, other threads ran, which is a property of this harness, not the queue.
     */
    @Operation
    public void tick() {
        queue.advance(clock.incrementAndGet());
    }

    @Test
    void modelChecking() {
        new ModelCheckingOptions()
                .threads(THREADS)
                .actorsPerThread(3)
                .actorsBefore(2)
                .actorsAfter(2)
                .iterations(12)
                .invocationsPerIteration(150)
                .check(LincheckTest.class);
    }

    @Test
    void stress() {
        new StressOptions()
                .threads(THREADS)
                .actorsPerThread(4)
                .actorsBefore(2)
                .actorsAfter(2)
                .iterations(15)
                .invocationsPerIteration(800)
                .check(LincheckTest.class);
    }
}
