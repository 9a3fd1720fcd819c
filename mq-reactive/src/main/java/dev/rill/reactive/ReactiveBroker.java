package dev.rill.reactive;

import dev.rill.core.Codec;
import dev.rill.core.QueueSpec;
import dev.rill.core.MemoryStats;
import dev.rill.core.QueueStats;
import java.util.List;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;

/**
 * A set of named queues behind the reactive API. Obtain one from {@link Rill#inMemory()}.
 *
 * <p>Every method is lazy and non-blocking. Timers of every queue run on {@link #scheduler()}, whose clock is the
 * queues' clock.
 */
public interface ReactiveBroker {

    /**
     * Declares a queue (creating it, or returning the existing one when its spec is equal) and returns a view of it.
     * A spec that names a dead-letter queue creates that queue with default settings when it is missing.
     *
     * <p>Errors: {@link IllegalArgumentException} when the spec is invalid, or a queue of that name exists with a
     * different spec (the message names each differing field); {@link QueueClosedException} when the broker is
     * closed.
     *
     * @param spec the queue's spec
     * @param codec turns payloads into bytes for brokers that store or transmit them. The brokers of {@link Rill}
     *     keep a queue's payloads as objects of the codec instance it was first declared with and call no codec for
     *     views with that instance; a view with another codec converts each payload through bytes
     *     ({@link dev.rill.core.Codec})
     * @param <T> the payload type
     * @return a Mono of the queue
     */
    <T> Mono<ReactiveQueue<T>> queue(QueueSpec spec, Codec<T> codec);

    /**
     * Looks up an existing queue without creating it or restating its settings (a passive declare): the view's
     * {@link ReactiveQueue#spec()} is the spec the queue was declared with.
     *
     * <p>Errors: {@link QueueNotFoundException} when there is no such queue; {@link QueueClosedException} when the
     * broker is closed. The default implementation errors with {@link UnsupportedOperationException}; the brokers
     * of {@link Rill} and the network client implement it.
     *
     * @param name the queue name
     * @param codec turns payloads into bytes, as for {@link #queue(QueueSpec, Codec)}
     * @param <T> the payload type
     * @return a Mono of the queue
     */
    default <T> Mono<ReactiveQueue<T>> lookup(String name, Codec<T> codec) {
        return Mono.error(new UnsupportedOperationException("lookup is not supported by " + getClass().getName()));
    }

    /**
     * Deletes a queue and its messages; its receive streams and waiting sends error with
     * {@link QueueClosedException}, its {@link ReactiveQueue#events() events} streams complete.
     *
     * @param name the queue name
     * @return a Mono of whether a queue was deleted
     */
    Mono<Boolean> delete(String name);

    /**
     * Deletes every message of a queue.
     *
     * <p>Errors: {@link QueueNotFoundException} when there is no such queue.
     *
     * @param name the queue name
     * @return a Mono of how many messages were removed
     */
    Mono<Long> purge(String name);

    /** @return a Mono of the queue names, sorted */
    Mono<List<String>> list();

    /** @return a Mono of every queue's stats, sorted by name */
    Mono<List<QueueStats>> stats();

    /**
     * The broker's memory: the bytes its queues hold as its memory budget counts them, and the budget (see
     * {@code BrokerOptions.memoryBudget}).
     *
     * <p>Errors: over the network, {@link UnsupportedOperationException} from a server that does not report its
     * memory (protocol version below 5).
     *
     * @return a Mono of the broker's memory stats
     */
    Mono<MemoryStats> memory();

    /**
     * Moves up to {@code max} messages from a dead-letter queue back to the queues they came from, oldest first;
     * stops early when a source queue is full.
     *
     * <p>Errors: {@link QueueNotFoundException} when there is no such dead-letter queue;
     * {@link IllegalStateException} when a message's source queue is gone; {@link IllegalArgumentException} when
     * {@code max < 1}.
     *
     * @param deadLetterQueue the dead-letter queue's name
     * @param max at least 1
     * @return a Mono of how many messages were moved
     */
    Mono<Integer> redrive(String deadLetterQueue, int max);

    /**
     * Moves up to {@code max} messages from a queue to {@code targetQueue}, oldest first, whatever queue they came
     * from: for dead letters whose source queue is gone, or to send them somewhere else (a parking queue, a fixed
     * version of the consumer's queue). As with {@link #redrive(String, int)} each message loses its dead-letter
     * headers and keeps its payload, key, priority and other headers; it stops early when the target is full.
     * Any queue can be the source, not only a dead-letter queue.
     *
     * <p>Errors: {@link QueueNotFoundException} when either queue does not exist; {@link IllegalArgumentException}
     * when {@code max < 1} or both names are the same queue. Over the network it needs a server of protocol version 4
     * (else {@link UnsupportedOperationException}), and a token with the manage right on {@code deadLetterQueue} and
     * the send right on {@code targetQueue}.
     *
     * @param deadLetterQueue the queue to move messages from, typically a dead-letter queue
     * @param targetQueue the queue to move them to
     * @param max at least 1
     * @return a Mono of how many messages were moved
     */
    Mono<Integer> redrive(String deadLetterQueue, String targetQueue, int max);

    /**
     * Closes the broker: cancels its timers and errors every open receive stream and waiting send with
     * {@link QueueClosedException}. {@link ReactiveQueue#events() Events} streams end too: the brokers of
     * {@link Rill} complete them, the network client errors them with {@link QueueClosedException}. Idempotent.
     *
     * @return a Mono that completes once closed
     */
    Mono<Void> close();

    /** @return the scheduler that runs this broker's timers and whose clock the queues use */
    Scheduler scheduler();
}
