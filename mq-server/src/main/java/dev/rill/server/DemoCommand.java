package dev.rill.server;

import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.netty.ClientOptions;
import dev.rill.netty.Permissions;
import dev.rill.netty.RillClient;
import dev.rill.netty.ServerOptions;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.RetryPolicy;
import java.io.PrintWriter;
import java.net.URI;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** {@code rill demo}: an embedded server, a producer and consumers with retries and a dead-letter queue. */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Shows Rill end to end in about 10 seconds, then exits: an embedded server on 127.0.0.1 (an"
                + " OS-chosen port, token authentication on), a producer and consumers (how many: --consumers)"
                + " connected over TCP with the Rill client, each consumer a QueuePipeline.",
                "The queue 'orders' allows 3 deliveries and dead-letters to 'orders.dlq'. Every 10th order fails"
                + " once (retried with backoff, then succeeds); every 50th always fails (retried, then"
                + " dead-lettered). A live progress line shows the flow; the summary checks that"
                + " sent = acked + dead-lettered."},
        footer = {"%nExamples:", "  rill demo", "  rill demo --messages 20000 --duration 5s --consumers 4"})
final class DemoCommand implements Callable<Integer> {

    static final String QUEUE = "orders";
    static final String DLQ = "orders.dlq";
    static final int MAX_DELIVERIES = 3;

    @ParentCommand
    RillCli root;

    @Spec
    CommandSpec spec;

    @Option(names = {"-n", "--messages"}, paramLabel = "N", defaultValue = "4000",
            description = "Orders to send. Default: ${DEFAULT-VALUE}.")
    int messages;

    @Option(names = {"-d", "--duration"}, paramLabel = "DURATION", defaultValue = "8s",
            converter = DurationConverter.class,
            description = "Spread the sends over this long (the run ends about a second later). Default:"
                    + " ${DEFAULT-VALUE}.")
    Duration duration;

    @Option(names = {"-c", "--consumers"}, paramLabel = "N", defaultValue = "2",
            description = "Consumer connections, each a pipeline. Default: ${DEFAULT-VALUE}.")
    int consumers;

    @Option(names = "--concurrency", paramLabel = "N", defaultValue = "8",
            description = "Orders each consumer handles at a time. Default: ${DEFAULT-VALUE}.")
    int concurrency;

    @Option(names = "--retry-backoff", paramLabel = "DURATION", defaultValue = "100ms",
            converter = DurationConverter.class,
            description = "First retry delay (doubling per attempt). Default: ${DEFAULT-VALUE}.")
    Duration backoff;

    @Option(names = "--max-time", paramLabel = "DURATION", defaultValue = "60s", converter = DurationConverter.class,
            description = "Give up (exit 1) if the flow has not settled this long after the last send. Default:"
                    + " ${DEFAULT-VALUE}.")
    Duration maxTime;

    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong handled = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();
    private final AtomicLong pipelineErrors = new AtomicLong();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    /** Ctrl-C or SIGTERM: set for the run (see {@link InterruptHook}). */
    private InterruptHook hook;
    /** Counted down by the signal hook, so that the progress loop notices at once. */
    private final CountDownLatch wake = new CountDownLatch(1);

    /** How long the pipelines may finish what they hold when the demo ends early (gave up, interrupted). */
    private static final Duration CLEANUP_DRAIN = Duration.ofSeconds(2);

    /** How long the signal hook waits for the demo to print its summary and close what it opened. */
    private static final Duration INTERRUPT_CLEANUP = Duration.ofSeconds(30);

    /** Whether order {@code n} always fails (a poison message). */
    static boolean poison(long n) {
        return n % 50 == 0;
    }

    /** Whether order {@code n} fails on its first delivery only (a transient failure). */
    static boolean flaky(long n) {
        return n % 10 == 0 && !poison(n);
    }

