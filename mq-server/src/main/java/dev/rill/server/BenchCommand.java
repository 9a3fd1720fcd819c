package dev.rill.server;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.netty.ServerOptions;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;

/** {@code rill bench}: a quick load test with a live progress line and latency percentiles. */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Quick load test: producers send messages (how many: --messages; how large: --payload-size)"
                + " to a fresh queue, consumers receive and ack each one; prints live progress, then throughput and"
                + " the latency from send to receive (p50, p90, p99, p99.9, max; HdrHistogram).",
                "Without --url or $RILL_URL it starts an embedded server on 127.0.0.1 (OS-chosen port) in this JVM"
                + " (with either it benchmarks that server, creating its queue there); every"
                + " producer and consumer has its own connection either way.",
                "With --rate, latency counts from each message's intended send time, so a stall is charged to every"
                + " message it delayed (corrected for coordinated omission)."},
        footer = {"%nExamples:", "  rill bench", "  rill bench --messages 1000000 --producers 2 --consumers 2",
                "  rill bench --rate 5000 --messages 50000 --url rill://127.0.0.1:7400"})
final class BenchCommand implements Callable<Integer> {

    @ParentCommand
    RillCli root;

    @Spec
    CommandSpec spec;

    @Option(names = {"-n", "--messages"}, paramLabel = "N", defaultValue = "200000",
            description = "Messages to send. Default: ${DEFAULT-VALUE}.")
    long messages;

    @Option(names = {"-s", "--payload-size"}, paramLabel = "SIZE", defaultValue = "100", converter = SizeConverter.class,
            description = "Payload size, in bytes or with KiB (8..512KiB: the send time travels in it). "
                    + "Default: ${DEFAULT-VALUE}.")
    int payloadSize;

    @Option(names = {"-p", "--producers"}, paramLabel = "N", defaultValue = "1",
            description = "Producer connections. Default: ${DEFAULT-VALUE}.")
    int producers;

    @Option(names = {"-c", "--consumers"}, paramLabel = "N", defaultValue = "1",
            description = "Consumer connections. Default: ${DEFAULT-VALUE}.")
    int consumers;

    @Option(names = "--rate", paramLabel = "PER_SECOND",
            description = "Total send rate. Default: as fast as the queue accepts.")
    Double rate;

    @Option(names = "--queue", paramLabel = "QUEUE",
            description = "Queue to create for the run (deleted afterwards). Default: bench-RANDOM.")
    String queue;

    @Option(names = "--max-time", paramLabel = "DURATION", defaultValue = "5m", converter = DurationConverter.class,
            description = "Give up (exit 1) when the run takes longer. Default: ${DEFAULT-VALUE}.")
    Duration maxTime;

    @Mixin
    ConnectionOptions conn;

    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong received = new AtomicLong();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final Recorder recorder = new Recorder(3);
    /** Ctrl-C or SIGTERM: set for the run (see {@link InterruptHook}). */
    private InterruptHook hook;

