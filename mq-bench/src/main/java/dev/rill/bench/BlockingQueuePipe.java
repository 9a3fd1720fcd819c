package dev.rill.bench;

import java.util.ArrayList;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/** The JDK baselines: {@code put} / {@code take} (optionally {@code take} + {@code drainTo}) on a bounded queue. */
final class BlockingQueuePipe extends Pipe {

    enum Type { ARRAY, LINKED }

    private final BlockingQueue<Integer> queue;
    private final boolean drain;

    BlockingQueuePipe(Type type, int capacity, int payloadCount, boolean drain) {
        super(payloadCount);
        this.queue = type == Type.ARRAY ? new ArrayBlockingQueue<>(capacity) : new LinkedBlockingQueue<>(capacity);
        this.drain = drain;
    }

    @Override
    void produce(int n) throws InterruptedException {
        BlockingQueue<Integer> q = queue;
        Integer[] p = payloads;
        int mask = payloadMask;
        for (int i = 0; i < n; i++) {
            q.put(p[i & mask]);
        }
    }

    @Override
    long consume(int n, int[] seen) throws InterruptedException {
        return drain ? consumeDrain(n, seen) : consumeTake(n, seen);
    }

    private long consumeTake(int n, int[] seen) throws InterruptedException {
        BlockingQueue<Integer> q = queue;
        long sum = 0;
        for (int got = 0; got < n; got++) {
            int v = q.take();
            sum += v;
            if (seen != null) {
                seen[v]++;
            }
        }
        return sum;
    }

    private long consumeDrain(int n, int[] seen) throws InterruptedException {
        BlockingQueue<Integer> q = queue;
        ArrayList<Integer> buf = new ArrayList<>(BATCH);
        long sum = 0;
        int got = 0;
        while (got < n) {
            buf.add(q.take());
            q.drainTo(buf, Math.min(BATCH, n - got) - 1);
            for (int i = 0, k = buf.size(); i < k; i++) {
                int v = buf.get(i);
                sum += v;
                if (seen != null) {
                    seen[v]++;
                }
            }
            got += buf.size();
            buf.clear();
        }
        return sum;
    }

    @Override
    long size() {
        return queue.size();
    }
}
