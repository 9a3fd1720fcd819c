package dev.rill.core.log;

/**
 * Counters of a {@link SegmentedLog} since it was opened.
 *
 * @param records records written
 * @param batches writes (each of a batch of records)
 * @param fsyncs fsync calls
 * @param bytes bytes written
 * @param segments segment files now on disk
 * @param segmentsDeleted segment files deleted by compaction
 * @param messagesRelocated live messages copied out of a mostly-dead oldest segment so that it could be deleted
 * @param durableSeq the highest sequence number confirmed durable under the policy
 */
public record LogStats(long records, long batches, long fsyncs, long bytes, int segments, long segmentsDeleted,
        long messagesRelocated, long durableSeq) {
}
