package dev.rill.reactive;

import dev.rill.core.BrokerOptions;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.DurableBroker;
import dev.rill.core.log.LogOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
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
        return inMemory(scheduler, BrokerOptions.defaults());
    }

    /**
     * Creates an in-memory broker with broker-wide options (e.g. a {@link BrokerOptions#memoryBudget(long) memory
     * budget} shared by all its queues), its timers on {@link Schedulers#parallel()}.
     *
     * @param options broker-wide options
     * @return a new, empty broker
     */
    public static ReactiveBroker inMemory(BrokerOptions options) {
        return inMemory(Schedulers.parallel(), options);
    }

    /**
     * Creates an in-memory broker with broker-wide options whose timers run on {@code scheduler} (see
     * {@link #inMemory(Scheduler)}).
     *
     * @param scheduler drives every timer; not disposed by {@link ReactiveBroker#close()}
     * @param options broker-wide options
     * @return a new, empty broker
     */
    public static ReactiveBroker inMemory(Scheduler scheduler, BrokerOptions options) {
        return new InMemoryBroker(Objects.requireNonNull(scheduler, "scheduler"),
                Objects.requireNonNull(options, "options"));
    }

    /**
     * Opens a durable broker on {@code dir} with the default options: fsync {@code ALWAYS}, so a send's and an
     * ack's {@code Mono} complete only once their record is on disk (many concurrent ones share one fsync).
     * Timers run on {@link Schedulers#parallel()}.
     *
     * <p>Recovered queues: a queue found in the log comes back, with its messages, when it is declared again; its
     * payloads are decoded with the codec of that first declaration (so declare it with the application's codec
     * first). A dead-letter queue declared implicitly (named by a queue's spec, not declared itself) uses its source
     * queue's codec and keeps the settings recorded in the log. Until then the queue is listed and counted by
     * {@link ReactiveBroker#list()} and {@link ReactiveBroker#stats()} and can be purged or deleted; redrive from it
     * fails asking to declare it first. {@link DurabilityOptions#declareRecoveredWith} declares every recovered
     * queue at open instead, with one codec.
     *
     * @param dir the data directory (created if missing); locked while the broker is open
     * @return the broker, with the queues found in the log coming back as they are declared again
     * @throws UncheckedIOException if the directory is in use by another broker, not writable, or its log is
     *     damaged before the tail (the message names the file and the offset)
     */
    public static ReactiveBroker embedded(Path dir) {
        return embedded(dir, DurabilityOptions.defaults());
    }

    /**
     * Opens a durable broker on {@code dir}, its timers on {@link Schedulers#parallel()}.
     *
     * @param dir the data directory (created if missing); locked while the broker is open
     * @param options fsync policy and segment size; its clock is replaced by the scheduler's (the wall clock), its
     *     {@link DurabilityOptions#timer timer} kept (default a timed park)
     * @return the broker
     * @throws UncheckedIOException as {@link #embedded(Path)}
     */
    public static ReactiveBroker embedded(Path dir, DurabilityOptions options) {
        return embedded(dir, options, BrokerOptions.defaults());
    }

    /**
     * Opens a durable broker on {@code dir} with broker-wide options (e.g. a {@link BrokerOptions#memoryBudget(long)
     * memory budget}: messages recovered from the log count against it but are never refused), its timers on
     * {@link Schedulers#parallel()}.
     *
     * @param dir the data directory (created if missing); locked while the broker is open
     * @param options as {@link #embedded(Path, DurabilityOptions)}
     * @param brokerOptions broker-wide options
     * @return the broker
     * @throws UncheckedIOException as {@link #embedded(Path)}
     */
    public static ReactiveBroker embedded(Path dir, DurabilityOptions options, BrokerOptions brokerOptions) {
        Objects.requireNonNull(options, "options");
        return open(dir, options, Schedulers.parallel(), options.timer(), brokerOptions);
    }

    /**
     * Opens a durable broker on {@code dir} whose timers run on {@code scheduler} and whose clock is
     * {@code scheduler.now(MILLISECONDS)}, the log's included: the wake-up of its idle writer when a dedup window
     * that keeps its oldest segment ends (or a relocation is retried) is a task on {@code scheduler}, so a
     * {@code VirtualTimeScheduler} compacts a quiet log as virtual time passes. Blocks while the log is replayed:
     * call it at start-up, not on a Reactor thread. {@link ReactiveBroker#close()} syncs the log and releases the
     * directory.
     *
     * @param dir the data directory (created if missing); locked while the broker is open
     * @param options fsync policy and segment size; its clock and its timer are replaced by the scheduler's
     * @param scheduler drives every timer; not disposed by {@link ReactiveBroker#close()}
     * @return the broker
     * @throws UncheckedIOException as {@link #embedded(Path)}
     */
    public static ReactiveBroker embedded(Path dir, DurabilityOptions options, Scheduler scheduler) {
        return embedded(dir, options, scheduler, BrokerOptions.defaults());
    }

    /**
     * {@link #embedded(Path, DurabilityOptions, Scheduler)} with broker-wide options (see
     * {@link #embedded(Path, DurabilityOptions, BrokerOptions)}).
     *
     * @param dir the data directory (created if missing); locked while the broker is open
     * @param options fsync policy and segment size; its clock and its timer are replaced by the scheduler's
     * @param scheduler drives every timer; not disposed by {@link ReactiveBroker#close()}
     * @param brokerOptions broker-wide options
     * @return the broker
     * @throws UncheckedIOException as {@link #embedded(Path)}
     */
    public static ReactiveBroker embedded(Path dir, DurabilityOptions options, Scheduler scheduler,
            BrokerOptions brokerOptions) {
        Objects.requireNonNull(scheduler, "scheduler");
        return open(dir, options, scheduler, new SchedulerLogTimer(scheduler), brokerOptions);
    }

    private static ReactiveBroker open(Path dir, DurabilityOptions options, Scheduler scheduler,
            LogOptions.Timer timer, BrokerOptions brokerOptions) {
        Objects.requireNonNull(dir, "dir");
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(brokerOptions, "brokerOptions");
        try {
            DurableBroker durable = DurableBroker.open(dir,
                    options.clock(() -> scheduler.now(TimeUnit.MILLISECONDS)).timer(timer), brokerOptions);
            return new InMemoryBroker(scheduler, durable);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open durable broker on " + dir + ": " + e.getMessage(), e);
        }
    }
}
