package dev.rill.core;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.regex.Pattern;

/**
 * The immutable description of a queue: its name, lease and retry rules, limits and ordering.
 *
 * <p>Every option method returns a new {@code QueueSpec}; the receiver is never changed. Single
 * fields are checked when set ({@link IllegalArgumentException} naming the field and the value);
 * rules that tie fields together are checked by {@link #validate()}, which the broker and
 * {@link MessageQueue#create(QueueSpec)} call.
 *
 * <p>Defaults: visibility timeout 30 s, dedup window 5 min, capacity 100,000 messages, no byte
 * limit, unlimited deliveries, no dead-letter queue, no time to live, {@link Ordering#FIFO},
 * {@link Overflow#WAIT}, {@link ExpiryAction#DROP}.
 */
public final class QueueSpec {

    /** Default visibility timeout (lease length): 30 seconds. */
    public static final Duration DEFAULT_VISIBILITY_TIMEOUT = Duration.ofSeconds(30);
    /** Default deduplication window: 5 minutes. */
    public static final Duration DEFAULT_DEDUP_WINDOW = Duration.ofMinutes(5);
    /** Default capacity: 100,000 messages. */
    public static final int DEFAULT_CAPACITY = 100_000;
    /** Longest accepted queue name. */
    public static final int MAX_NAME_LENGTH = 200;

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._\\-:]+");

    private final String name;
    private final Duration visibilityTimeout;
    private final Duration dedupWindow;
    private final int capacity;
    private final long maxBytes; // Long.MAX_VALUE: no byte limit
    private final int maxDeliveries; // 0: unlimited
    private final String deadLetterQueue; // null: none
    private final boolean discardDeadLetters;
    private final Duration messageTtl; // null: none
    private final ExpiryAction expiryAction;
    private final Ordering ordering;
    private final Overflow overflow;

    private QueueSpec(String name, Duration visibilityTimeout, Duration dedupWindow, int capacity, long maxBytes,
            int maxDeliveries, String deadLetterQueue, boolean discardDeadLetters, Duration messageTtl,
            ExpiryAction expiryAction, Ordering ordering, Overflow overflow) {
        this.name = name;
        this.visibilityTimeout = visibilityTimeout;
        this.dedupWindow = dedupWindow;
        this.capacity = capacity;
        this.maxBytes = maxBytes;
        this.maxDeliveries = maxDeliveries;
        this.deadLetterQueue = deadLetterQueue;
        this.discardDeadLetters = discardDeadLetters;
        this.messageTtl = messageTtl;
        this.expiryAction = expiryAction;
        this.ordering = ordering;
        this.overflow = overflow;
    }

    /**
     * Starts a spec with every default.
     *
     * @param name the queue name: 1 to 200 characters of letters, digits, {@code . _ - :}
     * @return a new spec
     * @throws IllegalArgumentException if the name is empty, too long or has other characters
     */
    public static QueueSpec named(String name) {
        checkName("name", name);
        return new QueueSpec(name, DEFAULT_VISIBILITY_TIMEOUT, DEFAULT_DEDUP_WINDOW, DEFAULT_CAPACITY, Long.MAX_VALUE,
                0, null, false, null, ExpiryAction.DROP, Ordering.FIFO, Overflow.WAIT);
    }

    static void checkName(String field, String name) {
        Objects.requireNonNull(name, field);
        if (name.isEmpty() || name.length() > MAX_NAME_LENGTH || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(field + " must be 1.." + MAX_NAME_LENGTH
                    + " characters of [A-Za-z0-9._-:], was '" + name + "'");
        }
    }

    private static Duration positive(String field, Duration d) {
        Objects.requireNonNull(d, field);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(field + " must be positive, was " + d);
        }
        if (d.compareTo(Duration.ofDays(365 * 100)) > 0) {
            throw new IllegalArgumentException(field + " must be at most 100 years, was " + d);
        }
        return d;
    }

    /**
     * Sets how long a receive leases a message before it becomes deliverable again.
     *
     * @param timeout a positive duration; default 30 s
     * @return a new spec
     */
    public QueueSpec visibilityTimeout(Duration timeout) {
        return new QueueSpec(name, positive("visibilityTimeout", timeout), dedupWindow, capacity, maxBytes,
                maxDeliveries, deadLetterQueue, discardDeadLetters, messageTtl, expiryAction, ordering, overflow);
    }

    /**
     * Sets how long a {@linkplain OutboundMessage#dedupId(String) dedup id} is remembered after its send.
     *
     * @param window a positive duration; default 5 min
     * @return a new spec
     */
    public QueueSpec dedupWindow(Duration window) {
        return new QueueSpec(name, visibilityTimeout, positive("dedupWindow", window), capacity, maxBytes,
                maxDeliveries, deadLetterQueue, discardDeadLetters, messageTtl, expiryAction, ordering, overflow);
    }

    /**
     * Sets the most messages the queue holds (ready, delayed and leased together).
     *
     * @param messages at least 1; default 100,000
     * @return a new spec
     */
    public QueueSpec capacity(int messages) {
        if (messages < 1) {
            throw new IllegalArgumentException("capacity must be >= 1, was " + messages);
        }
        return new QueueSpec(name, visibilityTimeout, dedupWindow, messages, maxBytes, maxDeliveries,
                deadLetterQueue, discardDeadLetters, messageTtl, expiryAction, ordering, overflow);
    }

    /**
     * Removes the message-count limit. Memory is then bounded only by {@link #maxBytes(long)}, if set.
     *
     * @return a new spec whose capacity is {@link Integer#MAX_VALUE} messages
     */
    public QueueSpec unbounded() {
        return new QueueSpec(name, visibilityTimeout, dedupWindow, Integer.MAX_VALUE, maxBytes, maxDeliveries,
                deadLetterQueue, discardDeadLetters, messageTtl, expiryAction, ordering, overflow);
    }

    /**
     * Sets a limit on the summed payload size of the messages held. Payload sizes are those the queue's
     * payload sizer reports (bytes for {@code byte[]} and {@code ByteBuffer}, UTF-16 bytes for strings), taken when
     * the message is stored: a message counts that size until it leaves, even if its payload changes meanwhile (a
     * {@code StringBuilder} appended to).
     *
     * @param bytes at least 1; default: no byte limit
     * @return a new spec
     */
    public QueueSpec maxBytes(long bytes) {
        if (bytes < 1) {
            throw new IllegalArgumentException("maxBytes must be >= 1, was " + bytes);
        }
        return new QueueSpec(name, visibilityTimeout, dedupWindow, capacity, bytes, maxDeliveries,
                deadLetterQueue, discardDeadLetters, messageTtl, expiryAction, ordering, overflow);
    }

    /**
     * Sets how many deliveries a message gets before it is dead-lettered. Needs
     * {@link #deadLetterQueue(String)} or {@link #discardDeadLetters()}, else {@link #validate()} fails.
     *
     * @param deliveries at least 1; default unlimited
     * @return a new spec
     */
    public QueueSpec maxDeliveries(int deliveries) {
        if (deliveries < 1) {
            throw new IllegalArgumentException("maxDeliveries must be >= 1, was " + deliveries);
        }
        return new QueueSpec(name, visibilityTimeout, dedupWindow, capacity, maxBytes, deliveries,
                deadLetterQueue, discardDeadLetters, messageTtl, expiryAction, ordering, overflow);
    }

    /**
     * Names the queue that receives rejected messages and messages past {@link #maxDeliveries(int)}.
     *
     * @param queueName another queue's name; default none
     * @return a new spec
     */
    public QueueSpec deadLetterQueue(String queueName) {
        checkName("deadLetterQueue", queueName);
        return new QueueSpec(name, visibilityTimeout, dedupWindow, capacity, maxBytes, maxDeliveries, queueName,
                false, messageTtl, expiryAction, ordering, overflow);
    }

    /**
     * Drops rejected messages and messages past {@link #maxDeliveries(int)} instead of dead-lettering them.
     * This is the explicit way to accept that loss; without it a spec with {@code maxDeliveries} must name a
     * dead-letter queue.
     *
     * @return a new spec without a dead-letter queue
     */
    public QueueSpec discardDeadLetters() {
        return new QueueSpec(name, visibilityTimeout, dedupWindow, capacity, maxBytes, maxDeliveries, null, true,
                messageTtl, expiryAction, ordering, overflow);
    }

    /**
     * Sets a time to live for every message, counted from its send; a message's own TTL, when shorter,
     * wins.
     *
     * @param ttl a positive duration; default none
     * @return a new spec
     */
    public QueueSpec messageTtl(Duration ttl) {
        return new QueueSpec(name, visibilityTimeout, dedupWindow, capacity, maxBytes, maxDeliveries,
                deadLetterQueue, discardDeadLetters, positive("messageTtl", ttl), expiryAction, ordering, overflow);
    }

    /**
     * Sets what happens to messages whose TTL runs out.
     *
     * @param action {@link ExpiryAction#DROP} (default) or {@link ExpiryAction#DEAD_LETTER}
     * @return a new spec
     */
    public QueueSpec onExpiry(ExpiryAction action) {
        return new QueueSpec(name, visibilityTimeout, dedupWindow, capacity, maxBytes, maxDeliveries,
                deadLetterQueue, discardDeadLetters, messageTtl, Objects.requireNonNull(action, "action"), ordering,
                overflow);
    }

    /**
     * Sets the delivery ordering.
     *
     * @param order {@link Ordering#FIFO} (default) or {@link Ordering#KEY_ORDERED}
     * @return a new spec
     */
    public QueueSpec ordering(Ordering order) {
        return new QueueSpec(name, visibilityTimeout, dedupWindow, capacity, maxBytes, maxDeliveries,
                deadLetterQueue, discardDeadLetters, messageTtl, expiryAction, Objects.requireNonNull(order, "ordering"),
                overflow);
    }

    /**
     * Sets what a reactive send does when the queue is full.
     *
     * @param policy {@link Overflow#WAIT} (default) or {@link Overflow#FAIL}
     * @return a new spec
     */
    public QueueSpec overflow(Overflow policy) {
        return new QueueSpec(name, visibilityTimeout, dedupWindow, capacity, maxBytes, maxDeliveries,
                deadLetterQueue, discardDeadLetters, messageTtl, expiryAction, ordering,
                Objects.requireNonNull(policy, "overflow"));
    }

    /**
     * Checks the rules that tie fields together.
     *
     * @return this spec
     * @throws IllegalArgumentException naming the fields when {@code maxDeliveries} is set without a
     *     dead-letter queue or {@link #discardDeadLetters()}, when TTL expiry dead-letters without a
     *     dead-letter queue, or when the queue is its own dead-letter queue
     */
    public QueueSpec validate() {
        if (maxDeliveries > 0 && deadLetterQueue == null && !discardDeadLetters) {
            throw new IllegalArgumentException("queue '" + name + "': maxDeliveries=" + maxDeliveries
                    + " needs deadLetterQueue(name) or discardDeadLetters(); refusing to lose messages silently");
        }
        if (expiryAction == ExpiryAction.DEAD_LETTER && deadLetterQueue == null) {
            throw new IllegalArgumentException("queue '" + name + "': onExpiry=DEAD_LETTER needs deadLetterQueue(name)");
        }
        if (name.equals(deadLetterQueue)) {
            throw new IllegalArgumentException("queue '" + name + "': deadLetterQueue must differ from the queue itself");
        }
        return this;
    }

    /** @return the queue name */
    public String name() {
        return name;
    }

    /** @return the lease length */
    public Duration visibilityTimeout() {
        return visibilityTimeout;
    }

    /** @return how long dedup ids are remembered */
    public Duration dedupWindow() {
        return dedupWindow;
    }

    /** @return the message-count limit ({@link Integer#MAX_VALUE} when unbounded) */
    public int capacity() {
        return capacity;
    }

    /** @return the byte limit, if any */
    public OptionalLong maxBytes() {
        return maxBytes == Long.MAX_VALUE ? OptionalLong.empty() : OptionalLong.of(maxBytes);
    }

    /** @return the delivery limit, if any */
    public OptionalInt maxDeliveries() {
        return maxDeliveries == 0 ? OptionalInt.empty() : OptionalInt.of(maxDeliveries);
    }

    /** @return the dead-letter queue name, if any */
    public Optional<String> deadLetterQueue() {
        return Optional.ofNullable(deadLetterQueue);
    }

    /** @return whether dead letters are dropped on purpose */
    public boolean discardsDeadLetters() {
        return discardDeadLetters;
    }

    /** @return the queue-wide time to live, if any */
    public Optional<Duration> messageTtl() {
        return Optional.ofNullable(messageTtl);
    }

    /** @return what happens to expired messages */
    public ExpiryAction expiryAction() {
        return expiryAction;
    }

    /** @return the ordering */
    public Ordering ordering() {
        return ordering;
    }

    /** @return the reactive overflow policy */
    public Overflow overflow() {
        return overflow;
    }

    long maxBytesRaw() {
        return maxBytes;
    }

    int maxDeliveriesRaw() {
        return maxDeliveries;
    }

    /**
     * Lists the fields in which this spec differs from another, as {@code field: this vs other}.
     *
     * @param other the spec to compare with
     * @return the differences; empty when the specs are equal
     */
    public List<String> differences(QueueSpec other) {
        List<String> d = new ArrayList<>();
        diff(d, "name", name, other.name);
        diff(d, "visibilityTimeout", visibilityTimeout, other.visibilityTimeout);
        diff(d, "dedupWindow", dedupWindow, other.dedupWindow);
        diff(d, "capacity", capacity, other.capacity);
        diff(d, "maxBytes", maxBytes(), other.maxBytes());
        diff(d, "maxDeliveries", maxDeliveries(), other.maxDeliveries());
        diff(d, "deadLetterQueue", deadLetterQueue, other.deadLetterQueue);
        diff(d, "discardDeadLetters", discardDeadLetters, other.discardDeadLetters);
        diff(d, "messageTtl", messageTtl, other.messageTtl);
        diff(d, "expiryAction", expiryAction, other.expiryAction);
        diff(d, "ordering", ordering, other.ordering);
        diff(d, "overflow", overflow, other.overflow);
        return d;
    }

    private static void diff(List<String> out, String field, Object a, Object b) {
        if (!Objects.equals(a, b)) {
            out.add(field + ": " + a + " vs " + b);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QueueSpec other && differences(other).isEmpty();
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, visibilityTimeout, dedupWindow, capacity, maxBytes, maxDeliveries, deadLetterQueue,
                discardDeadLetters, messageTtl, expiryAction, ordering, overflow);
    }

    @Override
    public String toString() {
        return "QueueSpec{name=" + name + ", visibilityTimeout=" + visibilityTimeout + ", dedupWindow=" + dedupWindow
                + ", capacity=" + capacity + ", maxBytes=" + maxBytes() + ", maxDeliveries=" + maxDeliveries()
                + ", deadLetterQueue=" + deadLetterQueue + ", discardDeadLetters=" + discardDeadLetters
                + ", messageTtl=" + messageTtl + ", expiryAction=" + expiryAction + ", ordering=" + ordering
                + ", overflow=" + overflow + "}";
    }
}
