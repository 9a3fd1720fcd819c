package dev.rill.server;

import dev.rill.core.BrokerOptions;
import dev.rill.core.log.FsyncPolicy;
import dev.rill.core.log.RecoveryListener;
import dev.rill.netty.Permissions;
import dev.rill.netty.RillClient;
import dev.rill.netty.ServerOptions;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code rill serve}: runs a server until SIGTERM or SIGINT. */
@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Runs a Rill server until SIGTERM or SIGINT (Ctrl-C), then shuts down gracefully: stops"
                + " accepting connections, sends and subscriptions, tells clients it goes away, lets them settle"
                + " the messages they hold (at most --drain-timeout; unsettled ones are released for redelivery),"
                + " closes the queues (with --data-dir: syncs the log), exits 0 (1 when the queues did not close"
                + " within --shutdown-grace). A second SIGINT or SIGTERM ends the drain at once (exit 130 or 143).",
                "Queues live in memory and are lost when the server stops, unless --data-dir gives them durable"
                        + " storage: then every queue and message comes back when the server is started again on"
                        + " the same directory."},
        footer = {"%nTokens file: one line per token: TOKEN PATTERN=RIGHTS ..., e.g. 'orders-worker orders*=receive'."
                + " Rights: send, receive, manage, all. Without --tokens every client may do everything."})
final class ServeCommand implements Callable<Integer> {

    @ParentCommand
    RillCli root;

    @Spec
    CommandSpec spec;

    @Option(names = {"-p", "--port"}, paramLabel = "PORT", defaultValue = "" + RillClient.DEFAULT_PORT,
            description = "TCP port to listen on (0: chosen by the OS). Default: ${DEFAULT-VALUE}.")
    int port;

    @Option(names = {"-b", "--bind"}, paramLabel = "ADDRESS", defaultValue = "127.0.0.1",
            description = "Address to listen on (0.0.0.0: every interface). Default: ${DEFAULT-VALUE}.")
    String bind;

    @Option(names = "--data-dir", paramLabel = "DIR",
            description = "Directory for durable storage (created if missing; holds the log segments and a LOCK"
                    + " file, locked while the server runs). Without it, queues live in memory only.")
    Path dataDir;

    @Option(names = "--fsync", paramLabel = "POLICY", converter = FsyncConverter.class,
            description = "With --data-dir: always (a send or ack is confirmed once it is on disk), interval=<ms>"
                    + " (confirmed once written; on disk within the interval: a machine crash may lose what was"
                    + " confirmed in that window), never (the OS decides when to write back). Default: always.")
    FsyncPolicy fsync;

    @Option(names = "--tokens", paramLabel = "FILE",
            description = "Tokens file (see below): turns authentication on.")
    Path tokens;

