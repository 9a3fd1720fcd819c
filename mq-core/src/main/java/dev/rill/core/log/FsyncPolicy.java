package dev.rill.core.log;

import java.time.Duration;
import java.util.Objects;

/**
 * When the log forces appended records to stable storage, and so when an append counts as durable.
 *
 * <ul>
 *   <li>{@link #always()}: an append is durable once its batch was written and {@code fsync}ed. The writer
 *       thread batches whatever is pending into one write and one fsync (group commit), so the cost is one fsync
 *       per batch, not per record. Nothing confirmed is lost on a crash of the process or the machine.</li>
 *   <li>{@link #interval(Duration)}: an append is confirmed once its batch was written to the file (the
 *       operating system's page cache); the log is fsynced every {@code interval}. Loss window: a crash
 *       of the process loses nothing confirmed; a crash of the machine (power, kernel) may lose what was
 *       confirmed during the last {@code interval} before it.</li>
 *   <li>{@link #never()}: like {@code interval} without the periodic fsync; the operating system decides when
 *       data reaches the disk (on Linux typically within 30 s). Fsync still happens when a segment is closed.</li>
 * </ul>
 *
 * <p>Under every policy the log also fsyncs in the background after every few MiB written (write-behind), so that
 * closing a segment, which fsyncs it while appends wait, finds little left to write. Under {@code interval} and
 * {@code never} such an fsync confirms nothing and changes no loss window.
 *
 * <p>Instances are immutable.
 */
public final class FsyncPolicy {

    /** Which kind of policy this is. */
    public enum Kind {
        /** fsync every batch before confirming it. */
        ALWAYS,
        /** confirm after the write; fsync periodically. */
        INTERVAL,
        /** confirm after the write; never fsync on a timer. */
        NEVER
    }

    private static final FsyncPolicy ALWAYS = new FsyncPolicy(Kind.ALWAYS, Duration.ZERO);
    private static final FsyncPolicy NEVER = new FsyncPolicy(Kind.NEVER, Duration.ZERO);

    private final Kind kind;
    private final Duration interval;

    private FsyncPolicy(Kind kind, Duration interval) {
        this.kind = kind;
        this.interval = interval;
    }

    /** @return the policy that confirms an append only after its batch was fsynced */
    public static FsyncPolicy always() {
        return ALWAYS;
    }

    /**
     * Confirms appends after the write and fsyncs every {@code interval}: the loss window on a machine
     * crash is {@code interval}.
     *
     * @param interval positive, at most one hour
     * @return the policy
     * @throws IllegalArgumentException if {@code interval} is not positive or longer than one hour
     */
    public static FsyncPolicy interval(Duration interval) {
        Objects.requireNonNull(interval, "interval");
        if (interval.isNegative() || interval.isZero() || interval.compareTo(Duration.ofHours(1)) > 0) {
            throw new IllegalArgumentException("interval must be positive and at most 1 hour, was " + interval);
        }
        return new FsyncPolicy(Kind.INTERVAL, interval);
    }

    /** @return the policy that confirms after the write and leaves flushing to the operating system */
    public static FsyncPolicy never() {
        return NEVER;
    }

    /** @return the kind of policy */
    public Kind kind() {
        return kind;
    }

    /** @return the fsync interval of an {@link Kind#INTERVAL} policy, else zero */
    public Duration interval() {
        return interval;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FsyncPolicy p && p.kind == kind && p.interval.equals(interval);
    }

    @Override
    public int hashCode() {
        return kind.hashCode() * 31 + interval.hashCode();
    }

    @Override
    public String toString() {
        return kind == Kind.INTERVAL ? "INTERVAL(" + interval.toMillis() + "ms)" : kind.name();
    }
}
