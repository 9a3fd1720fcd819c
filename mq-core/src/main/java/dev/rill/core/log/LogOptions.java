package dev.rill.core.log;

import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import java.util.function.LongSupplier;

/**
 * Options of a {@link SegmentedLog}. Immutable: every option method returns a new instance.
 *
 * <p>Defaults: {@link FsyncPolicy#always()}, 64 MiB segments, the wall clock ({@link System#currentTimeMillis()})
 * for compaction's dedup-window check and a timed park to wait on it ({@link Timer#PARK}), recovery progress logged
 * ({@link RecoveryListener#logging()}).
 */
public final class LogOptions {

    /** Default segment size: 64 MiB. */
    public static final long DEFAULT_SEGMENT_BYTES = 64L << 20;
    /** Smallest segment size: 4 KiB. */
    public static final long MIN_SEGMENT_BYTES = 4096;
    /**
     * Largest segment size: 1 GiB. Nothing in the log holds a segment whole (recovery and relocation read it
     * through a window, a record at a time), so the bound is not an array's: a segment is the unit of deletion
     * (disk use grows by segments) and of relocation, which reads the oldest segments on the writer thread in
     * slices between batches of appends, and the tail that recovery cuts and saves is at most one.
     */
    public static final long MAX_SEGMENT_BYTES = 1L << 30;

    private static final LogOptions DEFAULTS = new LogOptions(FsyncPolicy.always(), DEFAULT_SEGMENT_BYTES,
            System::currentTimeMillis, RecoveryListener.logging(), SegmentReader.WINDOW, System::nanoTime,
            Relocation.DEFAULT, Timer.PARK);

    private final FsyncPolicy fsync;
    private final long segmentBytes;
    private final LongSupplier clock;
    private final RecoveryListener recoveryListener;
    private final int readWindow;
    private final LongSupplier nanoClock;
    private final Relocation relocation;
    private final Timer timer;

    /**
     * Tests: how relocation is sliced. {@code sliceBytes}: each writer pass reads at most about this many bytes of
     * the segments being relocated and frames at most about this many bytes of copies (at least one record);
     * {@code afterSlice}: called on the writer thread after each slice's copies are written, with the slice's number
     * in its relocation (1, 2, ...).
     */
    record Relocation(int sliceBytes, IntConsumer afterSlice) {
        static final Relocation DEFAULT = new Relocation(SegmentedLog.BATCH_BYTES, n -> { });
    }

    /**
     * How the idle writer waits for a time on the log's {@link #clock()}, when nothing else is left to do: the end of
     * the dedup window that keeps the oldest segment (neither deleted nor relocated while it is open), or the time
     * at which a failed relocation of it is tried again. The default, {@link #PARK}, parks the writer for the time
     * left, which is right for the wall clock; a clock that is not the wall clock (a virtual one, stepped by a test or
     * by a scheduler) needs a timer that wakes the writer when that clock gets there, or the writer sleeps for the
     * clock's time left in real time. {@code Rill.embedded(dir, options, scheduler)} (mq-reactive) passes one that
     * schedules the wake-up on its scheduler.
     */
    @FunctionalInterface
    public interface Timer {
        /**
         * The default: the writer parks for the time left on the clock, which is the wall clock or runs at its pace;
         * an append, or close, wakes it before.
         */
        Timer PARK = (atMillis, nowMillis, wake) -> TimeUnit.MILLISECONDS.toNanos(atMillis - nowMillis);

        /**
         * Called by the writer, about to park, with the clock time it waits for. Must not block; called again after
         * each wake-up (an append, or {@code wake}) while the time is not reached, but not again for the same time
         * once it returned 0.
         *
         * @param atMillis the time waited for, on the log's clock; after {@code nowMillis}
         * @param nowMillis the clock's time now
         * @param wake wakes the writer (any thread, any number of times; cheap, never blocks)
         * @return how many nanoseconds the writer parks at most, or 0 to park until woken: the timer then runs
         *     {@code wake} once the clock reaches {@code atMillis} (a scheduler on that clock, a test stepping it)
         */
        long wakeAt(long atMillis, long nowMillis, Runnable wake);
    }

    private LogOptions(FsyncPolicy fsync, long segmentBytes, LongSupplier clock, RecoveryListener recoveryListener,
            int readWindow, LongSupplier nanoClock, Relocation relocation, Timer timer) {
        this.relocation = relocation;
        this.timer = timer;
        this.fsync = fsync;
        this.segmentBytes = segmentBytes;
        this.clock = clock;
        this.recoveryListener = recoveryListener;
        this.readWindow = readWindow;
        this.nanoClock = nanoClock;
    }

    /** @return the default options */
    public static LogOptions defaults() {
        return DEFAULTS;
    }

