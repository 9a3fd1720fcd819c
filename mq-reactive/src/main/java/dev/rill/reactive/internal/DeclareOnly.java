package dev.rill.reactive.internal;

import dev.rill.core.QueueSpec;
import dev.rill.reactive.ReactiveQueue;
import reactor.core.publisher.Mono;

/**
 * For tools, not applications: declares a queue without choosing the type its payloads are kept as. A broker of
 * {@code Rill.inMemory()} keeps each queue's payloads as objects of the codec it is first declared with; a tool that
 * declares queues at startup (the Spring Boot starter, before the application's own declarations) uses this so
 * that the application's codec, not the tool's, is the first.
 *
 * <p>Implemented by the in-memory brokers of {@code Rill}. A durable broker ({@code Rill.embedded}) needs each
 * queue's codec when it is declared (its log decodes recovered payloads with it) and refuses.
 */
public interface DeclareOnly {

    /**
     * Declares a queue as {@link dev.rill.reactive.ReactiveBroker#queue} does (errors included), without choosing
     * its payloads' type.
     *
     * @param spec the queue's spec
     * @return a Mono of a view for the operations that see no payload: {@code name}, {@code spec}, {@code stats},
     *     {@code events}, {@code purge}. Its other operations must not be used. Errors with
     *     {@link UnsupportedOperationException} on a durable broker.
     */
    Mono<ReactiveQueue<?>> declareOnly(QueueSpec spec);
}
