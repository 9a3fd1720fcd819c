package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.QueueSpec;
import reactor.core.scheduler.Scheduler;

/**
 * Runs the {@link ReactiveQueueContract} through {@link TranscodingQueue}s: every queue is first declared with
 * {@code Codec.bytes()} (so it keeps {@code byte[]} payloads, as a served queue does) and the suite uses it through
 * a {@code Codec.utf8()} view, which converts every payload. A stored object leaking through unconverted would
 * fail the suite's {@code String} assertions.
 */
class TranscodingReactiveQueueTest extends ReactiveQueueContract {

    @Override
    protected ReactiveBroker createBroker(Scheduler scheduler) {
        return Rill.inMemory(scheduler);
    }

    @Override
    protected ReactiveQueue<String> queue(QueueSpec spec) {
        broker.queue(spec, Codec.bytes()).block(TIMEOUT);
        ReactiveQueue<String> q = super.queue(spec);
        assertThat(q).isInstanceOf(TranscodingQueue.class);
        return q;
    }
}
