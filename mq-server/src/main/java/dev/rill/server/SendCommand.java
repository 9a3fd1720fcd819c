package dev.rill.server;

import dev.rill.core.BrokerOptions;
import dev.rill.core.Codec;
import dev.rill.core.MemoryStats;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueStats;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.SendResult;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.LongFunction;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;

/** {@code rill send}: sends messages from the arguments or from standard input. */
@Command(name = "send", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Sends messages to a queue: the MESSAGE arguments, or else one message per line of standard"
                + " input (UTF-8, LF or CRLF; a line is at most a sixteenth of the JVM's heap, 256 MiB at most).", "In messages, keys and dedup ids, {n} stands for the message's number (1, 2, ...)."},
        footer = {"%nExamples:", "  rill send orders 'hello' 'world'",
                "  rill send orders --count 1000 --rate 200 'order {n}'",
                "  cat lines.txt | rill send orders --create",
                "  rill peek orders --format json > orders.jsonl; rill send orders.copy --format json < orders.jsonl"})
final class SendCommand implements Callable<Integer> {

    @ParentCommand
    RillCli root;

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "QUEUE", description = "The queue.")
    String queue;

    @Parameters(index = "1..*", paramLabel = "MESSAGE", description = "Messages (UTF-8 text; base64 or JSON"
            + " objects with --format base64 or json); none: read stdin lines.")
    List<String> messages;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "text",
            description = "How the messages are written: text (UTF-8, the default), base64 (any bytes: each"
                    + " MESSAGE or line is the base64 of one payload; {n} is not replaced in it) or json (each MESSAGE"
                    + " or line is one JSON object as consume and peek --format json write them; its payload, text or"
                    + " base64 as its encoding says, key, priority and headers are sent exactly; queue, id, delivery"
                    + " and timestamp are ignored: the server gives each message its own; {n} is not replaced;"
                    + " --delay and --dedup-id apply, --key, --priority and --header are refused).")
    PayloadFormat format;

    @Option(names = {"-n", "--count"}, paramLabel = "N",
            description = "Send N messages (N >= 1), cycling through the MESSAGE arguments (with stdin: at most N"
                    + " lines).")
    Long count;

    @Option(names = "--rate", paramLabel = "PER_SECOND", description = "Send at most this many messages per second.")
    Double rate;

    @Option(names = {"-k", "--key"}, paramLabel = "KEY", description = "Ordering key of every message.")
    String key;

    @Option(names = "--priority", paramLabel = "0..9", description = "Priority (higher first). Default: 0.")
    Integer priority;

    @Option(names = "--delay", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "Keep each message invisible this long after its send.")
    Duration delay;

    @Option(names = "--dedup-id", paramLabel = "ID",
            description = "Deduplication id (use {n} to give each message its own).")
    String dedupId;

    @Option(names = {"-H", "--header"}, paramLabel = "NAME=VALUE", description = "A header (repeatable).")
    Map<String, String> headers;

    @Option(names = {"-q", "--quiet"}, description = "Print nothing on success.")
    boolean quiet;

    @Mixin
    ConnectionOptions conn;

    @Mixin
    QueueOptions queueOptions;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (count != null && count < 1) {
            // 0 sent nothing and exited 0, which a script cannot tell from success (and many tools read as "no
            // limit"); peek --max and redrive --max refuse it too
            throw new CliException(ExitCodes.USAGE, "--count must be >= 1, was " + count + " (leave --count out to"
                    + " send each MESSAGE or line once)");
        }
        if (rate != null && (!(rate > 0) || rate.isInfinite())) {
            throw new CliException(ExitCodes.USAGE, "--rate must be a positive number, was " + rate);
        }
        if (format == PayloadFormat.JSON && (key != null || priority != null || headers != null)) {
            // each JSON object has its key, priority and headers: an option would replace them, or merge with them
            throw new CliException(ExitCodes.USAGE, "--key, --priority and --header do not go with --format json:"
                    + " each JSON object gives its message's key, priority and headers");
        }
        boolean fromInput = messages == null || messages.isEmpty();
        if (fromInput && root.in == System.in && InputLines.closedAtStart()) {
            throw new CliException(ExitCodes.USAGE, "standard input is closed: give the messages as arguments, or"
                    + " pipe them in, one per line");
        }
        OutboundMessage<byte[]> template = template();
        if (!fromInput) {
            for (int i = 0; i < messages.size(); i++) {
                message(template, i + 1, messages.get(i), "MESSAGE " + (i + 1)); // refused before anything is sent
            }
        }
        queueOptions.spec(queue);
        Sinks.One<Boolean> stop = Sinks.one();
        // Ctrl-C or SIGTERM: stop taking messages, wait (at most --timeout) for the answers to those sent, then say how
        // many were sent, so that it is known where the input stopped
        InterruptHook hook = InterruptHook.install(root.installSignalHandlers, "rill-send-interrupt",
                conn.timeout.multipliedBy(2).plusSeconds(5), () -> stop.tryEmitValue(true));
        ReactiveBroker broker = null;
        AtomicLong taken = new AtomicLong();
        AtomicLong sent = new AtomicLong();
        // the lines read and not answered yet hold at most the longest line's bytes together (heap-bounded)
        InputLines input = fromInput ? new InputLines(root.in) : null;
        try {
            broker = conn.connect();
            ReactiveQueue<byte[]> q = queueOptions.open(conn, broker, queue, Codec.bytes());
            // a bad line ends the stream here, before it is handed to the client: nothing after it goes
            Flux<OutboundMessage<byte[]>> outbound;
            if (!fromInput) {
                Flux<String> args = count == null ? Flux.fromIterable(messages)
                        : Flux.fromIterable(messages).repeat().take(count);
                outbound = messages(args, i -> "MESSAGE " + (i % messages.size() + 1),
                        (n, p, where) -> message(template, n, p, where));
            } else {
                // a line is its bytes from here to the server: no String of it, no second encoding (with
                // --format json, its payload is made from its bytes)
                outbound = messages(lines(input, InputLines::next), SendCommand::line,
                        (n, p, where) -> message(template, n, p, where));
            }
            if (rate != null) {
                outbound = Throttle.pace(outbound, rate);
            }
            // each message handed to the client and not answered yet, with when it was taken, oldest first: results
            // come in order, so the head is the one the server has kept waiting longest (its size tells whether the
            // server's memory budget is what keeps it waiting)
            Queue<Taken> unanswered = new ConcurrentLinkedQueue<>();
            outbound = outbound.takeUntilOther(stop.asMono()).doOnNext(m -> {
                unanswered.add(new Taken(System.nanoTime(), m));
                taken.incrementAndGet();
            });
            AtomicLong duplicates = new AtomicLong();
            long start = System.nanoTime();
            try {
                q.sendMany(outbound).doOnNext((SendResult<byte[]> r) -> {
                    unanswered.poll();
                    if (input != null) {
                        input.answered();
                    }
                    sent.incrementAndGet();
                    if (r.duplicate()) {
                        duplicates.incrementAndGet();
                    }
                }).takeUntilOther(stop.asMono().then(Mono.delay(conn.timeout)))
                        .takeUntilOther(stalled(unanswered)).blockLast();
            } catch (RuntimeException e) {
                if (!hook.interrupted()) {
                    throw new CliException(ExitCodes.of(e), ExitCodes.message(e) + sentBefore(e, sent.get(),
                            taken.get()), e);
                }
            }
            if (!hook.interrupted() && taken.get() > sent.get()) {
                // a message waited --timeout for its answer (a full queue under WAIT kept the command waiting in
                // silence, however long): its send is cancelled, and not stored
                Taken oldest = unanswered.peek();
                throw stalledError(broker, q, oldest == null ? null : oldest.message(), sent.get(), taken.get());
            }
            if (hook.interrupted()) {
                long unconfirmed = taken.get() - sent.get();
                err.println("rill send: interrupted: " + sent.get() + " message(s) sent to " + queue
                        + (fromInput ? " (the first " + sent.get() + " line(s) of the input)" : "")
                        + (unconfirmed > 0 ? "; " + unconfirmed + " more were sent without an answer: they may or"
                                + " may not have been stored" : "; nothing after them"));
                err.flush();
                return ExitCodes.FAILED; // the JVM is ending with the signal's status anyway
            }
            long ms = (System.nanoTime() - start) / 1_000_000;
            if (!quiet) {
                out.println("sent " + sent.get() + " message(s) to " + queue
                        + (duplicates.get() > 0 ? " (" + duplicates.get() + " duplicate(s) dropped)" : "")
                        + " in " + ms + " ms");
            }
            return ExitCodes.OK;
        } finally {
            if (input != null) {
                input.close(); // a read waiting for room ends (its stream was cancelled)
            }
            if (broker != null) {
                broker.close().block(conn.timeout);
            }
            hook.done();
        }
    }

    /**
     * Signals once the oldest message not answered yet has waited longer than {@code --timeout}: a full queue keeps a
     * send waiting for room (its overflow policy is WAIT) and the server answers it only once room is made.
     */
    private Mono<Long> stalled(Queue<Taken> unanswered) {
        long limit = conn.timeout.toNanos();
        Duration tick = Duration.ofMillis(Math.max(10, Math.min(1000, conn.timeout.toMillis() / 10)));
        return Flux.interval(tick).filter(i -> {
            Taken oldest = unanswered.peek();
            return oldest != null && System.nanoTime() - oldest.at() > limit;
        }).next();
    }

    /** A message handed to the client, and when ({@link System#nanoTime()}). */
    private record Taken(long at, OutboundMessage<byte[]> message) {
    }

    /** The error for a send whose oldest message got no answer within {@code --timeout}: a full queue, or no answer. */
    private CliException stalledError(ReactiveBroker broker, ReactiveQueue<byte[]> q, OutboundMessage<byte[]> stalled,
            long sent, long taken) {
        String waited = " within " + DurationConverter.format(conn.timeout) + " (--timeout)";
        String before = "; the " + sent + " message(s) before it were sent to " + queue + ", none after it";
        QueueStats stats;
        try {
            stats = conn.await(q.stats(), "asking for the stats of " + queue);
        } catch (RuntimeException e) {
            stats = null;
        }
        if (stats != null && stats.size() >= stats.capacity()) {
            return new CliException(ExitCodes.REFUSED, "queue '" + queue + "' is full (" + stats.size() + " of "
                    + stats.capacity() + " messages): no room for the next message" + waited + before);
        }
        java.util.OptionalLong maxBytes = q.spec().maxBytes();
        if (stats != null && maxBytes.isPresent() && stats.bytes() > 0) {
            // the byte limit: a send that does not fit waits for room as one past the message limit does
            return new CliException(ExitCodes.REFUSED, "queue '" + queue + "' is full (" + stats.bytes() + " of "
                    + maxBytes.getAsLong() + " bytes): no room for the next message" + waited + before);
        }
        MemoryStats memory;
        try {
            memory = conn.await(broker.memory(), "asking for the server's memory");
        } catch (RuntimeException e) {
            memory = null; // a server before protocol version 5 does not tell
        }
        if (memory != null && memory.budget().isPresent() && stalled != null) {
            long need = stalled.payload().length + BrokerOptions.MESSAGE_OVERHEAD_BYTES;
            long budget = memory.budget().getAsLong();
            if (memory.used() + need > budget) {
                // the broker-wide budget (rill serve --max-memory): the queue has room, the server does not
                return new CliException(ExitCodes.REFUSED, "the server's memory is full (" + memory.used() + " of "
                        + budget + " bytes held by all its queues, rill serve --max-memory): no room for the next"
                        + " message (" + need + " bytes with its overhead) until consumers ack messages of any queue"
                        + waited + before);
            }
        }
        long unknown = taken - sent;
        return new CliException(ExitCodes.UNAVAILABLE, "no answer from the server" + waited + "; " + sent
                + " message(s) were sent to " + queue + ", " + unknown + " more without an answer: they may or may not"
                + " have been stored");
    }

    /**
     * What a failed send had sent: results come in order, so the first {@code sent} messages were stored. A refused
     * message (or bad input) ends the stream with nothing after it stored; a lost connection leaves the messages sent
     * without an answer unknown.
     */
    private String sentBefore(RuntimeException e, long sent, long taken) {
        if (sent == 0 && taken <= 1) {
            return ""; // the first message failed: the error says it all
        }
        if (ExitCodes.of(e) != ExitCodes.UNAVAILABLE) {
            return "; the " + sent + " message(s) before it were sent to " + queue + ", none after it";
        }
        long unknown = taken - sent;
        return "; " + sent + " message(s) were sent to " + queue + (unknown > 0 ? ", " + unknown + " more without an"
                + " answer: they may or may not have been stored" : ", none after them");
    }

    private OutboundMessage<byte[]> template() {
        OutboundMessage<byte[]> t = OutboundMessage.of(new byte[0]);
        if (priority != null) {
            t = option("--priority", t, m -> m.priority(priority));
        }
        if (delay != null) {
            t = option("--delay", t, m -> m.delay(delay));
        }
        if (headers != null) {
            t = option("--header", t, m -> m.headers(headers));
        }
        if (key != null) {
            t = option("--key", t, m -> m.key(key));
        }
        if (dedupId != null) {
            t = option("--dedup-id", t, m -> m.dedupId(dedupId));
        }
        return t;
    }

    private static OutboundMessage<byte[]> option(String name, OutboundMessage<byte[]> m,
            java.util.function.UnaryOperator<OutboundMessage<byte[]>> set) {
        try {
            return set.apply(m);
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, name + ": " + e.getMessage());
        }
    }

    /**
     * The message of one MESSAGE, or line of input with {@code --format json}, as {@code --format} reads it, with the
     * options.
     *
     * @param template the options ({@link #template()})
     * @param n the message's number, for {@code {n}}
     * @param input the MESSAGE or line
     * @param where what it is, for the error ("line 3 of standard input", "MESSAGE 2")
     * @throws CliException exit code 2 when the input is not what the format takes
     */
    private OutboundMessage<byte[]> message(OutboundMessage<byte[]> template, long n, String input, String where) {
        if (format == PayloadFormat.TEXT) {
            return message(template, n, input.getBytes(StandardCharsets.UTF_8), where);
        }
        if (format == PayloadFormat.JSON) {
            return json(template, n, () -> JsonLines.read(input), where);
        }
        return deduplicated(keyed(template.withPayload(PayloadFormat.base64(input, where)), template, n), template, n);
    }

    /**
     * The message of one MESSAGE or line of input given as its UTF-8 bytes: text is sent as these bytes ({@code {n}}
     * replaced in them when they hold it), base64 as the bytes it stands for, a JSON object as it says.
     */
    private OutboundMessage<byte[]> message(OutboundMessage<byte[]> template, long n, byte[] input, String where) {
        if (format == PayloadFormat.JSON) {
            return json(template, n, () -> JsonLines.read(input), where);
        }
        byte[] payload = format == PayloadFormat.BASE64 ? PayloadFormat.base64(input, where) : numbered(input, n);
        return deduplicated(keyed(template.withPayload(payload), template, n), template, n);
    }

    /** The message a JSON object read by {@code read} gives, with the options that apply to it. */
    private static OutboundMessage<byte[]> json(OutboundMessage<byte[]> template, long n,
            java.util.function.Supplier<OutboundMessage<byte[]>> read, String where) {
        OutboundMessage<byte[]> m;
        try {
            m = read.get();
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, where + " is not a message in JSON (--format json): "
                    + e.getMessage());
        }
        if (!template.delay().isZero()) {
            m = m.delay(template.delay());
        }
        return deduplicated(m, template, n);
    }

    private static OutboundMessage<byte[]> keyed(OutboundMessage<byte[]> m, OutboundMessage<byte[]> template, long n) {
        return template.key() == null ? m : m.key(template.key().replace("{n}", Long.toString(n)));
    }

    private static OutboundMessage<byte[]> deduplicated(OutboundMessage<byte[]> m, OutboundMessage<byte[]> template,
            long n) {
        return template.dedupId() == null ? m : m.dedupId(template.dedupId().replace("{n}", Long.toString(n)));
    }

    private static final byte[] NUMBER = {'{', 'n', '}'};

    /**
     * UTF-8 text with {@code {n}} replaced by a number, on the bytes (UTF-8 keeps ASCII bytes for ASCII characters
     * only, so the three bytes of {@code {n}} are found only where the text holds it).
     *
     * @param text the text's bytes
     * @param n the number
     * @return {@code text} itself when it holds no {@code {n}}, else a new array
     */
    static byte[] numbered(byte[] text, long n) {
        int first = indexOfNumber(text, 0);
        if (first < 0) {
            return text;
        }
        int found = 0;
        for (int i = first; i >= 0; i = indexOfNumber(text, i + NUMBER.length)) {
            found++;
        }
        byte[] num = Long.toString(n).getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[Math.toIntExact(text.length + (long) found * (num.length - NUMBER.length))];
        int from = 0;
        int to = 0;
        for (int i = first; i >= 0; i = indexOfNumber(text, from)) {
            System.arraycopy(text, from, out, to, i - from);
            to += i - from;
            System.arraycopy(num, 0, out, to, num.length);
            to += num.length;
            from = i + NUMBER.length;
        }
        System.arraycopy(text, from, out, to, text.length - from);
        return out;
    }

    private static int indexOfNumber(byte[] text, int from) {
        for (int i = from; i <= text.length - NUMBER.length; i++) {
            if (text[i] == '{' && text[i + 1] == 'n' && text[i + 2] == '}') {
                return i;
            }
        }
        return -1;
    }

    /** Makes one message of an input ({@link #messages}). */
    private interface MessageOf<T> {
        OutboundMessage<byte[]> make(long n, T input, String where);
    }

    /** @return what line {@code i} (from 0) is, for an error */
    private static String line(long i) {
        return "line " + (i + 1) + " of standard input";
    }

    /**
     * The messages of the inputs, in order: each made by {@code make}, an error naming the input ({@code where}).
     */
    private static <T> Flux<OutboundMessage<byte[]>> messages(Flux<T> inputs, LongFunction<String> where,
            MessageOf<T> make) {
        return inputs.index((i, p) -> {
            String w = where.apply(i);
            try {
                return make.make(i + 1, p, w);
            } catch (OutOfMemoryError e) {
                throw outOfMemory(w, e);
            }
        });
    }

    /** The lines of standard input, at most {@code --count}, each read by {@code next}. */
    private <T> Flux<T> lines(InputLines input, Function<InputLines, T> next) {
        // standard input stays open: it is not ours to close
        // read on a thread that may block: on standard input, and while the lines not answered yet leave no room
        long[] read = {0}; // lines read, on the reading thread
        Flux<T> lines = Flux.defer(() -> Flux.fromStream(Stream.generate(() -> {
            try {
                T l = next.apply(input);
                read[0]++;
                return l;
            } catch (OutOfMemoryError e) {
                throw outOfMemory(line(read[0]), e);
            }
        }).takeWhile(l -> l != null))).subscribeOn(Schedulers.boundedElastic());
        return count == null ? lines : lines.take(count);
    }

    /**
     * The error for a JVM out of memory while reading a line or making it a message (a line near the limit, under a
     * small heap): Reactor throws such an error on the thread it happened on rather than signalling it, and the send
     * then died with a stack trace or waited for ever. The memory the line took is free again by now.
     */
    private static CliException outOfMemory(String where, OutOfMemoryError e) {
        return new CliException(ExitCodes.FAILED, "out of memory reading " + where + " (" + e.getMessage()
                + "; the JVM's heap limit, -Xmx, is " + InputLines.size(Runtime.getRuntime().maxMemory())
                + "): give it a larger heap (JAVA_OPTS=-Xmx1g) or send shorter lines", e);
    }
}
