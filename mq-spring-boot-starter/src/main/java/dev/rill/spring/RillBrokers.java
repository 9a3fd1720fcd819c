package dev.rill.spring;

import dev.rill.core.BrokerOptions;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.log.FsyncPolicy;
import dev.rill.netty.AuthenticationException;
import dev.rill.netty.ClientOptions;
import dev.rill.netty.RillClient;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.Rill;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import javax.net.ssl.SSLException;
import org.springframework.boot.convert.DurationStyle;
import org.springframework.boot.ssl.NoSuchSslBundleException;
import org.springframework.boot.ssl.SslBundle;
import org.springframework.boot.ssl.SslBundles;
import org.springframework.boot.ssl.SslOptions;
import org.springframework.core.io.Resource;
import org.springframework.core.io.ResourceLoader;
import org.springframework.util.unit.DataSize;

/** Creates the broker that {@link RillProperties} asks for, or explains why it cannot. */
final class RillBrokers {

    private RillBrokers() {
    }

    /**
     * Creates the broker: remote when {@code rill.url} is set, embedded and durable when {@code rill.data-dir} is set
     * (blocks while the log is replayed), else in-memory. Blocks while connecting.
     *
     * @param sslBundles the context's SSL bundles, or null when there are none
     * @throws RillConfigurationException when the properties ask for what is not available or are inconsistent
     */
    static ReactiveBroker create(RillProperties props, ResourceLoader resources, SslBundles sslBundles,
            List<RillClientOptionsCustomizer> customizers) {
        connectTimeout(props);
        FsyncPolicy fsync = fsync(props.getFsync());
        if (props.getDataDir() != null && props.getUrl() != null) {
            throw new RillConfigurationException("rill.data-dir", "both rill.data-dir and rill.url are set: use "
                    + "rill.data-dir for an embedded durable broker, or rill.url for a Rill server (which keeps its "
                    + "own data, see rill serve --data-dir), not both");
        }
        if (props.getDataDir() == null && !fsync.equals(FsyncPolicy.always())) {
            throw new RillConfigurationException("rill.fsync", "rill.fsync=" + props.getFsync() + " is set but "
                    + "rill.data-dir is not; the fsync policy applies to the durable broker only");
        }
        if (props.getUrl() != null && props.getMaxMemory() != null) {
            throw new RillConfigurationException("rill.max-memory", "rill.max-memory is set and so is rill.url; the"
                    + " budget bounds the embedded broker only: a Rill server has its own (rill serve --max-memory)");
        }
        if (props.getUrl() == null) {
            BrokerOptions brokerOptions = brokerOptions(props);
            if (props.getToken() != null) {
                throw new RillConfigurationException("rill.token",
                        "a token is set but rill.url is not; the in-memory broker has no authentication. Set "
                                + "rill.url to the server the token is for, or remove rill.token.");
            }
            if (props.getTls().isEnabled()) {
                throw new RillConfigurationException("rill.tls",
                        "TLS is configured but rill.url is not; the in-memory broker has no connection to secure. "
                                + "Set rill.url, or remove the rill.tls.* properties.");
            }
            if (props.getDataDir() != null) {
                try {
                    return Rill.embedded(props.getDataDir(), DurabilityOptions.defaults().fsync(fsync), brokerOptions);
                } catch (UncheckedIOException e) {
                    throw new RillConfigurationException("rill.data-dir", "cannot open the durable broker on "
                            + props.getDataDir() + ": " + e.getCause().getMessage(), e);
                }
            }
            return Rill.inMemory(brokerOptions);
        }
        URI url = url(props.getUrl());
        ClientOptions options = clientOptions(props, resources, sslBundles);
        for (RillClientOptionsCustomizer c : customizers) {
            options = Objects.requireNonNull(c.customize(options), () -> c + " returned null options");
        }
        Duration timeout = options.connectTimeout();
        ReactiveBroker broker;
        try {
            broker = RillClient.connect(url, options).block(timeout.plusSeconds(5));
        } catch (IllegalArgumentException e) {
            throw new RillConfigurationException("rill.url", e.getMessage(), e);
        } catch (AuthenticationException e) { // the url was right: the token is what to fix (never echoed)
            throw new RillConfigurationException("rill.token", props.getToken() == null
                    ? "the server at " + props.getUrl() + " requires a token and rill.token is not set (the server "
                            + "said: " + e.getMessage() + ")"
                    : "the server at " + props.getUrl() + " refused the token (the server said: " + e.getMessage()
                            + "); set rill.token to a token the server's tokens file lists", e);
        } catch (RuntimeException e) {
            if (causedBy(e, SSLException.class)) { // the client's hint names ClientOptions and the CLI's flags
                throw new RillConfigurationException("rill.tls", "could not connect to " + props.getUrl() + ": "
                        + e.getMessage() + ". With the starter: trust the server's CA with "
                        + "rill.tls.trust-certificates (PEM) or rill.tls.bundle (spring.ssl.bundle.*); a client "
                        + "certificate goes in rill.tls.certificate and rill.tls.private-key", e);
            }
            throw new RillConfigurationException("rill.url", "could not connect to " + props.getUrl() + ": "
                    + e.getMessage(), e);
        }
        if (broker == null) {
            throw new RillConfigurationException("rill.url", "no connection to " + props.getUrl() + " within "
                    + timeout);
        }
        return broker;
    }


