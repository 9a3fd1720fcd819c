package dev.rill.reactive;

import java.util.Objects;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * Entry points: creates brokers.
 *
 * <pre>{@code
 * ReactiveBroker broker = Rill.inMemory();
 * ReactiveQueue<String> q = broker.queue(QueueSpec.named("orders"), Codec.utf8()).block();
 * q.send(OutboundMessage.of("hello")).block();
 * q.receive().flatMap(d -> handle(d.payload()).then(d.ack())).subscribe();
 * }</pre>
 */
public final class Rill {

    private Rill() {
    }

    /**
     * Creates an in-memory broker whose timers run on {@link Schedulers#parallel()}. Payloads are kept as the
     * objects they are (no serialization).
     *
     * @return a new, empty broker
     */
    public static ReactiveBroker inMemory() {
        return inMemory(Schedulers.parallel());
    }

    /**
     * Creates an in-memory broker whose timers run on {@code scheduler} and whose clock is
     * {@code scheduler.now(MILLISECONDS)}: inject a {@code VirtualTimeScheduler} to make every timer virtual.
     *
     * @param scheduler drives every timer; not disposed by {@link ReactiveBroker#close()}
     * @return a new, empty broker
     */
    public static ReactiveBroker inMemory(Scheduler scheduler) {
        return new InMemoryBroker(Objects.requireNonNull(scheduler, "scheduler"));
    }
}
