package dev.rill.core;

import dev.rill.core.log.FsyncPolicy;
import dev.rill.core.log.LogOptions;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * Options of a {@link DurableBroker}. Immutable: every option method returns a new instance.
 *
 * <p>Defaults: {@link FsyncPolicy#always()} (a send or ack is confirmed only once its record is on disk),
 * 64 MiB segments, the wall clock.
 */
public final class DurabilityOptions {

    private static final DurabilityOptions DEFAULTS = new DurabilityOptions(FsyncPolicy.always(),
            LogOptions.DEFAULT_SEGMENT_BYTES, System::currentTimeMillis);

    private final FsyncPolicy fsync;
    private final long segmentBytes;
    private final LongSupplier clock;

    private DurabilityOptions(FsyncPolicy fsync, long segmentBytes, LongSupplier clock) {
        this.fsync = fsync;
        this.segmentBytes = segmentBytes;
        this.clock = clock;
    }

    /** @return the defaults */
    public static DurabilityOptions defaults() {
        return DEFAULTS;
    }

    /**
     * @param policy when records are forced to disk; default {@link FsyncPolicy#always()}
     * @return a new options object
     */
    public DurabilityOptions fsync(FsyncPolicy policy) {
        return new DurabilityOptions(Objects.requireNonNull(policy, "policy"), segmentBytes, clock);
    }

    /**
     * @param bytes segment file size, at least 4096; default 64 MiB
     * @return a new options object
     */
    public DurabilityOptions segmentBytes(long bytes) {
        LogOptions.defaults().segmentBytes(bytes); // validates
        return new DurabilityOptions(fsync, bytes, clock);
    }

    /**
     * @param clock the broker's clock in millis, the same one whose values are passed as {@code now}: used at
     *     recovery (is a delay or a dedup window over?) and by compaction; default the wall clock
     * @return a new options object
     */
    public DurabilityOptions clock(LongSupplier clock) {
        return new DurabilityOptions(fsync, segmentBytes, Objects.requireNonNull(clock, "clock"));
    }

    /** @return the fsync policy */
    public FsyncPolicy fsync() {
        return fsync;
    }

    /** @return the segment size */
    public long segmentBytes() {
        return segmentBytes;
    }

    /** @return the clock */
    public LongSupplier clock() {
        return clock;
    }

    LogOptions logOptions() {
        return LogOptions.defaults().fsync(fsync).segmentBytes(segmentBytes).clock(clock);
    }

    @Override
    public String toString() {
        return "DurabilityOptions{fsync=" + fsync + ", segmentBytes=" + segmentBytes + "}";
    }
}
