package dev.rill.server;

import dev.rill.reactive.ReactiveBroker;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code rill redrive}: moves dead letters back to the queues they came from. */
@Command(name = "redrive", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Moves up to --max messages from a dead-letter queue back to the queues they came from,"
                + " oldest first; stops early when a source queue is full. Needs the manage right on the"
                + " dead-letter queue."})
final class RedriveCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DLQ", description = "The dead-letter queue.")
    String deadLetterQueue;

    @Option(names = {"-m", "--max"}, paramLabel = "N", defaultValue = "1000",
            description = "Move at most N messages. Default: ${DEFAULT-VALUE}.")
    int max;

    @Mixin
    ConnectionOptions conn;

    @Override
    public Integer call() {
        if (max < 1) {
            throw new CliException(ExitCodes.USAGE, "--max must be >= 1, was " + max);
        }
        ReactiveBroker broker = conn.connect();
        try {
            Integer n = conn.await(broker.redrive(deadLetterQueue, max), "redriving '" + deadLetterQueue + "'");
            spec.commandLine().getOut().println("moved " + n + " message(s) from " + deadLetterQueue
                    + " back to their source queue(s)");
            return ExitCodes.OK;
        } finally {
            broker.close().block(conn.timeout);
        }
    }
}
