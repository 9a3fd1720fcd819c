package dev.rill.netty.internal.protocol;

import dev.rill.core.ExpiryAction;
import dev.rill.core.LeaseOutcome;
import dev.rill.core.Ordering;
import dev.rill.core.Overflow;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One protocol frame, decoded: an immutable value that owns its data (no netty buffers). One record per
 * {@link FrameType}; the layouts, limits and rules are in {@code docs/protocol.md}.
 *
 * <p>Ids: requests and subscriptions carry a client-chosen 32-bit id in the frame header ({@link #streamId()}), unique
 * among the connection's outstanding requests and open subscriptions; the server's answer carries the same id.
 * Frames that are about the connection carry 0.
 *
 * <p>Records check only for nulls; field limits are checked by {@link FrameEncoder} (IllegalArgumentException) and
 * {@link FrameDecoder} ({@link ProtocolException}). Records holding arrays own them and compare them by content.
 */
public sealed interface Frame {

    /** @return the frame's type */
    FrameType type();

    /** @return the id in the frame header: request id, subscription id, ping nonce, or 0 */
    int streamId();

    // ---- handshake ----------------------------------------------------------------------------------------------

    /**
     * HELLO: the first client frame.
     *
     * @param versions protocol versions the client speaks, 1..16 of them
     * @param clientName free-form client name for logs
     */
    record Hello(List<Integer> versions, String clientName) implements Frame {
        /** Checks for nulls and copies the list. */
        public Hello {
            versions = List.copyOf(versions);
            Objects.requireNonNull(clientName, "clientName");
        }

        @Override
        public FrameType type() {
            return FrameType.HELLO;
        }

        @Override
        public int streamId() {
            return 0;
        }
    }

    /**
     * HELLO_OK: the server accepted the handshake.
     *
     * @param version the chosen protocol version
     * @param maxFrameSize the largest frame (length field) the server accepts after authentication
     * @param heartbeatIntervalMillis the client should PING when it sent nothing for this long; the server closes
     *     a connection silent for three intervals
     * @param authRequired whether AUTH must follow
     * @param maxSubscriptions the most subscriptions one connection may hold
     * @param serverName free-form server name
     */
    record HelloOk(int version, int maxFrameSize, int heartbeatIntervalMillis, boolean authRequired,
            int maxSubscriptions, String serverName) implements Frame {
        /** Checks for nulls. */
        public HelloOk {
            Objects.requireNonNull(serverName, "serverName");
        }

        @Override
        public FrameType type() {
            return FrameType.HELLO_OK;
        }

        @Override
        public int streamId() {
            return 0;
        }
    }

    /**
     * AUTH: the client's token.
     *
     * @param token the secret; never printed
     */
    record Auth(String token) implements Frame {
        /** Checks for nulls. */
        public Auth {
            Objects.requireNonNull(token, "token");
        }

        @Override
        public FrameType type() {
            return FrameType.AUTH;
        }

        @Override
        public int streamId() {
            return 0;
        }

        @Override
        public String toString() {
            return "Auth[token=<" + token.length() + " chars>]";
        }
    }

    /**
     * AUTH_OK: the token was accepted.
     *
     * @param principal the name the token maps to
     */
    record AuthOk(String principal) implements Frame {
        /** Checks for nulls. */
        public AuthOk {
            Objects.requireNonNull(principal, "principal");
        }

        @Override
        public FrameType type() {
            return FrameType.AUTH_OK;
        }

        @Override
        public int streamId() {
            return 0;
        }
    }

    // ---- admin --------------------------------------------------------------------------------------------------

    /**
     * DECLARE: create a queue, or check that it exists with this spec. The fields mirror {@link QueueSpec}; the wire
     * checks only ranges, {@link #toSpec()} applies the spec's own rules.
     *
     * @param requestId request id
     * @param queue queue name
     * @param visibilityTimeoutMillis lease length, positive
     * @param dedupWindowMillis dedup window, positive
     * @param capacity message limit, positive ({@link Integer#MAX_VALUE}: unbounded)
     * @param maxBytes byte limit, positive ({@link Long#MAX_VALUE}: none)
     * @param maxDeliveries deliveries before dead-lettering, 0 for unlimited
     * @param deadLetterQueue the dead-letter queue, or null
     * @param discardDeadLetters whether dead letters are dropped
     * @param messageTtlMillis time to live of every message, 0 for none
     * @param expiryAction what TTL expiry does
     * @param ordering delivery order
     * @param overflow what a full queue does to a reactive send
     */
    record Declare(int requestId, String queue, long visibilityTimeoutMillis, long dedupWindowMillis, int capacity,
            long maxBytes, int maxDeliveries, String deadLetterQueue, boolean discardDeadLetters,
            long messageTtlMillis, ExpiryAction expiryAction, Ordering ordering, Overflow overflow) implements Frame {
        /** Checks for nulls. */
        public Declare {
            Objects.requireNonNull(queue, "queue");
            Objects.requireNonNull(expiryAction, "expiryAction");
            Objects.requireNonNull(ordering, "ordering");
            Objects.requireNonNull(overflow, "overflow");
        }

        /**
         * Describes a spec as a DECLARE frame.
         *
         * @param requestId request id
         * @param spec the spec
         * @return the frame
         */
        public static Declare of(int requestId, QueueSpec spec) {
            return new Declare(requestId, spec.name(), spec.visibilityTimeout().toMillis(),
                    spec.dedupWindow().toMillis(), spec.capacity(), spec.maxBytes().orElse(Long.MAX_VALUE),
                    spec.maxDeliveries().orElse(0), spec.deadLetterQueue().orElse(null), spec.discardsDeadLetters(),
                    spec.messageTtl().map(Duration::toMillis).orElse(0L), spec.expiryAction(), spec.ordering(),
                    spec.overflow());
        }

        /**
         * Checks that the frame can carry {@code spec}: its durations travel in whole milliseconds, so one under 1 ms
         * (valid in one JVM) would become 0, which the encoder refuses (a visibility timeout, a dedup window) or the
         * server reads as "none" (a message TTL).
         *
         * @param spec the spec to declare
         * @throws IllegalArgumentException when a duration of {@code spec} is under 1 ms
         */
        public static void requireWholeMillis(QueueSpec spec) {
            atLeastOneMilli("visibilityTimeout", spec.visibilityTimeout());
            atLeastOneMilli("dedupWindow", spec.dedupWindow());
            spec.messageTtl().ifPresent(ttl -> atLeastOneMilli("messageTtl", ttl));
        }

        private static void atLeastOneMilli(String name, Duration d) {
            if (d.toMillis() < 1) {
                throw new IllegalArgumentException(name + " must be at least 1 ms over the network (the protocol"
                        + " carries milliseconds), was " + java.math.BigDecimal.valueOf(d.toNanos()).movePointLeft(6)
                        .stripTrailingZeros().toPlainString() + " ms");
            }
        }

        /**
         * Builds the spec this frame describes.
         *
         * @return the spec (not yet {@link QueueSpec#validate() validated})
         * @throws IllegalArgumentException when a field breaks the spec's rules (answer INVALID_ARGUMENT)
         */
        public QueueSpec toSpec() {
            QueueSpec spec = QueueSpec.named(queue)
                    .visibilityTimeout(Duration.ofMillis(visibilityTimeoutMillis))
                    .dedupWindow(Duration.ofMillis(dedupWindowMillis))
                    .capacity(capacity)
                    .onExpiry(expiryAction)
                    .ordering(ordering)
                    .overflow(overflow);
            if (maxBytes != Long.MAX_VALUE) {
                spec = spec.maxBytes(maxBytes);
            }
            if (maxDeliveries != 0) {
                spec = spec.maxDeliveries(maxDeliveries);
            }
            if (deadLetterQueue != null && discardDeadLetters) {
                throw new IllegalArgumentException("queue '" + queue
                        + "': deadLetterQueue and discardDeadLetters are exclusive");
            }
            if (deadLetterQueue != null) {
                spec = spec.deadLetterQueue(deadLetterQueue);
            }
            if (discardDeadLetters) {
                spec = spec.discardDeadLetters();
            }
            if (messageTtlMillis != 0) {
                spec = spec.messageTtl(Duration.ofMillis(messageTtlMillis));
            }
            return spec;
        }

        @Override
        public FrameType type() {
            return FrameType.DECLARE;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    /**
     * DECLARE_OK: the queue exists with the declared spec.
     *
     * @param requestId the DECLARE's id
     */
    record DeclareOk(int requestId) implements Frame {
        @Override
        public FrameType type() {
            return FrameType.DECLARE_OK;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    /**
     * DESCRIBE (version 2): the spec of an existing queue, without creating it (a passive declare). Answered by
     * DESCRIBE_OK, or ERROR QUEUE_NOT_FOUND / FORBIDDEN; like DECLARE it attaches the queue to the connection.
     *
     * @param requestId request id
     * @param queue queue name
     */
    record Describe(int requestId, String queue) implements Frame {
        /** Checks for nulls. */
        public Describe {
            Objects.requireNonNull(queue, "queue");
        }

        @Override
        public FrameType type() {
            return FrameType.DESCRIBE;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    /**
     * DESCRIBE_OK (version 2): the queue's spec, in DECLARE's layout.
     *
     * @param spec the spec as a DECLARE frame whose request id is the DESCRIBE's
     */
    record DescribeOk(Declare spec) implements Frame {
        /** Checks for nulls. */
        public DescribeOk {
            Objects.requireNonNull(spec, "spec");
        }

        @Override
        public FrameType type() {
            return FrameType.DESCRIBE_OK;
        }

        @Override
        public int streamId() {
            return spec.requestId();
        }
    }

    /**
     * DELETE: delete a queue; answered by RESULT 1 (deleted) or 0 (no such queue).
     *
     * @param requestId request id
     * @param queue queue name
     */
    record Delete(int requestId, String queue) implements Frame {
        /** Checks for nulls. */
        public Delete {
            Objects.requireNonNull(queue, "queue");
        }

        @Override
        public FrameType type() {
            return FrameType.DELETE;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    /**
     * PURGE: delete every message of a queue; answered by RESULT (messages removed).
     *
     * @param requestId request id
     * @param queue queue name
     */
    record Purge(int requestId, String queue) implements Frame {
        /** Checks for nulls. */
        public Purge {
            Objects.requireNonNull(queue, "queue");
        }

        @Override
        public FrameType type() {
            return FrameType.PURGE;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    /**
     * STATS: stats of one queue, or of all; answered by STATS_RESULT.
     *
     * @param requestId request id
     * @param queue queue name, or null for every queue
     */
    record Stats(int requestId, String queue) implements Frame {
        @Override
        public FrameType type() {
            return FrameType.STATS;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    /**
     * MEMORY (version 5): the broker's memory; answered by MEMORY_RESULT.
     *
     * @param requestId request id
     */
    record Memory(int requestId) implements Frame {
        @Override
        public FrameType type() {
            return FrameType.MEMORY;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    /**
     * MEMORY_RESULT (version 5): the bytes the broker's queues hold as its memory budget counts them, and the budget.
     *
     * @param requestId the MEMORY's id
     * @param used the bytes held, at least 0
     * @param budget the budget in bytes, or 0 when the broker has none
     */
    record MemoryResult(int requestId, long used, long budget) implements Frame {
        @Override
        public FrameType type() {
            return FrameType.MEMORY_RESULT;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    /**
     * LIST: queue names; answered by LIST_RESULT.
     *
     * @param requestId request id
     */
    record ListQueues(int requestId) implements Frame {
        @Override
        public FrameType type() {
            return FrameType.LIST;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    /**
     * REDRIVE: move up to {@code max} messages from a dead-letter queue back to their source queues; or, as
     * REDRIVE_TO (version 4), to one target queue whatever their source. Answered by RESULT (messages moved).
     *
     * @param requestId request id
     * @param deadLetterQueue the dead-letter queue
     * @param target the queue to move them to (REDRIVE_TO), or null for each message's source queue (REDRIVE)
     * @param max at least 1
     */
    record Redrive(int requestId, String deadLetterQueue, String target, int max) implements Frame {
        /** Checks for nulls. */
        public Redrive {
            Objects.requireNonNull(deadLetterQueue, "deadLetterQueue");
        }

        /** A REDRIVE to the messages' source queues. */
        public Redrive(int requestId, String deadLetterQueue, int max) {
            this(requestId, deadLetterQueue, null, max);
        }

        @Override
        public FrameType type() {
            return target == null ? FrameType.REDRIVE : FrameType.REDRIVE_TO;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    /**
     * PEEK: up to {@code max} ready messages, without leasing them; answered by PEEK_RESULT.
     *
     * @param requestId request id
     * @param queue queue name
     * @param max at least 1
     */
    record Peek(int requestId, String queue, int max) implements Frame {
        /** Checks for nulls. */
        public Peek {
            Objects.requireNonNull(queue, "queue");
        }

        @Override
        public FrameType type() {
            return FrameType.PEEK;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    /**
     * RESULT: the numeric answer to DELETE (1/0), PURGE (removed) or REDRIVE (moved).
     *
     * @param requestId the request's id
     * @param value the value
     */
    record Result(int requestId, long value) implements Frame {
        @Override
        public FrameType type() {
            return FrameType.RESULT;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    /**
     * STATS_RESULT: queue stats, sorted by name.
     *
     * @param requestId the STATS's id
     * @param stats one entry per queue
     */
    record StatsResult(int requestId, List<QueueStats> stats) implements Frame {
        /** Copies the list. */
        public StatsResult {
            stats = List.copyOf(stats);
        }

        @Override
        public FrameType type() {
            return FrameType.STATS_RESULT;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    /**
     * LIST_RESULT: queue names, sorted.
     *
     * @param requestId the LIST's id
     * @param queues the names
     */
    record ListResult(int requestId, List<String> queues) implements Frame {
        /** Copies the list. */
        public ListResult {
            queues = List.copyOf(queues);
        }

        @Override
        public FrameType type() {
            return FrameType.LIST_RESULT;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    /**
     * PEEK_RESULT: ready messages in delivery order.
     *
     * @param requestId the PEEK's id
     * @param messages the messages
     */
    record PeekResult(int requestId, List<PeekedMessage> messages) implements Frame {
        /** Copies the list. */
        public PeekResult {
            messages = List.copyOf(messages);
        }

        @Override
        public FrameType type() {
            return FrameType.PEEK_RESULT;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    // ---- producing ----------------------------------------------------------------------------------------------

    /**
     * SEND: a batch of messages for one queue; answered by SEND_RESULT (SEND_RECEIPTS in version 3). Consumes one
     * SEND_CREDIT per message.
     *
     * @param requestId request id
     * @param queue queue name
     * @param overflow the overflow policy for these messages when the queue is full, or null for the queue's
     * @param messages at least one
     */
    record Send(int requestId, String queue, dev.rill.core.Overflow overflow, List<WireMessage> messages)
            implements Frame {
        /** Checks for nulls and copies the list. */
        public Send {
            Objects.requireNonNull(queue, "queue");
            messages = List.copyOf(messages);
        }

        /**
         * A SEND with the queue's own overflow policy.
         *
         * @param requestId request id
         * @param queue queue name
         * @param messages at least one
         */
        public Send(int requestId, String queue, List<WireMessage> messages) {
            this(requestId, queue, null, messages);
        }

        @Override
        public FrameType type() {
            return FrameType.SEND;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    /**
     * SEND_RESULT (versions 1 and 2): one receipt per message of the SEND, in order, without reasons. A SEND may be
     * answered in parts: each answer carries the receipts of the next messages not answered yet.
     *
     * @param requestId the SEND's id
     * @param receipts the receipts
     */
    record SendResult(int requestId, List<SendReceipt> receipts) implements Frame {
        /** Copies the list; receipts are kept without their reasons, which this layout has no room for. */
        public SendResult {
            receipts = List.copyOf(receipts);
            for (SendReceipt r : receipts) {
                if (r.reason() != null) {
                    receipts = receipts.stream().map(SendReceipt::withoutReason).toList();
                    break;
                }
            }
        }

        @Override
        public FrameType type() {
            return FrameType.SEND_RESULT;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    /**
     * SEND_RECEIPTS (version 3): SEND_RESULT with the reason of each refused message ({@link SendReceipt#reason()},
     * carried by ERROR receipts only). Answered in parts like SEND_RESULT; the server also splits an answer into
     * several frames to keep each below its maximum frame size.
     *
     * @param requestId the SEND's id
     * @param receipts the receipts
     */
    record SendReceipts(int requestId, List<SendReceipt> receipts) implements Frame {
        /** Copies the list. */
        public SendReceipts {
            receipts = List.copyOf(receipts);
        }

        @Override
        public FrameType type() {
            return FrameType.SEND_RECEIPTS;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    /**
     * SEND_CREDIT: the client may send {@code credit} more messages to {@code queue} (additive); from version 6
     * (SEND_CREDIT_BYTES), {@code bytes} more bytes as well, as {@link FrameEncoder#encodedSize(WireMessage)} counts
     * a message (additive; a message is sent only while the byte credit is above 0, so the last one may overdraw it).
     *
     * @param queue queue name
     * @param credit at least 1 in SEND_CREDIT; at least 0 in SEND_CREDIT_BYTES
     * @param bytes -1 for SEND_CREDIT (messages only, every version); otherwise at least 0, a SEND_CREDIT_BYTES
     *     (version 6), where credit and bytes are not both 0
     */
    record SendCredit(String queue, int credit, long bytes) implements Frame {
        /** Checks for nulls. */
        public SendCredit {
            Objects.requireNonNull(queue, "queue");
        }

        /**
         * A SEND_CREDIT in messages only (the layout of every version).
         *
         * @param queue queue name
         * @param credit at least 1
         */
        public SendCredit(String queue, int credit) {
            this(queue, credit, -1);
        }

        @Override
        public FrameType type() {
            return bytes < 0 ? FrameType.SEND_CREDIT : FrameType.SEND_CREDIT_BYTES;
        }

        @Override
        public int streamId() {
            return 0;
        }
    }

    /**
     * CANCEL_SEND: the client no longer wants the messages of an earlier SEND that are not stored yet (a cancelled
     * send waiting for room in a full queue). The server stores none of them and answers the SEND's SEND_RESULT with
     * CANCELLED for each; a SEND already answered is not affected (no answer).
     *
     * @param requestId the SEND's request id
     */
    record CancelSend(int requestId) implements Frame {
        @Override
        public FrameType type() {
            return FrameType.CANCEL_SEND;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    // ---- consuming ----------------------------------------------------------------------------------------------

    /**
     * SUBSCRIBE: open a subscription; deliveries start once CREDIT arrives.
     *
     * @param subscriptionId subscription id
     * @param queue queue name
     * @param prefetch extra leases the server may take ahead of credit, at least 0
     * @param maxUnacked deliveries outstanding (sent, not settled) at most, 0 for unlimited
     * @param visibilityTimeoutMillis lease length for this subscription, 0 for the queue's
     */
    record Subscribe(int subscriptionId, String queue, int prefetch, int maxUnacked, long visibilityTimeoutMillis)
            implements Frame {
        /** Checks for nulls. */
        public Subscribe {
            Objects.requireNonNull(queue, "queue");
        }

        @Override
        public FrameType type() {
            return FrameType.SUBSCRIBE;
        }

        @Override
        public int streamId() {
            return subscriptionId;
        }
    }

    /**
     * SUBSCRIBE_OK: the subscription is open.
     *
     * @param subscriptionId the subscription id
     */
    record SubscribeOk(int subscriptionId) implements Frame {
        @Override
        public FrameType type() {
            return FrameType.SUBSCRIBE_OK;
        }

        @Override
        public int streamId() {
            return subscriptionId;
        }
    }

    /**
     * CREDIT: the subscription may receive {@code credit} more DELIVER frames (additive).
     *
     * @param subscriptionId the subscription id
     * @param credit at least 1
     */
    record Credit(int subscriptionId, int credit) implements Frame {
        @Override
        public FrameType type() {
            return FrameType.CREDIT;
        }

        @Override
        public int streamId() {
            return subscriptionId;
        }
    }

    /**
     * DELIVER: one leased message. The record owns {@code payload} (see {@link WireMessage}).
     *
     * @param subscriptionId the subscription id
     * @param deliveryTag the tag to settle it with, unique per connection
     * @param messageId the message id within its queue
     * @param deliveryCount 1 on first delivery
     * @param deadline lease deadline, epoch millis of the server's queue clock
     * @param timestamp when the message was enqueued, same clock
     * @param key the ordering key, or null
     * @param priority 0..255
     * @param headers headers, never null
     * @param payload the encoded payload
     */
    record Deliver(int subscriptionId, long deliveryTag, long messageId, int deliveryCount, long deadline,
            long timestamp, String key, int priority, Map<String, String> headers, byte[] payload) implements Frame {
        /** Checks for nulls and copies the headers. */
        public Deliver {
            headers = Map.copyOf(headers);
            Objects.requireNonNull(payload, "payload");
        }

        @Override
        public FrameType type() {
            return FrameType.DELIVER;
        }

        @Override
        public int streamId() {
            return subscriptionId;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Deliver d && subscriptionId == d.subscriptionId && deliveryTag == d.deliveryTag
                    && messageId == d.messageId && deliveryCount == d.deliveryCount && deadline == d.deadline
                    && timestamp == d.timestamp && Objects.equals(key, d.key) && priority == d.priority
                    && headers.equals(d.headers) && Arrays.equals(payload, d.payload);
        }

        @Override
        public int hashCode() {
            return Objects.hash(subscriptionId, deliveryTag, messageId, deliveryCount, deadline, timestamp, key,
                    priority, headers, Arrays.hashCode(payload));
        }

        @Override
        public String toString() {
            return "Deliver[sub=" + subscriptionId + ", tag=" + deliveryTag + ", id=" + messageId + ", count="
                    + deliveryCount + ", deadline=" + deadline + ", timestamp=" + timestamp + ", key=" + key
                    + ", priority=" + priority + ", headers=" + headers + ", " + payload.length + " bytes]";
        }
    }

    /**
     * UNSUBSCRIBE: close a subscription; answered by SUBSCRIPTION_END.
     *
     * @param subscriptionId the subscription id
     */
    record Unsubscribe(int subscriptionId) implements Frame {
        @Override
        public FrameType type() {
            return FrameType.UNSUBSCRIBE;
        }

        @Override
        public int streamId() {
            return subscriptionId;
        }
    }

    /**
     * SUBSCRIPTION_END: no more DELIVER frames will come for this subscription; its id is free again.
     *
     * @param subscriptionId the subscription id
     * @param code {@link ErrorCode#NONE} after UNSUBSCRIBE, otherwise why (e.g. QUEUE_CLOSED)
     * @param message detail, may be empty
     */
    record SubscriptionEnd(int subscriptionId, ErrorCode code, String message) implements Frame {
        /** Checks for nulls. */
        public SubscriptionEnd {
            Objects.requireNonNull(code, "code");
            Objects.requireNonNull(message, "message");
        }

        @Override
        public FrameType type() {
            return FrameType.SUBSCRIPTION_END;
        }

        @Override
        public int streamId() {
            return subscriptionId;
        }
    }

    /**
     * SUBSCRIBE_EVENTS: open an events subscription on a queue (the queue's {@code events()} stream); answered by
     * SUBSCRIBE_OK or ERROR. It shares the id space, CREDIT, UNSUBSCRIBE and SUBSCRIPTION_END with SUBSCRIBE; each
     * EVENT uses one credit.
     *
     * @param subscriptionId subscription id
     * @param queue queue name
     */
    record SubscribeEvents(int subscriptionId, String queue) implements Frame {
        /** Checks for nulls. */
        public SubscribeEvents {
            Objects.requireNonNull(queue, "queue");
        }

        @Override
        public FrameType type() {
            return FrameType.SUBSCRIBE_EVENTS;
        }

        @Override
        public int streamId() {
            return subscriptionId;
        }
    }

    /**
     * EVENT: one {@link dev.rill.core.QueueEvent} of an events subscription (the queue is the subscription's).
     *
     * @param subscriptionId the subscription id
     * @param eventType what happened
     * @param messageId the message id, 0 for queue-wide events
     * @param deliveryCount the message's delivery count at the time, at least 0
     * @param detail reason or count, or null
     * @param timestamp when, on the server's queue clock
     */
    record Event(int subscriptionId, dev.rill.core.QueueEvent.Type eventType, long messageId, int deliveryCount,
            String detail, long timestamp) implements Frame {
        /** Checks for nulls. */
        public Event {
            Objects.requireNonNull(eventType, "eventType");
        }

        @Override
        public FrameType type() {
            return FrameType.EVENT;
        }

        @Override
        public int streamId() {
            return subscriptionId;
        }
    }

    /**
     * ACK: delete the delivered messages; answered by SETTLE_RESULT. The record owns {@code tags}.
     *
     * @param requestId request id
     * @param tags delivery tags, at least one
     */
    record Ack(int requestId, long[] tags) implements Frame {
        /** Checks for nulls. */
        public Ack {
            Objects.requireNonNull(tags, "tags");
        }

        @Override
        public FrameType type() {
            return FrameType.ACK;
        }

        @Override
        public int streamId() {
            return requestId;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Ack a && requestId == a.requestId && Arrays.equals(tags, a.tags);
        }

        @Override
        public int hashCode() {
            return 31 * requestId + Arrays.hashCode(tags);
        }

        @Override
        public String toString() {
            return "Ack[requestId=" + requestId + ", tags=" + Arrays.toString(tags) + "]";
        }
    }

    /**
     * NACK: release the leases now or after {@code delayMillis}; answered by SETTLE_RESULT.
     *
     * @param requestId request id
     * @param delayMillis 0 for at once
     * @param tags delivery tags, at least one
     */
    record Nack(int requestId, long delayMillis, long[] tags) implements Frame {
        /** Checks for nulls. */
        public Nack {
            Objects.requireNonNull(tags, "tags");
        }

        @Override
        public FrameType type() {
            return FrameType.NACK;
        }

        @Override
        public int streamId() {
            return requestId;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Nack n && requestId == n.requestId && delayMillis == n.delayMillis
                    && Arrays.equals(tags, n.tags);
        }

        @Override
        public int hashCode() {
            return Objects.hash(requestId, delayMillis, Arrays.hashCode(tags));
        }

        @Override
        public String toString() {
            return "Nack[requestId=" + requestId + ", delayMillis=" + delayMillis + ", tags=" + Arrays.toString(tags)
                    + "]";
        }
    }

    /**
     * EXTEND: push the lease deadlines out by {@code durationMillis} from now; answered by SETTLE_RESULT.
     *
     * @param requestId request id
     * @param durationMillis positive
     * @param tags delivery tags, at least one
     */
    record Extend(int requestId, long durationMillis, long[] tags) implements Frame {
        /** Checks for nulls. */
        public Extend {
            Objects.requireNonNull(tags, "tags");
        }

        @Override
        public FrameType type() {
            return FrameType.EXTEND;
        }

        @Override
        public int streamId() {
            return requestId;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Extend e && requestId == e.requestId && durationMillis == e.durationMillis
                    && Arrays.equals(tags, e.tags);
        }

        @Override
        public int hashCode() {
            return Objects.hash(requestId, durationMillis, Arrays.hashCode(tags));
        }

        @Override
        public String toString() {
            return "Extend[requestId=" + requestId + ", durationMillis=" + durationMillis + ", tags="
                    + Arrays.toString(tags) + "]";
        }
    }

    /**
     * REJECT: never retry these messages (dead-letter or drop); answered by SETTLE_RESULT.
     *
     * @param requestId request id
     * @param reason recorded with the dead letter
     * @param tags delivery tags, at least one
     */
    record Reject(int requestId, String reason, long[] tags) implements Frame {
        /** Checks for nulls. */
        public Reject {
            Objects.requireNonNull(reason, "reason");
            Objects.requireNonNull(tags, "tags");
        }

        @Override
        public FrameType type() {
            return FrameType.REJECT;
        }

        @Override
        public int streamId() {
            return requestId;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Reject r && requestId == r.requestId && reason.equals(r.reason)
                    && Arrays.equals(tags, r.tags);
        }

        @Override
        public int hashCode() {
            return Objects.hash(requestId, reason, Arrays.hashCode(tags));
        }

        @Override
        public String toString() {
            return "Reject[requestId=" + requestId + ", reason=" + reason + ", tags=" + Arrays.toString(tags) + "]";
        }
    }

    /**
     * SETTLE_RESULT: one outcome per tag of an ACK, NACK, EXTEND or REJECT, in order.
     *
     * @param requestId the settling request's id
     * @param outcomes OK or STALE per tag
     */
    record SettleResult(int requestId, List<LeaseOutcome> outcomes) implements Frame {
        /** Copies the list. */
        public SettleResult {
            outcomes = List.copyOf(outcomes);
        }

        @Override
        public FrameType type() {
            return FrameType.SETTLE_RESULT;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    /**
     * RELEASE (version 2): give deliveries back without counting them (they never reached the application, e.g.
     * they arrived for a stream that was cancelled); answered by SETTLE_RESULT. The record owns {@code tags}.
     *
     * @param requestId request id
     * @param tags delivery tags, at least one
     */
    record Release(int requestId, long[] tags) implements Frame {
        /** Checks for nulls. */
        public Release {
            Objects.requireNonNull(tags, "tags");
        }

        @Override
        public FrameType type() {
            return FrameType.RELEASE;
        }

        @Override
        public int streamId() {
            return requestId;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Release r && requestId == r.requestId && Arrays.equals(tags, r.tags);
        }

        @Override
        public int hashCode() {
            return Objects.hash(requestId, Arrays.hashCode(tags));
        }

        @Override
        public String toString() {
            return "Release[requestId=" + requestId + ", tags=" + Arrays.toString(tags) + "]";
        }
    }

    /**
     * EXTEND_RESULT (version 2): per tag of an EXTEND, in order, the outcome and the lease's new deadline (server
     * queue clock; 0 when STALE).
     *
     * @param requestId the EXTEND's id
     * @param outcomes OK or STALE per tag
     * @param deadlines the new deadline per tag, same size as {@code outcomes}
     */
    record ExtendResult(int requestId, List<LeaseOutcome> outcomes, List<Long> deadlines) implements Frame {
        /** Copies the lists and checks their sizes match. */
        public ExtendResult {
            outcomes = List.copyOf(outcomes);
            deadlines = List.copyOf(deadlines);
            if (outcomes.size() != deadlines.size()) {
                throw new IllegalArgumentException("EXTEND_RESULT: " + outcomes.size() + " outcomes but "
                        + deadlines.size() + " deadlines");
            }
        }

        @Override
        public FrameType type() {
            return FrameType.EXTEND_RESULT;
        }

        @Override
        public int streamId() {
            return requestId;
        }
    }

    // ---- connection ---------------------------------------------------------------------------------------------

    /**
     * PING: liveness probe; the peer answers PONG with the same nonce.
     *
     * @param nonce any value
     */
    record Ping(int nonce) implements Frame {
        @Override
        public FrameType type() {
            return FrameType.PING;
        }

        @Override
        public int streamId() {
            return nonce;
        }
    }

    /**
     * PONG: answer to PING.
     *
     * @param nonce the PING's nonce
     */
    record Pong(int nonce) implements Frame {
        @Override
        public FrameType type() {
            return FrameType.PONG;
        }

        @Override
        public int streamId() {
            return nonce;
        }
    }

    /**
     * ERROR: a request, subscription or the connection failed.
     *
     * @param id the failed request's or subscription's id, or 0 for the connection
     * @param code what kind of failure
     * @param message detail for humans
     */
    record Error(int id, ErrorCode code, String message) implements Frame {
        /** Checks for nulls. */
        public Error {
            Objects.requireNonNull(code, "code");
            Objects.requireNonNull(message, "message");
        }

        @Override
        public FrameType type() {
            return FrameType.ERROR;
        }

        @Override
        public int streamId() {
            return id;
        }
    }

    /**
     * CLOSE: the sender will close the connection after this frame; no more requests are accepted.
     *
     * @param code {@link ErrorCode#NONE} for a normal close
     * @param reason detail, may be empty
     */
    record Close(ErrorCode code, String reason) implements Frame {
        /** Checks for nulls. */
        public Close {
            Objects.requireNonNull(code, "code");
            Objects.requireNonNull(reason, "reason");
        }

        @Override
        public FrameType type() {
            return FrameType.CLOSE;
        }

        @Override
        public int streamId() {
            return 0;
        }
    }

    /**
     * GOAWAY (version 2, server → client): the server is shutting down. It accepts no new DECLARE, DESCRIBE, SEND
     * or SUBSCRIBE on this connection (ERROR SHUTTING_DOWN), ends every subscription (SUBSCRIPTION_END
     * SHUTTING_DOWN), keeps settling the deliveries already sent and answering the requests in flight for up to
     * {@code drainMillis}, then sends CLOSE and closes; deliveries not settled by then are released.
     *
     * @param drainMillis how long the server keeps the connection open at most, from now
     * @param message detail for humans
     */
    record GoAway(long drainMillis, String message) implements Frame {
        /** Checks for nulls. */
        public GoAway {
            Objects.requireNonNull(message, "message");
        }

        @Override
        public FrameType type() {
            return FrameType.GOAWAY;
        }

        @Override
        public int streamId() {
            return 0;
        }
    }
}
