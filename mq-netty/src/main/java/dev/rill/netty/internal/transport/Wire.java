package dev.rill.netty.internal.transport;

import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.netty.AccessDeniedException;
import dev.rill.netty.AuthenticationException;
import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.PeekedMessage;
import dev.rill.netty.internal.protocol.WireMessage;
import dev.rill.reactive.LeaseExpiredException;
import dev.rill.reactive.QueueClosedException;
import dev.rill.reactive.QueueFullException;
import dev.rill.reactive.QueueNotFoundException;
import dev.rill.reactive.RillException;
import java.time.Duration;

/** Conversions between API objects and wire values, and between exceptions and error codes. */
public final class Wire {

    private Wire() {
    }

    /**
     * Describes an outbound message for a SEND frame.
     *
     * @param m the message
     * @param payload its encoded payload
     * @return the wire message
     */
    public static WireMessage toWire(OutboundMessage<?> m, byte[] payload) {
        return new WireMessage(payload, m.key(), m.priority(), m.delay().toMillis(),
                m.ttl() == null ? 0 : ttlMillis(m.ttl()), m.dedupId(), m.headers());
    }

    /**
     * A TTL in the wire's whole milliseconds, where 0 means none: one under 1 ms (valid in one JVM) would go as "no
     * TTL" and the message would live forever instead of expiring at once; one beyond {@code Long.MAX_VALUE} ms has
     * no wire form.
     */
    private static long ttlMillis(Duration ttl) {
        if (ttl.getSeconds() >= Long.MAX_VALUE / 1000 - 1) {
            throw new IllegalArgumentException("ttl must be at most " + Long.MAX_VALUE / 1000 + " s over the network"
                    + " (the protocol carries milliseconds in 64 bits), was " + ttl);
        }
        long ms = ttl.toMillis();
        if (ms < 1) {
            throw new IllegalArgumentException("ttl must be at least 1 ms over the network (the protocol carries "
                    + "milliseconds, 0 meaning none), was " + ttl.toNanos() + " ns");
        }
        return ms;
    }

    /**
     * Rebuilds an outbound message from a SEND frame.
     *
     * @param w the wire message
     * @return the message
     * @throws IllegalArgumentException when a field breaks the message's rules
     */
    public static OutboundMessage<byte[]> fromWire(WireMessage w) {
        OutboundMessage<byte[]> m = OutboundMessage.of(w.payload());
        if (w.key() != null) {
            m = m.key(w.key());
        }
        if (w.priority() != 0) {
            m = m.priority(w.priority());
        }
        if (w.delayMillis() != 0) {
            m = m.delay(Duration.ofMillis(w.delayMillis()));
        }
        if (w.ttlMillis() != 0) {
            m = m.ttl(Duration.ofMillis(w.ttlMillis()));
        }
        if (w.dedupId() != null) {
            m = m.dedupId(w.dedupId());
        }
        if (!w.headers().isEmpty()) {
            m = m.headers(w.headers());
        }
        return m;
    }

    /**
     * Describes a message for a PEEK_RESULT frame.
     *
     * @param m the message
     * @return the wire form
     */
    public static PeekedMessage toPeeked(Message<byte[]> m) {
        return new PeekedMessage(m.id(), m.key(), m.priority(), m.timestamp(), m.headers(), m.payload());
    }

    /**
     * Picks the error code that tells a client what went wrong.
     *
     * @param e the failure
     * @return the code
     */
    public static ErrorCode codeOf(Throwable e) {
        if (e instanceof QueueNotFoundException) {
            return ErrorCode.QUEUE_NOT_FOUND;
        }
        if (e instanceof QueueClosedException) {
            return ErrorCode.QUEUE_CLOSED;
        }
        if (e instanceof QueueFullException) {
            return ErrorCode.QUEUE_FULL;
        }
        if (reactor.core.Exceptions.isOverflow(e)) {
            return ErrorCode.EVENTS_OVERFLOW;
        }
        if (e instanceof IllegalArgumentException || e instanceof IllegalStateException) {
            return ErrorCode.INVALID_ARGUMENT;
        }
        return ErrorCode.INTERNAL_ERROR;
    }

    /**
     * Turns an ERROR (or SUBSCRIPTION_END) received by a client into the exception the API documents.
     *
     * @param code the code
     * @param message the server's message
     * @param queue the queue concerned, or null
     * @return the exception
     */
    public static RuntimeException toException(ErrorCode code, String message, String queue) {
        return toException(code, message, queue, "server error " + code + ": ");
    }

    /**
     * Turns a refused message's receipt into the exception its send fails with: as {@link #toException}, but the
     * message, which names the code already, gets no prefix of its own.
     *
     * @param code the receipt's error code
     * @param message the message, naming the queue, the code and the server's reason
     * @param queue the queue
     * @return the exception
     */
    static RuntimeException refusal(ErrorCode code, String message, String queue) {
        return toException(code, message, queue, "");
    }

    private static RuntimeException toException(ErrorCode code, String message, String queue, String prefix) {
        String q = queue == null ? "?" : queue;
        return switch (code) {
            case QUEUE_NOT_FOUND -> new QueueNotFoundException(missing(message, q));
            case QUEUE_CLOSED -> new QueueClosedException(q);
            case QUEUE_FULL -> new QueueFullException(q);
            case INVALID_ARGUMENT -> new IllegalArgumentException(message);
            case AUTH_FAILED -> new AuthenticationException(message);
            case FORBIDDEN -> new AccessDeniedException(message);
            case EVENTS_OVERFLOW -> reactor.core.Exceptions.failWithOverflow(message);
            default -> new RillException(prefix + message);
        };
    }

    /**
     * @return the queue a QUEUE_NOT_FOUND names in the server's words ({@link QueueNotFoundException}'s message), else
     *     {@code queue}: a request about two queues (REDRIVE_TO) may miss either
     */
    private static String missing(String message, String queue) {
        String prefix = "no queue named '";
        if (message != null && message.startsWith(prefix) && message.endsWith("'")
                && message.length() > prefix.length()) {
            return message.substring(prefix.length(), message.length() - 1);
        }
        return queue;
    }

    /**
     * The exception for a settle operation answered STALE.
     *
     * @param queue the queue
     * @param messageId the message
     * @param deliveryCount the delivery
     * @param op the operation
     * @return the exception
     */
    public static LeaseExpiredException stale(String queue, long messageId, int deliveryCount, String op) {
        return new LeaseExpiredException(queue, messageId, deliveryCount, op);
    }
}
