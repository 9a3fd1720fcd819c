package dev.rill.core.log;

import java.util.Arrays;
import java.util.Map;
import java.util.Objects;

/**
 * One state change of a queue, as stored in the {@link SegmentedLog}. Times are millis on the broker's clock;
 * {@code 0} means "none" for every optional time. Lease deadlines are never logged: after a restart every
 * un-acked message is ready again (with its delivery count kept).
 *
 * <p>Records are immutable values; {@code byte[]} components must not be changed after the record was made.
 */
public sealed interface LogRecord {

    /** @return the queue the record belongs to */
    String queue();

    /**
     * A queue was declared (or re-declared at the start of a segment so compaction can drop older segments).
     *
     * @param queue the queue's name
     * @param spec the queue's spec, encoded by the broker (opaque to the log)
     * @param nextId the queue's next message id at least
     */
    record Declare(String queue, byte[] spec, long nextId) implements LogRecord {
        /** Checks the components. */
        public Declare {
            Objects.requireNonNull(queue, "queue");
            Objects.requireNonNull(spec, "spec");
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Declare d && d.queue.equals(queue) && Arrays.equals(d.spec, spec) && d.nextId == nextId;
        }

        @Override
        public int hashCode() {
            return queue.hashCode() * 31 + Arrays.hashCode(spec);
        }

        @Override
        public String toString() {
            return "Declare{" + queue + ", spec=" + spec.length + " bytes, nextId=" + nextId + "}";
        }
    }

    /**
     * A queue was deleted with everything in it.
     *
     * @param queue the queue's name
     */
    record Delete(String queue) implements LogRecord {
        /** Checks the components. */
        public Delete {
            Objects.requireNonNull(queue, "queue");
        }
    }

    /**
     * A message was stored.
     *
     * @param queue the queue
     * @param id the message's id in the queue
     * @param timestamp when it was sent
     * @param key its key, or null
     * @param priority 0..9
     * @param headers its headers (never null)
     * @param payload its encoded payload
     * @param deliverAt when a delayed message becomes ready, or 0
     * @param expiresAt when it expires (TTL), or 0
     * @param dedupId its dedup id, or null
     * @param dedupExpiresAt when its dedup window ends, or 0
     */
    record Send(String queue, long id, long timestamp, String key, int priority, Map<String, String> headers,
            byte[] payload, long deliverAt, long expiresAt, String dedupId, long dedupExpiresAt)
            implements LogRecord {
        /** Checks the components and freezes the headers. */
        public Send {
            Objects.requireNonNull(queue, "queue");
            headers = Map.copyOf(Objects.requireNonNull(headers, "headers"));
            Objects.requireNonNull(payload, "payload");
        }

        /**
         * The most bytes a SEND record may take in the log ({@link #storedBytes}) for a durable broker to store the
         * message: 256 MiB + 32 KiB, more than a message in a frame of the largest size a server accepts (256 MiB)
         * takes. The log reads back records of up to 256 MiB + 64 KiB: the rest is room for the headers a relocated
         * copy of a dead letter adds.
         */
        public static final long MAX_STORED_BYTES = RecordFormat.MAX_SEND_BODY;

        /**
         * How many bytes the SEND record of a message with these fields takes in the log (its body, without the
         * 12 bytes of the frame's header).
         *
         * @param queue the queue's name
         * @param key its key, or null
         * @param headers its headers
         * @param payloadBytes the size of its encoded payload
         * @param dedupId its dedup id, or null
         * @return the size in bytes (strings count their UTF-8 bytes; an unpaired surrogate counts three)
         */
        public static long storedBytes(String queue, String key, Map<String, String> headers, long payloadBytes,
                String dedupId) {
            return RecordFormat.sendBodyBytes(Objects.requireNonNull(queue, "queue"), key,
                    Objects.requireNonNull(headers, "headers"), payloadBytes, dedupId);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Send s && s.queue.equals(queue) && s.id == id && s.timestamp == timestamp
                    && Objects.equals(s.key, key) && s.priority == priority && s.headers.equals(headers)
                    && Arrays.equals(s.payload, payload) && s.deliverAt == deliverAt && s.expiresAt == expiresAt
                    && Objects.equals(s.dedupId, dedupId) && s.dedupExpiresAt == dedupExpiresAt;
        }

        @Override
        public int hashCode() {
            return Objects.hash(queue, id, key, priority) * 31 + Arrays.hashCode(payload);
        }

        @Override
        public String toString() {
            return "Send{" + queue + "#" + id + ", key=" + key + ", priority=" + priority + ", headers=" + headers
                    + ", payload=" + payload.length + " bytes, deliverAt=" + deliverAt + ", expiresAt=" + expiresAt
                    + ", dedupId=" + dedupId + "}";
        }
    }

