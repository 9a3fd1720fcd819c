package dev.rill.core;

import dev.rill.core.log.FsyncPolicy;
import dev.rill.core.log.LogOptions;
import dev.rill.core.log.RecoveryListener;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * Options of a {@link DurableBroker}. Immutable: every option method returns a new instance.
 *
 * <p>Defaults: {@link FsyncPolicy#always()} (a send or ack is confirmed only once its record is on disk),
 * 64 MiB segments, the wall clock (and a timed park to wait on it, {@link LogOptions.Timer#PARK}), recovery progress
 * logged ({@link RecoveryListener#logging()}).
 */
public final class DurabilityOptions {

    private static final DurabilityOptions DEFAULTS = new DurabilityOptions(FsyncPolicy.always(),
            LogOptions.DEFAULT_SEGMENT_BYTES, System::currentTimeMillis, null, RecoveryListener.logging());

    private final FsyncPolicy fsync;
    private final long segmentBytes;
    private final LongSupplier clock;
    private final Codec<?> recoveredCodec; // null: recovered queues wait to be declared
    private final RecoveryListener recoveryListener;
    private final LongSupplier nanoClock;
    private final LogOptions.Timer timer;

    private DurabilityOptions(FsyncPolicy fsync, long segmentBytes, LongSupplier clock, Codec<?> recoveredCodec,
            RecoveryListener recoveryListener) {
        this(fsync, segmentBytes, clock, recoveredCodec, recoveryListener, System::nanoTime, LogOptions.Timer.PARK);
    }

    private DurabilityOptions(FsyncPolicy fsync, long segmentBytes, LongSupplier clock, Codec<?> recoveredCodec,
            RecoveryListener recoveryListener, LongSupplier nanoClock, LogOptions.Timer timer) {
        this.nanoClock = nanoClock;
        this.timer = timer;
        this.fsync = fsync;
        this.segmentBytes = segmentBytes;
        this.clock = clock;
        this.recoveredCodec = recoveredCodec;
        this.recoveryListener = recoveryListener;
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
        return new DurabilityOptions(Objects.requireNonNull(policy, "policy"), segmentBytes, clock, recoveredCodec,
                recoveryListener, nanoClock, timer);
    }

    /**
     * @param bytes segment file size, 4 KiB..1 GiB ({@link LogOptions#MIN_SEGMENT_BYTES}..{@link
     *     LogOptions#MAX_SEGMENT_BYTES}); default 64 MiB
     * @return a new options object
     * @throws IllegalArgumentException if {@code bytes} is outside those bounds
     */
    public DurabilityOptions segmentBytes(long bytes) {
        LogOptions.defaults().segmentBytes(bytes); // validates
        return new DurabilityOptions(fsync, bytes, clock, recoveredCodec, recoveryListener, nanoClock, timer);
    }

    /**
     * @param clock the broker's clock in millis, the same one whose values are passed as {@code now}: used at
     *     recovery (is a delay or a dedup window over?) and by compaction; default the wall clock. A clock that is
     *     not the wall clock needs a {@link #timer(LogOptions.Timer) timer} that goes with it
     * @return a new options object
     */
    public DurabilityOptions clock(LongSupplier clock) {
        return new DurabilityOptions(fsync, segmentBytes, Objects.requireNonNull(clock, "clock"), recoveredCodec,
                recoveryListener, nanoClock, timer);
    }

    /**
     * @param timer how the log's idle writer waits for a time on the {@link #clock(LongSupplier) clock} (the end of a
     *     dedup window that keeps the oldest segment, a relocation's retry): give one that goes with the clock (see
     *     {@link LogOptions.Timer}); default {@link LogOptions.Timer#PARK}, a timed park, for the wall clock.
     *     {@code Rill.embedded(dir, options, scheduler)} replaces it, as the clock, with one on its scheduler
     * @return a new options object
     */
    public DurabilityOptions timer(LogOptions.Timer timer) {
        return new DurabilityOptions(fsync, segmentBytes, clock, recoveredCodec, recoveryListener, nanoClock,
                Objects.requireNonNull(timer, "timer"));
    }

    /** @return how the log's idle writer waits for a time on the clock */
    public LogOptions.Timer timer() {
        return timer;
    }

    /**
     * Declares every queue found in the log again when the broker opens, with its recorded spec and {@code codec}
     * (see {@link DurableBroker#declareRecovered(Codec)}), so recovered queues are live before anyone declares them.
     * Fits a broker whose queues all use one codec, e.g. a server storing {@code byte[]} payloads. Default: none (a
     * recovered queue comes back when the application declares it with its codec and, possibly, a new spec).
     *
     * @param codec decodes every recovered payload
     * @return a new options object
     */
    public DurabilityOptions declareRecoveredWith(Codec<?> codec) {
        return new DurabilityOptions(fsync, segmentBytes, clock, Objects.requireNonNull(codec, "codec"),
                recoveryListener, nanoClock, timer);
    }

    /**
     * @param listener told how the replay of the log goes while {@link DurableBroker#open} runs (on the opening
     *     thread): a start on a large log says what it does instead of nothing until it is done; default
     *     {@link RecoveryListener#logging()}
     * @return a new options object
     */
    public DurabilityOptions recoveryListener(RecoveryListener listener) {
        return new DurabilityOptions(fsync, segmentBytes, clock, recoveredCodec,
                Objects.requireNonNull(listener, "listener"), nanoClock, timer);
    }

    /** @return the recovery listener */
    public RecoveryListener recoveryListener() {
        return recoveryListener;
    }

    /** @return the codec every recovered queue is declared with at open, or empty (the default) */
    public java.util.Optional<Codec<?>> declareRecoveredWith() {
        return java.util.Optional.ofNullable(recoveredCodec);
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

    /** Tests: the clock (nanos) that times the rebuild of recovered queues; default {@link System#nanoTime()}. */
    DurabilityOptions nanoClock(LongSupplier nanos) {
        return new DurabilityOptions(fsync, segmentBytes, clock, recoveredCodec, recoveryListener,
                Objects.requireNonNull(nanos, "nanos"), timer);
    }

    LongSupplier nanoClock() {
        return nanoClock;
    }

    LogOptions logOptions() {
        return LogOptions.defaults().fsync(fsync).segmentBytes(segmentBytes).clock(clock).timer(timer)
                .recoveryListener(recoveryListener);
    }

    @Override
    public String toString() {
        return "DurabilityOptions{fsync=" + fsync + ", segmentBytes=" + segmentBytes
                + (recoveredCodec != null ? ", declareRecoveredWith=" + recoveredCodec : "") + "}";
    }
}
