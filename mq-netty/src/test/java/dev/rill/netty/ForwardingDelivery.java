package dev.rill.netty;

import dev.rill.core.Message;
import dev.rill.reactive.Delivery;
import java.time.Duration;
import reactor.core.publisher.Mono;

/**
 * A delivery a {@link ForwardingQueue} hands out in place of the real one: everything goes to the delegate; a subclass
 * overrides what its test changes (the message it shows, a settle that fails). Public for other modules' tests.
 *
 * @param <T> the payload type
 */
public abstract class ForwardingDelivery<T> implements Delivery<T> {

    /** The delivery behind. */
    protected final Delivery<T> delegate;

    /**
     * Creates the delivery.
     *
     * @param delegate the delivery behind
     */
    protected ForwardingDelivery(Delivery<T> delegate) {
        this.delegate = delegate;
    }

    @Override
    public Message<T> message() {
        return delegate.message();
    }

    @Override
    public int deliveryCount() {
        return delegate.deliveryCount();
    }

    @Override
    public long deadline() {
        return delegate.deadline();
    }

    @Override
    public Mono<Void> ack() {
        return delegate.ack();
    }

    @Override
    public Mono<Void> nack() {
        return delegate.nack();
    }

    @Override
    public Mono<Void> nack(Duration delay) {
        return delegate.nack(delay);
    }

    @Override
    public Mono<Void> extend(Duration duration) {
        return delegate.extend(duration);
    }

    @Override
    public Mono<Void> reject(String reason) {
        return delegate.reject(reason);
    }

    @Override
    public Mono<Void> release() {
        return delegate.release();
    }

    @Override
    public boolean isSettled() {
        return delegate.isSettled();
    }
}
