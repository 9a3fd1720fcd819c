package dev.rill.bench.durable;

import java.util.List;

/**
 * One durable configuration under test (a system with one durability setting), driven by {@link DurableDriver}:
 * {@code producers} senders, each keeping a window of sends outstanding, all to one queue or stream, no consumer.
 *
 * <p>Life cycle per payload size: {@link #open} (a fresh, empty queue and one {@link Sender} per producer), timed
 * runs separated by {@link #reset} (empties the queue, so memory and disk do not grow run after run),
 * {@link #closeRun}; {@link #close} once at the end.
 */
interface DurableTarget extends AutoCloseable {

    /** Receives the outcome of one send: {@code ok} once the system confirmed it as stored under its setting. */
    @FunctionalInterface
    interface Confirm {
        void done(boolean ok);
    }

    /** One producer's connection (or handle); used by one thread. */
    interface Sender {

        /**
         * Sends one message; {@code confirm} is called once, from any thread, when the system confirms it.
         *
         * @param payload the bytes (shared between sends, never modified)
         * @param confirm the callback
         * @throws Exception when the send cannot be issued (then {@code confirm} is not called)
         */
        void send(byte[] payload, Confirm confirm) throws Exception;

        /**
         * Pushes out sends buffered by the client (a pipeline); called before the producer waits for its window and
         * at the end of a run. A no-op for clients that write at once.
         *
         * @throws Exception on failure
         */
        default void flush() throws Exception {
        }
    }

    /** @return the system's name in the report, e.g. "Rill (network)" */
    String system();

    /** @return the durability setting in the report, e.g. "ALWAYS" or "AOF everysec" */
    String config();

    /** @return the durability class this configuration belongs to: {@code always}, {@code interval} or {@code never} */
    String durability();

    /** @return how the system is driven (queue type, client, windows), for the report */
    String setup();

    /**
     * Prepares an empty queue for {@code payloadBytes}-byte messages and one sender per producer.
     *
     * @param payloadBytes message size
     * @param producers how many senders
     * @return the senders
     * @throws Exception if the system cannot be reached or set up
     */
    List<Sender> open(int payloadBytes, int producers) throws Exception;

    /**
     * Empties the queue between runs (all sends of the last run are confirmed when this is called).
     *
     * @throws Exception on failure
     */
    void reset() throws Exception;

    /** Releases what {@link #open} made (connections, the queue). */
    void closeRun();

    /** Releases everything (servers started by this target). */
    @Override
    void close();
}
