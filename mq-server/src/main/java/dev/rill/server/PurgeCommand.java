package dev.rill.server;

import dev.rill.reactive.ReactiveBroker;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code rill purge}: deletes every message of a queue. */
@Command(name = "purge", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Deletes every message of a queue (ready, delayed and in flight: outstanding leases become"
                + " stale). Needs the manage right."})
final class PurgeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "QUEUE", description = "The queue.")
    String queue;

    @Mixin
    ConnectionOptions conn;

    @Override
    public Integer call() {
        ReactiveBroker broker = conn.connect();
        try {
            Long n;
            try {
                n = conn.await(broker.purge(queue), "purging '" + queue + "'");
            } catch (RuntimeException e) {
                throw QueueOptions.unknownQueue(conn, e);
            }
            spec.commandLine().getOut().println("purged " + n + " message(s) from " + queue);
            return ExitCodes.OK;
        } finally {
            broker.close().block(conn.timeout);
        }
    }
}
