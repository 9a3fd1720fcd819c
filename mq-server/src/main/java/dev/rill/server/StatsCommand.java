package dev.rill.server;

import dev.rill.core.MemoryStats;
import dev.rill.core.QueueStats;
import dev.rill.reactive.ReactiveBroker;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import reactor.core.publisher.Mono;

/** {@code rill stats}: a table of queue depths and counters. */
@Command(name = "stats", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Prints a table of every queue (or the QUEUEs named) the token may see: depth (ready, in"
                + " flight, delayed) and counters since the queue was created or the server started (with"
                + " --data-dir the messages come back after a restart, the counters start again at 0). Without"
                + " QUEUEs, a last line tells how much memory all the server's queues hold and its budget"
                + " (rill serve --max-memory)."})
final class StatsCommand implements Callable<Integer> {

    private static final String[] HEADER = {"QUEUE", "READY", "IN_FLIGHT", "DELAYED", "SENT", "DELIVERED", "ACKED",
        "NACKED", "EXPIRED_LEASES", "DEAD_LETTERED", "DUPLICATES"};

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "QUEUE", arity = "0..*", description = "Only these queues. Default: all.")
    List<String> queues;

    @Mixin
    ConnectionOptions conn;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        ReactiveBroker broker = conn.connect();
        try {
            List<QueueStats> shown = new ArrayList<>();
            Optional<MemoryStats> memory = Optional.empty();
            if (queues == null || queues.isEmpty()) {
                shown.addAll(conn.await(broker.stats(), "reading stats"));
                // a server before protocol version 5 does not tell: the table alone
                memory = conn.await(broker.memory().map(Optional::of)
                        .onErrorResume(UnsupportedOperationException.class, e -> Mono.just(Optional.empty())),
                        "reading the server's memory");
            } else {
                // one small answer per queue named: the stats of every queue travel in one frame, which a server
                // with many thousands of queues refuses
                for (String name : queues) {
                    shown.add(conn.await(QueueOptions.lookup(conn, broker, name).stats(),
                            "reading the stats of '" + name + "'"));
                }
            }
            print(out, shown);
            memory.ifPresent(m -> out.println(memoryLine(m)));
            out.flush();
            return ExitCodes.OK;
        } finally {
            broker.close().block(conn.timeout);
        }
    }

    static void print(PrintWriter out, List<QueueStats> stats) {
        List<String[]> rows = new ArrayList<>();
        rows.add(HEADER);
        for (QueueStats s : stats) {
            rows.add(new String[] {s.name(), n(s.ready()), n(s.inFlight()), n(s.delayed()), n(s.sent()),
                n(s.delivered()), n(s.acked()), n(s.nacked()), n(s.expiredLeases()), n(s.deadLettered()),
                n(s.duplicates())});
        }
        int[] width = new int[HEADER.length];
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                width[i] = Math.max(width[i], r[i].length());
            }
        }
        for (String[] r : rows) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < r.length; i++) {
                if (i == 0) {
                    b.append(r[i]).append(" ".repeat(width[i] - r[i].length()));
                } else {
                    b.append("  ").append(" ".repeat(width[i] - r[i].length())).append(r[i]);
                }
            }
            out.println(b);
        }
        if (stats.isEmpty()) {
            out.println("(no queues)");
        }
        out.flush();
    }

    /**
     * @return e.g. {@code memory: 1.4 MiB of the 2 MiB budget (68%), held by all queues}, or without a budget
     *     {@code memory: 1.4 MiB held by all queues (no budget)}
     */
    static String memoryLine(MemoryStats m) {
        if (m.budget().isEmpty()) {
            return "memory: " + SizeConverter.format(m.used()) + " held by all queues (no budget)";
        }
        long budget = m.budget().getAsLong();
        return "memory: " + SizeConverter.format(m.used()) + " of the " + SizeConverter.format(budget) + " budget (" + (m.used() * 100 / budget)
                + "%), held by all queues";
    }


    private static String n(long v) {
        return Long.toString(v);
    }
}
