package dev.rill.core.log;

/**
 * How far a recovery has got, as {@link RecoveryListener#progress} is told.
 *
 * @param segmentsDone segments replayed to their end
 * @param segments segments to replay
 * @param bytesDone bytes read (the segments done, and what was read of the current one)
 * @param bytes the size of every segment to replay
 * @param records records replayed so far
 * @param millis time since the open began
 */
public record RecoveryProgress(int segmentsDone, int segments, long bytesDone, long bytes, long records,
        long millis) {
}
