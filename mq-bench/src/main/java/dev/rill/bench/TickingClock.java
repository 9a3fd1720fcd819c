package dev.rill.bench;

import java.util.concurrent.locks.LockSupport;

/**
 * A millisecond clock read with one volatile load: a daemon thread stores {@code System.nanoTime() / 1e6} about
 * every millisecond. The usual cached clock of low-latency callers, for benchmark loops that pass {@code now} on
 * every queue call.
 */
final class TickingClock {

    private static volatile long millis = System.nanoTime() / 1_000_000L;

    static {
        Thread t = new Thread(() -> {
            while (true) {
                millis = System.nanoTime() / 1_000_000L;
                LockSupport.parkNanos(1_000_000L);
            }
        }, "rill-bench-clock");
        t.setDaemon(true);
        t.start();
    }

    private TickingClock() {
    }

    /** @return the clock, millis on the {@code System.nanoTime()} scale, at most about a millisecond behind */
    static long millis() {
        return millis;
    }
}