    @Override
    public Integer call() throws InterruptedException {
        validate();
        PrintWriter out = spec.commandLine().getOut();
        boolean remote = spec.commandLine().getParseResult().hasMatchedOption("--url") || System.getenv("RILL_URL") != null;
        ServerProcess embedded = null;
        if (!remote) {
            embedded = ServerProcess.start(ServerOptions.defaults().host("127.0.0.1").port(0), "127.0.0.1", null,
                    Duration.ofSeconds(10));
            conn.url = embedded.url();
        }
        String name = queue != null ? queue : "bench-" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16);
        QueueSpec qspec;
        try {
            // The run's queue must be one it created: a declare creates a queue or, when one exists with equal
            // settings, attaches to it, in one step on the server, so its settings carry a nonce (a dedup window a
            // random number of milliseconds past the default; bench sends no dedup ids, so nothing else changes). A
            // queue anyone else made, before the run or a moment before its declare, has other settings and the
            // declare is refused. A look at the list first and a declare after it let a queue created in between
            // be used as the run's own and deleted, with its messages, at the end
            qspec = QueueSpec.named(name).dedupWindow(QueueSpec.DEFAULT_DEDUP_WINDOW.plusMillis(
                    1 + ThreadLocalRandom.current().nextLong(Integer.MAX_VALUE)));
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, "--queue: " + e.getMessage());
        }
        List<ReactiveBroker> brokers = new ArrayList<>();
        List<Disposable> running = new ArrayList<>();
        ReactiveBroker admin = null;
        // whether this run created the queue: only then is it the run's to delete (a --queue naming an existing
        // queue was refused, and then deleted with everything in it, by the finally below)
        boolean created = false;
        CountDownLatch done = new CountDownLatch(1);
        // Ctrl-C or SIGTERM: the JVM runs its shutdown hooks and ends, skipping the finally below, which left the
        // run's queue (and what it held) on a --url server and the progress line unfinished. The hook ends the run
        // as a failure would and waits, bounded, until the finally has deleted the queue and closed the connections.
        hook = InterruptHook.install(root.installSignalHandlers, "rill-bench-interrupt",
                conn.timeout.multipliedBy(3).plusSeconds(10), done::countDown);
        try {
            admin = conn.connect();
            try {
                conn.await(admin.queue(qspec, Codec.bytes()), "creating '" + name + "'");
            } catch (IllegalArgumentException e) { // INVALID_ARGUMENT: a queue of that name with other settings
                throw new CliException(ExitCodes.REFUSED, "queue '" + name + "' exists already: bench needs a fresh"
                        + " queue (choose another --queue)", e);
            }
            created = true;
            out.println("bench: " + messages + " messages of " + payloadSize + " B, " + producers + " producer(s), "
                    + consumers + " consumer(s), rate " + (rate == null ? "unlimited" : fmt(rate) + "/s") + ", queue "
                    + name + " on " + conn.address() + (embedded != null ? " (embedded server)" : ""));
            out.flush();
            for (int i = 0; i < consumers; i++) {
                ReactiveBroker b = conn.connect();
                brokers.add(b);
                ReactiveQueue<byte[]> q = conn.await(b.queue(qspec, Codec.bytes()), "declaring '" + name + "'");
                running.add(q.receive().flatMap(d -> {
                    long latency = System.nanoTime() - ByteBuffer.wrap(d.payload()).getLong(0);
                    recorder.recordValue(Math.max(0, latency));
                    if (received.incrementAndGet() >= messages) {
                        done.countDown();
                    }
                    return d.ack();
                }, window(payloadSize, 512)).subscribe(null, e -> fail(e, done)));
            }
            long start = System.nanoTime();
            // a message can be received before its SEND_RESULT reaches the producer: the summary waits for both
            CountDownLatch sendsDone = new CountDownLatch(producers);
            for (int i = 0; i < producers; i++) {
                ReactiveBroker b = conn.connect();
                brokers.add(b);
                ReactiveQueue<byte[]> q = conn.await(b.queue(qspec, Codec.bytes()), "declaring '" + name + "'");
                long share = messages / producers + (i < messages % producers ? 1 : 0);
                running.add(q.sendMany(payloads(start, i, share), dev.rill.reactive.SendOptions.defaults()
                        .maxInFlight(window(payloadSize, 256))).subscribe(r -> sent.incrementAndGet(),
                        e -> fail(e, done), sendsDone::countDown));
            }
            boolean finished = progress(out, start, done);
            long elapsed = System.nanoTime() - start;
            if (hook.interrupted()) {
                out.println("bench: interrupted; deleting queue '" + name + "'");
                out.flush();
                return ExitCodes.FAILED; // the JVM is ending with the signal's status anyway
            }
            if (finished && failure.get() == null
                    && !sendsDone.await(conn.timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                finished = false; // received everything, but some sends were never confirmed
            }
            if (failure.get() != null) {
                throw new CliException(ExitCodes.of(failure.get()), "bench failed: " + ExitCodes.message(failure.get()),
                        failure.get());
            }
            summary(out, elapsed, finished);
            return finished ? ExitCodes.OK : ExitCodes.FAILED;
        } finally {
            running.forEach(Disposable::dispose);
            if (created) {
                try {
                    conn.await(admin.delete(name), "deleting '" + name + "'");
                } catch (RuntimeException e) {
                    // best effort: the queue is the run's own
                }
            }
            for (ReactiveBroker b : brokers) {
                b.close().block(conn.timeout);
            }
            if (admin != null) {
                admin.close().block(conn.timeout);
            }
            if (embedded != null) {
                embedded.shutdown(Duration.ofSeconds(10));
            }
            hook.done();
        }
    }

    private void validate() {
        if (messages < 1) {
            throw new CliException(ExitCodes.USAGE, "--messages must be >= 1, was " + messages);
        }
        if (producers >= 1 && (messages + producers - 1) / producers > Integer.MAX_VALUE) {
            // each producer sends at most Integer.MAX_VALUE (a Flux.range): beyond it the run waited for messages
            // that were never sent, until --max-time
            throw new CliException(ExitCodes.USAGE, "--messages must be at most " + Integer.MAX_VALUE
                    + " per producer (--producers), was " + messages + " for " + producers);
        }
        if (payloadSize < 8 || payloadSize > 512 * 1024) {
            throw new CliException(ExitCodes.USAGE, "--payload-size must be 8..524288, was " + payloadSize);
        }
        if (producers < 1 || producers > 64 || consumers < 1 || consumers > 64) {
            throw new CliException(ExitCodes.USAGE, "--producers and --consumers must be 1..64, were " + producers
                    + " and " + consumers);
        }
        if (maxTime.isZero()) {
            throw new CliException(ExitCodes.USAGE, "--max-time must be positive, was "
                    + DurationConverter.format(maxTime));
        }
        if (rate != null && (!(rate > 0) || rate.isInfinite())) {
            throw new CliException(ExitCodes.USAGE, "--rate must be a positive number, was " + rate);
        }
    }

    private void fail(Throwable e, CountDownLatch done) {
        failure.compareAndSet(null, e);
        done.countDown();
    }

    /**
     * How many messages a producer has in flight, or a consumer holds received and not acked, at most: {@code max},
     * or fewer so that they hold at most {@link #WINDOW_BYTES} of payloads (16 with 512 KiB messages). With 512 KiB
     * messages the windows of 256 sends and 512 receives, counted in messages, held 128 and 256 MiB per client and ran
     * a 256 MiB bench JVM out of memory.
     */
    static int window(int payloadSize, int max) {
        return (int) Math.max(1, Math.min(max, WINDOW_BYTES / Math.max(1, payloadSize)));
    }

    /** The payload bytes a producer or consumer of the run holds at most (at least one message). */
    static final long WINDOW_BYTES = 8L << 20;

    /** Producer {@code p}'s messages: number j of the run is due at start + j / rate. */
    private Flux<OutboundMessage<byte[]>> payloads(long start, int p, long share) {
        double nanosPerMessage = rate == null ? 0 : 1e9 / rate;
        Flux<OutboundMessage<byte[]>> f = Flux.range(0, (int) Math.min(Integer.MAX_VALUE, share)).map(k -> {
            long j = (long) k * producers + p;
            long stamp = rate == null ? System.nanoTime() : start + (long) (j * nanosPerMessage);
            byte[] payload = new byte[payloadSize];
            ByteBuffer.wrap(payload).putLong(0, stamp);
            return OutboundMessage.of(payload);
        });
        return rate == null ? f : Throttle.pace(f, rate / producers);
    }

    private boolean progress(PrintWriter out, long start, CountDownLatch done) throws InterruptedException {
        ProgressLine line = new ProgressLine(out, root.tty, 1000);
        Histogram total = new Histogram(3);
        Histogram interval = null;
        long deadline = start + maxTime.toNanos();
        long lastCount = 0;
        long lastTime = start;
        boolean finished = false;
        while (true) {
            finished = done.await(root.tty ? 250 : 1000, TimeUnit.MILLISECONDS) && failure.get() == null
                    && !hook.interrupted();
            long now = System.nanoTime();
            interval = recorder.getIntervalHistogram(interval);
            total.add(interval);
            long r = received.get();
            double nowRate = (r - lastCount) * 1e9 / Math.max(1, now - lastTime);
            lastCount = r;
            lastTime = now;
            String text = String.format(Locale.ROOT, "[%6.1fs] sent %,d  received %,d / %,d  %,.0f msg/s  p99 %s",
                    (now - start) / 1e9, sent.get(), r, messages, nowRate,
                    interval.getTotalCount() == 0 ? "-" : micros(interval.getValueAtPercentile(99)));
            if (finished || failure.get() != null || hook.interrupted() || now > deadline) {
                line.finish(text);
                break;
            }
            line.update(text);
        }
        this.total = total;
        return finished;
    }

    private Histogram total;

    private void summary(PrintWriter out, long elapsedNanos, boolean finished) {
        double secs = elapsedNanos / 1e9;
        long r = received.get();
        out.println();
        out.println(finished ? "Bench summary" : "Bench summary (INCOMPLETE: --max-time "
                + DurationConverter.format(maxTime) + " reached)");
        out.println(String.format(Locale.ROOT, "  messages     %,d sent, %,d received and acked", sent.get(), r));
        out.println(String.format(Locale.ROOT, "  elapsed      %.2f s", secs));
        out.println(String.format(Locale.ROOT, "  throughput   %,.0f msg/s (send -> receive -> ack, %d B payloads)",
                r / secs, payloadSize));
        Histogram h = total;
        out.println(String.format(Locale.ROOT, "  latency      p50 %s   p90 %s   p99 %s   p99.9 %s   max %s%s",
                micros(h.getValueAtPercentile(50)), micros(h.getValueAtPercentile(90)),
                micros(h.getValueAtPercentile(99)), micros(h.getValueAtPercentile(99.9)), micros(h.getMaxValue()),
                rate == null ? "  (from send; unpaced run: mostly queueing time)" : "  (from intended send time)"));
        out.flush();
    }

    private static String micros(long nanos) {
        if (nanos >= 10_000_000L) {
            return String.format(Locale.ROOT, "%.1f ms", nanos / 1e6);
        }
        return String.format(Locale.ROOT, "%,d us", nanos / 1000);
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }
}
