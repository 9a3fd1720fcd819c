package dev.rill.server;

import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.ReceiveOptions;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.reactivestreams.Subscription;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import reactor.core.Exceptions;
import reactor.core.publisher.BaseSubscriber;

/** {@code rill consume}: receives messages, prints them and settles each one. */
@Command(name = "consume", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Receives messages from a queue, prints each payload on a line (or each message as a JSON object,"
                + " --format json) and settles it: --ack"
                + " (default) deletes it, --nack gives it back for redelivery, --reject sends it to the dead-letter"
                + " queue, --print settles nothing (the message is ready again once the command ends and its"
                + " connection closes, or its lease runs out).", "Runs until --count messages were handled, --idle passed without a message, or"
                + " Ctrl-C."},
        footer = {"%nExamples:", "  rill consume orders --count 10", "  rill consume orders --nack --nack-delay 5s",
                "  rill consume orders --idle 2s --verbose", "  rill consume orders --count 10 --format json > orders.jsonl"})
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
                description = "Send each message to the dead-letter queue with REASON (or drop it, on a queue that"
                        + " discards its dead letters; refused on a queue without a dead-letter queue).")
        String reject;

        @Option(names = "--print", description = "Only print, settle nothing: the messages are released when the"
                + " command ends.")
        boolean print;
    }

    @Option(names = "--nack-delay", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "With --nack: redeliver after this delay. Default: at once.")
    Duration nackDelay;

    @Option(names = {"-n", "--count"}, paramLabel = "N", description = "Stop after N messages (N >= 1). Default: no limit.")
    Long count;

    @Option(names = "--idle", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "Stop when no message arrived for this long. Default: wait forever.")
    Duration idle;

    @Option(names = "--max-unacked", paramLabel = "N",
            description = "Hold at most N received, unsettled messages. Default: no bound (one is asked at a time)."
                    + " With --print, which holds every message it prints, it ends after N.")
    Integer maxUnacked;

    @Option(names = {"-v", "--verbose"}, description = "Print id, delivery count, key, priority and headers before the payload"
            + " (text and base64; header values and keys with spaces, quotes or other special characters are written as"
            + " JSON strings), and the number handled at the end (with json: on standard error).")
    boolean verbose;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "text",
            description = {"How messages are printed: text (the default: the payload as UTF-8 text, one line each; a"
                    + " payload that is not UTF-8 text or holds a line break ends the command before it is settled),"
                    + " base64 (the payload's bytes, exactly, one line each) or json (one JSON object per line with"
                    + " queue, id, delivery, timestamp, key, priority, headers, encoding and payload; any payload)."})
    PayloadFormat format;

    @Mixin
    ConnectionOptions conn;

    @Option(names = "--visibility-timeout", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "Lease length of the messages this command receives. Default: the queue's.")
    Duration visibilityTimeout;

    /** Messages printed and settled so far. */
    private long handled;

    /** What ends the wait for the next delivery besides a delivery or a failure. */
    private enum Marker {
        /** The stream completed: the server ended it. */
        END,
        /** Ctrl-C or SIGTERM. */
        INTERRUPTED
    }

    /**
     * Hands the deliveries to the command's thread, asking for one more only when told to: the command asks for the
     * next delivery once it has printed and settled the one before, so it never holds a message it has not printed
     * (with {@code toIterable(1)} the next one was asked for, and leased, before the current one was printed: a
     * failure or Ctrl-C then released a message nobody saw, with one more delivery counted against it).
     */
    private static final class OneAtATime extends BaseSubscriber<Delivery<byte[]>> {
        private final BlockingQueue<Object> handoff;

        OneAtATime(BlockingQueue<Object> handoff) {
            this.handoff = handoff;
        }

        @Override
        protected void hookOnSubscribe(Subscription subscription) {
            subscription.request(1);
        }

        @Override
        protected void hookOnNext(Delivery<byte[]> delivery) {
            handoff.add(delivery);
        }

        @Override
        protected void hookOnComplete() {
            handoff.add(Marker.END);
        }

        @Override
        protected void hookOnError(Throwable error) {
            handoff.add(error);
        }
    }

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (count != null && count < 1) {
            // 0 consumed nothing and exited 0 (see send --count)
            throw new CliException(ExitCodes.USAGE, "--count must be >= 1, was " + count + " (leave --count out for no"
                    + " limit)");
        }
        ReceiveOptions options = receiveOptions();
        if (idle != null && (idle.isZero() || idle.isNegative())) {
            throw new CliException(ExitCodes.USAGE, "--idle must be positive, was "
                    + DurationConverter.format(idle));
        }
        if (nackDelay != null && mode.nack == false) {
            throw new CliException(ExitCodes.USAGE, "--nack-delay goes with --nack");
        }
        long limit = count == null ? Long.MAX_VALUE : count;
        if (mode.print && maxUnacked != null) {
            // --print holds every message it printed: none comes past --max-unacked, so it ends there (it waited)
            limit = Math.min(limit, maxUnacked);
        }
        BlockingQueue<Object> handoff = new LinkedBlockingQueue<>();
        // Ctrl-C or SIGTERM: finish settling the message printed, then end, saying how many were handled
        InterruptHook hook = InterruptHook.install(root.installSignalHandlers, "rill-consume-interrupt",
                conn.timeout.plusSeconds(5), () -> handoff.add(Marker.INTERRUPTED));
        ReactiveBroker broker = null;
        OneAtATime stream = new OneAtATime(handoff);
        handled = 0;
        try {
            broker = conn.connect();
            ReactiveQueue<byte[]> q = QueueOptions.lookup(conn, broker, queue, Codec.bytes());
            if (mode.reject != null && q.spec().deadLetterQueue().isEmpty() && !q.spec().discardsDeadLetters()) {
                // the core drops a rejected message when its queue has no dead-letter queue: every message printed
                // would have been deleted, as with --ack, where the operator asked to keep them aside
                throw new CliException(ExitCodes.USAGE, "--reject: queue '" + queue + "' has no dead-letter queue,"
                        + " so a rejected message would be dropped (use --ack to delete messages, or --nack to give"
                        + " them back)");
            }
            q.receive(options).subscribe(stream); // limit >= 1: --count and --max-unacked are refused below 1
            while (handled < limit) {
                Object next = idle == null ? handoff.take() : handoff.poll(idle.toNanos(), TimeUnit.NANOSECONDS);
                if (next == null) {
                    break; // --idle passed without a message
                }
                if (next == Marker.INTERRUPTED || hook.interrupted()) {
                    err.println("rill consume: interrupted after " + handled + " message(s) " + verb());
                    err.flush();
                    return ExitCodes.FAILED; // the JVM is ending with the signal's status anyway
                }
                if (next == Marker.END) {
                    // neither --count nor --idle ended it: the server ended the stream (graceful shutdown)
                    throw new CliException(ExitCodes.UNAVAILABLE, "the server ended the stream (shutting down)"
                            + " after " + handled + " message(s)");
                }
                if (next instanceof Throwable t) {
                    throw Exceptions.propagate(t);
                }
                @SuppressWarnings("unchecked")
                Delivery<byte[]> d = (Delivery<byte[]>) next;
                String line = line(d);
                out.println(line);
                out.flush();
                if (out.checkError()) {
                    // a closed pipe (rill consume q | head -1): acking what nobody read would lose it
                    throw new CliException(ExitCodes.FAILED, "cannot write to standard output (closed?): stopped"
                            + " after " + handled + " message(s) " + verb() + "; the one not printed was not settled"
                            + " and is delivered again");
                }
                settle(d);
                handled++;
                if (handled < limit) {
                    stream.request(1);
                }
            }
            if (verbose) {
                // with json standard output holds JSON lines only
                PrintWriter summary = format == PayloadFormat.JSON ? err : out;
                summary.println("# " + handled + " message(s) " + verb());
                summary.flush();
            }
            return ExitCodes.OK;
        } catch (RuntimeException e) {
            if (handled == 0 || ExitCodes.root(e) instanceof CliException) {
                throw e; // nothing handled yet, or a message of ours that says how many
            }
            // a lost connection or a deleted queue said nothing of the messages already handled
            throw new CliException(ExitCodes.of(e), ExitCodes.message(e) + " (after " + handled + " message(s) "
                    + verb() + ")", e);
        } finally {
            stream.dispose();
            if (broker != null) {
                broker.close().block(conn.timeout);
            }
            hook.done();
        }
    }

    /**
     * The line printed for a delivery.
     *
     * @throws CliException (exit code 1) when {@code --format text} cannot show its payload as one line: it is neither
     *     printed nor settled (printed, its bytes replaced or its lines read as several messages, an ack deleted the
     *     only copy of what it was)
     */
    private String line(Delivery<byte[]> d) {
        if (format == PayloadFormat.JSON) {
            return JsonLines.message(queue, d.message(), d.deliveryCount());
        }
        String shown = format.show(d.payload());
        if (shown == null) {
            throw new CliException(ExitCodes.FAILED, "message #" + d.message().id() + " is "
                    + PayloadFormat.whyNotALine(d.payload()) + " (" + d.payload().length + " bytes): not printed and"
                    + " not settled (it is delivered again); --format json or base64 prints any payload; stopped after "
                    + handled + " message(s) " + verb());
        }
        return verbose ? describe(d) + "\t" + shown : shown;
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
                DurationConverter.atLeastOneMilli("--visibility-timeout", visibilityTimeout);
                o = o.visibilityTimeout(visibilityTimeout);
            }
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, e.getMessage().replace("maxMessages", "--count")
                    .replace("maxUnacked", "--max-unacked"));
        }
        return o;
    }

    private void settle(Delivery<byte[]> d) {
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

    /**
     * A key, header name or value in the text formats' description: as it is when it is one word (no space, line
     * break or other control character, {@code =}, {@code "} or backslash), else a JSON string ({@code reason="bad data"}), so that a value with spaces, {@code =} or a line
     * break cannot be read as more fields or lines.
     *
     * @param s the text
     * @return it, or it quoted
     */
    static String word(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c <= ' ' || c >= 0x7f && c <= 0x9f || c == '=' || c == '"' || c == '\\' || Character.isSpaceChar(c)
                    || Character.isWhitespace(c)) {
                return JsonLines.string(s);
            }
        }
        return s.isEmpty() ? "\"\"" : s;
    }

    static String describe(Delivery<byte[]> d) {
        Message<byte[]> m = d.message();
        StringBuilder b = new StringBuilder("#").append(m.id()).append(" delivery=").append(d.deliveryCount());
        if (m.key() != null) {
            b.append(" key=").append(word(m.key()));
        }
        if (m.priority() != 0) {
            b.append(" priority=").append(m.priority());
        }
        m.headers().entrySet().stream().sorted(java.util.Map.Entry.comparingByKey())
                .forEach(e -> b.append(' ').append(word(e.getKey())).append('=').append(word(e.getValue())));
        return b.toString();
    }
}
