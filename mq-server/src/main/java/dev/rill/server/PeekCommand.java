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
        footer = {"%nExamples:", "  rill peek orders", "  rill peek orders.dlq --max 50",
                "  rill peek orders --format json | jq .headers"})
final class PeekCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "QUEUE", description = "The queue (a dead-letter queue works too).")
    String queue;

    @Option(names = {"-m", "--max"}, paramLabel = "N", defaultValue = "20",
            description = "Show at most N messages (fewer when they do not fit one answer of the server's"
                    + " --max-frame-size). Default: ${DEFAULT-VALUE}.")
    int max;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "text",
            description = "How messages are printed: text (the default: id, time, key, priority and headers, then"
                    + " the payload as UTF-8 text; a payload that is not UTF-8 text or holds a line break is shown as"
                    + " <N bytes, not UTF-8 text> or <N bytes, text with a line break>), base64 (the payload's bytes,"
                    + " exactly) or json (one JSON object per line with queue, id, timestamp, key, priority, headers,"
                    + " encoding and payload; any payload; the closing count goes to standard error).")
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
            int notShown = 0;
            for (Message<byte[]> m : messages) {
                if (format == PayloadFormat.JSON) {
                    out.println(JsonLines.message(queue, m, null));
                    continue;
                }
                String shown = format.show(m.payload());
                if (shown == null) {
                    // as text its bytes would be replaced by U+FFFD, or its lines read as more messages: an operator
                    // could not tell what the message holds
                    notShown++;
                    shown = "<" + m.payload().length + " bytes, " + PayloadFormat.whyNotALine(m.payload()) + ">";
                }
                out.println(describe(m) + "\t" + shown);
            }
            out.flush();
            // with json standard output holds JSON lines only
            PrintWriter summary = format == PayloadFormat.JSON ? spec.commandLine().getErr() : out;
            summary.println("# " + messages.size() + " message(s) shown, none leased" + (notShown == 0 ? ""
                    : "; " + notShown + " not shown as text (--format json or base64 shows them)"));
            summary.flush();
            return ExitCodes.OK;
        } finally {
            broker.close().block(conn.timeout);
        }
    }

    static String describe(Message<byte[]> m) {
        StringBuilder b = new StringBuilder("#").append(m.id()).append(' ')
                .append(Instant.ofEpochMilli(m.timestamp()));
        if (m.key() != null) {
            b.append(" key=").append(ConsumeCommand.word(m.key()));
        }
        if (m.priority() != 0) {
            b.append(" priority=").append(m.priority());
        }
        m.headers().entrySet().stream().sorted(java.util.Map.Entry.comparingByKey())
                .forEach(e -> b.append(' ').append(ConsumeCommand.word(e.getKey())).append('=')
                        .append(ConsumeCommand.word(e.getValue())));
        return b.toString();
    }
}
