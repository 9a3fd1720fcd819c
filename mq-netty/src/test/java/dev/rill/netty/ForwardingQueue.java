package dev.rill.netty;

import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueEvent;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.ReceiveOptions;
import dev.rill.reactive.SendOptions;
import dev.rill.reactive.SendResult;
import java.time.Duration;
import java.util.Collection;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A queue the tests serve in front of a real one (from a {@link ForwardingBroker}): everything goes to the delegate;
 * a subclass overrides what its test changes (the deliveries or events it hands out, a call that fails). Public for
 * other modules' tests, as {@link ForwardingBroker}.
 *
 * @param <T> the payload type
 */
public abstract class ForwardingQueue<T> implements ReactiveQueue<T> {

    /** The queue behind. */
    protected final ReactiveQueue<T> delegate;

    /**
     * Creates the queue.
     *
     * @param delegate the queue behind
     */
    protected ForwardingQueue(ReactiveQueue<T> delegate) {
        this.delegate = delegate;
    }

    @Override
    public String name() {
        return delegate.name();
    }

    @Override
    public QueueSpec spec() {
        return delegate.spec();
    }

    @Override
    public Mono<SendResult<T>> send(OutboundMessage<T> message, SendOptions options) {
        return delegate.send(message, options);
    }

    @Override
    public Flux<SendResult<T>> sendMany(Publisher<OutboundMessage<T>> messages, SendOptions options) {
        return delegate.sendMany(messages, options);
    }

    @Override
    public Flux<Delivery<T>> receive(ReceiveOptions options) {
        return delegate.receive(options);
    }

    @Override
    public Mono<Delivery<T>> receiveOne(Duration wait) {
        return delegate.receiveOne(wait);
    }

    @Override
    public Mono<Void> ackAll(Collection<? extends Delivery<T>> deliveries) {
        return delegate.ackAll(deliveries);
    }

    @Override
    public Flux<QueueEvent> events() {
        return delegate.events();
    }

    @Override
    public Mono<QueueStats> stats() {
        return delegate.stats();
    }

    @Override
    public Flux<Message<T>> peek(int max) {
        return delegate.peek(max);
    }

    @Override
    public Mono<Long> purge() {
        return delegate.purge();
    }
}
