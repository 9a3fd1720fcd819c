package dev.rill.netty.internal.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.DecoderException;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

/**
 * Causes of a failed server-side TLS handshake that the JDK's own client never produces (ServerLogTest covers those
 * over real connections), as the JDK's server reports them, and the words the operator gets instead.
 */
class TlsHandshakeWatchTest {

    @Test
    void anAlertInTheClearFromAnOpenSslClientIsNamedAsTheClientEndingTheHandshake() {
        // what the server got from `openssl s_client -verify_return_error` refusing its certificate (TLS 1.3)
        SSLException e = new SSLException("Insufficient buffer remaining for AEAD cipher fragment (2). Needs to be"
                + " more than tag size (16)");
        assertThat(TlsHandshakeWatch.describe(new DecoderException(e))).isEqualTo("the client ended the handshake"
                + " with an alert the server could not read (most often a client that refused the server's"
                + " certificate; its own message says why)");
    }

    @Test
    void alertsAndNegotiationFailuresAreNamed() {
        assertThat(TlsHandshakeWatch.describe(new SSLHandshakeException("Received fatal alert: unknown_ca")))
                .startsWith("the client refused the server's certificate (alert unknown_ca)");
        assertThat(TlsHandshakeWatch.describe(new SSLHandshakeException("Received fatal alert: protocol_version")))
                .isEqualTo("the client and the server share no TLS version or cipher suite (alert protocol_version)");
        assertThat(TlsHandshakeWatch.describe(new SSLHandshakeException("no cipher suites in common")))
                .isEqualTo("the client and the server share no TLS version or cipher suite (no cipher suites in"
                        + " common)");
        assertThat(TlsHandshakeWatch.describe(new SSLHandshakeException("Received fatal alert: decode_error")))
                .isEqualTo("the client ended the handshake (alert decode_error)");
    }
}
