package dev.rill.server;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Builds TLS contexts from PEM files: a certificate chain, a PKCS#8 private key and, for mutual TLS or a private CA,
 * the certificates to trust.
 */
final class TlsFiles {

    private TlsFiles() {
    }

    /**
     * Builds the server context.
     *
     * @param cert the server's certificate chain (PEM)
     * @param key its private key (PKCS#8 PEM)
     * @param clientCa when given, clients must present a certificate signed by one of these (mutual TLS)
     * @return the context
     * @throws CliException (exit code 2) when a file is missing or not valid PEM
     */
    static SslContext server(Path cert, Path key, Path clientCa) {
        readable(cert, "--tls-cert");
        readable(key, "--tls-key");
        try {
            SslContextBuilder b = SslContextBuilder.forServer(cert.toFile(), key.toFile());
            if (clientCa != null) {
                readable(clientCa, "--tls-ca");
                b = b.trustManager(clientCa.toFile()).clientAuth(ClientAuth.REQUIRE);
            }
            return b.build();
        } catch (CliException e) {
            throw e;
        } catch (Exception e) {
            throw new CliException(ExitCodes.USAGE, "cannot set up TLS from " + cert + " and " + key + ": "
                    + ExitCodes.message(e) + keyHint(key), e);
        }
    }

    /**
     * Builds a client context.
     *
     * @param ca the certificates to trust (PEM), or null for the JVM's default trust store
     * @param cert the client's certificate for mutual TLS, or null
     * @param key the client's private key for mutual TLS, or null (given together with {@code cert})
     * @return the context
     * @throws CliException (exit code 2) when a file is missing or not valid PEM, or only one of cert and key is given
     */
    static SslContext client(Path ca, Path cert, Path key) {
        if ((cert == null) != (key == null)) {
            throw new CliException(ExitCodes.USAGE, "--tls-cert and --tls-key go together (client certificate for"
                    + " mutual TLS)");
        }
        try {
            SslContextBuilder b = SslContextBuilder.forClient();
            if (ca != null) {
                readable(ca, "--tls-ca");
                b = b.trustManager(ca.toFile());
            }
            if (cert != null) {
                readable(cert, "--tls-cert");
                readable(key, "--tls-key");
                b = b.keyManager(cert.toFile(), key.toFile());
            }
            return b.build();
        } catch (CliException e) {
            throw e;
        } catch (Exception e) {
            throw new CliException(ExitCodes.USAGE, "cannot set up TLS: " + ExitCodes.message(e)
                    + (key == null ? "" : keyHint(key)), e);
        }
    }

    /**
     * What to do with a key that is PEM but not PKCS#8 (Netty reads only {@code BEGIN PRIVATE KEY}): OpenSSL's
     * traditional RSA or EC keys, or an encrypted one. Netty's own words were only {@code File does not contain valid
     * private key}.
     */
    static String keyHint(Path key) {
        String text;
        try {
            text = Files.readString(key, StandardCharsets.US_ASCII);
        } catch (IOException | RuntimeException e) {
            return "";
        }
        if (text.contains("-----BEGIN RSA PRIVATE KEY-----") || text.contains("-----BEGIN EC PRIVATE KEY-----")) {
            return " (" + key + " is a traditional OpenSSL key, not PKCS#8 (-----BEGIN PRIVATE KEY-----): convert it"
                    + " with 'openssl pkcs8 -topk8 -nocrypt -in " + key + " -out " + key + ".pk8')";
        }
        if (text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
            return " (" + key + " is encrypted: decrypt it with 'openssl pkcs8 -in " + key + " -out " + key
                    + ".pk8')";
        }
        return "";
    }

    private static void readable(Path file, String option) {
        if (!Files.isReadable(file)) {
            throw new CliException(ExitCodes.USAGE, option + ": cannot read " + file);
        }
    }
}