    /** The embedded broker's options: {@code rill.max-memory} as its memory budget, when set. */
    private static BrokerOptions brokerOptions(RillProperties props) {
        DataSize max = props.getMaxMemory();
        if (max == null) {
            return BrokerOptions.defaults();
        }
        if (max.toBytes() <= BrokerOptions.MESSAGE_OVERHEAD_BYTES) {
            throw new RillConfigurationException("rill.max-memory", "must be more than "
                    + BrokerOptions.MESSAGE_OVERHEAD_BYTES + " bytes (what one message counts beside its payload),"
                    + " was " + max);
        }
        return BrokerOptions.defaults().memoryBudget(max.toBytes());
    }
    private static boolean causedBy(Throwable e, Class<? extends Throwable> type) {
        for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (type.isInstance(c)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Checks {@code rill.url} as the CLI's {@code --url} is checked: {@code rill://HOST[:PORT]}, or {@code rills://}
     * for TLS, with nothing else (a path, user info, query or fragment would be dropped without a word).
     *
     * @return the {@code rill://HOST:PORT} address to connect to
     * @throws RillConfigurationException naming {@code rill.url} otherwise (never quoting user info: it may be a secret)
     */
    static URI url(URI u) {
        boolean extra = (u.getRawPath() != null && !u.getRawPath().isEmpty() && !"/".equals(u.getRawPath()))
                || u.getRawQuery() != null || u.getRawFragment() != null || u.getRawUserInfo() != null;
        if (!(RillClient.SCHEME.equals(u.getScheme()) || TLS_SCHEME.equals(u.getScheme())) || u.getHost() == null
                || extra) {
            String shown = u.getRawUserInfo() == null ? u.toString() : u.getScheme() + "://***@" + u.getHost()
                    + (u.getPort() == -1 ? "" : ":" + u.getPort()) + (u.getRawPath() == null ? "" : u.getRawPath());
            throw new RillConfigurationException("rill.url", "'" + shown + "' is not rill://HOST[:PORT] or "
                    + "rills://HOST[:PORT] (rills: TLS)" + (extra ? "; queues go under rill.queues.*, the token "
                    + "under rill.token" : ""));
        }
        int port = u.getPort() == -1 ? RillClient.DEFAULT_PORT : u.getPort();
        if (port < 1 || port > 65535) {
            throw new RillConfigurationException("rill.url", "the port must be 1..65535, was " + port);
        }
        try {
            return new URI(RillClient.SCHEME, null, u.getHost(), port, null, null, null);
        } catch (URISyntaxException e) {
            throw new RillConfigurationException("rill.url", e.getMessage(), e);
        }
    }

    /** The scheme of {@code rill.url} that turns TLS on, as in the CLI's {@code --url}. */
    static final String TLS_SCHEME = "rills";

    /**
     * Reads {@code rill.connect-timeout}, which also bounds declaring the queues at startup and closing the broker
     * (whatever the broker: a durable one's close syncs its log), so it must be positive for every broker.
     *
     * @throws RillConfigurationException naming {@code rill.connect-timeout} when it is not positive
     */
    static Duration connectTimeout(RillProperties props) {
        return positive("rill.connect-timeout", props.getConnectTimeout());
    }

    /**
     * Checks a duration property that must be positive ({@code rill.connect-timeout}, {@code rill.health.timeout}).
     *
     * @return the duration
     * @throws RillConfigurationException naming the property when it is unset, zero or negative
     */
    static Duration positive(String property, Duration t) {
        if (t == null || t.isNegative() || t.isZero()) {
            throw new RillConfigurationException(property, "must be positive, was "
                    + (t == null ? "unset" : t.toMillis() % 1000 == 0 ? t.toSeconds() + "s" : t.toMillis() + "ms"));
        }
        return t;
    }

    /**
     * Reads {@code rill.fsync}: {@code always}, {@code never} or {@code interval=DURATION} (a plain number is
     * milliseconds).
     *
     * @throws RillConfigurationException naming {@code rill.fsync} when the value is not a policy
     */
    static FsyncPolicy fsync(String value) {
        String v = value == null ? "always" : value.trim().toLowerCase(Locale.ROOT);
        if (v.equals("always")) {
            return FsyncPolicy.always();
        }
        if (v.equals("never")) {
            return FsyncPolicy.never();
        }
        if (v.startsWith("interval=")) {
            try {
                return FsyncPolicy.interval(DurationStyle.detectAndParse(v.substring("interval=".length()).trim()));
            } catch (IllegalArgumentException e) {
                throw new RillConfigurationException("rill.fsync", "'" + value + "': " + e.getMessage()
                        + " (examples: interval=100ms, interval=1s)", e);
            }
        }
        throw new RillConfigurationException("rill.fsync", "'" + value + "' is not an fsync policy: use always, "
                + "interval=DURATION (e.g. interval=100ms) or never");
    }

    /**
     * The client options of the properties, on {@link ClientOptions#defaults()}: the connection is re-established
     * however long the server is away (the client's default, backoff up to 5 s), so an application outlives a restart
     * of its server. A {@link RillClientOptionsCustomizer} may set a limit.
     */
    static ClientOptions clientOptions(RillProperties props, ResourceLoader resources, SslBundles sslBundles) {
        ClientOptions options = ClientOptions.defaults();
        try {
            options = options.connectTimeout(props.getConnectTimeout());
        } catch (IllegalArgumentException e) {
            throw new RillConfigurationException("rill.connect-timeout", e.getMessage(), e);
        }
        if (props.getToken() != null) {
            try {
                options = options.token(props.getToken());
            } catch (IllegalArgumentException e) {
                // the message may quote the value: never echo a secret
                throw new RillConfigurationException("rill.token", "invalid token (must be 1..1024 characters)", e);
            }
        }
        if (props.getTls().isEnabled() || TLS_SCHEME.equals(props.getUrl().getScheme())) {
            options = options.tls(sslContext(props.getTls(), resources, sslBundles));
        }
        return options;
    }

    private static SslContext sslContext(RillProperties.Tls tls, ResourceLoader resources, SslBundles sslBundles) {
        SslContextBuilder b = SslContextBuilder.forClient();
        if (tls.getBundle() != null) {
            if (tls.getTrustCertificates() != null || tls.getCertificate() != null || tls.getPrivateKey() != null) {
                throw new RillConfigurationException("rill.tls.bundle",
                        "set either rill.tls.bundle or the PEM files (rill.tls.trust-certificates, "
                                + "rill.tls.certificate, rill.tls.private-key), not both");
            }
            if (sslBundles == null) {
                throw new RillConfigurationException("rill.tls.bundle", "no SSL bundles are configured "
                        + "(spring.ssl.bundle.*)");
            }
            SslBundle bundle;
            try {
                bundle = sslBundles.getBundle(tls.getBundle());
            } catch (NoSuchSslBundleException e) {
                throw new RillConfigurationException("rill.tls.bundle", e.getMessage(), e);
            }
            b.trustManager(bundle.getManagers().getTrustManagerFactory())
                    .keyManager(bundle.getManagers().getKeyManagerFactory());
            SslOptions o = bundle.getOptions();
            if (o.getEnabledProtocols() != null) {
                b.protocols(o.getEnabledProtocols());
            }
            if (o.getCiphers() != null) {
                b.ciphers(Arrays.asList(o.getCiphers()));
            }
        } else {
            if (tls.getTrustCertificates() != null) {
                try (InputStream in = open("rill.tls.trust-certificates", tls.getTrustCertificates(), resources)) {
                    b.trustManager(in);
                } catch (IOException | IllegalArgumentException e) {
                    throw new RillConfigurationException("rill.tls.trust-certificates",
                            "cannot read certificates from " + tls.getTrustCertificates() + ": " + e.getMessage(), e);
                }
            }
            if ((tls.getCertificate() == null) != (tls.getPrivateKey() == null)) {
                throw new RillConfigurationException(tls.getCertificate() == null ? "rill.tls.certificate"
                        : "rill.tls.private-key", "rill.tls.certificate and rill.tls.private-key go together");
            }
            if (tls.getCertificate() != null) {
                try (InputStream cert = open("rill.tls.certificate", tls.getCertificate(), resources);
                        InputStream key = open("rill.tls.private-key", tls.getPrivateKey(), resources)) {
                    b.keyManager(cert, key);
                } catch (IOException | IllegalArgumentException e) {
                    throw new RillConfigurationException("rill.tls.certificate",
                            "cannot read the client certificate and key: " + e.getMessage(), e);
                }
            }
        }
        try {
            return b.build();
        } catch (IOException e) { // SSLException
            throw new RillConfigurationException("rill.tls", "cannot build the TLS context: " + e.getMessage(), e);
        }
    }

    private static InputStream open(String property, String location, ResourceLoader resources) {
        Resource r = resources.getResource(location);
        try {
            return r.getInputStream();
        } catch (IOException e) {
            throw new RillConfigurationException(property, "cannot read " + location + ": " + e.getMessage(), e);
        }
    }
}
