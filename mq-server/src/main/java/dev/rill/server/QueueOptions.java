package dev.rill.server;

import dev.rill.core.Codec;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import java.time.Duration;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The options of commands that attach to one queue: whether to create it, and its settings.
 *
 * <p>The protocol has no "describe queue" request yet, so attaching declares the queue with these settings; a queue
 * created with other settings is refused with a message listing the differing fields (exit code 6). Queues created
 * with defaults (every dead-letter queue, every queue created by {@code rill send --create}) need no option.
 */
final class QueueOptions {

    @Option(names = "--create", description = "Create the queue when it does not exist (needs the manage right).")
    boolean create;

    @Option(names = "--visibility-timeout", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "The queue's lease length (must match an existing queue). Default: 30s.")
    Duration visibilityTimeout;

    @Option(names = "--max-deliveries", paramLabel = "N",
            description = "The queue's deliveries before dead-lettering (must match an existing queue).")
    Integer maxDeliveries;

    @Option(names = "--dead-letter-queue", paramLabel = "QUEUE",
            description = "The queue's dead-letter queue (must match an existing queue).")
    String deadLetterQueue;

    @Option(names = "--capacity", paramLabel = "N",
            description = "The queue's message limit (must match an existing queue). Default: 100000.")
    Integer capacity;

    /**
     * Builds the spec these options describe.
     *
     * @param name the queue name
     * @return the spec
     * @throws CliException (exit code 2) when a value is invalid
     */
    QueueSpec spec(String name) {
        try {
            QueueSpec spec = QueueSpec.named(name);
            if (visibilityTimeout != null) {
                spec = spec.visibilityTimeout(visibilityTimeout);
            }
            if (maxDeliveries != null) {
                spec = spec.maxDeliveries(maxDeliveries);
            }
            if (deadLetterQueue != null) {
                spec = spec.deadLetterQueue(deadLetterQueue);
            }
            if (capacity != null) {
                spec = spec.capacity(capacity);
            }
            return spec.validate();
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, e.getMessage());
        }
    }

    /**
     * Attaches to a queue.
     *
     * @param conn the connection options (for waiting)
     * @param broker the connected broker
     * @param name the queue name
     * @return the queue, with UTF-8 text payloads
     * @throws CliException exit code 5 when the queue does not exist (and {@code --create} was not given), 6 when it
     *     exists with other settings
     */
    ReactiveQueue<String> open(ConnectionOptions conn, ReactiveBroker broker, String name) {
        QueueSpec spec = spec(name);
        List<String> names = conn.await(broker.list(), "listing queues");
        if (!names.contains(name) && !create) {
            throw new CliException(ExitCodes.UNKNOWN_QUEUE, "unknown queue '" + name + "' on " + conn.uri()
                    + " ('rill stats' lists the queues; --create creates it)");
        }
        try {
            return conn.await(broker.queue(spec, Codec.utf8()), "declaring queue '" + name + "'");
        } catch (IllegalArgumentException e) {
            String m = e.getMessage();
            if (m != null && m.contains("different spec")) {
                throw new CliException(ExitCodes.REFUSED, m + "; give the queue's settings with --visibility-timeout,"
                        + " --max-deliveries, --dead-letter-queue, --capacity", e);
            }
            throw e;
        }
    }
}