    @Option(names = "--tls-cert", paramLabel = "PEM", description = "Server certificate chain (PEM): turns TLS on.")
    Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "PEM", description = "Server private key (PKCS#8 PEM).")
    Path tlsKey;

    @Option(names = "--tls-ca", paramLabel = "PEM",
            description = "Require client certificates signed by these CAs (mutual TLS).")
    Path tlsCa;

    @Option(names = "--metrics-port", paramLabel = "PORT",
            description = "Serve Prometheus metrics at http://METRICS-BIND:PORT/metrics (0: chosen by the OS)."
                    + " Default: no metrics endpoint.")
    Integer metricsPort;

    @Option(names = "--metrics-bind", paramLabel = "ADDRESS", defaultValue = "127.0.0.1",
            description = "Address of the metrics endpoint. Default: ${DEFAULT-VALUE}.")
    String metricsBind;

    @Option(names = "--max-connections", paramLabel = "N", defaultValue = "" + ServerOptions.DEFAULT_MAX_CONNECTIONS,
            description = "Most client connections at a time. Default: ${DEFAULT-VALUE}.")
    int maxConnections;

    @Option(names = "--io-threads", paramLabel = "N", defaultValue = "0",
            description = "The server's own I/O threads (1..1024); 0: the shared ones, one per core and at least"
                    + " four. On a small machine shared with its clients, 1 saves a thread hand-off per message."
                    + " Default: ${DEFAULT-VALUE}.")
    int ioThreads;

    @Option(names = "--max-frame-size", paramLabel = "SIZE", defaultValue = "1MiB", converter = SizeConverter.class,
            description = "Largest frame accepted, in bytes or with KiB/MiB (1KiB..256MiB). Default: ${DEFAULT-VALUE}.")
    int maxFrameSize;

    @Option(names = "--max-memory", paramLabel = "SIZE", converter = SizeConverter.LongSize.class,
            description = "Most bytes all queues together may hold (each message: its payload + "
                    + BrokerOptions.MESSAGE_OVERHEAD_BYTES + " B), in bytes or with KiB/MiB/GiB; at least"
                    + " --max-frame-size. A send beyond it waits for room (or fails, with overflow FAIL) as on a full"
                    + " queue, until consumers ack messages of any queue. Default: a quarter of the JVM's heap limit"
                    + " (-Xmx), which the server prints when it starts.")
    Long maxMemory;

    @Option(names = "--drain-timeout", paramLabel = "DURATION", defaultValue = "20s",
            converter = DurationConverter.class,
            description = "On SIGTERM/SIGINT: how long clients may keep settling the messages they hold (no new"
                    + " connections, sends or subscriptions meanwhile); unsettled ones are then released for"
                    + " redelivery. 0s closes at once; so does a second SIGINT or SIGTERM. Default: ${DEFAULT-VALUE}.")
    Duration drainTimeout;

    @Option(names = "--shutdown-grace", paramLabel = "DURATION", defaultValue = "10s",
            converter = DurationConverter.class,
            description = "How long each shutdown step after the drain (metrics, broker close) may take. Default:"
                    + " ${DEFAULT-VALUE}.")
    Duration grace;

    /**
     * How long opening the data directory's queues and binding the ports may take: not {@code --shutdown-grace},
     * which is about the shutdown (a short grace made the start fail, saying it could not listen).
     */
    static final Duration START_TIMEOUT = Duration.ofSeconds(30);

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (fsync != null && dataDir == null) {
            throw new CliException(ExitCodes.USAGE, "--fsync needs --data-dir (without it queues live in memory)");
        }
        if (grace.isZero() || grace.isNegative()) {
            throw new CliException(ExitCodes.USAGE, "--shutdown-grace must be positive, was "
                    + DurationConverter.format(grace));
        }
        ServerOptions options = options();
        long budget = memoryBudget(maxMemory, maxFrameSize, Runtime.getRuntime().maxMemory());
        String exposed = tokens == null ? null : TokensFile.exposure(tokens);
        if (exposed != null) {
            PrintWriter err = spec.commandLine().getErr();
            err.println("rill serve: warning: " + exposed);
            err.flush();
        }
        FsyncPolicy policy = fsync != null ? fsync : FsyncPolicy.always();
        // A large log takes a while to replay: say so, with progress, before the listening line
        ServerProcess process = ServerProcess.start(options, dataDir, policy, metricsBind, metricsPort, START_TIMEOUT,
                RecoveryListener.lines(line -> out.println("rill: " + line)),
                BrokerOptions.defaults().memoryBudget(budget));
        PrintWriter err = spec.commandLine().getErr();
        AtomicBoolean stopSaid = new AtomicBoolean();
        if (root.installSignalHandlers) {
            // SIGTERM and SIGINT run shutdown hooks; the hook stops gracefully and ends the JVM with status 0, or 1
            // when the broker did not close within --shutdown-grace (halt: the JVM would otherwise report 128 +
            // signal). A normal exit finds the work done and returns.
            //
            // Once the hooks run the JVM ignores further signals: a second SIGINT or SIGTERM is heard here instead and
            // ends the drain at once (what clients hold is released, the broker still closes); the exit status is
            // then that signal's
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                int code = ExitCodes.FAILED;
                try {
                    List<String> heard = SecondSignal.install(status -> {
                        if (process.endDrain(status)) {
                            out.println("rill: second signal: ending the drain at once, releasing what clients still"
                                    + " hold");
                            out.flush();
                        }
                    });
                    int open = process.server().connectionCount();
                    if (!drainTimeout.isZero() && open > 0 && !process.isStopping()) { // nothing to wait for without
                        out.println("rill: draining " + open + " connection(s) for at"
                                + " most " + DurationConverter.format(drainTimeout) + (heard.isEmpty() ? ""
                                : " (" + (heard.contains("INT") ? "Ctrl-C or SIGTERM" : "SIGTERM")
                                        + " again ends the drain at once)"));
                        out.flush();
                    }
                    if (!process.shutdown(grace)) {
                        return;
                    }
                    String problem = process.shutdownProblem();
                    if (problem != null) {
                        err.println("rill serve: " + problem);
                        err.flush();
                    } else {
                        code = process.drainEndedBy() != 0 ? process.drainEndedBy() : ExitCodes.OK;
                    }
                    if (stopSaid.compareAndSet(false, true)) {
                        out.println("rill: stopped (signal)");
                        out.flush();
                    }
                } catch (RuntimeException | Error e) {
                    err.println("rill serve: the shutdown failed: " + ExitCodes.message(e));
                    err.flush();
                }
                Runtime.getRuntime().halt(code);
            }, "rill-shutdown"));
        }
        out.println("rill: listening on " + process.url() + (options.tokens().isEmpty() ? " (no authentication)"
                : " (" + options.tokens().size() + " token(s))") + (tlsCa != null ? " (mutual TLS)" : ""));
        InetSocketAddress m = process.metricsAddress();
        if (m != null) {
            out.println("rill: metrics on http://" + ServerProcess.authority(m) + "/metrics");
        }
        out.println("rill: memory budget " + SizeConverter.format(budget) + " for queued messages"
                + (maxMemory == null ? " (a quarter of the heap; --max-memory sets it)" : ""));
        if (dataDir != null) {
            out.println("rill: durable storage in " + dataDir + " (fsync " + FsyncConverter.format(policy) + "), "
                    + process.recoveredQueues() + " queue(s) recovered; stop with SIGTERM or Ctrl-C");
        } else {
            out.println("rill: queues are kept in memory; stop with SIGTERM or Ctrl-C");
        }
        out.flush();
        root.onServerStarted.accept(process);
        process.awaitShutdown();
        if (stopSaid.compareAndSet(false, true)) { // else the signal hook said it (both wake at the same shutdown)
            out.println("rill: stopped");
            out.flush();
        }
        String problem = process.shutdownProblem();
        if (problem != null && !root.installSignalHandlers) { // else the signal hook says it and sets the status
            throw new CliException(ExitCodes.FAILED, problem);
        }
        return ExitCodes.OK;
    }

    /** The share of the JVM's heap limit the default memory budget takes. */
    static final int DEFAULT_MAX_MEMORY_DIVISOR = 4;

    /**
     * The broker's memory budget: {@code --max-memory}, or a quarter of {@code maxHeap}. A budget below the largest
     * frame could never take a message the server accepts: refused as a usage error, naming what to change.
     *
     * @param maxMemory {@code --max-memory}, or null (the default)
     * @param maxFrameSize {@code --max-frame-size}
     * @param maxHeap the JVM's heap limit ({@link Runtime#maxMemory()})
     * @return the budget in bytes
     * @throws CliException (usage) when the budget is below {@code maxFrameSize}
     */
    static long memoryBudget(Long maxMemory, int maxFrameSize, long maxHeap) {
        if (maxMemory != null) {
            if (maxMemory < maxFrameSize) {
                throw new CliException(ExitCodes.USAGE, "--max-memory (" + SizeConverter.format(maxMemory) + ") must be at"
                        + " least --max-frame-size (" + SizeConverter.format(maxFrameSize) + "): a message of the largest frame"
                        + " could never be queued");
            }
            return maxMemory;
        }
        long budget = maxHeap / DEFAULT_MAX_MEMORY_DIVISOR;
        if (budget < maxFrameSize) {
            throw new CliException(ExitCodes.USAGE, "the default --max-memory, a quarter of the JVM's heap limit ("
                    + SizeConverter.format(budget) + " of " + SizeConverter.format(maxHeap) + "), is below --max-frame-size ("
                    + SizeConverter.format(maxFrameSize) + "): give the JVM more heap (-Xmx), lower --max-frame-size or set"
                    + " --max-memory");
        }
        return budget;
    }

    private ServerOptions options() {
        ServerOptions o;
        try {
            o = ServerOptions.defaults().host(bind).port(port).maxConnections(maxConnections)
                    .maxFrameSize(maxFrameSize).drainTimeout(drainTimeout).ioThreads(ioThreads);
        } catch (IllegalArgumentException e) {
            // ServerOptions names its fields; the operator typed the flags
            throw new CliException(ExitCodes.USAGE, e.getMessage().replace("maxFrameSize", "--max-frame-size")
                    .replace("maxConnections", "--max-connections").replace("ioThreads", "--io-threads")
                    .replace("drainTimeout", "--drain-timeout"));
        }
        if (metricsPort != null && (metricsPort < 0 || metricsPort > 65535)) {
            throw new CliException(ExitCodes.USAGE, "--metrics-port must be 0..65535, was " + metricsPort);
        }
        if (tokens != null) {
            Map<String, Permissions> t = TokensFile.read(tokens);
            for (Map.Entry<String, Permissions> e : t.entrySet()) {
                o = o.token(e.getKey(), e.getValue());
            }
        }
        if (tlsCert != null || tlsKey != null || tlsCa != null) {
            if (tlsCert == null || tlsKey == null) {
                throw new CliException(ExitCodes.USAGE, "TLS needs both --tls-cert and --tls-key");
            }
            o = o.tls(TlsFiles.server(tlsCert, tlsKey, tlsCa));
        }
        return o;
    }
}
