package dev.rill.server;

import dev.rill.netty.AccessDeniedException;
import dev.rill.netty.AuthenticationException;
import dev.rill.reactive.QueueClosedException;
import dev.rill.reactive.QueueFullException;
import dev.rill.reactive.QueueNotFoundException;
import dev.rill.reactive.RillException;
import java.net.ConnectException;
import java.net.UnknownHostException;
import java.nio.channels.UnresolvedAddressException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import reactor.core.Exceptions;

/**
 * The exit codes of every {@code rill} command, and how a failure maps to one. Listed in each command's
 * {@code --help} and in {@code docs/operations.md}.
 */
final class ExitCodes {

    /** Success. */
    static final int OK = 0;
    /** The command failed for another reason (unexpected error, demo or bench did not finish in time). */
    static final int FAILED = 1;
    /** Invalid command line: unknown command or option, bad option value, bad URL, unreadable file. */
    static final int USAGE = 2;
    /** The server could not be reached, the connection or TLS handshake failed, or no answer came in time. */
    static final int UNAVAILABLE = 3;
    /** Authentication failed (bad or missing token) or the token lacks the right needed on the queue. */
    static final int DENIED = 4;
    /** The queue does not exist. */
    static final int UNKNOWN_QUEUE = 5;
    /** The server refused the operation (invalid argument, queue exists with other settings, queue full, too old). */
    static final int REFUSED = 6;

    private ExitCodes() {
    }

    /** @return the codes and their meaning, in order, for the help footer */
    static Map<String, String> descriptions() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(" 0", "success");
        m.put(" 1", "failed (unexpected error; demo/bench did not finish in time; serve: cannot listen or open"
                + " --data-dir, or the broker did not close within --shutdown-grace; consume: standard output closed,"
                + " or a payload that --format text cannot print; send: out of memory on a line)");
        m.put(" 2", "invalid command line (unknown option, bad value, bad URL, unreadable file; send: standard"
                + " input closed, or a line of it not UTF-8 text, not base64, not a message in JSON or too long)");
        m.put(" 3", "server unreachable, connection lost, TLS failure, or no answer in time (consume: the server"
                + " is shutting down)");
        m.put(" 4", "authentication failed or permission denied");
        m.put(" 5", "unknown queue");
        m.put(" 6", "refused by the server (invalid argument, queue has other settings, queue full, server too old)");
        m.put(" 130, 143", "interrupted by Ctrl-C (SIGINT) or SIGTERM (serve: 0 after its graceful shutdown; a second"
                + " signal that ends its drain early gives its own status)");
        return m;
    }

    /**
     * Unwraps Reactor's and the JDK's wrapper exceptions.
     *
     * @param e a failure
     * @return the exception that says what went wrong
     */
    static Throwable root(Throwable e) {
        Throwable t = Exceptions.unwrap(e);
        while ((t instanceof ExecutionException || t instanceof CompletionException) && t.getCause() != null) {
            t = Exceptions.unwrap(t.getCause());
        }
        return t;
    }

    /**
     * Maps a failure to its exit code.
     *
     * @param e the failure
     * @return the exit code
     */
    static int of(Throwable e) {
        Throwable t = root(e);
        if (t instanceof CliException c) {
            return c.exitCode();
        }
        if (t instanceof AuthenticationException || t instanceof AccessDeniedException) {
            return DENIED;
        }
        if (t instanceof QueueNotFoundException) {
            return UNKNOWN_QUEUE;
        }
        if (t instanceof IllegalArgumentException || t instanceof QueueFullException
                || t instanceof UnsupportedOperationException) {
            return REFUSED;
        }
        if (t instanceof TimeoutException) {
            return UNAVAILABLE;
        }
        if (t instanceof RillException && !(t instanceof QueueClosedException)
                && String.valueOf(t.getMessage()).contains("connection")) {
            return UNAVAILABLE;
        }
        return FAILED;
    }

    /** Netty's native transport prefixes the OS's words with the call: {@code bind(..) failed with error(-98): }. */
    private static final Pattern NATIVE_PREFIX = Pattern.compile("^\\w+\\(\\.\\.\\) failed with error\\(-?\\d+\\): ");

    /**
     * Why a socket could not be bound or connected, in the operator's words: reactor-netty's {@code Failed to bind on
     * [HOST:PORT]} says neither that the port is taken nor that the address is not this machine's, and Netty's
     * native transport puts its system call before the OS's words ({@code finishConnect(..) failed with
     * error(-111): Connection refused: /127.0.0.1:1}).
     *
     * @param e the failure of a bind or connect
     * @return what went wrong, e.g. {@code address already in use (another process listens on that port?)}
     */
    static String socketProblem(Throwable e) {
        Throwable deepest = e;
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof UnresolvedAddressException || t instanceof UnknownHostException) {
                return "unknown host (the name does not resolve)";
            }
            String m = String.valueOf(t.getMessage());
            if (m.contains("Address already in use")) {
                return "address already in use (another process listens on that port?)";
            }
            if (m.contains("Cannot assign requested address")) {
                return "cannot assign requested address (not an address of this machine?)";
            }
            if (t instanceof ConnectException && m.contains("Connection refused")) {
                return "connection refused (no server listens at that address and port?)";
            }
            deepest = t;
        }
        String m = message(e);
        if (m.startsWith("Failed to bind on") && deepest != root(e)) {
            m = message(deepest); // the OS's words, not reactor-netty's wrapper
        }
        return NATIVE_PREFIX.matcher(m).replaceFirst("");
    }

    /**
     * The one-line message shown for a failure.
     *
     * @param e the failure
     * @return the message
     */
    static String message(Throwable e) {
        Throwable t = root(e);
        if (t instanceof CliException) {
            return t.getMessage();
        }
        if (t instanceof QueueNotFoundException q) {
            return "unknown queue '" + q.queue() + "'";
        }
        String m = t.getMessage();
        if (t instanceof AuthenticationException) {
            return "authentication failed: " + m;
        }
        if (t instanceof AccessDeniedException) {
            return "permission denied: " + m;
        }
        return m == null || m.isBlank() ? t.getClass().getName() : m;
    }
}
