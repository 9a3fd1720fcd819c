package dev.rill.server;

import dev.rill.core.Codec;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import java.time.Duration;
import dev.rill.reactive.QueueNotFoundException;
import picocli.CommandLine.Option;

/**
 * The options of {@code rill send} about the queue: whether to create it, and the settings of a queue it creates.
 *
 * <p>An existing queue is attached to as it is (a passive declare: the server answers its recorded settings), so
 * neither {@code send} nor the other commands need its settings; these options only describe a queue that
 * {@code --create} creates. Given for a queue that exists with other settings they are refused (exit code 6) rather
 * than silently ignored.
 */
final class QueueOptions {

    @Option(names = "--create", description = "Create the queue when it does not exist (needs the manage right).")
    boolean create;

    @Option(names = "--visibility-timeout", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "With --create: the new queue's lease length. Default: 30s.")
    Duration visibilityTimeout;

    @Option(names = "--max-deliveries", paramLabel = "N",
            description = "With --create: the new queue's deliveries before dead-lettering (needs"
                    + " --dead-letter-queue).")
    Integer maxDeliveries;

    @Option(names = "--dead-letter-queue", paramLabel = "QUEUE",
            description = "With --create: the new queue's dead-letter queue.")
    String deadLetterQueue;

    @Option(names = "--capacity", paramLabel = "N",
            description = "With --create: the new queue's message limit. Default: 100000.")
    Integer capacity;

    @Option(names = "--max-bytes", paramLabel = "SIZE", converter = SizeConverter.LongSize.class,
            description = "With --create: the new queue's limit on the bytes of its payloads, in bytes or with"
                    + " KiB/MiB/GiB (a server's memory is bounded by what its queues may hold). Default: none.")
    Long maxBytes;

    /** @return whether any setting was given */
    boolean anySetting() {
        return visibilityTimeout != null || maxDeliveries != null || deadLetterQueue != null || capacity != null
                || maxBytes != null;
    }

