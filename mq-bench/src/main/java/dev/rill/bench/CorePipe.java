package dev.rill.bench;

import dev.rill.core.Lease;
import dev.rill.core.LeaseOutcome;
import dev.rill.core.MessageQueue;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueListener;
import dev.rill.core.QueueSpec;
import dev.rill.core.ReceiptHandle;
import dev.rill.core.SendOutcome;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * {@link MessageQueue} as a producer/consumer transport: send (one, or {@code offerAll} of a batch: no per-message outcome objects), then
 * {@code receive(batch)} and {@code ack}/{@code ackAll}; a message counts as consumed once its ack reported
 * {@code OK}.
 *
 * <p>Waiting mirrors {@code ArrayBlockingQueue}'s conditions: a consumer that finds the queue empty (or a producer
 * that finds it full) publishes itself in a volatile field, tries once more, and parks; the queue's
 * {@link QueueListener#onReadable() readable}/{@link QueueListener#onWritable() writable} edge, fired after the
 * queue's lock is released, unparks it only when someone is parked (as a condition's signal does). No wake-up can be
 * lost: the edge fires on the first call that finds the queue non-empty (non-full) after the waiter's empty (full)
 * result, and that call reads the volatile field after the waiter wrote it.
 *
 * <p>Clock: every call passes {@code now} from a shared millisecond clock that a daemon ticker thread advances
 * ({@link TickingClock}, the cached-clock pattern of low-latency code), not from a {@code System.nanoTime()} per
 * call. On this project's VMs one {@code nanoTime} costs 60-180 ns, which one-at-a-time (three calls per message)
 * would charge to the queue although it is not queue work ({@code ArrayBlockingQueue} reads no clock); a caller that
 * reads a real clock per call pays it on top.
 */
final class CorePipe extends Pipe {

    private final MessageQueue<Integer> queue;
    private final List<OutboundMessage<Integer>> messages;
    private final int sendBatch;
    private final int receiveBatch;
    private volatile Thread parkedConsumer;
    private volatile Thread parkedProducer;

    CorePipe(int capacity, int payloadCount, int sendBatch, int receiveBatch) {
        super(payloadCount);
        this.queue = MessageQueue.create(QueueSpec.named("bench").capacity(capacity));
        ArrayList<OutboundMessage<Integer>> m = new ArrayList<>(payloadCount);
        for (Integer p : payloads) {
            m.add(OutboundMessage.of(p));
        }
        this.messages = m;
        this.sendBatch = sendBatch;
        this.receiveBatch = receiveBatch;
        queue.setListener(new QueueListener() {
            @Override
            public void onReadable() {
                Thread t = parkedConsumer;
                if (t != null) {
                    LockSupport.unpark(t);
                }
            }

            @Override
            public void onWritable() {
                Thread t = parkedProducer;
                if (t != null) {
                    LockSupport.unpark(t);
                }
            }
        });
    }

    /** @return the queue under test (for checks of its counters) */
    MessageQueue<Integer> queue() {
        return queue;
    }

