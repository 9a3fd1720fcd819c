package dev.rill.reactive.internal;

import dev.rill.core.LeaseOutcome;
import dev.rill.reactive.Delivery;
import java.util.List;
import reactor.core.publisher.Mono;

/**
 * For transports, not for applications: acks many deliveries of one queue under one acquisition of its lock, with
 * an outcome for each, where {@link dev.rill.reactive.ReactiveQueue#ackAll} gives one error for all. A server that
 * received a batch of acks frees their slots in the queue at once: a producer waiting for room is woken once for
 * the batch rather than once per ack.
 *
 * <p>Implemented by the queues of {@code Rill.inMemory()} and {@code Rill.embedded(...)} brokers.
 *
 * @param <T> the payload type
 */
public interface AckEach<T> {

    /**
     * Acks each delivery, as its own {@link Delivery#ack()} would, in one call to the queue.
     *
     * @param deliveries deliveries this queue emitted
     * @return completes (for a durable broker: once the acks are on disk, as {@code ack()} does) with one outcome per
     *     delivery, in order: {@link LeaseOutcome#OK} when it is acked (now or before), {@link LeaseOutcome#STALE}
     *     when its lease was over; errors when the broker's log failed, and with an
     *     {@link IllegalArgumentException}, before acking any, when a delivery is not one of this queue's
     */
    Mono<List<LeaseOutcome>> ackEach(List<? extends Delivery<T>> deliveries);
}
