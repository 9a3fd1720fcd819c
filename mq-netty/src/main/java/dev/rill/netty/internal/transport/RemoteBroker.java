package dev.rill.netty.internal.transport;

import dev.rill.core.Codec;
import dev.rill.core.MemoryStats;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.netty.AccessDeniedException;
import dev.rill.netty.AuthenticationException;
import dev.rill.netty.ClientOptions;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.FrameDecoder;
import dev.rill.netty.internal.protocol.FrameEncoder;
import dev.rill.netty.internal.protocol.Limits;
import dev.rill.reactive.QueueClosedException;
import dev.rill.reactive.QueueNotFoundException;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.RillException;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.timeout.IdleStateHandler;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.IntFunction;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;
import reactor.netty.tcp.TcpClient;
import reactor.util.retry.Retry;

/**
 * The client broker: one connection multiplexing every queue and subscription, re-established with backoff when
 * lost. Declared queues are declared again and open subscriptions resubscribe on the new connection; sends that
 * never reached the wire, or carry a dedup id, are sent again; other in-flight sends fail with a clear error.
 */
public final class RemoteBroker implements ReactiveBroker {

    /**
     * The logger of the client's connection: one WARNING when the connection is lost (the cause in words), at most
     * one line per {@link #RECONNECT_LOG_INTERVAL} while reconnecting fails, one INFO once it is back, one ERROR if
     * the client gives up. One line each, without a stack trace unless the cause is unexpected (a bug).
     */
    public static final String LOGGER = "dev.rill.netty.RillClient";
    /** How often a reconnection that keeps failing is logged. */
    public static final Duration RECONNECT_LOG_INTERVAL = Duration.ofSeconds(30);

    private static final System.Logger LOG = System.getLogger(LOGGER);

    private final InetSocketAddress address;
    /** The server as {@code host:port}, for messages (an unresolved address prints {@code host/<unresolved>:port}). */
    private final String where;
    private final ClientOptions options;
    private final TcpClient tcp;
    private final Map<String, QueueSpec> declared = new ConcurrentHashMap<>();
    /** Queues attached by {@link #lookup}: described again (never created) after a reconnect. */
    private final Set<String> described = ConcurrentHashMap.newKeySet();
    /**
     * Queues the server refused on a new connection ({@link #forget}), with the refusal, until declared or looked up
     * again: their sends fail with it. The server grants no SEND_CREDIT for a queue it refused, so they waited for
     * ever.
     */
    private final Map<String, Throwable> refused = new ConcurrentHashMap<>();
    private final Set<RemoteSubscription<?>> subscriptions = ConcurrentHashMap.newKeySet();
    private final Object lock = new Object();

    // guarded by lock
    private ClientConnection current;
    private Sinks.One<ClientConnection> next = Sinks.one();
    /** Whether {@link #next} already holds a connection (then the next loss needs a fresh sink). */
    private boolean nextDone;
    /**
     * The connection a reconnection handed out and is still setting up (its queues declared again), or null: its
     * loss or its set-up's failure is one more failed attempt of that reconnection, not a new outage.
     */
    private ClientConnection settingUp;
    private RuntimeException failure;
    private boolean closed;
    /** Completes once {@link #close()} closed every channel of the client (see {@link #channels}). */
    private final Sinks.Empty<Void> shut = Sinks.empty();
    /**
     * Every channel this client opened that is not closed yet: the connection in use, a reconnect attempt's (its TCP
     * connect or handshake in flight, or its queues being declared again). {@link #close()} completes once it is
     * empty and no connect started before it is still to show its channel ({@link #connecting}).
     */
    private final Set<io.netty.channel.Channel> channels = new java.util.HashSet<>();
    /** Connects started whose channel was not initialised yet (nor failed without one). */
    private int connecting;
    /** The reconnection under way (its backoff, its attempt), disposed by {@link #close()}. */
    private reactor.core.Disposable reconnecting;
    /** Why the last connection was lost, while reconnecting (for the error of an operation that waited too long). */
    private Throwable lostCause;
    /** Failed reconnect attempts in the current outage. */
    private int failedAttempts;
    /** When the current outage began, and when it was last logged ({@link System#nanoTime()}). */
    private long lostAt;
    private long loggedAt;
    private long logIntervalNanos = RECONNECT_LOG_INTERVAL.toNanos();
    /** Log lines not written yet: written in order, off the event loops (console I/O may block). */
    private final java.util.Queue<Runnable> logLines = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final java.util.concurrent.atomic.AtomicInteger logWip = new java.util.concurrent.atomic.AtomicInteger();

