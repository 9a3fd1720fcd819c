package dev.rill.server;

import dev.rill.core.Message;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.ReceiveOptions;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import reactor.core.publisher.Flux;

/** {@code rill consume}: receives messages, prints them and settles each one. */
@Command(name = "consume", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Receives messages from a queue, prints each payload on a line and settles it: --ack"
                + " (default) deletes it, --nack gives it back for redelivery, --reject sends it to the dead-letter"
                + " queue, --print settles nothing (the message is ready again once the command ends and its"
                + " connection closes, or its lease runs out).", "Runs until --count messages were handled, --idle passed without a message, or"
                + " Ctrl-C."},
        footer = {"%nExamples:", "  rill consume orders --count 10", "  rill consume orders --nack --nack-delay 5s",
                "  rill consume orders --idle 2s --verbose"})
final class ConsumeCommand implements Callable<Integer> {

    @ParentCommand
    RillCli root;

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "QUEUE", description = "The queue.")
    String queue;

    @ArgGroup(exclusive = true)
    Mode mode = new Mode();

    static final class Mode {
        @Option(names = "--ack", description = "Acknowledge (delete) each message after printing it (default).")
        boolean ack;

        @Option(names = "--nack", description = "Give each message back for redelivery after printing it.")
        boolean nack;

        @Option(names = "--reject", paramLabel = "REASON", arity = "0..1", fallbackValue = "rejected by rill consume",
                description = "Send each message to the dead-letter queue (or drop it) with REASON.")
        String reject;

        @Option(names = "--print", description = "Only print, settle nothing: the messages are released when the"
                + " command ends.")
        boolean print;
    }

    @Option(names = "--nack-delay", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "With --nack: redeliver after this delay. Default: at once.")
    Duration nackDelay;

    @Option(names = {"-n", "--count"}, paramLabel = "N", description = "Stop after N messages. Default: no limit.")
    Long count;

    @Option(names = "--idle", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "Stop when no message arrived for this long. Default: wait forever.")
    Duration idle;

    @Option(names = "--max-unacked", paramLabel = "N",
            description = "Hold at most N received, unsettled messages. Default: no bound (one is asked at a time).")
    Integer maxUnacked;

    @Option(names = {"-v", "--verbose"}, description = "Print id, delivery count, key and headers before the payload.")
    boolean verbose;

    @Mixin
    ConnectionOptions conn;

    @Option(names = "--visibility-timeout", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "Lease length of the messages this command receives. Default: the queue's.")
    Duration visibilityTimeout;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        ReceiveOptions options = receiveOptions();
        if (idle != null && (idle.isZero() || idle.isNegative())) {
            throw new CliException(ExitCodes.USAGE, "--idle must be positive, was " + idle);
        }
        if (nackDelay != null && mode.nack == false) {
            throw new CliException(ExitCodes.USAGE, "--nack-delay goes with --nack");
        }
        ReactiveBroker broker = conn.connect();
        long handled = 0;
        try {
            ReactiveQueue<String> q = QueueOptions.lookup(conn, broker, queue);
            Flux<Delivery<String>> deliveries = q.receive(options);
            java.util.concurrent.atomic.AtomicBoolean idled = new java.util.concurrent.atomic.AtomicBoolean();
            if (idle != null) {
                deliveries = deliveries.timeout(idle).onErrorResume(TimeoutException.class, e -> {
                    idled.set(true);
                    return Flux.empty();
                });
            }
            // one delivery asked for at a time, handled on this thread: the consumer never holds more than it prints
            Iterator<Delivery<String>> it = deliveries.toIterable(1).iterator();
            while (it.hasNext()) {
                Delivery<String> d = it.next();
                out.println(verbose ? describe(d) + "\t" + d.payload() : d.payload());
                out.flush();
                settle(d);
                handled++;
            }
            if (verbose) {
                out.println("# " + handled + " message(s) " + verb());
            }
            if (!idled.get() && (count == null || handled < count)) {
                // neither --count nor --idle ended it: the server ended the stream (graceful shutdown)
                throw new CliException(ExitCodes.UNAVAILABLE, "the server ended the stream (shutting down) after "
                        + handled + " message(s)");
            }
            return ExitCodes.OK;
        } finally {
            broker.close().block(conn.timeout);
        }
    }

    private ReceiveOptions receiveOptions() {
        ReceiveOptions o = ReceiveOptions.defaults();
        try {
            if (count != null) {
                o = o.maxMessages(count);
            }
            if (maxUnacked != null) {
                o = o.maxUnacked(maxUnacked);
            }
            if (visibilityTimeout != null) {
                o = o.visibilityTimeout(visibilityTimeout);
            }
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, e.getMessage().replace("maxMessages", "--count")
                    .replace("maxUnacked", "--max-unacked"));
        }
        return o;
    }

    private void settle(Delivery<String> d) {
        if (mode.print) {
            return;
        }
        if (mode.nack) {
            conn.await(nackDelay == null ? d.nack() : d.nack(nackDelay), "nacking");
        } else if (mode.reject != null) {
            conn.await(d.reject(mode.reject), "rejecting");
        } else {
            conn.await(d.ack(), "acking");
        }
    }

    private String verb() {
        return mode.print ? "printed" : mode.nack ? "nacked" : mode.reject != null ? "rejected" : "acked";
    }

    static String describe(Delivery<String> d) {
        Message<String> m = d.message();
        StringBuilder b = new StringBuilder("#").append(m.id()).append(" delivery=").append(d.deliveryCount());
        if (m.key() != null) {
            b.append(" key=").append(m.key());
        }
        if (m.priority() != 0) {
            b.append(" priority=").append(m.priority());
        }
        m.headers().forEach((k, v) -> b.append(' ').append(k).append('=').append(v));
        return b.toString();
    }
}
