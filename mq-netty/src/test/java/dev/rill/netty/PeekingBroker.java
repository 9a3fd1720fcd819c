package dev.rill.netty;

import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** Serves a broker whose queues' peeks are the test's own (out-of-range values, a failure). */
final class PeekingBroker extends ForwardingBroker {

    /** What a queue's {@code peek(max)} gives instead of its own. */
    interface Peek {
        <T> Flux<Message<T>> peek(ReactiveQueue<T> queue, int max);
    }

    private final Peek peek;

    PeekingBroker(ReactiveBroker delegate, Peek peek) {
        super(delegate);
        this.peek = peek;
    }

    @Override
    public <T> Mono<ReactiveQueue<T>> queue(QueueSpec spec, Codec<T> codec) {
        return delegate.queue(spec, codec).map(q -> new ForwardingQueue<T>(q) {
            @Override
            public Flux<Message<T>> peek(int max) {
                return peek.peek(delegate, max);
            }
        });
    }
}
