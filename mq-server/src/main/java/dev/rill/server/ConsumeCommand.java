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
                "  rill consume orders --idle 2s --verbose", "  rill consume orders --count 10 --format json > orders.jsonl",
                "  rill consume orders --prefetch 256 --idle 2s > orders.txt"})
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
            description = "Hold at most N received, unsettled messages (leased ahead, printed, or with a settle not answered"
                    + " yet). Default: no bound besides --prefetch and the 256 settles sent ahead."
                    + " With --print, which holds every message it prints, it ends after N.")
    Integer maxUnacked;

    @Option(names = "--prefetch", paramLabel = "N",
            description = "Lease up to N messages ahead of the one being printed (1..10000). Default: 1 (the next"
                    + " message is leased once the one before is printed). A larger N drains a queue faster"
                    + " (--prefetch 256); on Ctrl-C, --count, --idle or a failure the messages leased ahead and not"
                    + " printed are given back uncounted (release), as if never delivered.")
    Integer prefetch;

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

    /** Settles sent and not answered yet at most: the next one waits for the oldest answer. */
    static final int MAX_PENDING_SETTLES = 256;

    /** Messages printed so far (their settles sent, answered or not). */
    private long handled;
    /** Messages whose settle the server confirmed (all of {@link #handled} with --print). */
    private long settled;
    /** Where the deliveries (and markers) reach the command's thread, for the run in progress. */
    private BlockingQueue<Object> handoff;
    /** Settles sent and not checked yet, oldest first: acks go out without waiting for the one before. */
    private final java.util.ArrayDeque<PendingSettle> pending = new java.util.ArrayDeque<>();

    /** A settle sent for a printed message, and its answer. */
    private record PendingSettle(long id, java.util.concurrent.CompletableFuture<Void> answer) {
    }

    /** What ends the wait for the next delivery besides a delivery or a failure. */
    private enum Marker {
        /** The stream completed: the server ended it. */
        END,
        /** Ctrl-C or SIGTERM. */
        INTERRUPTED,
        /** The server refused a settle sent before: the command ends with its error, also while it waits. */
        SETTLE_FAILED
    }

    /**
     * Hands the deliveries to the command's thread, asking for {@code --prefetch} (1 by default) and then one more
     * only when told to: the command asks for the next delivery once it has printed the one before, so by default
     * it never holds a message it has not printed
     * (with {@code toIterable(1)} the next one was asked for, and leased, before the current one was printed: a
     * failure or Ctrl-C then released a message nobody saw, with one more delivery counted against it).
     */
    private static final class OneAtATime extends BaseSubscriber<Delivery<byte[]>> {
        private final BlockingQueue<Object> handoff;
        private final int prefetch;

        OneAtATime(BlockingQueue<Object> handoff, int prefetch) {
            this.handoff = handoff;
            this.prefetch = prefetch;
        }

        @Override
        protected void hookOnSubscribe(Subscription subscription) {
            subscription.request(prefetch);
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
        if (prefetch != null && (prefetch < 1 || prefetch > 10_000)) {
            throw new CliException(ExitCodes.USAGE, "--prefetch must be 1..10000, was " + prefetch);
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
        this.handoff = handoff;
        // Ctrl-C or SIGTERM: finish settling the message printed, then end, saying how many were handled
        InterruptHook hook = InterruptHook.install(root.installSignalHandlers, "rill-consume-interrupt",
                conn.timeout.plusSeconds(5), () -> handoff.add(Marker.INTERRUPTED));
        ReactiveBroker broker = null;
        OneAtATime stream = new OneAtATime(handoff, prefetch == null ? 1 : prefetch);
        handled = 0;
        settled = 0;
        pending.clear();
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
                    awaitSettles(false);
                    err.println("rill consume: interrupted after " + settled + " message(s) " + verb());
                    err.flush();
                    return ExitCodes.FAILED; // the JVM is ending with the signal's status anyway
                }
                if (next == Marker.SETTLE_FAILED) {
                    awaitSettles(true); // throws the first refused settle
                    continue;
                }
                if (next == Marker.END) {
                    // neither --count nor --idle ended it: the server ended the stream (graceful shutdown)
                    awaitSettles(false);
                    throw new CliException(ExitCodes.UNAVAILABLE, "the server ended the stream (shutting down)"
                            + " after " + settled + " message(s) " + verb());
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
                    awaitSettles(false);
                    throw new CliException(ExitCodes.FAILED, "cannot write to standard output (closed?): stopped"
                            + " after " + settled + " message(s) " + verb() + "; the one not printed was not settled"
                            + " and is delivered again");
                }
                // printed (and flushed) first, then settled: the settle goes out without waiting for the answers to
                // the ones before (checked as they come, and all before the command ends)
                handled++; // printed: counted before its settle, which may throw the refusal of an earlier one
                settle(d);
                if (handled < limit) {
                    stream.request(1);
                }
            }
            awaitSettles(true);
            if (verbose) {
                // with json standard output holds JSON lines only
                PrintWriter summary = format == PayloadFormat.JSON ? err : out;
                summary.println("# " + settled + " message(s) " + verb());
                summary.flush();
            }
            return ExitCodes.OK;
        } catch (RuntimeException e) {
            awaitSettles(false); // the settles already sent count, whatever ended the command
            if (handled == 0 || ExitCodes.root(e) instanceof CliException) {
                throw e; // nothing handled yet, or a message of ours that says how many
            }
            // a lost connection or a deleted queue said nothing of the messages already handled; those printed whose
            // settle was not confirmed are named too: only "after 4792 acked" was said when 5049 lines were printed,
            // which left the last 257 lines looking settled when they may come again
            long unconfirmed = handled - settled;
            throw new CliException(ExitCodes.of(e), ExitCodes.message(e) + " (after " + (unconfirmed > 0 ? handled
                    + " message(s) printed, " + settled + " of them " + verb() + "; the last " + unconfirmed
                    + " printed may be delivered again" : settled + " message(s) " + verb()) + ")", e);
        } finally {
            stream.dispose();
            releaseUnprinted(handoff);
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
            awaitSettles(false);
            throw new CliException(ExitCodes.FAILED, "message #" + d.message().id() + " is "
                    + PayloadFormat.whyNotALine(d.payload()) + " (" + d.payload().length + " bytes): not printed and"
                    + " not settled (it is delivered again); --format json or base64 prints any payload; stopped after "
                    + settled + " message(s) " + verb());
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

    /**
     * Sends the settle of a printed message without waiting for its answer; checks the answers already in, oldest
     * first, and waits for the oldest when {@link #MAX_PENDING_SETTLES} are out.
     *
     * @throws RuntimeException the first settle the server refused (the command stops there: that message was
     *     printed and is delivered again, at least once as always)
     */
    private void settle(Delivery<byte[]> d) {
        if (mode.print) {
            settled++;
            return;
        }
        reactor.core.publisher.Mono<Void> answer = mode.nack ? (nackDelay == null ? d.nack() : d.nack(nackDelay))
                : mode.reject != null ? d.reject(mode.reject) : d.ack();
        java.util.concurrent.CompletableFuture<Void> f = answer.toFuture();
        BlockingQueue<Object> wake = handoff;
        f.whenComplete((v, e) -> {
            if (e != null) {
                wake.add(Marker.SETTLE_FAILED); // the command may be waiting for a message that never comes
            }
        });
        pending.add(new PendingSettle(d.message().id(), f));
        while (!pending.isEmpty() && (pending.peekFirst().answer().isDone() || pending.size() > MAX_PENDING_SETTLES)) {
            check(pending.pollFirst());
        }
    }

    /**
     * Waits for the answers of the settles sent.
     *
     * @param failOnError true: the first refused one is thrown (the others still awaited first); false: errors are
     *     left out (the command is failing already and says so), only the confirmed ones are counted
     */
    private void awaitSettles(boolean failOnError) {
        RuntimeException first = null;
        while (!pending.isEmpty()) {
            try {
                check(pending.pollFirst());
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null && failOnError) {
            throw first;
        }
    }

    private void check(PendingSettle p) {
        try {
            p.answer().get(conn.timeout.toNanos(), TimeUnit.NANOSECONDS);
            settled++;
        } catch (java.util.concurrent.TimeoutException e) {
            throw new CliException(ExitCodes.UNAVAILABLE, "no answer from the server within "
                    + DurationConverter.format(conn.timeout) + " while " + doing()
                    + " message #" + p.id(), e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw Exceptions.propagate(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException(ExitCodes.FAILED, "interrupted while " + doing()
                    + " message #" + p.id(), e);
        }
    }

    /**
     * Gives back, uncounted, the deliveries leased ahead ({@code --prefetch}) and not printed: they are ready again
     * at once for the next consumer, their delivery count as before (a closed connection would count them).
     */
    private void releaseUnprinted(BlockingQueue<Object> handoff) {
        java.util.List<java.util.concurrent.CompletableFuture<Void>> releases = new java.util.ArrayList<>();
        for (Object o = handoff.poll(); o != null; o = handoff.poll()) {
            if (o instanceof Delivery<?> d && !d.isSettled()) {
                releases.add(d.release().onErrorResume(e -> reactor.core.publisher.Mono.empty()).toFuture());
            }
        }
        try {
            java.util.concurrent.CompletableFuture.allOf(releases.toArray(java.util.concurrent.CompletableFuture[]::new))
                    .get(conn.timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            // best effort: what is not released comes back when the connection closes (its delivery counted)
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private String doing() {
        return mode.nack ? "nacking" : mode.reject != null ? "rejecting" : "acking";
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
