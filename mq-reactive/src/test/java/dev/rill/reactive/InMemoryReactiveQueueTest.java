package dev.rill.reactive;

import reactor.core.scheduler.Scheduler;

/** Runs the {@link ReactiveQueueContract} against {@link Rill#inMemory(Scheduler)}. */
class InMemoryReactiveQueueTest extends ReactiveQueueContract {

    @Override
    protected ReactiveBroker createBroker(Scheduler scheduler) {
        return Rill.inMemory(scheduler);
    }
}
