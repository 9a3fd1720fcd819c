package dev.rill.netty.internal.transport;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import java.net.SocketAddress;
import java.nio.channels.ClosedChannelException;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.util.Set;
import javax.net.ssl.SSLException;

/**
 * Placed right after a server connection's {@code SslHandler}: reports a failed TLS handshake to the {@link PeerLog}
 * with its cause in the server operator's terms (the client's certificate refused or missing, the server's refused
 * by the client, a plaintext client, the handshake timeout), and removes itself once the handshake is over. A peer
 * that closes during the handshake (a TCP health check, a port scan) is logged at DEBUG only. Never names bytes the
 * peer sent (Netty's message for a plaintext client holds a hex dump of them).
 */
public final class TlsHandshakeWatch extends ChannelInboundHandlerAdapter {

    private final PeerLog log;
    private final SocketAddress remote;
    private final long timeoutMillis;

    /**
     * @param log where a failure goes
     * @param remote the peer's address
     * @param timeoutMillis the handshake timeout in force, for the line that says it ran out
     */
    public TlsHandshakeWatch(PeerLog log, SocketAddress remote, long timeoutMillis) {
        this.log = log;
        this.remote = remote;
        this.timeoutMillis = timeoutMillis;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof SslHandshakeCompletionEvent e) {
            ctx.pipeline().remove(this);
            if (!e.isSuccess()) {
                report(e.cause());
            }
        }
        ctx.fireUserEventTriggered(evt);
    }

    private void report(Throwable cause) {
        if (cause instanceof ClosedChannelException || ConnectFailures.closedDuringTlsHandshake(cause)
                || ConnectFailures.resetByPeer(cause)) {
            log.debug(remote, "closed by the peer during the TLS handshake");
        } else if (ConnectFailures.find(cause, SslHandshakeTimeoutException.class) != null) {
            log.refused(remote, PeerLog.Reason.HANDSHAKE_TIMEOUT, "the TLS handshake did not complete within "
                    + timeoutMillis + " ms");
        } else {
            log.refused(remote, PeerLog.Reason.TLS_HANDSHAKE, "TLS handshake failed: " + describe(cause));
        }
    }

    /** Alerts a client sends when it does not accept the server's certificate. */
    private static final Set<String> CERTIFICATE_ALERTS = Set.of("certificate_unknown", "unknown_ca",
            "bad_certificate", "certificate_expired", "certificate_revoked", "unsupported_certificate",
            "access_denied");

    /** Alerts a client sends when the two sides share no TLS version or cipher suite. */
    private static final Set<String> NEGOTIATION_ALERTS = Set.of("protocol_version", "handshake_failure",
            "insufficient_security");

    private static final String ALERT = "Received fatal alert: ";

    /** @return why a server-side TLS handshake failed, in the operator's terms */
    static String describe(Throwable cause) {
        if (ConnectFailures.find(cause, NotSslRecordException.class) != null) {
            return "the client does not speak TLS (a plaintext client on a TLS port? it must connect with TLS,"
                    + " rills://)";
        }
        CertificateExpiredException expired = ConnectFailures.find(cause, CertificateExpiredException.class);
        if (expired != null) {
            return "the client's certificate (or one it is signed with) has expired (" + expired.getMessage() + ")";
        }
        CertificateNotYetValidException early = ConnectFailures.find(cause, CertificateNotYetValidException.class);
        if (early != null) {
            return "the client's certificate (or one it is signed with) is not valid yet (" + early.getMessage()
                    + ")";
        }
        if (ConnectFailures.find(cause, CertPathBuilderException.class) != null) {
            return "the client's certificate is not signed by a CA this server trusts for client certificates"
                    + " (the trust manager of the server's SslContext, rill serve --tls-ca)";
        }
        CertPathValidatorException invalid = ConnectFailures.find(cause, CertPathValidatorException.class);
        if (invalid != null) {
            return "the client's certificate was refused (" + invalid.getMessage() + ")";
        }
        SSLException ssl = ConnectFailures.find(cause, SSLException.class);
        if (ssl == null) {
            return String.valueOf(cause);
        }
        String m = String.valueOf(ssl.getMessage());
        if (m.startsWith("Empty client certificate chain")) {
            return "the client sent no certificate, and mutual TLS requires one signed by a CA this server trusts"
                    + " (a client sends only a certificate issued by a CA the server names: one signed by another"
                    + " CA is not sent at all)";
        }
        int at = m.indexOf(ALERT);
        if (at >= 0) {
            String alert = m.substring(at + ALERT.length()).trim();
            if (CERTIFICATE_ALERTS.contains(alert)) {
                return "the client refused the server's certificate (alert " + alert + "): it is not signed by a CA"
                        + " the client trusts, has expired, or does not name the host the client connected to";
            }
            if (NEGOTIATION_ALERTS.contains(alert)) {
                return "the client and the server share no TLS version or cipher suite (alert " + alert + ")";
            }
            return "the client ended the handshake (alert " + alert + ")";
        }
        if (m.startsWith("Insufficient buffer remaining for AEAD cipher fragment")) {
            // TLS 1.3: an alert sent in the clear where the JDK expects it encrypted (OpenSSL's clients do this)
            return "the client ended the handshake with an alert the server could not read (most often a client"
                    + " that refused the server's certificate; its own message says why)";
        }
        if (m.contains("no cipher suites in common") || m.contains("protocol versions")
                || m.contains("not enabled or supported")) {
            return "the client and the server share no TLS version or cipher suite (" + m + ")";
        }
        return m;
    }
}
