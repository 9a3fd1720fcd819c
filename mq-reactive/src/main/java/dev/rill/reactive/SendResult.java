package dev.rill.reactive;

import dev.rill.core.OutboundMessage;
import java.util.Objects;

/**
 * The outcome of one accepted send: the id the queue gave the message and whether it was dropped as a duplicate
 * of an earlier send with the same dedup id (then {@code messageId} is the original's id). Carries the message
 * that was sent, so callers of {@link ReactiveQueue#sendMany} can correlate results with inputs.
 *
 * @param messageId the stored message's id (the original's when {@code duplicate})
 * @param duplicate whether the queue already held a message with this dedup id within its dedup window
 * @param message the message that was sent
 * @param <T> the payload type
 */
public record SendResult<T>(long messageId, boolean duplicate, OutboundMessage<T> message) {

    /**
     * Creates a result.
     *
     * @param messageId the stored message's id
     * @param duplicate whether it was a duplicate
     * @param message the message that was sent, not null
     */
    public SendResult {
        Objects.requireNonNull(message, "message");
    }
}
