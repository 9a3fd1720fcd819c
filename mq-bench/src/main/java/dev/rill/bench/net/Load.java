package dev.rill.bench.net;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/**
 * Drives a {@link Peer}: as fast as it takes (throughput), or at a fixed rate with latency measured from each
 * message's intended send time, so a stalled producer or server is charged for every message it delayed
 * (coordinated omission corrected by construction).
 */
final class Load {

    /** What one run measured. */
    record Outcome(long messages, double seconds, Histogram latency, Histogram senderLag, boolean complete) {

        double perSecond() {
            return messages / seconds;
        }
    }

    /** The consumer side of one run: counts, and records latencies of messages intended at or after a start. */
    static final class Run implements Peer.Listener {

        final long expected;
        final long recordFrom;
        final Histogram latency = new ConcurrentHistogram(TimeUnit.SECONDS.toNanos(300), 3);
        final AtomicLong count = new AtomicLong();
        final CountDownLatch done = new CountDownLatch(1);
        volatile long lastNanos;

        Run(long expected, long recordFrom) {
            this.expected = expected;
            this.recordFrom = recordFrom;
        }

        @Override
        public void consumed(long intendedNanos) {
            long now = System.nanoTime();
            if (intendedNanos >= recordFrom) {
                // clamped: a stamp from another clock must not kill the consumer thread
                latency.recordValue(Math.min(Math.max(0, now - intendedNanos), latency.getHighestTrackableValue()));
            }
            if (count.incrementAndGet() == expected) {
                lastNanos = now;
                done.countDown();
            }
        }
    }

    /** Routes the peer's consumer to the current run (messages of no run are ignored). */
    static final class Router implements Peer.Listener {

        volatile Run current;

        @Override
        public void consumed(long intendedNanos) {
            Run r = current;
            if (r != null) {
                r.consumed(intendedNanos);
            }
        }
    }

    private Load() {
    }

    /**
     * Sends {@code n} messages as fast as the peer's flow control allows and waits until all were consumed.
     *
     * @return messages consumed per second, from the first send to the last consume
     */
    static Outcome throughput(Peer peer, Router router, int n, long timeoutSeconds) throws Exception {
        Run run = new Run(n, Long.MAX_VALUE);
        router.current = run;
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            peer.send(System.nanoTime());
        }
        peer.flush();
        boolean complete = run.done.await(timeoutSeconds, TimeUnit.SECONDS);
        long end = complete ? run.lastNanos : System.nanoTime();
        router.current = null;
        return new Outcome(run.count.get(), (end - start) / 1e9, run.latency, null, complete);
    }

    /**
     * Sends at {@code rate} messages per second for {@code warmupSeconds + seconds}; latencies are recorded for
     * messages intended after the warmup. The producer wakes up when the next message is due and sends every due
     * message (so falling behind never lowers the offered rate); each message's latency runs from its intended
     * send time to its consumption.
     */
    static Outcome fixedRate(Peer peer, Router router, int rate, double warmupSeconds, double seconds,
            long timeoutSeconds) throws Exception {
        long total = (long) (rate * (warmupSeconds + seconds));
        double interval = 1e9 / rate;
        long start = System.nanoTime() + 1_000_000;
        long recordFrom = start + (long) (warmupSeconds * 1e9);
        Run run = new Run(total, recordFrom);
        Histogram lag = new Histogram(TimeUnit.SECONDS.toNanos(300), 3);
        router.current = run;
        for (long i = 0; i < total; i++) {
            long intended = start + (long) (i * interval);
            long now = System.nanoTime();
            if (now < intended) {
                peer.flush();
                while ((now = System.nanoTime()) < intended) {
                    LockSupport.parkNanos(intended - now);
                }
            }
            if (intended >= recordFrom) {
                lag.recordValue(now - intended);
            }
            peer.send(intended);
        }
        peer.flush();
        boolean complete = run.done.await(timeoutSeconds, TimeUnit.SECONDS);
        router.current = null;
        return new Outcome(run.count.get(), seconds, run.latency, lag, complete);
    }
}
