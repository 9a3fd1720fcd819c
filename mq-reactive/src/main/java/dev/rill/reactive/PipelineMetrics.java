package dev.rill.reactive;

import dev.rill.reactive.PipelineError.Stage;
import dev.rill.reactive.PipelineObserver.Handled;
import dev.rill.reactive.PipelineObserver.Settled;
import io.micrometer.core.instrument.Clock;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import reactor.core.Disposable;

/**
 * Micrometer meters for one {@link QueuePipeline}, tagged {@code queue=<queue name>} and
 * {@code pipeline=<pipeline name>} ({@link QueuePipeline#name()}, or the one given to {@link #name(String)}).
 *
 * <ul>
 *   <li>Timer {@value #HANDLER}: how long handlers ran, tagged {@code outcome}: {@code success}, {@code failure}
 *       (threw, returned null or signalled an error) or {@code timeout} (cancelled at the handling timeout). A handler
 *       cancelled by a drain or dispose is not timed.</li>
 *   <li>Counter {@value #MESSAGES}: deliveries the pipeline let go of, tagged {@code outcome}: {@code acked},
 *       {@code retried} (nacked with the retry policy's delay after a failure or timeout), {@code rejected} (out of
 *       attempts: to the dead letters), {@code returned} (given back by a drain, dispose or pause), {@code failed}
 *       (the ack, nack, reject or give-back itself failed; the message is the queue's again once its lease is over)
 *       and {@code expired} (its lease ran out while it waited behind its key; never handled).</li>
 *   <li>Counter {@value #ERRORS}: every {@link PipelineError}, tagged {@code stage} ({@link Stage} in lower case:
 *       {@code handler}, {@code timeout}, {@code ack}, {@code nack}, {@code reject}, {@code extend},
 *       {@code receive}). Counted whether or not anyone subscribes to {@link QueuePipeline#errors()}, so the
 *       pipeline keeps logging them as warnings.</li>
 *   <li>Gauge {@value #IN_FLIGHT}: the deliveries the pipeline holds now ({@link QueuePipeline#inFlight()}).</li>
 * </ul>
 *
 * <p>Counts start at binding. The meters are removed from every registry when the pipeline ends (drained, disposed,
 * or its receive stream failed), or when this binder is disposed, so pipelines that come and go leave nothing
 * behind. Handler durations are measured on the clock of the first registry bound ({@link Clock#SYSTEM} unless it
 * was given another, such as a {@code MockClock} in tests).
 *
 * <p>Cost: recording is a few counter increments and a timer record per message, on the thread the event happens
 * on, never waiting. Without a binder the pipeline makes no Micrometer call and never loads a Micrometer class.
 * Micrometer is an optional dependency of this module: use this class only with micrometer-core on the class path.
 *
 * <p>One binder measures a pipeline at a time (it may be bound to several registries); the tags of two pipelines
 * bound to one registry must differ (name them with {@link PipelineBuilder#name(String)}).
 *
 * <pre>{@code
 * QueuePipeline p = queue.pipelineOnPayload(this::handle).name("billing").start();
 * PipelineMetrics.of(p).bindTo(registry);
 * }</pre>
 */
public final class PipelineMetrics implements MeterBinder, Disposable {

    /** Timer: handler durations, tagged {@code outcome}. */
    public static final String HANDLER = "rill.pipeline.handler";
    /** Counter: deliveries let go of, tagged {@code outcome}. */
    public static final String MESSAGES = "rill.pipeline.messages";
    /** Counter: pipeline errors, tagged {@code stage}. */
    public static final String ERRORS = "rill.pipeline.errors";
    /** Gauge: deliveries held now. */
    public static final String IN_FLIGHT = "rill.pipeline.in.flight";

    private final DefaultQueuePipeline<?> pipeline;
    private final String name;
    private final Observer observer = new Observer();

    // ---- binding state ----
    /** The meters of each registry bound; replaced (never changed) under this binder's lock, read without it. */
    private volatile Meters[] bound = new Meters[0];
    private volatile Clock clock; // the first registry's, set before the observer is attached
    private boolean attached; // guarded by this
    private volatile boolean ended;
    private volatile Disposable endWatch;

    private PipelineMetrics(DefaultQueuePipeline<?> pipeline, String name) {
        this.pipeline = pipeline;
        this.name = name;
    }

    /**
     * Creates meters for {@code pipeline}, tagged with its {@link QueuePipeline#name() name}.
     *
     * @param pipeline a pipeline started by {@link PipelineBuilder#start()}
     * @return a new, unbound binder
     * @throws IllegalArgumentException if the pipeline was not started by a {@link PipelineBuilder}
     */
    public static PipelineMetrics of(QueuePipeline pipeline) {
        Objects.requireNonNull(pipeline, "pipeline");
        if (!(pipeline instanceof DefaultQueuePipeline<?> p)) {
            throw new IllegalArgumentException("not a pipeline started by a PipelineBuilder: " + pipeline);
        }
        return new PipelineMetrics(p, p.name());
    }