    /**
     * Builds the spec these options describe.
     *
     * @param name the queue name
     * @return the spec
     * @throws CliException (exit code 2) when a value is invalid, or settings are given without {@code --create}
     */
    QueueSpec spec(String name) {
        if (anySetting() && !create) {
            throw new CliException(ExitCodes.USAGE, "--visibility-timeout, --max-deliveries, --dead-letter-queue,"
                    + " --capacity and --max-bytes describe a queue to create: they go with --create (an existing queue"
                    + " is used as it is)");
        }
        DurationConverter.atLeastOneMilli("--visibility-timeout", visibilityTimeout);
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
            if (maxBytes != null) {
                spec = spec.maxBytes(maxBytes);
            }
            return spec.validate();
        } catch (IllegalArgumentException e) {
            // QueueSpec names its methods; the operator typed the flags
            String m = e.getMessage();
            if (m != null && m.contains("needs deadLetterQueue(name) or discardDeadLetters()")) {
                m = "queue '" + name + "': --max-deliveries needs --dead-letter-queue (where the messages go"
                        + " after their last delivery)";
            } else if (m != null) {
                m = m.replace("maxBytes must", "--max-bytes must").replace("capacity must", "--capacity must")
                        .replace("maxDeliveries must", "--max-deliveries must");
            }
            throw new CliException(ExitCodes.USAGE, m);
        }
    }

    /**
     * Attaches to a queue: the existing one as it is, or (with {@code --create}) a new one with these settings.
     *
     * @param conn the connection options (for waiting)
     * @param broker the connected broker
     * @param name the queue name
     * @param codec the payloads' codec
     * @param <T> the payload type
     * @return the queue
     * @throws CliException exit code 5 when the queue does not exist (and {@code --create} was not given), 6 when
     *     settings were given and the existing queue has others
     */
    <T> ReactiveQueue<T> open(ConnectionOptions conn, ReactiveBroker broker, String name, Codec<T> codec) {
        QueueSpec wanted = spec(name);
        ReactiveQueue<T> existing;
        try {
            existing = lookup(conn, broker, name, codec);
        } catch (CliException e) {
            if (e.exitCode() != ExitCodes.UNKNOWN_QUEUE || !create) {
                throw e;
            }
            return conn.await(broker.queue(wanted, codec), "creating queue '" + name + "'");
        }
        if (anySetting() && !existing.spec().equals(wanted)) {
            throw new CliException(ExitCodes.REFUSED, "queue '" + name + "' exists with other settings: "
                    + String.join("; ", differences(existing.spec(), wanted)) + "; drop the settings to use it as it"
                    + " is");
        }
        return existing;
    }

    /**
     * How an existing queue differs from the one these options describe, in the options' words: {@code it has
     * --capacity 2, not 5}. It showed the spec's Java {@code toString()} ({@code QueueSpec{name=small,
     * visibilityTimeout=PT30S, ..., maxBytes=OptionalLong.empty, ...}}), which left the reader to find the setting.
     */
    private static java.util.List<String> differences(QueueSpec has, QueueSpec wanted) {
        java.util.List<String> d = new java.util.ArrayList<>();
        differ(d, "--visibility-timeout", DurationConverter.format(has.visibilityTimeout()),
                DurationConverter.format(wanted.visibilityTimeout()));
        differ(d, "--max-deliveries", has.maxDeliveries().isPresent() ? has.maxDeliveries().getAsInt() : "none",
                wanted.maxDeliveries().isPresent() ? wanted.maxDeliveries().getAsInt() : "none");
        differ(d, "--dead-letter-queue", has.deadLetterQueue().orElse("none"), wanted.deadLetterQueue().orElse("none"));
        differ(d, "--capacity", has.capacity(), wanted.capacity());
        differ(d, "--max-bytes", has.maxBytes().isPresent() ? has.maxBytes().getAsLong() : "none",
                wanted.maxBytes().isPresent() ? wanted.maxBytes().getAsLong() : "none");
        for (String other : has.differences(wanted)) { // settings send cannot give, set by an application
            if (!other.matches("(visibilityTimeout|maxDeliveries|deadLetterQueue|capacity|maxBytes):.*")) {
                d.add("its " + other.replace(" vs ", " is not send's "));
            }
        }
        return d;
    }

    private static void differ(java.util.List<String> d, String option, Object has, Object wanted) {
        if (!has.equals(wanted)) {
            d.add("it has " + option + " " + has + ", not " + wanted);
        }
    }

    /**
     * Attaches to an existing queue as it is (a passive declare: no settings needed, nothing created).
     *
     * @param conn the connection options (for waiting)
     * @param broker the connected broker
     * @param name the queue name
     * @return the queue, with UTF-8 text payloads
     * @throws CliException exit code 5 when the queue does not exist
     */
    static ReactiveQueue<String> lookup(ConnectionOptions conn, ReactiveBroker broker, String name) {
        return lookup(conn, broker, name, Codec.utf8());
    }

    /**
     * As {@link #lookup(ConnectionOptions, ReactiveBroker, String)}, with payloads of {@code codec}.
     *
     * @param conn the connection options (for waiting)
     * @param broker the connected broker
     * @param name the queue name
     * @param codec the payloads' codec
     * @param <T> the payload type
     * @return the queue
     * @throws CliException exit code 5 when the queue does not exist
     */
    static <T> ReactiveQueue<T> lookup(ConnectionOptions conn, ReactiveBroker broker, String name, Codec<T> codec) {
        try {
            return conn.await(broker.lookup(name, codec), "looking up queue '" + name + "'");
        } catch (RuntimeException e) {
            throw unknownQueue(conn, e);
        }
    }

    /**
     * A failure of a command on a queue, with an unknown queue said as every command says it: the queue, the server,
     * and how to find the queues (purge and redrive said only {@code unknown queue 'q'}).
     *
     * @param conn the connection options (for the server's address)
     * @param e the failure
     * @return a {@link CliException} of exit code 5 when {@code e} is caused by an unknown queue, else {@code e}
     */
    static RuntimeException unknownQueue(ConnectionOptions conn, RuntimeException e) {
        if (ExitCodes.root(e) instanceof QueueNotFoundException q) {
            return new CliException(ExitCodes.UNKNOWN_QUEUE, "unknown queue '" + q.queue() + "' on " + conn.address()
                    + " ('rill stats' lists the queues; rill send --create creates it)", e);
        }
        return e;
    }
}
