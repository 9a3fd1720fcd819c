package dev.rill.core.log;

import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * Options of a {@link SegmentedLog}. Immutable: every option method returns a new instance.
 *
 * <p>Defaults: {@link FsyncPolicy#always()}, 64 MiB segments, the wall clock ({@link System#currentTimeMillis()})
 * for compaction's dedup-window check.
 */
public final class LogOptions {

    /** Default segment size: 64 MiB. */
    public static final long DEFAULT_SEGMENT_BYTES = 64L << 20;

    private static final LogOptions DEFAULTS = new LogOptions(FsyncPolicy.always(), DEFAULT_SEGMENT_BYTES,
            System::currentTimeMillis);

    private final FsyncPolicy fsync;
    private final long segmentBytes;
    private final LongSupplier clock;

    private LogOptions(FsyncPolicy fsync, long segmentBytes, LongSupplier clock) {
        this.fsync = fsync;
        this.segmentBytes = segmentBytes;
        this.clock = clock;
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
        return new LogOptions(Objects.requireNonNull(policy, "policy"), segmentBytes, clock);
    }

    /**
     * @param bytes size after which the writer starts a new segment file, not counting what each segment starts
     *     with (the declarations of the live queues and the next ids of deleted ones); a segment may exceed it by one
     *     record; at least 4096; default 64 MiB
     * @return a new options object
     */
    public LogOptions segmentBytes(long bytes) {
        if (bytes < 4096) {
            throw new IllegalArgumentException("segmentBytes must be >= 4096, was " + bytes);
        }
        return new LogOptions(fsync, bytes, clock);
    }

    /**
     * @param clock the clock (millis) against which dedup-window ends recorded in SEND records are compared
     *     before a segment is compacted; the broker passes its own clock; default the wall clock
     * @return a new options object
     */
    public LogOptions clock(LongSupplier clock) {
        return new LogOptions(fsync, segmentBytes, Objects.requireNonNull(clock, "clock"));
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

    @Override
    public String toString() {
        return "LogOptions{fsync=" + fsync + ", segmentBytes=" + segmentBytes + "}";
    }
}
