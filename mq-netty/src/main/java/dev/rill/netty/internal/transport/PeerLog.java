package dev.rill.netty.internal.transport;

import dev.rill.netty.internal.protocol.ErrorCode;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * What a server tells its operator about connections it refuses or cuts off: one line per connection, with the
 * peer's address, a reason label and the cause in words, written to the {@code System.Logger} named
 * {@value #LOGGER} (java.util.logging unless the application routes it elsewhere), and a count per reason.
 *
 * <p>Lines are rate-limited per reason and peer host: in a window of a reason (counted from the first line after a
 * quiet spell) at most {@code linesPerPeer} lines name the same host (whatever its port), and at most
 * {@code linesPerReason} lines are written for the reason in all, however many hosts there are; the rest are counted,
 * and once the window ends one line per reason says how many were suppressed and from which host (or how many hosts,
 * and the one with the most). A client that reconnects in a loop with garbage therefore costs a bounded number of
 * lines and does not hide a second peer failing for the same reason, a flood from many addresses is still bounded,
 * and the counts ({@link #counts()}, exported by {@code rill serve} as {@code rill_connection_errors_total}) see
 * every connection. Each reason remembers at most {@code maxPeers} hosts per window, the one seen least recently
 * forgotten first: a forgotten host that comes back gets a fresh budget (still within the reason's) and counts as
 * another peer in the summary.
 * Lines carry no token and no payload byte: only the server's own words and numbers. Messages or events the server
 * could not send on a subscription of an open connection ({@link #undeliverable}) are rate-limited the same way under
 * a label of their own, but not counted: they are no connection errors.
 *
 * <p>Thread-safe. Callers are event loops: the decision and the count are taken on the caller's thread, the writing
 * (console I/O, which can block) happens on this log's scheduler, never on an event loop.
 */
public final class PeerLog {

    /** The name of the logger every line goes to. */
    public static final String LOGGER = "dev.rill.netty.RillServer";

    private static final System.Logger LOG = System.getLogger(LOGGER);

    /** Default for the lines per reason, peer host and window. */
    public static final int DEFAULT_LINES_PER_PEER = 10;
    /** Default for the lines per reason and window, from all hosts together. */
    public static final int DEFAULT_LINES_PER_REASON = 50;
    /** Default for the hosts remembered per reason and window. */
    public static final int DEFAULT_MAX_PEERS = 1024;
    /** Default window of the rate limit. */
    public static final Duration DEFAULT_WINDOW = Duration.ofMinutes(1);

    /** Why a connection was refused or closed; its label is the {@code reason} of the count. */
    public enum Reason {
        /** The TLS handshake failed (certificates, a plaintext client on a TLS port, no common TLS version). */
        TLS_HANDSHAKE("tls_handshake", Level.WARNING),
        /** The TLS handshake, or HELLO/AUTH after it, did not complete within the handshake timeout. */
        HANDSHAKE_TIMEOUT("handshake_timeout", Level.WARNING),
        /** A missing or unknown token. */
        AUTH_FAILED("auth_failed", Level.WARNING),
        /** The server was at its connection limit. */
        MAX_CONNECTIONS("max_connections", Level.WARNING),
        /** None of the client's protocol versions is spoken here. */
        UNSUPPORTED_VERSION("unsupported_version", Level.WARNING),
        /** A frame declared longer than the limit in force. */
        FRAME_TOO_LARGE("frame_too_large", Level.WARNING),
        /** Bytes that are not the protocol, or frames not allowed where they came. */
        PROTOCOL_ERROR("protocol_error", Level.WARNING),
        /** Nothing received within the idle timeout: usually a client whose host or network went away. */
        IDLE_TIMEOUT("idle_timeout", Level.INFO),
        /** The client stopped reading while the server had more than the allowed bytes to write to it. */
        SLOW_CONSUMER("slow_consumer", Level.WARNING),
        /** A bug in the server: logged with its stack trace. */
        INTERNAL_ERROR("internal_error", Level.ERROR);

        private final String label;
        private final Level level;

        Reason(String label, Level level) {
            this.label = label;
            this.level = level;
        }

        /** @return the reason's label: lower case, as in the metrics */
        public String label() {
            return label;
        }

        /** @return the level its lines are logged at */
        public Level level() {
            return level;
        }
    }

    /**
     * @return the reason to report when the server closes a connection with ERROR({@code code}), or null when it
     *     is no failure (a shutdown)
     */
    static Reason reasonOf(ErrorCode code) {
        return switch (code) {
            case NONE, SHUTTING_DOWN -> null;
            case HANDSHAKE_TIMEOUT -> Reason.HANDSHAKE_TIMEOUT;
            case IDLE_TIMEOUT -> Reason.IDLE_TIMEOUT;
            case AUTH_FAILED -> Reason.AUTH_FAILED;
            case UNSUPPORTED_VERSION -> Reason.UNSUPPORTED_VERSION;
            case FRAME_TOO_LARGE -> Reason.FRAME_TOO_LARGE;
            case SLOW_CONSUMER -> Reason.SLOW_CONSUMER;
            case TOO_MANY_CONNECTIONS -> Reason.MAX_CONNECTIONS;
            case INTERNAL_ERROR -> Reason.INTERNAL_ERROR;
            default -> Reason.PROTOCOL_ERROR;
        };
    }

    private final Scheduler scheduler;
    private final boolean ownsScheduler;
    private final int linesPerPeer;
    private final int linesPerReason;
    private final int maxPeers;
    private final long windowMillis;
    private final LongAdder[] counts = new LongAdder[Reason.values().length];
    private final Window[] windows = new Window[Reason.values().length];
    /** The window of {@link #undeliverable}: rate-limited like a reason's, but no connection error. */
    private final Window undeliverable;
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * Creates a log that writes on a thread of its own ({@code rill-server-log}, stopped by {@link #close()}) with
     * the default rate limit: per reason and minute, {@value #DEFAULT_LINES_PER_PEER} lines per peer host and
     * {@value #DEFAULT_LINES_PER_REASON} in all, {@value #DEFAULT_MAX_PEERS} hosts remembered.
     *
     * @return the log
     */
    public static PeerLog create() {
        return new PeerLog(Schedulers.newSingle("rill-server-log", true), true, DEFAULT_LINES_PER_PEER,
                DEFAULT_LINES_PER_REASON, DEFAULT_MAX_PEERS, DEFAULT_WINDOW);
    }

    /**
     * Creates a log on {@code scheduler} (which it does not stop): its clock measures the windows, and it runs the
     * writing and the summaries (a virtual-time scheduler makes both deterministic).
     *
     * @param scheduler runs the writing and the end-of-window summaries
     * @param linesPerPeer lines per reason, peer host and window: at least 1
     * @param linesPerReason lines per reason and window from all hosts together: at least {@code linesPerPeer}
     * @param maxPeers hosts remembered per reason and window: at least 1
     * @param window positive
     */
    public PeerLog(Scheduler scheduler, int linesPerPeer, int linesPerReason, int maxPeers, Duration window) {
        this(scheduler, false, linesPerPeer, linesPerReason, maxPeers, window);
    }

    private PeerLog(Scheduler scheduler, boolean ownsScheduler, int linesPerPeer, int linesPerReason, int maxPeers,
            Duration window) {
        if (linesPerPeer < 1 || linesPerReason < linesPerPeer || maxPeers < 1 || window.isNegative()
                || window.isZero()) {
            throw new IllegalArgumentException("linesPerPeer must be >= 1, linesPerReason >= linesPerPeer, maxPeers"
                    + " >= 1 and the window positive, were " + linesPerPeer + ", " + linesPerReason + ", " + maxPeers
                    + " and " + window);
        }
        this.scheduler = scheduler;
        this.ownsScheduler = ownsScheduler;
        this.linesPerPeer = linesPerPeer;
        this.linesPerReason = linesPerReason;
        this.maxPeers = maxPeers;
        this.windowMillis = window.toMillis();
        for (Reason r : Reason.values()) {
            counts[r.ordinal()] = new LongAdder();
            windows[r.ordinal()] = new Window(r.label, r.level, true);
        }
        undeliverable = new Window(UNDELIVERABLE, Level.WARNING, false);
    }

    /** The label of {@link #undeliverable}'s lines. */
    static final String UNDELIVERABLE = "undeliverable";

    /** Bound on the text an {@link #undeliverable} line takes from its cause: the numbers come at its end. */
    private static final int MAX_UNDELIVERABLE = 600;

    /**
     * A message or an event the server could not send on a subscription of an open connection, which stays open: a
     * message stored in the server's JVM that no frame a client accepts can carry (rejected to its dead-letter queue,
     * or the subscription ended), a value of the served broker the wire cannot carry (the subscription ended). Logged
     * at WARNING, rate-limited as the reasons are (label {@value #UNDELIVERABLE}), not counted as a connection error.
     *
     * @param remote the peer's address (null when unknown)
     * @param what what happened, in words: the queue, the message id, sizes, what the server did; no payload
     */
    public void undeliverable(SocketAddress remote, String what) {
        report(remote, undeliverable, "subscription of " + address(remote) + " [" + UNDELIVERABLE + "]: "
                + clean(what, MAX_UNDELIVERABLE), null);
    }

    /**
     * A connection refused before it was open (TLS handshake, HELLO, AUTH, the connection limit).
     *
     * @param remote the peer's address (null when unknown)
     * @param reason why
     * @param why the cause in words: no token, no payload
     */
    public void refused(SocketAddress remote, Reason reason, String why) {
        report(remote, reason, "connection from " + address(remote) + " refused [" + reason.label + "]: " + clean(why),
                null);
    }

    /**
     * An open connection the server closed because of its peer.
     *
     * @param remote the peer's address (null when unknown)
     * @param reason why
     * @param why the cause in words: no token, no payload
     */
    public void closed(SocketAddress remote, Reason reason, String why) {
        report(remote, reason, "connection from " + address(remote) + " closed [" + reason.label + "]: " + clean(why),
                null);
    }

    /**
     * A connection closed because of a bug in the server ({@link Reason#INTERNAL_ERROR}): logged with the stack
     * trace.
     *
     * @param remote the peer's address (null when unknown)
     * @param bug what went wrong
     */
    public void failed(SocketAddress remote, Throwable bug) {
        String what;
        Throwable trace = bug;
        try {
            what = String.valueOf(bug);
        } catch (Throwable e) { // an Error that cannot be put in words (no memory for them): its class, no trace
            what = bug.getClass().getName();
            trace = null;
        }
        report(remote, Reason.INTERNAL_ERROR, "connection from " + address(remote) + " closed ["
                + Reason.INTERNAL_ERROR.label + "]: a bug in the server: " + clean(what), trace);
    }

    /**
     * Something expected that an operator does not need to see (a peer that closed its connection during the
     * handshake: a health check, a port scan): logged at DEBUG, not counted, not rate-limited.
     *
     * @param remote the peer's address (null when unknown)
     * @param what what happened, in words
     */
    public void debug(SocketAddress remote, String what) {
        if (LOG.isLoggable(Level.DEBUG)) {
            String line = "connection from " + address(remote) + ": " + clean(what);
            write(() -> LOG.log(Level.DEBUG, line));
        }
    }

    /** @return how many connections were refused or closed for {@code reason} since this log was created */
    public long count(Reason reason) {
        return counts[reason.ordinal()].sum();
    }

    /** @return every reason's label and count, in the order of {@link Reason} */
    public Map<String, Long> counts() {
        Map<String, Long> m = new LinkedHashMap<>();
        for (Reason r : Reason.values()) {
            m.put(r.label, count(r));
        }
        return m;
    }

    /**
     * On subscription: writes the summary of every window with suppressed lines, then stops the log's own thread
     * once what it was given is written. Later reports are still counted but not written. Only the first
     * subscription does this.
     *
     * @return a Mono that completes once everything is written
     */
    public Mono<Void> close() {
        return Mono.defer(() -> {
            if (!closed.compareAndSet(false, true)) {
                return Mono.empty();
            }
            List<Window> all = new ArrayList<>(List.of(windows));
            all.add(undeliverable);
            for (Window w : all) {
                String s = w.endNow();
                if (s != null) {
                    write(() -> LOG.log(w.level, s));
                }
            }
            return ownsScheduler ? scheduler.disposeGracefully().onErrorComplete() : Mono.empty();
        });
    }

    private void report(SocketAddress remote, Reason reason, String line, Throwable bug) {
        counts[reason.ordinal()].increment();
        report(remote, windows[reason.ordinal()], line, bug);
    }

    private void report(SocketAddress remote, Window w, String line, Throwable bug) {
        if (closed.get()) {
            return; // the server is gone; a reason's count stands
        }
        String summary;
        boolean emit;
        synchronized (w) {
            long now = scheduler.now(TimeUnit.MILLISECONDS);
            summary = w.lines > 0 && now - w.start >= windowMillis ? w.end() : null;
            if (w.lines == 0) {
                w.start = now;
            }
            String host = host(remote);
            Peer p = w.peers.computeIfAbsent(host, h -> new Peer());
            emit = p.lines < linesPerPeer && w.lines < linesPerReason;
            if (emit) {
                p.lines++;
                w.lines++;
            } else {
                w.suppress(host, p);
                if (w.timer == null) {
                    w.timer = schedule(w::timedOut, w.start + windowMillis - now);
                }
            }
        }
        if (summary != null || emit) {
            Level level = w.level;
            write(() -> {
                if (summary != null) {
                    LOG.log(level, summary);
                }
                if (emit) {
                    if (bug != null) {
                        LOG.log(level, line, bug);
                    } else {
                        LOG.log(level, line);
                    }
                }
            });
        }
    }

    /** Hands {@code r} to the scheduler; dropped once it stopped (the server is gone: the count was taken). */
    private void write(Runnable r) {
        try {
            scheduler.schedule(r);
        } catch (RejectedExecutionException e) {
            // closed
        }
    }

    private Disposable schedule(Runnable r, long delayMillis) {
        try {
            return scheduler.schedule(r, Math.max(0, delayMillis), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            return null;
        }
    }

    /** What one reason's window knows of one peer host. Guarded by the window. */
    private static final class Peer {
        int lines;
        long suppressed;
    }

    /** One reason's rate-limit window (or {@link #undeliverable}'s). Guarded by itself. */
    private final class Window {
        final String label;
        final Level level;
        /** Whether its lines are connections counted in {@link #counts()}: the summary says so. */
        final boolean counted;
        long start;
        /** Lines written in the window, from every host. */
        int lines;
        /** Lines suppressed in the window, from every host (also the forgotten ones). */
        long suppressed;
        /** Hosts with lines suppressed (a forgotten host seen again counts again). */
        int suppressingPeers;
        /** The host with the most lines suppressed, and how many. */
        String top;
        long topCount;
        Disposable timer;
        /** The window's hosts, least recently seen first: at most maxPeers, the first one forgotten beyond. */
        final LinkedHashMap<String, Peer> peers = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Peer> eldest) {
                return size() > maxPeers;
            }
        };

        Window(String label, Level level, boolean counted) {
            this.label = label;
            this.level = level;
            this.counted = counted;
        }

        void suppress(String host, Peer p) {
            suppressed++;
            if (p.suppressed++ == 0) {
                suppressingPeers++;
            }
            if (p.suppressed > topCount) {
                top = host;
                topCount = p.suppressed;
            }
        }

        /** Ends the window: @return the summary of its suppressed lines, or null when none was */
        String end() {
            if (timer != null) {
                timer.dispose();
                timer = null;
            }
            long n = suppressed;
            String from = suppressingPeers == 1 ? top
                    : suppressingPeers + " peers, " + topCount + " of them from " + top;
            lines = 0;
            suppressed = 0;
            suppressingPeers = 0;
            top = null;
            topCount = 0;
            peers.clear();
            return n == 0 ? null : "[" + label + "] " + n + " more similar line" + (n == 1 ? "" : "s")
                    + " suppressed from " + from + " (at most " + linesPerPeer + " per peer and " + linesPerReason
                    + " in all, per reason and " + seconds(windowMillis) + (counted ? "; every one is counted:"
                    + " RillServer.connectionErrors(), rill_connection_errors_total)" : ")");
        }

        /** The window's end came with suppressed lines: writes their summary. */
        void timedOut() {
            String s;
            synchronized (this) {
                timer = null;
                s = end();
            }
            if (s != null) {
                LOG.log(level, s);
            }
        }

        /** At close: @return the summary of the window so far, or null */
        synchronized String endNow() {
            return end();
        }
    }

    private static String seconds(long millis) {
        return millis % 1000 == 0 ? millis / 1000 + " s" : millis + " ms";
    }

    /** @return {@code host:port} ({@code [v6]:port}), or "an unknown address" */
    static String address(SocketAddress remote) {
        if (remote instanceof InetSocketAddress a) {
            String host = host(remote);
            return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + a.getPort();
        }
        return host(remote);
    }

    /** @return the host of {@code remote} without its port (a reconnecting client has a new one each time) */
    static String host(SocketAddress remote) {
        if (remote instanceof InetSocketAddress a) {
            return a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
        }
        return remote == null ? "an unknown address" : remote.toString();
    }

    /** Bound on the text a line takes from its cause. */
    private static final int MAX_WHY = 300;

    /** @return {@code s} on one line (control characters replaced) and at most {@value #MAX_WHY} characters */
    static String clean(String s) {
        return clean(s, MAX_WHY);
    }

    /** @return {@code s} on one line (control characters replaced) and at most {@code max} characters */
    private static String clean(String s, int max) {
        String t = s == null ? "" : s;
        StringBuilder b = new StringBuilder(Math.min(t.length(), max + 1));
        for (int i = 0; i < t.length() && b.length() < max; i++) {
            char c = t.charAt(i);
            b.append(c < 0x20 || c == 0x7f ? ' ' : c);
        }
        if (t.length() > max) {
            b.append('…');
        }
        return b.toString();
    }
}
