package dev.rill.reactive;

import dev.rill.core.log.LogOptions;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import reactor.core.scheduler.Scheduler;

/**
 * The durable log's idle wake-up (the end of a dedup window that keeps its oldest segment, a relocation's retry) on
 * the broker's {@link Scheduler}, whose clock is the log's: a {@code VirtualTimeScheduler} wakes the writer when
 * virtual time gets there. With the default timed park the writer slept for the virtual time left in real time.
 * A scheduler that refuses the task (disposed) gets the timed park instead.
 */
final class SchedulerLogTimer implements LogOptions.Timer {

    private final Scheduler scheduler;

    SchedulerLogTimer(Scheduler scheduler) {
        this.scheduler = scheduler;
    }

    @Override
    public long wakeAt(long atMillis, long nowMillis, Runnable wake) {
        try {
            scheduler.schedule(wake, atMillis - nowMillis, TimeUnit.MILLISECONDS);
            return 0;
        } catch (RejectedExecutionException e) {
            return LogOptions.Timer.PARK.wakeAt(atMillis, nowMillis, wake);
        }
    }

    @Override
    public String toString() {
        return "SchedulerLogTimer{" + scheduler + "}";
    }
}
