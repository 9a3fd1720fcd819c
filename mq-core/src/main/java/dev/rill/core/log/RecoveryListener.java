package dev.rill.core.log;

import java.nio.file.Path;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Told how a {@link SegmentedLog#open} goes while it replays the log, so that a start which replays gigabytes says
 * what it does instead of nothing until it is done. Called on the opening thread, in order: {@link #started} once,
 * {@link #progress} at most every 5 seconds, {@link #finished} once the
 * log is replayed (not if the open fails); then, if a durable broker rebuilds the queues it recovered, on the thread
 * that does it: {@link #rebuildProgress} when it begins and at most every 5 seconds (also within a queue),
 * {@link #rebuilt} at the end. An
 * exception thrown by a listener fails the open. The calls carry
 * everything they say, so one listener may serve several logs (even at once).
 *
 * @see LogOptions#recoveryListener(RecoveryListener)
 */
public interface RecoveryListener {

    /**
     * Before the first segment is read.
     *
     * @param dir the log directory
     * @param segments the segment files to replay
     * @param bytes their total size
     */
    default void started(Path dir, int segments, long bytes) {
    }

    /**
     * While segments are replayed, at most every 5 seconds (checked after each segment and within
     * one every 16 MiB).
     *
     * @param progress how far it got
     */
    default void progress(RecoveryProgress progress) {
    }

    /**
     * Once every segment is replayed (and a torn tail cut off), before the log starts writing.
     *
     * @param report what recovery found
     */
    default void finished(RecoveryReport report) {
    }

    /**
     * After the replay ({@link #finished}), while a durable broker rebuilds the queues it recovered, declaring each
     * again with its messages ({@code DurableBroker.declareRecovered}, which {@code DurableBroker.open} runs with
     * {@code DurabilityOptions.declareRecoveredWith}, as a server does): once when it begins (nothing done yet),
     * then at most every 5 seconds, checked after each queue and, within one, every 4,096 messages or 16 MiB of
     * payloads read (so a single queue of millions of messages reports as it goes; such a call comes while the
     * queue's messages are decoded, on the same thread, before the queue is live, with no lock held: the listener may
     * use the broker). Not called when no queue was recovered, nor for queues the application declares again one by
     * one.
     *
     * @param progress how far it got
     */
    default void rebuildProgress(RebuildProgress progress) {
    }

    /**
     * Once every recovered queue is rebuilt (see {@link #rebuildProgress}); not if the rebuild fails.
     *
     * @param done what was rebuilt, and how long it took
     */
    default void rebuilt(RebuildProgress done) {
    }

    /** @return a listener that does nothing */
    static RecoveryListener none() {
        return RecoveryText.NONE;
    }

    /**
     * The default: each call as one line (see {@link #lines}) through {@link System.Logger} (the logger of
     * {@link SegmentedLog}, each line prefixed {@code log: }), at {@code INFO} for a log of at least
     * {@link LogOptions#DEFAULT_SEGMENT_BYTES} (64 MiB: a start that takes noticeable time) and a rebuild of at least
     * 100,000 messages, else at {@code DEBUG}. Nothing for an empty log.
     *
     * @return the logging listener
     */
    static RecoveryListener logging() {
        return RecoveryText.LOGGING;
    }

    /**
     * Each call as one line of text, e.g. {@code recovering 12 segments, 768.0 MiB in /var/lib/rill}, then
     * {@code recovered 5/12 segments, 320.0/768.0 MiB, 1,234,567 records (142.1 MB/s)}, then
     * {@code recovered 2,345,678 records from 12 segments (768.0 MiB) in 5.4 s (142.2 MB/s): 3 queues, 120,000 live
     * messages}; then, for a rebuild, {@code rebuilding 3 queues, 120,000 messages}, {@code rebuilt 1/3 queues,
     * 80,000/120,000 messages} (the messages of the queue being rebuilt read so far included, so {@code rebuilt 0/1
     * queues, 40,000/120,000 messages} within a first queue) and {@code rebuilt 3 queues, 120,000 messages in 0.4 s}.
     * Nothing for an empty log (no segment).
     *
     * @param out receives each line (without a line separator)
     * @return the listener
     */
    static RecoveryListener lines(Consumer<String> out) {
        Objects.requireNonNull(out, "out");
        return new RecoveryListener() {
            @Override
            public void started(Path dir, int segments, long bytes) {
                if (segments > 0) {
                    out.accept(RecoveryText.started(dir, segments, bytes));
                }
            }

            @Override
            public void progress(RecoveryProgress progress) {
                out.accept(RecoveryText.progress(progress));
            }

            @Override
            public void finished(RecoveryReport report) {
                if (report.segments() > 0) {
                    out.accept(RecoveryText.finished(report));
                }
            }

            @Override
            public void rebuildProgress(RebuildProgress progress) {
                out.accept(RecoveryText.rebuildProgress(progress));
            }

            @Override
            public void rebuilt(RebuildProgress done) {
                out.accept(RecoveryText.rebuilt(done));
            }
        };
    }
}
