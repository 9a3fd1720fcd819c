package dev.rill.bench.net;

/**
 * One message system under test, as a competent user of its official client would drive it: one producer
 * connection and one consumer connection, each message acked individually by the consumer.
 *
 * <p>Messages are 100-byte payloads whose first bytes carry the intended send time ({@link System#nanoTime()}); the
 * consumer hands that time to its {@link Listener} once it has received the message and issued its ack.
 */
interface Peer extends AutoCloseable {

    /** Receives each consumed message's intended send time. Called by the peer's consumer thread(s). */
    interface Listener {
        void consumed(long intendedNanos);
    }

    /** @return the name shown in the report */
    String name();

    /** @return how the peer is set up (queue type, windows), for the report */
    String setup();

    /**
     * @return true for a calibration, not a message system (the transport floor of {@link Relay}): reported beside
     *     the peers, never the fastest peer Rill's headline is measured against
     */
    default boolean calibration() {
        return false;
    }

    /**
     * Connects both connections, declares an empty queue or stream and starts the consumer.
     *
     * @param listener gets every consumed message
     * @throws Exception if the peer cannot be reached or set up
     */
    void open(Listener listener) throws Exception;

    /**
     * Sends one message stamped with {@code intendedNanos}. May wait for the producer's window of unconfirmed
     * messages; may buffer until {@link #flush()}.
     *
     * @param intendedNanos the stamp
     * @throws Exception on failure
     */
    void send(long intendedNanos) throws Exception;

    /**
     * Pushes out buffered sends (pipelines); a no-op for clients that write at once.
     *
     * @throws Exception on failure
     */
    default void flush() throws Exception {
    }

    @Override
    void close();

    /** Payload size in bytes. */
    int PAYLOAD = 100;

    /**
     * Makes a 100-byte payload: the stamp big-endian in the first 8 bytes, filler after.
     *
     * @param nanos the stamp
     * @return a new array
     */
    static byte[] payload(long nanos) {
        byte[] b = new byte[PAYLOAD];
        for (int i = 0; i < 8; i++) {
            b[i] = (byte) (nanos >>> (56 - 8 * i));
        }
        for (int i = 8; i < PAYLOAD; i++) {
            b[i] = (byte) ('a' + i % 26);
        }
        return b;
    }

    /**
     * Reads the stamp of {@link #payload(long)}.
     *
     * @param b a payload
     * @return the stamp
     */
    static long stamp(byte[] b) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (b[i] & 0xff);
        }
        return v;
    }
}
