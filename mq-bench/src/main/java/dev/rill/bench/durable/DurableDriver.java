package dev.rill.bench.durable;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Drives a {@link DurableTarget}'s senders for one timed run: each producer thread sends as fast as its window of
 * outstanding (unconfirmed) sends allows until the run's time is up or its share of the message cap is sent, then
 * waits for its last confirms. Throughput counts confirmed sends from the first send to the last confirm; latency
 * runs from each send call to its confirm (closed loop: the window, not a fixed rate, paces the producers).
 */
final class DurableDriver {

    /**
     * What one run measured.
     *
     * @param messages sends confirmed ok
     * @param failures sends refused, failed or never confirmed
     * @param seconds from the first send to the last confirm
     * @param p50us median send → confirm latency, µs
     * @param p99us 99th percentile, µs
     * @param p999us 99.9th percentile, µs
     * @param maxUs the largest, µs
     * @param complete false when some confirm did not arrive within the timeout
     */
    record RunResult(long messages, long failures, double seconds, double p50us, double p99us, double p999us,
            double maxUs, boolean complete) {

        /** @return confirmed sends per second */
        double perSecond() {
            return seconds <= 0 ? 0 : messages / seconds;
        }
    }

    private DurableDriver() {
    }

    /**
     * Runs the senders for about {@code seconds} (or until {@code maxMessages} were sent in all) with
     * {@code window} sends outstanding per sender.
     *
     * @param senders one per producer thread
     * @param payload the message (shared)
     * @param window outstanding sends per producer
     * @param seconds how long producers keep sending
     * @param maxMessages cap on the sends of the run, split evenly between the producers
     * @param timeoutSeconds how long to wait for the last confirms after the sending stopped
     * @return the run's figures
     * @throws InterruptedException if interrupted
     */
    static RunResult run(List<DurableTarget.Sender> senders, byte[] payload, int window, double seconds,
            long maxMessages, long timeoutSeconds) throws InterruptedException {
        int producers = senders.size();
        long perProducer = Math.max(1, maxMessages / producers);
        Recorder recorder = new Recorder(3);
        AtomicLong confirmed = new AtomicLong();
        AtomicLong failures = new AtomicLong();
        AtomicLong lastConfirm = new AtomicLong();
        boolean[] complete = new boolean[producers];
        long start = System.nanoTime();
        long deadline = start + (long) (seconds * 1e9);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < producers; t++) {
            DurableTarget.Sender sender = senders.get(t);
            int index = t;
            Thread th = new Thread(() -> {
                Semaphore w = new Semaphore(window);
                long sent = 0;
                try {
                    while (sent < perProducer && System.nanoTime() < deadline) {
                        if (!w.tryAcquire()) {
                            sender.flush();
                            if (!w.tryAcquire(timeoutSeconds, TimeUnit.SECONDS)) {
                                break; // a confirm is lost: the final wait below reports it
                            }
                        }
                        long t0 = System.nanoTime();
                        sent++;
                        try {
                            sender.send(payload, ok -> {
                                long now = System.nanoTime();
                                recorder.recordValue(Math.max(0, (now - t0) / 1000));
                                if (ok) {
                                    confirmed.incrementAndGet();
                                } else {
                                    failures.incrementAndGet();
                                }
                                lastConfirm.accumulateAndGet(now, Math::max);
                                w.release();
                            });
                        } catch (Exception e) {
                            failures.incrementAndGet();
                            w.release();
                        }
                    }
                    sender.flush();
                    complete[index] = w.tryAcquire(window, timeoutSeconds, TimeUnit.SECONDS);
                } catch (Exception e) {
                    System.err.println("durable producer " + index + " failed: " + e);
                    complete[index] = false;
                }
            }, "durable-producer-" + t);
            th.start();
            threads.add(th);
        }
        for (Thread th : threads) {
            th.join();
        }
        boolean all = true;
        for (boolean c : complete) {
            all &= c;
        }
        Histogram h = recorder.getIntervalHistogram();
        long end = lastConfirm.get() == 0 ? System.nanoTime() : lastConfirm.get();
        return new RunResult(confirmed.get(), failures.get(), (end - start) / 1e9, h.getValueAtPercentile(50),
                h.getValueAtPercentile(99), h.getValueAtPercentile(99.9), h.getMaxValue(), all);
    }
}
