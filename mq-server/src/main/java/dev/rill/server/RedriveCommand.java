package dev.rill.server;

import dev.rill.core.Codec;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code rill redrive}: moves dead letters back to the queues they came from, or to one named queue. */
@Command(name = "redrive", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Moves up to --max messages from a dead-letter queue back to the queues they came from,"
                + " oldest first, or with --to into one queue whatever their source; stops early when a"
                + " receiving queue is full. Needs the manage right on the dead-letter queue (and with --to the"
                + " send right on the target)."})
final class RedriveCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DLQ", description = "The dead-letter queue.")
    String deadLetterQueue;

    @Option(names = {"-m", "--max"}, paramLabel = "N", defaultValue = "1000",
            description = "Move at most N messages. Default: ${DEFAULT-VALUE}.")
    int max;

    @Option(names = "--to", paramLabel = "QUEUE",
            description = "Move them into QUEUE instead of their source queues (for dead letters whose source is"
                    + " gone, or any queue's messages). Needs a server of protocol version 4.")
    String target;

    @Mixin
    ConnectionOptions conn;

    @Override
    public Integer call() {
        if (max < 1) {
            throw new CliException(ExitCodes.USAGE, "--max must be >= 1, was " + max);
        }
        ReactiveBroker broker = conn.connect();
        try {
            boolean to = target != null;
            Integer n;
            try {
                n = conn.await(to ? broker.redrive(deadLetterQueue, target, max)
                        : broker.redrive(deadLetterQueue, max), "redriving '" + deadLetterQueue + "'");
            } catch (RuntimeException e) {
                throw QueueOptions.unknownQueue(conn, e);
            }
            spec.commandLine().getOut().println("moved " + n + " message(s) from " + deadLetterQueue
                    + (to ? " to " + target : " back to their source queue(s)") + stoppedEarly(broker, n));
            return ExitCodes.OK;
        } finally {
            broker.close().block(conn.timeout);
        }
    }

    /**
     * Why fewer than {@code --max} were moved while messages are left: a redrive stops, without an error, at the first
     * message whose receiving queue is full ("moved 0 message(s)" said nothing of the messages left behind).
     */
    private String stoppedEarly(ReactiveBroker broker, int moved) {
        if (moved >= max) {
            return "";
        }
        long left;
        try {
            left = conn.await(broker.lookup(deadLetterQueue, Codec.bytes()).flatMap(ReactiveQueue::stats),
                    "asking for the stats of '" + deadLetterQueue + "'").ready();
        } catch (RuntimeException e) {
            return ""; // the move is done; this is only an explanation
        }
        return left == 0 ? "" : "; stopped at a full receiving queue: " + left + " message(s) left in "
                + deadLetterQueue + " ('rill stats' shows the queues)";
    }
}