    /**
     * Creates a client broker; {@link #start()} makes the first connection.
     *
     * @param address the server
     * @param options the options
     */
    public RemoteBroker(InetSocketAddress address, ClientOptions options) {
        this.address = address;
        this.options = options;
        // a connection of its own, no pool between an attempt and its channel: cancelling the connect closes the
        // channel it made, and close() can account for every channel (see channels)
        TcpClient t = TcpClient.newConnection()
                .remoteAddress(() -> address)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS,
                        (int) Math.min(Integer.MAX_VALUE, options.connectTimeout().toMillis()))
                // the connection handler consumes every frame; this keeps the socket read until it closes
                .handle((in, out) -> in.receiveObject().then());
        if (options.tls().isPresent()) {
            // bounded like the rest of the attempt (reactor-netty's own default is 10 s whatever connectTimeout says)
            t = t.secure(spec -> spec.sslContext(options.tls().get()).handshakeTimeout(options.connectTimeout()));
        }
        this.tcp = t;
        this.where = address.getHostString() + ":" + address.getPort();
    }

    /**
     * Connects once (no retry).
     *
     * @return a Mono of this broker once connected and authenticated
     */
    public Mono<ReactiveBroker> start() {
        return connectOnce().map(c -> {
            synchronized (lock) {
                current = c;
                next.tryEmitValue(c);
                nextDone = true;
            }
            return (ReactiveBroker) this;
        });
    }

    private Mono<ClientConnection> connectOnce() {
        return Mono.defer(this::openChannel).flatMap(conn -> {
            FrameEncoder encoder = new FrameEncoder(Limits.DEFAULT_MAX_FRAME_SIZE);
            ClientConnection c = new ClientConnection(this, options, encoder);
            conn.addHandlerLast("rill-idle", new IdleStateHandler(options.idleTimeout().toMillis(), 0, 0,
                    TimeUnit.MILLISECONDS));
            // until HELLO_OK announces the server's maximum: at most the client's own bound, or the default
            int bound = options.maxFrameSize().orElse(Limits.MAX_MAX_FRAME_SIZE);
            conn.addHandlerLast("rill-listener", c.listener());
            conn.addHandlerLast("rill-decoder", new FrameDecoder(bound + Limits.DELIVERY_HEADROOM,
                    Math.min(bound, Limits.DEFAULT_MAX_FRAME_SIZE)));
            conn.addHandlerLast("rill-encoder", encoder);
            conn.addHandlerLast("rill-connection", c);
            if (!conn.channel().isActive()) {
                conn.dispose();
                return Mono.error(new RillException("connection to " + where + " closed during setup"));
            }
            return c.handshake()
                    .timeout(options.connectTimeout(), Mono.error(() -> new RillException(
                            "handshake with " + where + " did not complete within "
                            + options.connectTimeout().toMillis() + " ms")))
                    .doOnError(e -> conn.dispose())
                    // given up (the client closed while reconnecting, a caller's own timeout on connect): the socket
                    // goes now, not at the connect timeout
                    .doOnCancel(conn::dispose);
        }).timeout(options.connectTimeout().plusSeconds(1), Mono.error(() -> new RillException(
                "connecting to " + where + " did not complete within " + options.connectTimeout().toMillis() + " ms")))
                .onErrorMap(e -> ConnectFailures.unreachable(ConnectFailures.describe(e, where,
                        options.tls().isPresent()), where, address.getHostString(), options.connectTimeout().toMillis()));
    }

    /**
     * Starts a TCP connect whose channel joins {@link #channels} as soon as it exists, so {@link #close()} waits for
     * it; refused once the client is closed (a reconnect must not start another attempt then).
     */
    private Mono<? extends reactor.netty.Connection> openChannel() {
        synchronized (lock) {
            if (closed) {
                return Mono.error(new RillException("the client is closed"));
            }
            connecting++;
        }
        java.util.concurrent.atomic.AtomicBoolean known = new java.util.concurrent.atomic.AtomicBoolean();
        return tcp.doOnChannelInit((observer, ch, remote) -> {
            if (known.compareAndSet(false, true)) {
                opened(ch);
            }
        }).connect().doOnError(e -> {
            if (known.compareAndSet(false, true)) {
                opened(null); // failed before it had a channel
            }
        });
    }

    /** @param ch a connect's new channel (on its event loop), or null when the connect failed without one */
    private void opened(io.netty.channel.Channel ch) {
        boolean late;
        synchronized (lock) {
            connecting--;
            late = closed;
            if (ch != null) {
                channels.add(ch);
            }
        }
        if (ch == null) {
            shutIfDone();
            return;
        }
        ch.closeFuture().addListener(f -> {
            synchronized (lock) {
                channels.remove(ch);
            }
            shutIfDone();
        });
        if (late) {
            ch.close(); // an attempt dropped by close() before its channel was known
        }
    }

    /** Completes {@link #close()} once the client is closed and none of its channels is left open. */
    private void shutIfDone() {
        synchronized (lock) {
            if (!closed || !channels.isEmpty() || connecting > 0) {
                return;
            }
        }
        shut.tryEmitEmpty();
    }

    /** @return the channels of this client not closed yet (tests) */
    List<io.netty.channel.Channel> channels() {
        synchronized (lock) {
            return new ArrayList<>(channels);
        }
    }

    ClientOptions options() {
        return options;
    }

    /** @return whether a lost connection is re-established (reconnect attempts above 0) */
    boolean reconnects() {
        return options.reconnectAttempts() > 0;
    }

    InetSocketAddress address() {
        return address;
    }

    /** @return the server as {@code host:port}, for messages */
    String where() {
        return where;
    }

    /**
     * @return a Mono of the open connection, waiting through a reconnect; errors once the client gave up. It does not
     *     wait for the queues being declared again on a new connection: see {@link #connection(String)}
     */
    Mono<ClientConnection> connection() {
        return Mono.defer(() -> {
            synchronized (lock) {
                if (closed) {
                    return Mono.error(new RillException("the client is closed"));
                }
                if (failure != null) {
                    return Mono.error(failure);
                }
                if (current != null && current.isOpen()) {
                    return Mono.just(current);
                }
                // bounded: an operation made during an outage fails clearly instead of waiting silently for good
                return next.asMono().timeout(options.reconnectWait(), Mono.error(this::notConnected),
                        Schedulers.parallel());
            }
        });
    }

    /**
     * As {@link #connection()}, for an operation on one queue: after a reconnect it waits for that queue's own
     * declaration on the new connection (the server would refuse it as made on an unknown queue before), not for the
     * other queues'.
     *
     * @param queue the queue, or null for an operation on the whole broker (LIST, STATS of all queues), which waits
     *     for every queue's declaration (a restarted in-memory server has them again only then)
     * @return a Mono of the open connection on which {@code queue} is declared; waits through a reconnect and the
     *     queue's declaration at most {@link ClientOptions#reconnectWait()} in all
     */
    Mono<ClientConnection> connection(String queue) {
        return Mono.defer(() -> {
            ClientConnection c;
            Sinks.One<ClientConnection> n;
            synchronized (lock) {
                if (closed) {
                    return Mono.error(new RillException("the client is closed"));
                }
                if (failure != null) {
                    return Mono.error(failure);
                }
                c = current != null && current.isOpen() ? current : null;
                n = next;
            }
            if (c != null && c.ready(queue)) {
                return Mono.just(c); // the common case
            }
            return (c != null ? Mono.just(c) : n.asMono()).flatMap(x -> whenReady(x, queue))
                    .timeout(options.reconnectWait(), Mono.error(() -> notReady(queue)), Schedulers.parallel());
        });
    }

    /**
     * @return {@code c} once {@code queue} is declared on it; or, when its set-up was given up meanwhile (lost, left
     *     for the next attempt), the connection that follows it
     */
    private Mono<ClientConnection> whenReady(ClientConnection c, String queue) {
        return c.whenReady(queue).then(Mono.defer(() -> {
            boolean still;
            synchronized (lock) {
                still = current == c;
            }
            // given up (or lost since): the next connection, or the error of a closed or failed client
            return still ? Mono.just(c) : connection(queue);
        }));
    }

    /** @return the error of an operation on {@code queue} that waited {@link ClientOptions#reconnectWait()} */
    private RillException notReady(String queue) {
        ClientConnection c;
        synchronized (lock) {
            c = current != null && current.isOpen() ? current : null;
        }
        if (c == null || c.ready(queue)) {
            return notConnected();
        }
        return new RillException((queue == null ? "the queues were" : "queue '" + queue + "' was")
                + " not declared again on the new connection to " + where + " within "
                + options.reconnectWait().toMillis() + " ms (ClientOptions.reconnectWait): the server has not answered"
                + " the DECLARE yet");
    }

    /** @return the error of an operation that waited {@link ClientOptions#reconnectWait()} for a connection */
    private RillException notConnected() {
        Throwable cause;
        int attempts;
        synchronized (lock) {
            cause = lostCause;
            attempts = failedAttempts;
        }
        return new RillException("no connection to " + where + " within " + options.reconnectWait().toMillis()
                + " ms (ClientOptions.reconnectWait): the client is reconnecting"
                + (attempts > 0 ? ", " + attempts + " failed attempt" + (attempts == 1 ? "" : "s") + " so far" : "")
                + (cause != null ? "; the connection was lost: " + cause.getMessage() : ""), cause);
    }

    /** Sends a message on the current connection, or once reconnected. */
    void submit(ClientConnection.PendingMessage m) {
        if (m.cancelled) {
            return;
        }
        ClientConnection open;
        synchronized (lock) {
            open = !closed && failure == null && current != null && current.isOpen() ? current : null;
        }
        if (open != null) {
            open.send(m); // the common case, without building a Mono per message
            return;
        }
        connection().subscribe(c -> c.send(m), m::failed);
    }

    /** Drops a send whose subscriber cancelled (see {@link ClientConnection#cancel}). */
    void cancel(ClientConnection.PendingMessage m) {
        m.cancelled = true; // before reading conn: see ClientConnection.drainSubmitted
        ClientConnection c = m.conn;
        if (c != null) {
            c.cancel(m);
        }
    }

    /**
     * @param queue a queue
     * @return the error a send to {@code queue} fails with, the server's refusal of it on a new connection (of the
     *     same kind and words, so {@code AccessDeniedException} stays one); null when it was not refused
     */
    RuntimeException refusal(String queue) {
        Throwable why = refused.isEmpty() ? null : refused.get(queue);
        if (why == null) {
            return null;
        }
        RuntimeException e;
        if (why instanceof QueueNotFoundException q) {
            e = new QueueNotFoundException(q.queue());
        } else if (why instanceof AccessDeniedException) {
            e = new AccessDeniedException(why.getMessage());
        } else if (why instanceof IllegalArgumentException) {
            e = new IllegalArgumentException(why.getMessage());
        } else {
            e = new RillException(why.getMessage());
        }
        e.initCause(why);
        return e;
    }

    /** Sends again a message that never reached the wire or carries a dedup id. */
    void resend(ClientConnection.PendingMessage m) {
        submit(m);
    }

    /**
     * Sends a request about {@code queue} (null: about the whole broker) once the queue is declared on the connection
     * (see {@link #connection(String)}).
     */
    <R> Mono<R> call(String queue, IntFunction<Frame> build, Function<Frame, R> answer) {
        return connection(queue).flatMap(c -> c.request(queue, build, answer));
    }

    /**
     * @return whether connecting again cannot help: a refused token, a server that shares no protocol version with
     *     this client, or a server whose frames could be too large. A reconnect attempt that meets one ends the
     *     reconnection at once with it, as the first connect fails with it
     */
    static boolean permanent(Throwable e) {
        return e instanceof AuthenticationException || e instanceof VersionRefusedException
                || e instanceof FrameBoundException;
    }

    void register(RemoteSubscription<?> s) {
        subscriptions.add(s);
        ClientConnection c;
        RuntimeException f;
        synchronized (lock) {
            c = current != null && current.isOpen() ? current : null;
            f = closed ? new RillException("the client is closed") : failure;
        }
        if (f != null) {
            s.fail(f);
        } else if (c != null) {
            attach(s, c);
        }
        // else: attached by the reconnect
    }

    /**
     * Opens {@code s} on {@code c} once its queue is declared there (at once but after a reconnect): a SUBSCRIBE
     * before the DECLARE's answer would be refused. When {@code c}'s set-up is given up instead, the stream is left
     * to the next connection (it stays registered); an attach on a closed connection does nothing.
     */
    private void attach(RemoteSubscription<?> s, ClientConnection c) {
        if (c.ready(s.queue())) {
            s.attach(c);
            return;
        }
        c.whenReady(s.queue()).subscribe(null, e -> { }, () -> {
            boolean still;
            synchronized (lock) {
                still = current == c;
            }
            if (still) {
                s.attach(c);
            }
        });
    }

    void unregister(RemoteSubscription<?> s) {
        subscriptions.remove(s);
    }

    /**
     * The server sent GOAWAY on {@code c}: it stays current (its deliveries are settled there and its loss starts
     * the reconnection) but new work waits for the next connection.
     */
    void goingAway(ClientConnection c) {
        synchronized (lock) {
            if (current == c && nextDone) {
                next = Sinks.one();
                nextDone = false;
            }
        }
    }

    /** Called by a connection's event loop once it closed. */
    void connectionLost(ClientConnection c, Throwable cause, List<ClientConnection.PendingMessage> retry,
            List<RemoteSubscription<?>.Attachment> attachments) {
        for (RemoteSubscription<?>.Attachment a : attachments) {
            a.lost();
        }
        boolean reconnect;
        boolean wasCurrent;
        synchronized (lock) {
            if (c == settingUp) {
                // lost while the reconnection sets it up: one more failed attempt of that reconnection, which tries
                // again; the work waiting for it waits for the next connection
                takeBack(c);
            }
            wasCurrent = current == c;
            if (!wasCurrent) {
                // a candidate whose handshake failed (the reconnect tries again or reports it), or a connection
                // closed by close() (which ended the streams itself): the streams are not this connection's to end
                reconnect = false;
            } else {
                current = null;
                lostCause = cause;
                failedAttempts = 0;
                lostAt = System.nanoTime();
                loggedAt = lostAt;
                if (nextDone) {
                    next = Sinks.one(); // else: already fresh since a GOAWAY, maybe with waiters
                    nextDone = false;
                }
                reconnect = !closed;
                if (reconnect && (permanent(cause) || options.reconnectAttempts() == 0)) {
                    failure = cause instanceof RuntimeException r && permanent(cause) ? r
                            : new RillException("connection to " + where + " lost and reconnection is disabled",
                                    cause);
                    reconnect = false;
                }
            }
        }
        if (wasCurrent && !isClosed()) {
            log(Level.WARNING, "connection to " + where + " lost: " + words(cause) + (reconnect
                    ? "; reconnecting (backoff " + options.reconnectMinBackoff().toMillis() + ".."
                            + options.reconnectMaxBackoff().toMillis() + " ms"
                            + (options.reconnectAttempts() == ClientOptions.UNLIMITED_RECONNECT_ATTEMPTS ? ")"
                                    : ", at most " + options.reconnectAttempts() + " attempts)")
                    : options.reconnectAttempts() == 0 ? "; not reconnecting (reconnection is disabled)"
                            : "; not reconnecting (connecting again cannot help)"), cause);
        }
        for (ClientConnection.PendingMessage m : retry) {
            submit(m);
        }
        if (reconnect) {
            reconnect(cause);
        } else if (wasCurrent) {
            failAll();
        }
    }

    /** Logs one line off the event loop; the stack trace only for an unexpected cause (a bug, not the network). */
    private void log(Level level, String line, Throwable cause) {
        Throwable shown = cause == null || expected(cause) ? null : cause;
        logLines.add(() -> {
            if (shown == null) {
                LOG.log(level, line);
            } else {
                LOG.log(level, line, shown);
            }
        });
        if (logWip.getAndIncrement() == 0) {
            Schedulers.boundedElastic().schedule(this::writeLog);
        }
    }

    /** Writes the queued log lines, one task at a time (so in order). */
    private void writeLog() {
        int missed = 1;
        do {
            for (Runnable r = logLines.poll(); r != null; r = logLines.poll()) {
                r.run();
            }
            missed = logWip.addAndGet(-missed);
        } while (missed != 0);
    }

    /** @return whether {@code e} is what a network, a server or a wrong address causes (no stack trace) */
    private static boolean expected(Throwable e) {
        return e instanceof IOException || e instanceof RillException || e instanceof DecoderException
                || e instanceof TimeoutException;
    }

    /** @return the cause in words: its message, or its type when it has none */
    static String words(Throwable e) {
        String m = e.getMessage();
        return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
    }

    /** @return {@code nanos} as seconds with one decimal, for log lines */
    private static String seconds(long nanos) {
        return String.format(java.util.Locale.ROOT, "%.1f s", nanos / 1e9);
    }

    /**
     * For tests: how often a reconnection that keeps failing is logged (default {@link #RECONNECT_LOG_INTERVAL}).
     *
     * @param interval positive
     */
    public void reconnectLogInterval(Duration interval) {
        synchronized (lock) {
            logIntervalNanos = interval.toNanos();
        }
    }

    /**
     * Counts a failed reconnect attempt and, at most once per log interval, says how the reconnection goes.
     *
     * @param e why it failed
     * @param delay the wait before the next attempt
     */
    private void attemptFailed(Throwable e, Duration delay) {
        String line = null;
        synchronized (lock) {
            failedAttempts++;
            long now = System.nanoTime();
            if (now - loggedAt >= logIntervalNanos) {
                loggedAt = now;
                line = "still no connection to " + where + " after " + failedAttempts + " failed attempt"
                        + (failedAttempts == 1 ? "" : "s") + " over " + seconds(now - lostAt) + " (last: " + words(e)
                        + "); next attempt in " + delay.toMillis() + " ms";
            }
        }
        if (line != null) {
            log(Level.WARNING, line, e);
        }
    }

    /**
     * @param retries the attempts that failed before this one
     * @return the wait before the next attempt: the minimum backoff doubled per failed attempt, capped at the
     *     maximum, with up to 50% jitter (within the bounds)
     */
    private Duration backoff(long retries) {
        long min = options.reconnectMinBackoff().toNanos();
        long max = options.reconnectMaxBackoff().toNanos();
        long base = retries >= 62 || min > (max >> Math.min(retries, 62)) ? max : min << retries;
        long jitter = base / 2;
        long d = base + (jitter == 0 ? 0 : ThreadLocalRandom.current().nextLong(-jitter, jitter + 1));
        return Duration.ofNanos(Math.max(min, Math.min(max, d)));
    }

    private void reconnect(Throwable cause) {
        // as Retry.backoff (doubling from the minimum, capped, with jitter), plus counting and logging each failure
        Retry retry = Retry.from(signals -> signals.concatMap(signal -> {
            Throwable e = signal.failure();
            long retries = signal.totalRetries();
            if (permanent(e) || isClosed()) {
                return Mono.error(e);
            }
            if (retries + 1 >= options.reconnectAttempts()) {
                // this was the last attempt allowed (Retry.backoff(n) made n + 1 of them)
                return Mono.error(new GaveUp("connection to " + where + " lost and not re-established after "
                        + (retries + 1) + " attempt" + (retries == 0 ? "" : "s") + ": " + e.getMessage(), e));
            }
            Duration delay = backoff(retries);
            attemptFailed(e, delay);
            return Mono.delay(delay);
        }));
        // The connection is handed out once its handshake is done, each queue usable once declared again on it;
        // setting it up (its queues declared again) is still part of the attempt: a connection lost meanwhile (the
        // server died again, or went away) is one more failed attempt, where it ended the client for good; and like
        // the handshake it is bounded by the connect timeout (a server that never answers a DECLARE held the
        // reconnection for good): the connection is then dropped and the next attempt made
        reactor.core.Disposable d = Mono.delay(options.reconnectMinBackoff())
                .then(Mono.defer(() -> connectOnce().flatMap(this::resume)))
                .retryWhen(retry)
                .subscribe(this::resumed, t -> {
                    long away;
                    int attempts;
                    synchronized (lock) {
                        failure = t instanceof RuntimeException r ? r : new RillException(t.getMessage(), t);
                        next.tryEmitError(failure);
                        away = System.nanoTime() - lostAt;
                        attempts = failedAttempts + 1;
                    }
                    if (!isClosed()) {
                        log(Level.ERROR, "connection to " + where + " not re-established after " + attempts
                                + " attempt" + (attempts == 1 ? "" : "s") + " over " + seconds(away) + ", giving up: "
                                + words(t instanceof GaveUp ? t.getCause() : t)
                                + "; receive streams end and operations fail", t);
                    }
                    failAll();
                });
        boolean stop;
        synchronized (lock) {
            stop = closed; // closed meanwhile: close() found nothing to stop
            reconnecting = stop ? null : d;
        }
        if (stop) {
            d.dispose();
        }
    }

    /**
     * Hands a reconnect attempt's connection out as soon as its handshake is done and declares (or describes) every
     * queue of this client again on it. Each queue's operations (requests, the SUBSCRIBE of its streams) wait for its
     * own declaration only ({@link ClientConnection#whenReady}); its sends wait anyway for the SEND_CREDIT the server
     * grants only after the DECLARE's answer. Before, the connection was handed out once every queue was declared: a
     * queue slow to declare (a durable server decoding a large recovered backlog for it) held back every other queue.
     *
     * @return {@code c} once every queue answered; or an error (the connection lost, a SHUTTING_DOWN answer, the
     *     connect timeout over: it is then taken back and dropped), one more failed attempt
     */
    private Mono<ClientConnection> resume(ClientConnection c) {
        List<QueueSpec> specs = new ArrayList<>(declared.values());
        c.declaring(specs.stream().map(QueueSpec::name).toList()); // before anyone can find c
        Sinks.One<ClientConnection> s;
        synchronized (lock) {
            if (closed) {
                c.close();
                return Mono.empty();
            }
            current = c;
            settingUp = c;
            s = next;
            nextDone = true;
        }
        s.tryEmitValue(c);
        for (RemoteSubscription<?> sub : subscriptions) {
            attach(sub, c);
        }
        return setUp(c, specs)
                .timeout(options.connectTimeout(), Mono.defer(() -> {
                    RillException e = new RillException("the queues were not declared again on the new connection"
                            + " to " + where + " within " + options.connectTimeout().toMillis()
                            + " ms (ClientOptions.connectTimeout)");
                    c.abort(e);
                    return Mono.error(e);
                }))
                .doOnError(e -> giveUp(c))
                .doOnCancel(() -> giveUp(c)); // the client closed meanwhile, and c with it (it was current)
    }

    /** How many queues a new connection's set-up declares at once. */
    static final int SET_UP_CONCURRENCY = 256;

    /**
     * Declares (or describes) {@code specs} again on a new connection, each queue's operations let go as soon as its
     * answer came. A queue the server refuses on a connection still open (gone: a restarted in-memory server, a queue
     * attached with {@code lookup} that another client made; declared meanwhile with other settings; no right any
     * more) is forgotten and its streams end with the server's reason; the other queues and streams carry on. Before,
     * one refused queue made the client give up for good, every stream and operation failing although the server was
     * back.
     *
     * <p>Up to {@link #SET_UP_CONCURRENCY} declarations are in flight at once, written together: the set-up takes
     * about one round trip, not one per queue (declared one after another, 1000 queues over a 50 ms link took 50 s,
     * past {@code reconnectWait}), and a queue slow to declare does not hold the declarations of the others back.
     *
     * @return {@code c} once every queue answered; or the error of a lost connection
     */
    private Mono<ClientConnection> setUp(ClientConnection c, List<QueueSpec> specs) {
        return Flux.fromIterable(specs)
                .flatMap(spec -> c.setUp(spec, described.contains(spec.name())).onErrorResume(e -> {
                    if (!c.isOpen()) {
                        return Mono.error(e); // lost meanwhile: the attempt failed
                    }
                    forget(c, spec, e); // its streams end before its operations are let go
                    return Mono.empty();
                }).doOnSuccess(v -> c.declared(spec.name())), SET_UP_CONCURRENCY)
                .then(Mono.just(c));
    }

    /**
     * Forgets a queue the server refused on the new connection {@code c}; its streams end with the server's reason,
     * and so do its sends, those waiting on {@code c} and those made later, until it is declared or looked up again.
     */
    private void forget(ClientConnection c, QueueSpec spec, Throwable why) {
        if (!declared.remove(spec.name(), spec)) {
            return; // declared again meanwhile, with other settings: that declaration stands
        }
        described.remove(spec.name());
        refused.put(spec.name(), why);
        c.refuseSends(spec.name());
        log(Level.WARNING, "queue '" + spec.name() + "' refused by " + where + " on the new connection: " + words(why)
                + "; its receive and events streams end, the other queues carry on", null); // the server's words
        for (RemoteSubscription<?> s : new ArrayList<>(subscriptions)) {
            if (s.queue().equals(spec.name())) {
                s.fail(why);
            }
        }
    }

    /** The reconnect attempts are spent; the cause is the last one's failure. */
    private static final class GaveUp extends RillException {
        private static final long serialVersionUID = 1L;

        GaveUp(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private boolean isClosed() {
        synchronized (lock) {
            return closed;
        }
    }

    /** A reconnection's connection is set up: the outage is over. */
    private void resumed(ClientConnection c) {
        String line;
        synchronized (lock) {
            reconnecting = null;
            if (settingUp == c) {
                settingUp = null;
            }
            if (closed) {
                return; // close() closed it
            }
            lostCause = null;
            line = "connection to " + where + " re-established after " + seconds(System.nanoTime() - lostAt) + " ("
                    + failedAttempts + " failed attempt" + (failedAttempts == 1 ? "" : "s") + ")";
            failedAttempts = 0;
        }
        log(Level.INFO, line, null);
    }

    /**
     * The set-up of {@code c} failed (lost, refused by a server going away, too slow) or was dropped: it is no longer
     * the connection work is given to, and what waits for its queues' declarations looks again.
     */
    private void giveUp(ClientConnection c) {
        synchronized (lock) {
            takeBack(c);
        }
        c.setUpEnded();
    }

    /** Under {@link #lock}: {@code c}, set up by the reconnection, is not the connection to use any more. */
    private void takeBack(ClientConnection c) {
        if (settingUp == c) {
            settingUp = null;
        }
        if (current == c) {
            current = null;
            if (nextDone) {
                next = Sinks.one();
                nextDone = false;
            }
        }
    }

    private void failAll() {
        RuntimeException f;
        synchronized (lock) {
            f = closed ? null : failure;
            if (f != null) {
                next.tryEmitError(f);
            }
        }
        for (RemoteSubscription<?> s : new ArrayList<>(subscriptions)) {
            if (f != null) {
                s.fail(f);
            } else {
                s.brokerClosed();
            }
        }
    }

    // ---- ReactiveBroker -----------------------------------------------------------------------------------------

    @Override
    public <T> Mono<ReactiveQueue<T>> queue(QueueSpec spec, Codec<T> codec) {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(codec, "codec");
        return Mono.defer(() -> {
            spec.validate();
            Frame.Declare.requireWholeMillis(spec); // here: thrown while encoding, it ended the connection
            return connection().flatMap(c -> c.declare(spec)).then(Mono.fromCallable(() -> {
                declared.put(spec.name(), spec);
                described.remove(spec.name());
                refused.remove(spec.name());
                return (ReactiveQueue<T>) new RemoteQueue<>(this, spec, codec);
            }));
        });
    }

    /**
     * {@inheritDoc}
     *
     * <p>Over the network: a DESCRIBE request (a passive declare), which needs any right on the queue (send,
     * receive or manage). After a reconnect the queue is described again, never created.
     */
    @Override
    public <T> Mono<ReactiveQueue<T>> lookup(String name, Codec<T> codec) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(codec, "codec");
        IllegalArgumentException bad = wireName("name", name);
        if (bad != null) {
            return Mono.error(bad);
        }
        return connection().flatMap(c -> c.describe(name)).map(spec -> {
            if (declared.putIfAbsent(name, spec) == null) {
                described.add(name);
            }
            refused.remove(name);
            return (ReactiveQueue<T>) new RemoteQueue<>(this, spec, codec);
        });
    }

    @Override
    public Mono<Boolean> delete(String name) {
        Objects.requireNonNull(name, "name");
        IllegalArgumentException bad = wireName("name", name);
        if (bad != null) {
            return Mono.error(bad);
        }
        return call(name, id -> new Frame.Delete(id, name), f -> ((Frame.Result) f).value() == 1)
                .doOnNext(b -> {
                    declared.remove(name);
                    described.remove(name);
                });
    }

    @Override
    public Mono<Long> purge(String name) {
        Objects.requireNonNull(name, "name");
        IllegalArgumentException bad = wireName("name", name);
        if (bad != null) {
            return Mono.error(bad);
        }
        return call(name, id -> new Frame.Purge(id, name), f -> ((Frame.Result) f).value());
    }

    @Override
    public Mono<List<String>> list() {
        return call(null, Frame.ListQueues::new, f -> ((Frame.ListResult) f).queues());
    }

    @Override
    public Mono<List<QueueStats>> stats() {
        return call(null, id -> new Frame.Stats(id, null), f -> ((Frame.StatsResult) f).stats());
    }

    @Override
    public Mono<MemoryStats> memory() {
        return connection().flatMap(c -> c.version() >= Limits.MEMORY_VERSION
                ? c.request(null, id -> new Frame.Memory(id), f -> {
                    Frame.MemoryResult r = (Frame.MemoryResult) f;
                    return new MemoryStats(r.used(), r.budget() == 0 ? java.util.OptionalLong.empty()
                            : java.util.OptionalLong.of(r.budget()));
                })
                : Mono.error(new UnsupportedOperationException("the server at " + where + " speaks protocol "
                        + "version " + c.version() + "; its memory needs version " + Limits.MEMORY_VERSION
                        + " (a newer server)")));
    }

    @Override
    public Mono<Integer> redrive(String deadLetterQueue, int max) {
        Objects.requireNonNull(deadLetterQueue, "deadLetterQueue");
        IllegalArgumentException bad = wireName("deadLetterQueue", deadLetterQueue);
        if (bad != null) {
            return Mono.error(bad);
        }
        if (max < 1) {
            return Mono.error(new IllegalArgumentException("max must be >= 1, was " + max));
        }
        return call(deadLetterQueue, id -> new Frame.Redrive(id, deadLetterQueue, max),
                f -> (int) ((Frame.Result) f).value());
    }

    @Override
    public Mono<Integer> redrive(String deadLetterQueue, String targetQueue, int max) {
        Objects.requireNonNull(deadLetterQueue, "deadLetterQueue");
        Objects.requireNonNull(targetQueue, "targetQueue");
        IllegalArgumentException bad = wireName("deadLetterQueue", deadLetterQueue);
        if (bad == null) {
            bad = wireName("targetQueue", targetQueue);
        }
        if (bad != null) {
            return Mono.error(bad);
        }
        if (max < 1) {
            return Mono.error(new IllegalArgumentException("max must be >= 1, was " + max));
        }
        if (deadLetterQueue.equals(targetQueue)) {
            return Mono.error(new IllegalArgumentException("cannot redrive queue '" + deadLetterQueue
                    + "' into itself"));
        }
        // the target, too, may be a queue of this client still being declared again after a reconnect
        return connection(deadLetterQueue)
                .flatMap(c -> c.ready(targetQueue) ? Mono.just(c) : whenReady(c, targetQueue))
                .flatMap(c -> c.version() >= Limits.REDRIVE_TO_VERSION
                ? c.request(deadLetterQueue, id -> new Frame.Redrive(id, deadLetterQueue, targetQueue, max),
                        f -> (int) ((Frame.Result) f).value())
                : Mono.error(new UnsupportedOperationException("the server at " + where + " speaks protocol "
                        + "version " + c.version() + "; redrive to a target queue needs version "
                        + Limits.REDRIVE_TO_VERSION + " (a newer server)")));
    }

    /**
     * @return why the wire cannot carry a queue name given as a plain string (longer than {@link Limits#MAX_NAME_BYTES}
     *     in UTF-8, or an unpaired surrogate), or null when it can. Checked before the request is built: the encoder
     *     would refuse the frame on the event loop instead. A name the wire carries but no queue can have is the
     *     server's to answer (QUEUE_NOT_FOUND), as in one JVM
     */
    private static IllegalArgumentException wireName(String field, String name) {
        try {
            FrameEncoder.checkUtf8(name, Limits.MAX_NAME_BYTES, field);
            return null;
        } catch (IllegalArgumentException e) {
            return e;
        }
    }

    /**
     * Closes the connection (CLOSE frame) and stops reconnecting; open receive streams error with
     * {@link QueueClosedException}.
     *
     * <p>The Mono completes once every channel of the client is closed: the connection's (the CLOSE frame written
     * first, at most {@link ClientConnection#CLOSE_WRITE_MILLIS} waited for) and a reconnect attempt's under way (its
     * TCP connect or handshake in flight, its queues being declared again), which is closed at once. A caller that
     * blocks on it and then exits finds no socket of the client open (before, it completed as soon as the close was
     * handed to the event loop, and did not wait for an attempt's socket at all). Later calls complete with the first
     * one.
     *
     * @return a Mono that completes once closed
     */
    @Override
    public Mono<Void> close() {
        return Mono.defer(() -> {
            closeNow();
            return shut.asMono();
        });
    }

    private void closeNow() {
        ClientConnection c;
        reactor.core.Disposable stop;
        List<io.netty.channel.Channel> open;
        boolean unknown;
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            c = current;
            current = null;
            stop = reconnecting;
            reconnecting = null;
            next.tryEmitError(new RillException("the client is closed"));
            open = new ArrayList<>(channels);
            unknown = connecting > 0;
        }
        if (stop != null) {
            stop.dispose(); // its backoff ends and its attempt in progress is dropped, its socket closed
        }
        for (RemoteSubscription<?> s : new ArrayList<>(subscriptions)) {
            s.brokerClosed();
        }
        if (c != null) {
            c.close(); // politely: its CLOSE frame first
            open.remove(c.channel());
        }
        for (io.netty.channel.Channel ch : open) {
            ch.close(); // an attempt's, never handed out (also when the cancel above closes it already)
        }
        if (unknown) {
            // a connect started just before, whose channel shows up on its event loop (and is closed there at once):
            // waited for, but within the bound of a polite close
            Schedulers.parallel().schedule(() -> {
                synchronized (lock) {
                    connecting = 0;
                }
                shutIfDone();
            }, ClientConnection.CLOSE_WRITE_MILLIS, TimeUnit.MILLISECONDS);
        }
        shutIfDone();
    }

    @Override
    public Scheduler scheduler() {
        return options.scheduler();
    }

    /**
     * Drops the current connection as if the network failed (tests: exercises reconnection).
     */
    public void dropConnection() {
        ClientConnection c;
        synchronized (lock) {
            c = current;
        }
        if (c != null) {
            c.abort(new RillException("connection dropped on purpose"));
        }
    }

    @Override
    public String toString() {
        return "RemoteBroker{" + address + "}";
    }
}