    /**
     * @param policy when appends are forced to disk; default {@link FsyncPolicy#always()}
     * @return a new options object
     */
    public LogOptions fsync(FsyncPolicy policy) {
        return new LogOptions(Objects.requireNonNull(policy, "policy"), segmentBytes, clock, recoveryListener,
                readWindow, nanoClock, relocation, timer);
    }

    /**
     * @param bytes size after which the writer starts a new segment file, not counting what each segment starts
     *     with (the declarations of the live queues and the next ids of deleted ones); a segment may exceed it by one
     *     record, or by the copies of one message relocated into it (relocation rolls the segment as appends do);
     *     {@value #MIN_SEGMENT_BYTES}..{@value #MAX_SEGMENT_BYTES} (1 GiB); default 64 MiB
     * @return a new options object
     * @throws IllegalArgumentException if {@code bytes} is outside those bounds
     */
    public LogOptions segmentBytes(long bytes) {
        if (bytes < MIN_SEGMENT_BYTES || bytes > MAX_SEGMENT_BYTES) {
            throw new IllegalArgumentException("segmentBytes must be " + MIN_SEGMENT_BYTES + ".." + MAX_SEGMENT_BYTES
                    + " (4 KiB..1 GiB), was " + bytes);
        }
        return new LogOptions(fsync, bytes, clock, recoveryListener, readWindow, nanoClock, relocation, timer);
    }

    /**
     * @param clock the clock (millis) against which dedup-window ends recorded in SEND records are compared
     *     before a segment is compacted; the broker passes its own clock; default the wall clock. A clock that is
     *     not the wall clock needs a {@link #timer(Timer) timer} that goes with it
     * @return a new options object
     */
    public LogOptions clock(LongSupplier clock) {
        return new LogOptions(fsync, segmentBytes, Objects.requireNonNull(clock, "clock"), recoveryListener,
                readWindow, nanoClock, relocation, timer);
    }

    /**
     * @param listener told how recovery goes while {@link SegmentedLog#open} replays the log (on the opening thread);
     *     default {@link RecoveryListener#logging()}; {@link RecoveryListener#none()} for silence
     * @return a new options object
     */
    public LogOptions recoveryListener(RecoveryListener listener) {
        return new LogOptions(fsync, segmentBytes, clock, Objects.requireNonNull(listener, "listener"), readWindow,
                nanoClock, relocation, timer);
    }

    /** Tests: the window through which segments are read (at least a segment header); default 1 MiB. */
    LogOptions readWindow(int bytes) {
        if (bytes < RecordFormat.HEADER_BYTES) {
            throw new IllegalArgumentException("readWindow must be >= " + RecordFormat.HEADER_BYTES + ", was " + bytes);
        }
        return new LogOptions(fsync, segmentBytes, clock, recoveryListener, bytes, nanoClock, relocation, timer);
    }

    /** Tests: the clock (nanos) that times recovery and paces its progress calls; default {@link System#nanoTime()}. */
    LogOptions nanoClock(LongSupplier nanos) {
        return new LogOptions(fsync, segmentBytes, clock, recoveryListener, readWindow,
                Objects.requireNonNull(nanos, "nanos"), relocation, timer);
    }

    /** Tests: see {@link Relocation}; default slices of {@value SegmentedLog#BATCH_BYTES} bytes, no hook. */
    LogOptions relocation(int sliceBytes, IntConsumer afterSlice) {
        if (sliceBytes < 1) {
            throw new IllegalArgumentException("sliceBytes must be > 0, was " + sliceBytes);
        }
        return new LogOptions(fsync, segmentBytes, clock, recoveryListener, readWindow, nanoClock,
                new Relocation(sliceBytes, Objects.requireNonNull(afterSlice, "afterSlice")), timer);
    }

    /**
     * @param timer how the idle writer waits for a time on the {@link #clock(LongSupplier) clock} (see {@link Timer});
     *     give one that goes with the clock; default {@link Timer#PARK}, for the wall clock
     * @return a new options object
     */
    public LogOptions timer(Timer timer) {
        return new LogOptions(fsync, segmentBytes, clock, recoveryListener, readWindow, nanoClock, relocation,
                Objects.requireNonNull(timer, "timer"));
    }

    /** @return the fsync policy */
    public FsyncPolicy fsync() {
        return fsync;
    }

    /** @return the segment size */
    public long segmentBytes() {
        return segmentBytes;
    }

    /** @return the compaction clock */
    public LongSupplier clock() {
        return clock;
    }

    /** @return the recovery listener */
    public RecoveryListener recoveryListener() {
        return recoveryListener;
    }

    int readWindow() {
        return readWindow;
    }

    LongSupplier nanoClock() {
        return nanoClock;
    }

    Relocation relocation() {
        return relocation;
    }

    /** @return how the idle writer waits for a time on the clock */
    public Timer timer() {
        return timer;
    }

    @Override
    public String toString() {
        return "LogOptions{fsync=" + fsync + ", segmentBytes=" + segmentBytes + "}";
    }
}
