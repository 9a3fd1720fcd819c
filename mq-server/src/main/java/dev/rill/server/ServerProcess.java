package dev.rill.server;

import dev.rill.core.BrokerOptions;
import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.log.FsyncPolicy;
import dev.rill.core.log.RecoveryListener;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.Rill;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.UnaryOperator;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * A running {@code rill serve}: the broker, the {@link RillServer} in front of it and the optional metrics endpoint,
 * with the graceful shutdown that SIGTERM, SIGINT and tests all go through ({@link #shutdown(Duration)}).
 */
final class ServerProcess {

    /** Wraps the broker a server is started with; the identity but in tests (a broker slow to close, say). */
    static volatile UnaryOperator<ReactiveBroker> brokerDecorator = UnaryOperator.identity();

    private final ReactiveBroker broker;
    private final RillServer server;
    private final DisposableServer metrics;
    private final boolean tls;
    private final int recoveredQueues;
    private final Duration drainTimeout;
    private final boolean durable;
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final CountDownLatch stopped = new CountDownLatch(1);
    /** The exit status of the signal that ended the drain ({@link #endDrain(int)}), or 0. */
    private final java.util.concurrent.atomic.AtomicInteger drainEndedBy = new java.util.concurrent.atomic.AtomicInteger();
    /** Why the shutdown was not clean (the broker did not close in time, or failed to), or null; see {@link #shutdown}. */
    private volatile String problem;

    private ServerProcess(ReactiveBroker broker, RillServer server, DisposableServer metrics, boolean tls,
            int recoveredQueues, Duration drainTimeout, boolean durable) {
        this.drainTimeout = drainTimeout;
        this.durable = durable;
        this.broker = broker;
        this.server = server;
        this.metrics = metrics;
        this.tls = tls;
        this.recoveredQueues = recoveredQueues;
    }

    /**
     * Starts a server with an in-memory broker (see {@link #start(ServerOptions, Path, FsyncPolicy, String, Integer,
     * Duration)}) under {@code rill serve}'s default memory budget, a quarter of the heap (at least one frame): the
     * embedded servers of {@code rill demo} and {@code rill bench}, whose producers could otherwise fill the heap
     * ({@code rill bench --payload-size 1MiB}).
     *
     * @param options the listener's options (its broker is replaced by a new in-memory one)
     * @param metricsHost the metrics endpoint's bind address
     * @param metricsPort the metrics endpoint's port (0: OS-chosen), or null for no endpoint
     * @param bindTimeout how long binding may take
     * @return the running server
     */
    static ServerProcess start(ServerOptions options, String metricsHost, Integer metricsPort, Duration bindTimeout) {
        long budget = Math.max(Runtime.getRuntime().maxMemory() / ServeCommand.DEFAULT_MAX_MEMORY_DIVISOR,
                options.maxFrameSize());
        return start(options, null, FsyncPolicy.always(), metricsHost, metricsPort, bindTimeout,
                RecoveryListener.logging(), BrokerOptions.defaults().memoryBudget(budget));
    }

    /**
     * Starts a server: a new broker (in memory, or durable on {@code dataDir}), the Rill listener and, when
     * {@code metricsPort} is given, the Prometheus endpoint. A durable broker declares every queue found in its log
     * again at once, with its recorded settings (payloads are bytes on a server), so clients see them as before the
     * restart.
     *
     * @param options the listener's options (its broker is replaced by the new one)
     * @param dataDir the durable storage directory, or null for an in-memory broker
     * @param fsync the durable broker's fsync policy (ignored in memory)
     * @param metricsHost the metrics endpoint's bind address
     * @param metricsPort the metrics endpoint's port (0: OS-chosen), or null for no endpoint
     * @param bindTimeout how long binding may take
     * @return the running server
     * @throws CliException (exit 1) when the data directory cannot be opened (in use, not writable, damaged log),
     *     the port cannot be bound, or the metrics endpoint cannot start
     */
    static ServerProcess start(ServerOptions options, Path dataDir, FsyncPolicy fsync, String metricsHost,
            Integer metricsPort, Duration bindTimeout) {
        return start(options, dataDir, fsync, metricsHost, metricsPort, bindTimeout, RecoveryListener.logging(),
                BrokerOptions.defaults());
    }

    /**
     * {@link #start(ServerOptions, Path, FsyncPolicy, String, Integer, Duration)}, with {@code recovery} told how the
     * replay of the data directory's log goes (before the server listens: a large log takes a while), and the
     * broker's options (its memory budget: {@code --max-memory}).
     */
    static ServerProcess start(ServerOptions options, Path dataDir, FsyncPolicy fsync, String metricsHost,
            Integer metricsPort, Duration bindTimeout, RecoveryListener recovery, BrokerOptions brokerOptions) {
        ReactiveBroker opened;
        int recovered = 0;
        if (dataDir == null) {
            opened = Rill.inMemory(brokerOptions);
        } else {
            if (Files.exists(dataDir) && !Files.isDirectory(dataDir)) {
                // the log said "cannot create log directory FILE: java.nio.file.FileAlreadyExistsException: FILE"
                throw new CliException(ExitCodes.FAILED, "cannot open data directory " + dataDir + ": it is a file, not"
                        + " a directory");
            }
            try {
                opened = Rill.embedded(dataDir, DurabilityOptions.defaults().fsync(fsync)
                        .declareRecoveredWith(Codec.bytes()).recoveryListener(recovery), brokerOptions);
            } catch (UncheckedIOException e) {
                throw new CliException(ExitCodes.FAILED, "cannot open data directory " + dataDir + ": "
                        + inWords(e.getCause()), e);
            } catch (RuntimeException e) {
                throw new CliException(ExitCodes.FAILED, "cannot recover the queues in " + dataDir + ": "
                        + inWords(e), e);
            }
            List<String> names = opened.list().block(bindTimeout);
            recovered = names == null ? 0 : names.size();
        }
        ReactiveBroker broker = brokerDecorator.apply(opened);
        RillServer server;
        try {
            server = RillServer.bindNow(options.broker(broker), bindTimeout);
        } catch (RuntimeException e) {
            broker.close().block(bindTimeout);
            throw new CliException(ExitCodes.FAILED, "cannot listen on " + options.host() + ":" + options.port() + ": "
                    + ExitCodes.socketProblem(e), e);
        }
        DisposableServer http = null;
        if (metricsPort != null) {
            try {
                http = HttpServer.create()
                        .host(metricsHost)
                        .port(metricsPort)
                        .handle((req, res) -> MetricsHttp.answer(req, res, () -> broker.stats()
                                .zipWith(broker.memory().map(Optional::of).onErrorReturn(Optional.empty()))
                                .map(s -> PrometheusText.render(s.getT1(), s.getT2().orElse(null),
                                        server.connectionCount(), server.connectionErrors()))))
                        .bindNow(bindTimeout);
            } catch (RuntimeException e) {
                server.disposeNow(bindTimeout);
                broker.close().block(bindTimeout);
                throw new CliException(ExitCodes.FAILED, "cannot serve metrics on " + metricsHost + ":" + metricsPort
                        + ": " + ExitCodes.socketProblem(e), e);
            }
        }
        return new ServerProcess(broker, server, http, options.tls().isPresent(), recovered,
                options.drainTimeout(), dataDir != null);
    }

    /**
     * A failure's message with each file system error it quotes said in words: the storage quotes the JDK's
     * exception as it is, and {@code rill serve --data-dir /proc/nope} said {@code cannot create log directory
     * /proc/nope: java.nio.file.NoSuchFileException: /proc/nope}, now {@code ...: no such file or directory}.
     *
     * @param e the failure
     * @return its message in words
     */
    static String inWords(Throwable e) {
        while (e instanceof UncheckedIOException u && u.getCause() != null) {
            e = u.getCause(); // its message is its cause's toString(): "java.io.IOException: ..."
        }
        if (ExitCodes.root(e) instanceof java.nio.file.FileSystemException f) {
            return fileProblem(f, true); // its message alone was the file's name: "/proc/nope"
        }
        String m = ExitCodes.message(e);
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.nio.file.FileSystemException f && m.contains(f.toString())) {
                // "cannot create log directory D: java.nio.file.NoSuchFileException: D": D once is enough
                boolean named = f.getFile() != null && m.contains(f.getFile() + ": " + f);
                m = m.replace(f.toString(), fileProblem(f, !named));
            }
        }
        return m;
    }

    /**
     * @return what went wrong with a file, in words: {@code no such file or directory}, {@code permission denied},
     *     {@code the file system is read-only}, {@code a part of its path is not a directory}, ...; with
     *     {@code nameFile}, the file after them ({@code permission denied (/data/q-0.log)})
     */
    static String fileProblem(java.nio.file.FileSystemException f, boolean nameFile) {
        String reason = f.getReason();
        String words;
        if (f instanceof java.nio.file.NoSuchFileException) {
            words = "no such file or directory";
        } else if (f instanceof java.nio.file.AccessDeniedException) {
            words = "permission denied";
        } else if (f instanceof java.nio.file.FileAlreadyExistsException) {
            words = "it exists and is not a directory";
        } else if (f instanceof java.nio.file.NotDirectoryException || "Not a directory".equals(reason)) {
            words = "a part of its path is not a directory";
        } else if ("Read-only file system".equals(reason)) {
            words = "the file system is read-only";
        } else if (reason != null && !reason.isBlank()) {
            words = Character.toLowerCase(reason.charAt(0)) + reason.substring(1); // the OS's: No space left on device
        } else {
            words = "I/O error";
        }
        return f.getFile() == null || !nameFile ? words : words + " (" + f.getFile() + ")";
    }

    /** @return how many queues a durable broker found in its data directory at start (0 in memory) */
    int recoveredQueues() {
        return recoveredQueues;
    }

    /** @return the broker served */
    ReactiveBroker broker() {
        return broker;
    }

    /** @return the Rill listener */
    RillServer server() {
        return server;
    }

    /** @return the address clients connect to */
    InetSocketAddress address() {
        return server.address();
    }

    /** @return the URL clients connect to */
    String url() {
        InetSocketAddress a = address();
        return (tls ? "rills://" : "rill://") + authority(a);
    }

    /**
     * An address as a URL writes it: {@code HOST:PORT}, an IPv6 address in brackets ({@code [::1]:7400}; it was
     * printed {@code 0:0:0:0:0:0:0:1:7400}, which no URL parser reads as a host and a port).
     *
     * @param a the address
     * @return the URL authority
     */
    static String authority(InetSocketAddress a) {
        String host = a.getHostString();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    /** @return the metrics endpoint's address, or null when there is none */
    InetSocketAddress metricsAddress() {
        return metrics == null ? null : (InetSocketAddress) metrics.address();
    }

    /**
     * Shuts down gracefully: drains the listener ({@link RillServer#shutdown(Duration)} with the options' drain
     * timeout: no new connections, sends or subscriptions; clients are told the server goes away and keep settling
     * what they hold until it is all settled or the drain timeout releases the rest), stops the metrics endpoint,
     * then closes the broker (every stream ends; a durable one writes and syncs what is pending and releases its
     * data directory's lock). Idempotent: only the first call does the work; the others wait until it is done (or
     * they are interrupted) and return false.
     *
     * <p>A drain that runs out of time is part of a graceful shutdown (what clients still hold is released). A broker
     * that does not close within {@code grace}, or fails to, is not: the shutdown goes on and
     * {@link #shutdownProblem()} says what went wrong ({@code rill serve} then exits 1).
     *
     * @param grace how long each step after the drain may take
     * @return whether this call performed the shutdown
     */
    boolean shutdown(Duration grace) {
        Objects.requireNonNull(grace, "grace");
        if (!stopping.compareAndSet(false, true)) {
            // return once the broker is closed, as the first caller does: a caller (a SIGTERM hook next to the
            // application's own shutdown) may reopen the data directory or let the JVM end right after
            try {
                stopped.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return false;
        }
        try {
            try {
                server.shutdownNow(drainTimeout);
            } catch (RuntimeException e) {
                server.dispose(); // keep going: the remaining steps still have to run
            }
            if (metrics != null) {
                try {
                    metrics.disposeNow(grace);
                } catch (RuntimeException e) {
                    // as above
                }
            }
            try {
                broker.close().block(grace);
            } catch (RuntimeException e) {
                Throwable t = ExitCodes.root(e);
                boolean late = t instanceof TimeoutException || t.getCause() instanceof TimeoutException;
                problem = (late ? "the broker did not close within " + DurationConverter.format(grace)
                        + " (--shutdown-grace)"
                        : "closing the broker failed: " + ExitCodes.message(e))
                        + (durable ? "; records of the data directory not yet synced may be lost (with --fsync"
                                + " always, nothing that was confirmed)" : "");
            }
        } finally {
            stopped.countDown();
        }
        return true;
    }

    /**
     * Ends the drain at once (a second SIGINT or SIGTERM): the connections still open are closed and what they hold
     * is released ({@link RillServer#endDrain()}); the shutdown goes on with the metrics endpoint and the broker.
     * Only the first call counts.
     *
     * @param status the exit status the process should end with (the second signal's: 130, 143)
     * @return whether this call ended the drain (false: an earlier one did)
     */
    boolean endDrain(int status) {
        if (!drainEndedBy.compareAndSet(0, status)) {
            return false;
        }
        server.endDrain();
        return true;
    }

    /** @return the exit status given to {@link #endDrain(int)}, or 0 when the drain was not ended early */
    int drainEndedBy() {
        return drainEndedBy.get();
    }

    /**
     * @return why the shutdown was not clean (the broker did not close within the grace, or failed to close), or null
     *     when it was (or has not run)
     */
    String shutdownProblem() {
        return problem;
    }

    /**
     * Waits (blocking the calling thread) until {@link #shutdown(Duration)} has finished.
     *
     * @throws InterruptedException when interrupted
     */
    void awaitShutdown() throws InterruptedException {
        stopped.await();
    }

    /**
     * Waits (blocking the calling thread) until {@link #shutdown(Duration)} has finished, at most {@code timeout}.
     *
     * @param timeout the bound
     * @return whether the shutdown finished
     * @throws InterruptedException when interrupted
     */
    boolean awaitShutdown(Duration timeout) throws InterruptedException {
        return stopped.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** @return whether the shutdown has begun */
    boolean isStopping() {
        return stopping.get();
    }
}
