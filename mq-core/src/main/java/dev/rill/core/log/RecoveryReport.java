package dev.rill.core.log;

import java.nio.file.Path;
import java.util.Optional;

/**
 * What {@link SegmentedLog#open} found.
 *
 * @param segments segment files read
 * @param records records replayed
 * @param lastSeq the sequence number of the last record read (0 for an empty log)
 * @param tornTail the torn tail that was cut off, if any
 * @param millis how long recovery took
 */
public record RecoveryReport(int segments, long records, long lastSeq, Optional<TornTail> tornTail, long millis) {

    /**
     * An incomplete last write, cut off at recovery: nothing in it had been confirmed under
     * {@link FsyncPolicy#always()}.
     *
     * @param file the segment file
     * @param offset where the file was truncated
     * @param droppedBytes how many bytes were cut
     */
    public record TornTail(Path file, long offset, long droppedBytes) {
    }
}
