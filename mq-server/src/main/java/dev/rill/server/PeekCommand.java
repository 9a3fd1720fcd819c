package dev.rill.server;

import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code rill peek}: shows ready messages without leasing them. */
@Command(name = "peek", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Shows up to --max ready messages of a queue in delivery order, without leasing them"
                + " (nothing changes in the queue). Works on dead-letter queues: their messages carry the reason,"
                + " source queue and delivery count as x-rill-* headers."},
        footer = {"%nExamples:", "  rill peek orders", "  rill peek orders.dlq --max 50"})
final class PeekCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "QUEUE", description = "The queue (a dead-letter queue works too).")
    String queue;

    @Option(names = {"-m", "--max"}, paramLabel = "N", defaultValue = "20",
            description = "Show at most N messages. Default: ${DEFAULT-VALUE}.")
    int max;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "text",
            description = "How payloads are printed: text (UTF-8, the default; a payload that is not UTF-8 text is"
                    + " shown as <N bytes, not UTF-8 text>) or base64 (any bytes, exactly).")
    PayloadFormat format;

    @Mixin
    ConnectionOptions conn;

    @Override
    public Integer call() {
        if (max < 1) {
            throw new CliException(ExitCodes.USAGE, "--max must be >= 1, was " + max);
        }
        PrintWriter out = spec.commandLine().getOut();
        ReactiveBroker broker = conn.connect();
        try {
            ReactiveQueue<byte[]> q = QueueOptions.lookup(conn, broker, queue, Codec.bytes());
            List<Message<byte[]>> messages = conn.await(q.peek(max).collectList(), "peeking");
            int notText = 0;
            for (Message<byte[]> m : messages) {
                String shown = format.show(m.payload());
                if (shown == null) {
                    // as text its bytes would be replaced by U+FFFD: an operator could not tell what the message holds
                    notText++;
                    shown = "<" + m.payload().length + " bytes, not UTF-8 text>";
                }
                out.println(describe(m) + "\t" + shown);
            }
            out.println("# " + messages.size() + " message(s) shown, none leased" + (notText == 0 ? ""
                    : "; " + notText + " not UTF-8 text (--format base64 shows them)"));
            return ExitCodes.OK;
        } finally {
            broker.close().block(conn.timeout);
        }
    }

    static String describe(Message<byte[]> m) {
        StringBuilder b = new StringBuilder("#").append(m.id()).append(' ')
                .append(Instant.ofEpochMilli(m.timestamp()));
        if (m.key() != null) {
            b.append(" key=").append(m.key());
        }
        if (m.priority() != 0) {
            b.append(" priority=").append(m.priority());
        }
        m.headers().entrySet().stream().sorted(java.util.Map.Entry.comparingByKey())
                .forEach(e -> b.append(' ').append(e.getKey()).append('=').append(e.getValue()));
        return b.toString();
    }
}
