package dev.rill.examples;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Graceful shutdown with {@link QueuePipeline#drain(Duration)}: stop leasing, let the handlers already running
 * finish and ack, and give back whatever cannot finish within the grace period; nothing is lost either way.
 *
 * <p>Phase 1 ("deploy"): 40 jobs, a pipeline running 8 at a time, 200 ms each; once 8 are running the application
 * shuts down with {@code drain(2s)}: the 8 running jobs finish and are acked, no new job starts, the rest stay in the
 * queue. Phase 2 ("stuck handler"): a new pipeline whose handler would take a minute; {@code drain(100ms)} cancels the
 * handlers after the grace and gives their messages back at once (nack without delay), so they are ready for the
 * next consumer instead of waiting out a visibility timeout. Stats before and after each drain show that
 * {@code acked + in queue == sent} throughout.
 *
 * <p>In a Spring or plain JVM application, call {@code drain} from a shutdown hook or lifecycle callback and block on
 * it there (never on a Reactor thread).
 *
 * <pre>
 * ./mvnw -q -pl mq-examples -am compile exec:java -Dexec.mainClass=dev.rill.examples.GracefulDrainExample
 * </pre>
 */
public final class GracefulDrainExample {

    private static final Duration WAIT = Duration.ofSeconds(30);

    private GracefulDrainExample() {
    }

    /**
     * One drain, observed.
     *
     * @param heldAtDrain deliveries the pipeline held when the drain began
     * @param before the queue's stats just before the drain
     * @param after the queue's stats once the drain completed
     * @param handlersStarted handlers that started in this phase, in total
     * @param handlersCompleted handlers that ran to completion in this phase
     * @param handlersCancelled handlers cancelled by the drain after the grace period
     * @param drainTook how long the drain took (wall clock)
     */
    public record Phase(int heldAtDrain, QueueStats before, QueueStats after, int handlersStarted,
            int handlersCompleted, int handlersCancelled, Duration drainTook) {
    }

    /**
     * Both phases.
     *
     * @param sent jobs sent
     * @param finishing phase 1: handlers finish within the grace period
     * @param cutShort phase 2: handlers outlast the grace period and are given back
     */
    public record Summary(int sent, Phase finishing, Phase cutShort) {
    }

    /**
     * Runs the example on a fresh in-memory broker.
     *
     * @param args ignored
     */
    public static void main(String[] args) {
        ReactiveBroker broker = Rill.inMemory();
        try {
            Summary s = run(broker, 40, 8, System.out);
            QueueStats end = s.cutShort().after();
            System.out.printf("done: sent %d = acked %d + still queued %d (nothing lost)%n", s.sent(), end.acked(),
                    end.size());
        } finally {
            broker.close().block(Duration.ofSeconds(5));
        }
    }

    /**
     * Sends {@code jobs} jobs and runs both phases.
     *
     * @param broker the broker to declare the {@code jobs} queue on
     * @param jobs how many jobs to send, more than {@code concurrency}
     * @param concurrency handlers per pipeline
     * @param out where to print
     * @return both phases' observations
     */
    public static Summary run(ReactiveBroker broker, int jobs, int concurrency, PrintStream out) {
        ReactiveQueue<String> queue = Objects.requireNonNull(
                broker.queue(QueueSpec.named("jobs"), Codec.utf8()).block(WAIT));
        Flux.range(1, jobs).map(i -> OutboundMessage.of("job-" + i)).as(queue::sendMany).then().block(WAIT);

        out.println("phase 1: handlers of 200 ms, drain with a grace of 2 s");
        Phase finishing = phase(queue, concurrency, Duration.ofMillis(200), Duration.ofSeconds(2), out);
        out.println("phase 2: handlers of 1 min, drain with a grace of 100 ms");
        Phase cutShort = phase(queue, concurrency, Duration.ofMinutes(1), Duration.ofMillis(100), out);
        return new Summary(jobs, finishing, cutShort);
    }

    private static Phase phase(ReactiveQueue<String> queue, int concurrency, Duration work, Duration grace,
            PrintStream out) {
        AtomicInteger started = new AtomicInteger();
        AtomicInteger completed = new AtomicInteger();
        AtomicInteger cancelled = new AtomicInteger();
        QueuePipeline pipeline = queue.pipelineOnPayload(job -> Mono.delay(work)
                        .doOnSubscribe(s -> started.incrementAndGet())
                        .doOnSuccess(t -> completed.incrementAndGet())
                        .doOnCancel(cancelled::incrementAndGet))
                .concurrency(concurrency)
                .start();

        // Wait until the pipeline is busy: every slot holds a running handler.
        Flux.interval(Duration.ZERO, Duration.ofMillis(5))
                .filter(t -> started.get() >= concurrency)
                .next()
                .block(WAIT);

        int held = pipeline.inFlight();
        QueueStats before = stats(queue);
        print(out, "  before drain", before);
        long t0 = System.nanoTime();
        pipeline.drain(grace).block(WAIT); // in an application: from a shutdown hook, never on a Reactor thread
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        QueueStats after = stats(queue);
        print(out, "  after drain ", after);
        out.printf("  drain took %d ms; handlers started %d, completed %d, cancelled and given back %d%n",
                took.toMillis(), started.get(), completed.get(), cancelled.get());
        return new Phase(held, before, after, started.get(), completed.get(), cancelled.get(), took);
    }

    private static QueueStats stats(ReactiveQueue<?> queue) {
        return Objects.requireNonNull(queue.stats().block(WAIT));
    }

    private static void print(PrintStream out, String label, QueueStats s) {
        out.printf("%s: ready %d, in flight %d, acked %d, nacked %d (sent %d = acked + in queue %d)%n", label,
                s.ready(), s.inFlight(), s.acked(), s.nacked(), s.sent(), s.acked() + s.size());
    }
}
