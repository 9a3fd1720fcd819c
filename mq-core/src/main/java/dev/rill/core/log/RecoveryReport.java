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
 * @param bytes the size of the segment files read, as found (a tail cut off included)
 * @param queues queues declared and not deleted at the end of the log
 * @param liveMessages messages stored and not yet acked, dropped or dead-lettered away at the end of the log (as the
 *     log counts them: a message that expired meanwhile is still counted)
 */
public record RecoveryReport(int segments, long records, long lastSeq, Optional<TornTail> tornTail, long millis,
        long bytes, int queues, long liveMessages) {

    /**
     * A report without the sizes and counts.
     *
     * @param segments segment files read
     * @param records records replayed
     * @param lastSeq the sequence number of the last record read
     * @param tornTail the torn tail that was cut off, if any
     * @param millis how long recovery took
     */
    public RecoveryReport(int segments, long records, long lastSeq, Optional<TornTail> tornTail, long millis) {
        this(segments, records, lastSeq, tornTail, millis, 0, 0, 0);
    }

    /**
     * The unsynced tail of the newest segment, cut off at recovery: a record cut short by the crash, or the bytes
     * from a region that never reached the disk (zeros where a power loss left blocks allocated but unwritten) to
     * the end of the segment, with any records written after that region. No fsync covered any of it (an fsync
     * covers the whole file: one that covered a record after the region covered the region too), so nothing in it
     * had been confirmed under {@link FsyncPolicy#always()}; under {@code interval} and {@code never} it lies in
     * the documented loss window.
     *
     * <p>The bytes cut are kept, fsynced, in {@code savedTo} next to the segment, in case the disk lost data that
     * was fsynced after all (no rule can tell that from a block never written): the log never reads that file back,
     * and an operator may delete it.
     *
     * @param file the segment file
     * @param offset where the file was truncated ({@code 0}: the whole file was moved away)
     * @param droppedBytes how many bytes were cut
     * @param droppedRecords how many intact records were found in the cut bytes (after the damaged one) and dropped
     * @param savedTo the file holding the bytes cut ({@code <segment>.cut-<UTC time>}), or null when none was written
     *     (an empty segment file, deleted)
     */
    public record TornTail(Path file, long offset, long droppedBytes, long droppedRecords, Path savedTo) {

        /**
         * A tail whose bytes were not saved.
         *
         * @param file the segment file
         * @param offset where the file was truncated
         * @param droppedBytes how many bytes were cut
         * @param droppedRecords how many intact records were found in the cut bytes and dropped
         */
        public TornTail(Path file, long offset, long droppedBytes, long droppedRecords) {
            this(file, offset, droppedBytes, droppedRecords, null);
        }

        /**
         * A tail without intact records after its damage, whose bytes were not saved.
         *
         * @param file the segment file
         * @param offset where the file was truncated
         * @param droppedBytes how many bytes were cut
         */
        public TornTail(Path file, long offset, long droppedBytes) {
            this(file, offset, droppedBytes, 0);
        }
    }
}