    /**
     * A message was acknowledged (deleted).
     *
     * @param queue the queue
     * @param id the message
     */
    record Ack(String queue, long id) implements LogRecord {
        /** Checks the components. */
        public Ack {
            Objects.requireNonNull(queue, "queue");
        }
    }

    /**
     * A message was given back for redelivery (nack).
     *
     * @param queue the queue
     * @param id the message
     * @param readyAt when it is ready again, or 0 for at once
     */
    record Nack(String queue, long id, long readyAt) implements LogRecord {
        /** Checks the components. */
        public Nack {
            Objects.requireNonNull(queue, "queue");
        }
    }

    /**
     * A message was leased (or a lease given back uncounted): its delivery count is now {@code deliveryCount}.
     * Written in batches and never waited on.
     *
     * @param queue the queue
     * @param id the message
     * @param deliveryCount its delivery count
     */
    record Delivered(String queue, long id, int deliveryCount) implements LogRecord {
        /** Checks the components. */
        public Delivered {
            Objects.requireNonNull(queue, "queue");
        }
    }

    /**
     * A message left its queue as a dead letter: to the queue's dead-letter queue (followed by an {@link Accept}
     * there) when {@code routed}, else dropped.
     *
     * @param queue the source queue
     * @param id the message
     * @param deliveryCount its delivery count then
     * @param reason why
     * @param routed whether it goes to a dead-letter queue
     */
    record DeadLetter(String queue, long id, int deliveryCount, String reason, boolean routed) implements LogRecord {
        /** Checks the components. */
        public DeadLetter {
            Objects.requireNonNull(queue, "queue");
            Objects.requireNonNull(reason, "reason");
        }
    }

    /**
     * A dead-letter queue stored a message that another queue dead-lettered; its payload is that of the source
     * message (not repeated here).
     *
     * @param queue the dead-letter queue
     * @param id the message's new id there
     * @param sourceQueue the queue it came from
     * @param sourceId its id there
     * @param timestamp when it arrived
     * @param expiresAt when it expires (the dead-letter queue's TTL), or 0
     * @param headers its headers there (with the dead-letter headers)
     */
    record Accept(String queue, long id, String sourceQueue, long sourceId, long timestamp, long expiresAt,
            Map<String, String> headers) implements LogRecord {
        /** Checks the components and freezes the headers. */
        public Accept {
            Objects.requireNonNull(queue, "queue");
            Objects.requireNonNull(sourceQueue, "sourceQueue");
            headers = Map.copyOf(Objects.requireNonNull(headers, "headers"));
        }
    }

    /**
     * A message expired (TTL) and was dropped.
     *
     * @param queue the queue
     * @param id the message
     */
    record Drop(String queue, long id) implements LogRecord {
        /** Checks the components. */
        public Drop {
            Objects.requireNonNull(queue, "queue");
        }
    }

    /**
     * Every message of the queue was deleted.
     *
     * @param queue the queue
     */
    record Purge(String queue) implements LogRecord {
        /** Checks the components. */
        public Purge {
            Objects.requireNonNull(queue, "queue");
        }
    }
}
