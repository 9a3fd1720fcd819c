package dev.rill.reactive.internal;

import dev.rill.core.OutboundMessage;
import dev.rill.reactive.SendOptions;
import dev.rill.reactive.SendResult;
import reactor.core.publisher.Mono;

/**
 * For transports, not for applications: sends that complete once the message is stored, with durability awaited
 * separately, so that a server can store a connection's next message while the previous one is still being made
 * durable and confirm a whole run of them with one wait (one group commit).
 *
 * <p>Implemented by the queues of {@code Rill.inMemory()} and {@code Rill.embedded(...)} brokers. A caller must not
 * confirm a send to its own client before {@link #durableSoFar()}, called after the send's {@code Mono} completed,
 * has completed: until then a crash may lose the message.
 *
 * @param <T> the payload type
 */
public interface StoreFirst<T> {

    /**
     * Like {@link dev.rill.reactive.ReactiveQueue#send(OutboundMessage, SendOptions)}, but completes as soon as
     * the message is stored in the queue (for a durable broker: handed to the log, not yet durable).
     *
     * @param message the message
     * @param options the options
     * @return the result once stored; errors as {@code send} does
     */
    default Mono<SendResult<T>> sendStored(OutboundMessage<T> message, SendOptions options) {
        return sendStored(message, options, null);
    }

    /**
     * {@link #sendStored(OutboundMessage, SendOptions)} that its caller can withdraw: cancelling the {@code Mono} alone
     * cannot tell whether the message was stored (it may be being stored on another thread; the result is then
     * dropped), {@link Withdrawable#withdraw()} can. A withdrawable serves one send.
     *
     * @param message the message
     * @param options the options
     * @param withdrawable asked through by the caller, or null (the send is cancelled like any {@code Mono})
     * @return the result once stored; errors as {@code send} does, or with
     *     {@link Withdrawable.WithdrawnException} (see {@link Withdrawable#withdraw()})
     */
    Mono<SendResult<T>> sendStored(OutboundMessage<T> message, SendOptions options, Withdrawable withdrawable);

    /**
     * @return completes once every change made so far (when this method is called) is durable under the broker's
     *     fsync policy: at once for an in-memory broker; errors if the log failed
     */
    Mono<Void> durableSoFar();
}
