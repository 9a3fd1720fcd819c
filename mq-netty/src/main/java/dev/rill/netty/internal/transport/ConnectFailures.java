package dev.rill.netty.internal.transport;

import dev.rill.reactive.RillException;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.UnknownHostException;
import java.nio.channels.ClosedChannelException;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;

/**
 * Says why a connection attempt failed in the terms a user acts on. TLS failures reach the client as the JDK's and
 * Netty's exceptions (a PKIX path error, a hex dump of the bytes that were not a TLS record, an alert name); this
 * names the cause and the fix, and keeps the original as the cause.
 */
final class ConnectFailures {

    private ConnectFailures() {
    }

    /**
     * @param e why the attempt failed
     * @param where the server, {@code host:port}
     * @param tls whether the client uses TLS
     * @return a {@link RillException} naming a TLS failure's cause, or {@code e} itself when it is not one
     */
    static Throwable describe(Throwable e, String where, boolean tls) {
        if (!tls || e instanceof TlsFailure) {
            return e;
        }
        String prefix = "TLS handshake with " + where + " failed: ";
        if (find(e, NotSslRecordException.class) != null) {
            return new TlsFailure(prefix + "the server did not answer with TLS (a plaintext port? connect without"
                    + " TLS, rill://)", e);
        }
        if (e instanceof ClosedChannelException || closedDuringTlsHandshake(e) || resetByPeer(e)) {
            // the server closed before its first TLS record: a TLS server at its connection limit closes a
            // connection at the accept, since no Rill error can reach a client before the handshake (a reset when
            // the close found the ClientHello unread)
            return new TlsFailure(prefix + "the server closed the connection during the TLS handshake (a server at"
                    + " its connection limit does this: ServerOptions.maxConnections, rill serve --max-connections)",
                    e);
        }
        SslHandshakeTimeoutException slow = find(e, SslHandshakeTimeoutException.class);
        if (slow != null) {
            return new TlsFailure(prefix + slow.getMessage(), e);
        }
        CertificateExpiredException expired = find(e, CertificateExpiredException.class);
        if (expired != null) {
            return new TlsFailure(prefix + "the server's certificate (or one it is signed with) has expired ("
                    + expired.getMessage() + ")", e);
        }
        CertificateNotYetValidException early = find(e, CertificateNotYetValidException.class);
        if (early != null) {
            return new TlsFailure(prefix + "the server's certificate (or one it is signed with) is not valid yet ("
                    + early.getMessage() + ")", e);
        }
        if (find(e, CertPathBuilderException.class) != null) {
            return new TlsFailure(prefix + "the server's certificate is not trusted: it is not signed by a CA this"
                    + " client trusts (trust the server's CA: a trust manager in ClientOptions.tls, or --tls-ca)", e);
        }
        SSLException ssl = find(e, SSLException.class);
        if (ssl == null) {
            return e;
        }
        String m = String.valueOf(ssl.getMessage());
        if (m.startsWith("No subject alternative") || m.startsWith("No name matching")) {
            return new TlsFailure(prefix + "the server's certificate is not for the host connected to (" + m + ")", e);
        }
        if (m.contains("Received fatal alert: bad_certificate") || m.contains("certificate_required")
                || m.contains("Received fatal alert: certificate_unknown")
                || m.contains("Received fatal alert: unknown_ca")
                || m.contains("Received fatal alert: certificate_expired")) {
            return new TlsFailure(prefix + "the server refused this client's certificate ("
                    + m.substring(m.indexOf("Received fatal alert: ") + "Received fatal alert: ".length())
                    + "): it requires a client certificate (mutual TLS) signed by a CA it trusts, and valid", e);
        }
        return new TlsFailure(prefix + m, e);
    }

    /**
     * Says why the TCP connection itself could not be made. The transport reports it with a checked exception of its
     * own (netty's {@code AnnotatedConnectException}, {@code java.net.UnknownHostException}), which callers of
     * {@code block()} got wrapped in Reactor's {@code ReactiveException}, not the documented
     * {@link RillException}; and its text ({@code finishConnect(..) failed with error(-111)}, {@code Failed to resolve
     * 'x' [A(1), AAAA(28)] after 2 queries}) named no remedy.
     *
     * @param e why the attempt failed (after {@link #describe})
     * @param where the server, {@code host:port}
     * @param host the host as given (a name or an address)
     * @param connectTimeout the connect timeout in milliseconds
     * @return a {@link RillException} for a failed connect, or {@code e} itself when it is something else
     */
    static Throwable unreachable(Throwable e, String where, String host, long connectTimeout) {
        if (e instanceof RuntimeException || !(e instanceof IOException)) {
            return e;
        }
        String m = String.valueOf(e.getMessage());
        if (e instanceof UnknownHostException) {
            return new RillException("the host name '" + host + "' (of " + where + ") does not resolve to an address ("
                    + m + ")", e);
        }
        if (e instanceof ConnectTimeoutException) {
            return new RillException("no TCP connection to " + where + " within " + connectTimeout
                    + " ms (ClientOptions.connectTimeout; a firewall dropping packets, or a host that is down)", e);
        }
        if (m.contains("Connection refused")) {
            return new RillException("connection to " + where + " refused (nothing listens on that port: is the"
                    + " server running, and on this address?)", e);
        }
        return new RillException("cannot reach " + where + ": " + m, e);
    }

    /** A connection reset by the peer (Netty's native transport or the JDK's); not a refused connection. */
    static boolean resetByPeer(Throwable e) {
        return e instanceof IOException && !(e instanceof SSLException) && !(e instanceof ConnectException)
                && String.valueOf(e.getMessage()).contains("Connection reset");
    }

    /** Netty's SslHandler reports a close before the handshake ended as a suppressed SSLHandshakeException. */
    static boolean closedDuringTlsHandshake(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            for (Throwable s : t.getSuppressed()) {
                if (s instanceof SSLHandshakeException
                        && String.valueOf(s.getMessage()).startsWith("Connection closed while SSL/TLS handshake")) {
                    return true;
                }
            }
            if (t instanceof SSLHandshakeException
                    && String.valueOf(t.getMessage()).startsWith("Connection closed while SSL/TLS handshake")) {
                return true;
            }
        }
        return false;
    }

    /** @return the first of {@code e} and its causes that is a {@code type}, or null */
    static <T extends Throwable> T find(Throwable e, Class<T> type) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
        }
        return null;
    }

    /** A failed TLS handshake, described. */
    static final class TlsFailure extends RillException {
        private static final long serialVersionUID = 1L;

        TlsFailure(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
