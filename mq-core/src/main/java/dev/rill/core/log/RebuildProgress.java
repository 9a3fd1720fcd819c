package dev.rill.core.log;

/**
 * How far a durable broker has got rebuilding the queues it recovered (declaring each again with its messages, after
 * the log's replay), as {@link RecoveryListener#rebuildProgress} and {@link RecoveryListener#rebuilt} are told.
 *
 * @param queuesDone queues rebuilt so far
 * @param queues queues to rebuild
 * @param messagesDone messages in the queues rebuilt so far, and those of the queue being rebuilt read so far (a
 *     progress call within a queue; its messages are then decoded, not yet in the queue)
 * @param messages messages in every queue to rebuild
 * @param millis time since the rebuild began
 */
public record RebuildProgress(int queuesDone, int queues, long messagesDone, long messages, long millis) {
}