    private static long now() {
        return TickingClock.millis();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Producer
    // ---------------------------------------------------------------------------------------------------------

    @Override
    void produce(int n) throws InterruptedException {
        if (sendBatch == 1) {
            produceOne(n);
        } else {
            produceBatches(n);
        }
    }

    private void produceOne(int n) throws InterruptedException {
        MessageQueue<Integer> q = queue;
        List<OutboundMessage<Integer>> m = messages;
        int mask = payloadMask;
        for (int i = 0; i < n; i++) {
            OutboundMessage<Integer> msg = m.get(i & mask);
            if (q.send(msg, now()).status() != SendOutcome.Status.ENQUEUED) {
                awaitSend(msg);
            }
        }
    }

    private void awaitSend(OutboundMessage<Integer> msg) throws InterruptedException {
        parkedProducer = Thread.currentThread();
        try {
            SendOutcome.Status st;
            while ((st = queue.send(msg, now()).status()) == SendOutcome.Status.FULL) {
                park();
            }
            check(st);
        } finally {
            parkedProducer = null;
        }
    }

    private void produceBatches(int n) throws InterruptedException {
        MessageQueue<Integer> q = queue;
        List<OutboundMessage<Integer>> m = messages;
        int mask = payloadMask;
        ArrayList<OutboundMessage<Integer>> batch = new ArrayList<>(sendBatch);
        for (int i = 0; i < n; ) {
            int k = Math.min(sendBatch, n - i);
            for (int j = 0; j < k; j++) {
                batch.add(m.get((i + j) & mask));
            }
            int accepted = accepted(q.offerAll(batch, now()));
            if (accepted < k) {
                awaitSendAll(batch.subList(accepted, k));
            }
            batch.clear();
            i += k;
        }
    }

    private void awaitSendAll(List<OutboundMessage<Integer>> rest) throws InterruptedException {
        parkedProducer = Thread.currentThread();
        try {
            while (!rest.isEmpty()) {
                int accepted = accepted(queue.offerAll(rest, now()));
                if (accepted < rest.size()) {
                    rest = rest.subList(accepted, rest.size());
                    park();
                } else {
                    rest = List.of();
                }
            }
        } finally {
            parkedProducer = null;
        }
    }

    /** offerAll stores a prefix (no dedup ids here, so every accepted message is stored); -1 means closed. */
    private static int accepted(int n) {
        if (n < 0) {
            throw new IllegalStateException("offerAll reported the queue closed");
        }
        return n;
    }

    private static void check(SendOutcome.Status st) {
        if (st != SendOutcome.Status.ENQUEUED && st != SendOutcome.Status.FULL) {
            throw new IllegalStateException("send reported " + st);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Consumer
    // ---------------------------------------------------------------------------------------------------------

    @Override
    long consume(int n, int[] seen) throws InterruptedException {
        return receiveBatch == 1 ? consumeOne(n, seen) : consumeBatches(n, seen);
    }

    private long consumeOne(int n, int[] seen) throws InterruptedException {
        MessageQueue<Integer> q = queue;
        long sum = 0;
        for (int got = 0; got < n; got++) {
            List<Lease<Integer>> leases = q.receive(1, now());
            if (leases.isEmpty()) {
                leases = awaitLeases(1);
            }
            Lease<Integer> l = leases.get(0);
            int v = l.payload();
            if (q.ack(l.handle(), now()) != LeaseOutcome.OK) {
                throw new IllegalStateException("ack of " + l.handle() + " was stale");
            }
            sum += v;
            if (seen != null) {
                seen[v]++;
            }
        }
        return sum;
    }

    private long consumeBatches(int n, int[] seen) throws InterruptedException {
        MessageQueue<Integer> q = queue;
        ArrayList<ReceiptHandle> handles = new ArrayList<>(receiveBatch);
        long sum = 0;
        int got = 0;
        while (got < n) {
            int max = Math.min(receiveBatch, n - got);
            List<Lease<Integer>> leases = q.receive(max, now());
            if (leases.isEmpty()) {
                leases = awaitLeases(max);
            }
            long batchSum = 0;
            for (int i = 0, k = leases.size(); i < k; i++) {
                Lease<Integer> l = leases.get(i);
                int v = l.payload();
                batchSum += v;
                if (seen != null) {
                    seen[v]++;
                }
                handles.add(l.handle());
            }
            List<LeaseOutcome> acks = q.ackAll(handles, now());
            for (int i = 0, k = acks.size(); i < k; i++) {
                if (acks.get(i) != LeaseOutcome.OK) {
                    throw new IllegalStateException("ack of " + handles.get(i) + " was stale");
                }
            }
            sum += batchSum;
            got += handles.size();
            handles.clear();
        }
        return sum;
    }

    private List<Lease<Integer>> awaitLeases(int max) throws InterruptedException {
        parkedConsumer = Thread.currentThread();
        try {
            List<Lease<Integer>> leases;
            while ((leases = queue.receive(max, now())).isEmpty()) {
                park();
            }
            return leases;
        } finally {
            parkedConsumer = null;
        }
    }

    private void park() throws InterruptedException {
        LockSupport.park(this);
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
    }

    @Override
    long size() {
        return queue.size();
    }
}