    /**
     * Tags the meters {@code pipeline=<name>} instead of the pipeline's own name (the Spring Boot starter uses the
     * bean name).
     *
     * @param name not blank
     * @return a new, unbound binder with the name
     * @throws IllegalArgumentException if {@code name} is blank
     */
    public PipelineMetrics name(String name) {
        Objects.requireNonNull(name, "name");
        if (name.isBlank()) {
            throw new IllegalArgumentException("name must not be blank");
        }
        return new PipelineMetrics(pipeline, name);
    }

    /**
     * Registers the meters in {@code registry} and, on the first binding, starts measuring the pipeline. Does
     * nothing once the pipeline ended or this binder was disposed.
     *
     * @param registry the registry
     * @throws IllegalStateException if another binder measures the pipeline, or the registry has the meters of a
     *     pipeline with the same queue and name already
     */
    @Override
    public void bindTo(MeterRegistry registry) {
        Objects.requireNonNull(registry, "registry");
        Tags tags = Tags.of("queue", pipeline.queue(), "pipeline", name);
        boolean first;
        synchronized (this) { // binders only: the pipeline's threads never take this lock
            if (ended) {
                return;
            }
            if (registry.find(IN_FLIGHT).tags(tags).gauge() != null) {
                throw new IllegalStateException("the registry has the meters of a pipeline named '" + name
                        + "' on queue '" + pipeline.queue() + "' already; give each pipeline its own name");
            }
            first = !attached;
            if (first) {
                clock = registry.config().clock();
                if (!pipeline.observe(observer)) {
                    throw new IllegalStateException("another PipelineMetrics measures " + pipeline + " already");
                }
                attached = true;
            }
            Meters m = new Meters(registry, tags, pipeline);
            Meters[] next = Arrays.copyOf(bound, bound.length + 1);
            next[next.length - 1] = m;
            bound = next;
        }
        // published before ended is read, while end() sets ended before it reads them: either end() removes these
        // meters or this sees ended and does
        if (ended) {
            end();
            return;
        }
        if (first) {
            // completes at once (and removes the meters) when the pipeline ended already
            endWatch = pipeline.onTerminate().subscribe(null, e -> end(), this::end);
            if (ended) {
                endWatch.dispose();
            }
        }
    }

    /** Stops measuring and removes the meters from every registry. Idempotent. */
    @Override
    public void dispose() {
        end();
    }

    /** @return whether the meters were removed: the pipeline ended, or this binder was disposed */
    @Override
    public boolean isDisposed() {
        return ended;
    }

    /** The pipeline ended or the binder was disposed: detach, and remove every meter (again: removal is idempotent). */
    private void end() {
        ended = true;
        pipeline.unobserve(observer);
        for (Meters m : bound) {
            m.remove();
        }
        Disposable w = endWatch;
        if (w != null) {
            w.dispose();
        }
    }

    /** Turns the pipeline's events into meter updates, for every registry bound. */
    private final class Observer implements PipelineObserver {

        @Override
        public long now() {
            return clock.monotonicTime();
        }

        @Override
        public void handled(Handled result, long nanos) {
            for (Meters m : bound) {
                m.handler[result.ordinal()].record(nanos, TimeUnit.NANOSECONDS);
            }
        }

        @Override
        public void settled(Settled outcome) {
            for (Meters m : bound) {
                m.messages[outcome.ordinal()].increment();
            }
        }

        @Override
        public void error(Stage stage) {
            for (Meters m : bound) {
                m.errors[stage.ordinal()].increment();
            }
        }
    }

    /** The meters of one registry, indexed by the ordinals of the enums their tags come from. */
    private static final class Meters {
        final MeterRegistry registry;
        final Timer[] handler = new Timer[Handled.values().length];
        final Counter[] messages = new Counter[Settled.values().length];
        final Counter[] errors = new Counter[Stage.values().length];
        final List<Meter> all = new ArrayList<>();

        Meters(MeterRegistry registry, Tags tags, QueuePipeline pipeline) {
            this.registry = registry;
            for (Handled h : Handled.values()) {
                handler[h.ordinal()] = add(Timer.builder(HANDLER).tags(tags).tag("outcome", tag(h))
                        .description("how long the pipeline's handlers ran").register(registry));
            }
            for (Settled s : Settled.values()) {
                messages[s.ordinal()] = add(Counter.builder(MESSAGES).tags(tags).tag("outcome", tag(s))
                        .baseUnit("messages").description("deliveries the pipeline let go of, by how")
                        .register(registry));
            }
            for (Stage s : Stage.values()) {
                errors[s.ordinal()] = add(Counter.builder(ERRORS).tags(tags).tag("stage", tag(s))
                        .baseUnit("errors").description("what went wrong in the pipeline, by stage")
                        .register(registry));
            }
            add(Gauge.builder(IN_FLIGHT, pipeline, QueuePipeline::inFlight).tags(tags).strongReference(true)
                    .baseUnit("messages").description("deliveries the pipeline holds now").register(registry));
        }

        private <M extends Meter> M add(M meter) {
            all.add(meter);
            return meter;
        }

        void remove() {
            all.forEach(registry::remove);
        }

        private static String tag(Enum<?> e) {
            return e.name().toLowerCase(Locale.ROOT);
        }
    }
}