    @Override
    public Integer call() throws InterruptedException {
        validate();
        PrintWriter out = spec.commandLine().getOut();
        byte[] secret = new byte[8];
        new SecureRandom().nextBytes(secret);
        String token = "demo-" + HexFormat.of().formatHex(secret);
        ServerProcess server = ServerProcess.start(ServerOptions.defaults().host("127.0.0.1").port(0)
                .token(token, Permissions.all()), "127.0.0.1", null, Duration.ofSeconds(10));
        URI uri = URI.create(server.url());
        ClientOptions client = ClientOptions.defaults().token(token).reconnectAttempts(0).clientName("rill-demo");
        List<ReactiveBroker> brokers = new ArrayList<>();
        List<QueuePipeline> pipelines = new ArrayList<>();
        Disposable producer = null;
        List<Disposable> listeners = new ArrayList<>();
        // Ctrl-C or SIGTERM: the JVM runs its shutdown hooks and ends, which cut the progress line mid-line (on a
        // terminal) and printed nothing of how far the demo got. The hook stops the run and waits, bounded, until the
        // progress line is ended, the interrupted summary printed and the connections and server closed (finally).
        hook = InterruptHook.install(root.installSignalHandlers, "rill-demo-interrupt", INTERRUPT_CLEANUP,
                wake::countDown);
        try {
            QueueSpec spec = QueueSpec.named(QUEUE).visibilityTimeout(Duration.ofSeconds(10))
                    .maxDeliveries(MAX_DELIVERIES).deadLetterQueue(DLQ);
            out.println("demo: embedded server on " + uri + " (token authentication on)");
            out.println("demo: queue '" + QUEUE + "' (max " + MAX_DELIVERIES + " deliveries, dead letters to '" + DLQ
                    + "'); " + messages + " orders over " + DurationConverter.format(duration) + "; " + consumers
                    + " consumer(s) x " + concurrency + " at a time; every 10th order fails once, every 50th always");
            out.flush();
            RetryPolicy retry = RetryPolicy.exponential(backoff, 2.0, backoff.multipliedBy(8));
            for (int i = 0; i < consumers; i++) {
                ReactiveBroker b = connect(uri, client);
                brokers.add(b);
                ReactiveQueue<String> q = b.queue(spec, Codec.utf8()).block(Duration.ofSeconds(10));
                QueuePipeline pipeline = q.pipeline(this::handle).concurrency(concurrency).retry(retry).start();
                pipelines.add(pipeline);
                // the failures are the demo's point, and the summary counts them: listening keeps them out of the log
                listeners.add(pipeline.errors().subscribe(e -> pipelineErrors.incrementAndGet()));
            }
            ReactiveBroker p = connect(uri, client);
            brokers.add(p);
            ReactiveQueue<String> orders = p.queue(spec, Codec.utf8()).block(Duration.ofSeconds(10));
            long start = System.nanoTime();
            Flux<OutboundMessage<String>> outbound = Flux.range(1, messages)
                    .map(n -> OutboundMessage.of("order-" + n).key("customer-" + (n % 100)));
            producer = orders.sendMany(Throttle.pace(outbound, messages * 1000.0 / duration.toMillis()))
                    .subscribe(r -> sent.incrementAndGet(), e -> failure.compareAndSet(null, e));
            QueueStats last = watch(out, server.broker(), start);
            long elapsed = System.nanoTime() - start;
            if (hook.interrupted()) {
                out.println(String.format(Locale.ROOT, "demo: interrupted after %.1f s: sent %,d/%,d, acked %,d,"
                        + " retried %,d, dead-lettered %,d, in flight %,d", elapsed / 1e9, sent.get(), messages,
                        last.acked(), last.nacked(), last.deadLettered(), inFlight(last)));
                out.flush();
                return ExitCodes.FAILED; // the JVM is ending with the signal's status anyway
            }
            if (failure.get() != null) {
                throw new CliException(ExitCodes.FAILED, "demo failed: " + ExitCodes.message(failure.get()),
                        failure.get());
            }
            for (QueuePipeline pl : pipelines) {
                pl.drain(Duration.ofSeconds(5)).block(Duration.ofSeconds(10));
            }
            List<Message<String>> deadLetters = p.queue(QueueSpec.named(DLQ), Codec.utf8())
                    .flatMapMany(dlq -> dlq.peek(1)).collectList().block(Duration.ofSeconds(10));
            return summary(out, server, last, elapsed, deadLetters);
        } finally {
            if (producer != null) {
                producer.dispose();
            }
            // let the handlers running and the acks in flight finish (bounded) before the connections close: cut
            // short, each failed, and a failure reported after its pipeline ended is logged with its stack trace (one
            // per message when the demo gave up or was interrupted mid-flow)
            try {
                Flux.fromIterable(pipelines).flatMap(pl -> pl.drain(CLEANUP_DRAIN).onErrorResume(e -> Mono.empty()))
                        .then().block(CLEANUP_DRAIN.multipliedBy(2));
            } catch (RuntimeException e) {
                // what is left is cut short below
            }
            pipelines.forEach(QueuePipeline::dispose);
            for (ReactiveBroker b : brokers) {
                b.close().block(Duration.ofSeconds(5));
            }
            listeners.forEach(Disposable::dispose);
            server.shutdown(Duration.ofSeconds(10));
            hook.done();
        }
    }

    /** What the queue still holds: leased, waiting out a retry backoff, or ready. */
    private static long inFlight(QueueStats s) {
        return s.inFlight() + s.delayed() + s.ready();
    }

    private void validate() {
        if (messages < 1) {
            throw new CliException(ExitCodes.USAGE, "--messages must be >= 1, was " + messages);
        }
        if (duration.isNegative() || duration.toMillis() < 1) {
            throw new CliException(ExitCodes.USAGE, "--duration must be at least 1ms, was "
                    + DurationConverter.format(duration));
        }
        if (consumers < 1 || consumers > 32) {
            throw new CliException(ExitCodes.USAGE, "--consumers must be 1..32, was " + consumers);
        }
        if (concurrency < 1 || concurrency > 1024) {
            throw new CliException(ExitCodes.USAGE, "--concurrency must be 1..1024, was " + concurrency);
        }
        if (maxTime.isZero()) {
            throw new CliException(ExitCodes.USAGE, "--max-time must be positive, was "
                    + DurationConverter.format(maxTime));
        }
        if (backoff.toMillis() < 1) {
            throw new CliException(ExitCodes.USAGE, "--retry-backoff must be at least 1ms, was "
                    + DurationConverter.format(backoff));
        }
    }

    private static ReactiveBroker connect(URI uri, ClientOptions options) {
        return RillClient.connect(uri, options).block(Duration.ofSeconds(15));
    }

    /** The consumer's work: a little latency, and the failures described in the help. */
    private Mono<Void> handle(Delivery<String> d) {
        long n = Long.parseLong(d.payload().substring("order-".length()));
        Duration work = Duration.ofNanos(ThreadLocalRandom.current().nextLong(200_000, 2_000_000));
        return Mono.delay(work).then(Mono.defer(() -> {
            if (poison(n)) {
                failures.incrementAndGet();
                return Mono.error(new IllegalStateException("order-" + n + ": card declined (fails every time)"));
            }
            if (flaky(n) && d.deliveryCount() == 1) {
                failures.incrementAndGet();
                return Mono.error(new IllegalStateException("order-" + n + ": payment gateway timeout (fails once)"));
            }
            handled.incrementAndGet();
            return Mono.empty();
        }));
    }

    /** Shows progress until every order was sent and then acked or dead-lettered; returns the final stats. */
    private QueueStats watch(PrintWriter out, ReactiveBroker broker, long start) throws InterruptedException {
        ProgressLine line = new ProgressLine(out, root.tty, 1000);
        long giveUp = start + duration.toNanos() + maxTime.toNanos();
        QueueStats s;
        while (true) {
            s = broker.stats().block(Duration.ofSeconds(5)).stream().filter(x -> x.name().equals(QUEUE)).findFirst()
                    .orElseThrow();
            long now = System.nanoTime();
            double secs = (now - start) / 1e9;
            String text = String.format(Locale.ROOT,
                    "[%5.1fs] sent %,d/%,d  acked %,d  retried %,d  dead-lettered %,d  in flight %,d  %,.0f acked/s",
                    secs, sent.get(), messages, s.acked(), s.nacked(), s.deadLettered(), inFlight(s),
                    s.acked() / Math.max(secs, 1e-3));
            boolean settled = sent.get() == messages && s.size() == 0 && s.acked() + s.deadLettered() == messages;
            if (settled || failure.get() != null || hook.interrupted()) {
                line.finish(text);
                return s;
            }
            line.update(text);
            if (now > giveUp) {
                line.finish();
                throw new CliException(ExitCodes.FAILED, "demo did not settle within "
                        + DurationConverter.format(maxTime) + " after its sends (sent " + sent.get() + ", acked "
                        + s.acked() + ", dead-lettered " + s.deadLettered() + ", still queued " + s.size() + ")");
            }
            wake.await(root.tty ? 100 : 250, TimeUnit.MILLISECONDS); // a signal wakes it at once
        }
    }

    private int summary(PrintWriter out, ServerProcess server, QueueStats s, long elapsedNanos,
            List<Message<String>> deadLetters) {
        double secs = elapsedNanos / 1e9;
        QueueStats dlq = server.broker().stats().block(Duration.ofSeconds(5)).stream()
                .filter(x -> x.name().equals(DLQ)).findFirst().orElseThrow();
        long sentCount = sent.get();
        boolean adds = sentCount == s.acked() + s.deadLettered();
        out.println();
        out.println("Summary");
        out.println(String.format(Locale.ROOT, "  sent            %,8d", sentCount));
        out.println(String.format(Locale.ROOT, "  acked           %,8d", s.acked()));
        out.println(String.format(Locale.ROOT, "  retried         %,8d   (handler failed, nacked with backoff, redelivered)",
                s.nacked()));
        out.println(String.format(Locale.ROOT, "  failures        %,8d   (handler errors: each one retried or dead-lettered)",
                failures.get()));
        out.println(String.format(Locale.ROOT, "  dead-lettered   %,8d   (after %d deliveries; %d now in %s)",
                s.deadLettered(), MAX_DELIVERIES, dlq.size(), DLQ));
        out.println(String.format(Locale.ROOT, "  throughput      %,8.0f   acked msg/s over %.1f s", s.acked() / secs,
                secs));
        out.println(String.format(Locale.ROOT, "  check           sent %d %s acked %d + dead-lettered %d", sentCount,
                adds ? "=" : "!=", s.acked(), s.deadLettered()));
        if (!deadLetters.isEmpty()) {
            Message<String> m = deadLetters.get(0);
            out.println("  a dead letter   " + m.payload() + ": "
                    + m.headers().getOrDefault(Message.HEADER_DEAD_LETTER_REASON, "(no reason)"));
        }
        out.println("Try it yourself: rill serve, then rill send / consume / peek / stats (rill --help).");
        out.flush();
        return adds ? ExitCodes.OK : ExitCodes.FAILED;
    }
}
