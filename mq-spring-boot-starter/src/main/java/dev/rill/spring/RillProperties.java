package dev.rill.spring;

import dev.rill.core.ExpiryAction;
import dev.rill.core.Ordering;
import dev.rill.core.Overflow;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.NestedConfigurationProperty;
import org.springframework.util.unit.DataSize;

/**
 * Configuration properties under {@code rill.*}: which broker to use (in-memory by default, remote with
 * {@code rill.url}, embedded and durable with {@code rill.data-dir}), the queues to declare at startup, metrics,
 * health and shutdown.
 *
 * <pre>
 * rill.url=rills://mq.internal:7400         # remote over TLS (rill:// without); omit for an in-memory broker
 * rill.token=${RILL_TOKEN}
 * rill.queues.orders.visibility-timeout=30s
 * rill.queues.orders.max-deliveries=5
 * rill.queues.orders.dead-letter-queue=orders-dlq
 * rill.queues.orders.ordering=key-ordered
 * </pre>
 *
 * <p>Queue names with dots need the bracket form: {@code rill.queues[orders.v2].capacity=1000}.
 *
 * <p>Every value is checked when the application starts: an invalid one stops the start with a
 * {@link RillConfigurationException} naming the property. So does a name under {@code rill.} that is none of these
 * properties (a misspelled queue option such as {@code rill.queues.orders.visibilty-timeout} would otherwise leave
 * the queue on its default without a word). Environment variables and system properties are not checked that way,
 * so unrelated {@code RILL_*} variables do no harm; an empty value ({@code rill.url=${RILL_URL:}}) leaves the
 * property unset.
 */
@ConfigurationProperties(prefix = "rill")
public class RillProperties {

    /**
     * Address of a Rill server, rill://host[:port] (default port 7400), or rills://host[:port] for TLS (as
     * rill.tls.enabled=true). When unset, the application gets an
     * in-memory broker (messages live in this JVM only). The first connection is made while the application starts;
     * a connection lost later is re-established however long the server is away (pipelines resume once it is back).
     */
    private URI url;

    /** Token presented to the server named by rill.url. */
    private String token;

    /**
     * Directory for durable storage: the application gets an embedded durable broker whose queues and messages
     * survive restarts (the directory is created if missing and locked while the application runs). Not together
     * with rill.url.
     */
    private Path dataDir;

    /**
     * With rill.data-dir: when a send or ack counts as done. 'always': once on disk (fsync, shared by concurrent
     * operations); 'interval=<duration>' (e.g. interval=100ms; a plain number is milliseconds): once written, on
     * disk within the interval, so a machine crash may lose what was confirmed in that window; 'never': once
     * written, the operating system decides when it reaches the disk.
     */
    private String fsync = "always";

    /**
     * How long to wait for the connection to the server named by rill.url when the application starts; also bounds
     * declaring the queues at startup and closing the broker when the application stops. Positive.
     */
    private Duration connectTimeout = Duration.ofSeconds(10);

    /**
     * The embedded broker's memory budget (e.g. 256MB): the bytes all its queues may hold together, payloads plus 128
     * bytes per message. A send beyond it waits (or fails, for a queue with overflow=fail) until messages of any queue
     * are acked, as one to a full queue does. Unset: no budget (each queue is bounded by its capacity and max-bytes).
     * Not with rill.url: a server has its own (rill serve --max-memory).
     */
    private DataSize maxMemory;

    /** TLS for the connection to the server named by rill.url. */
    @NestedConfigurationProperty
    private final Tls tls = new Tls();

    /** Queues declared at startup, by name. */
    private final Map<String, Queue> queues = new LinkedHashMap<>();

    /** Micrometer meters of the declared queues. */
    @NestedConfigurationProperty
    private final Metrics metrics = new Metrics();

    /** Graceful shutdown of QueuePipeline beans. */
    @NestedConfigurationProperty
    private final Shutdown shutdown = new Shutdown();

    /** The Actuator health indicator (turned off with management.health.rill.enabled=false). */
    @NestedConfigurationProperty
    private final Health health = new Health();

    /** @return the server address, or null for an in-memory broker */
    public URI getUrl() {
        return url;
    }

    /** @param url the server address, {@code rill://host[:port]} or {@code rills://host[:port]} (TLS) */
    public void setUrl(URI url) {
        this.url = url;
    }

    /** @return the token, or null for none */
    public String getToken() {
        return token;
    }

    /** @param token the token presented to the server */
    public void setToken(String token) {
        this.token = unsetIfEmpty(token);
    }

    /** @return the durable-storage directory, or null */
    public Path getDataDir() {
        return dataDir;
    }

    /** @param dataDir the durable-storage directory: turns the embedded durable broker on */
    public void setDataDir(Path dataDir) {
        this.dataDir = dataDir;
    }

    /** @return the fsync policy of the durable broker: always, interval=DURATION or never; default always */
    public String getFsync() {
        return fsync;
    }

    /** @param fsync the fsync policy of the durable broker: always, interval=DURATION or never */
    public void setFsync(String fsync) {
        this.fsync = fsync == null || fsync.isEmpty() ? "always" : fsync;
    }

    /** @return how long the startup connection may take; default 10 s */
    public Duration getConnectTimeout() {
        return connectTimeout;
    }

    /** @param connectTimeout how long the startup connection may take */
    public void setConnectTimeout(Duration connectTimeout) {
        this.connectTimeout = connectTimeout;
    }

    /** @return the embedded broker's memory budget, or null for none */
    public DataSize getMaxMemory() {
        return maxMemory;
    }

    /** @param maxMemory the embedded broker's memory budget, e.g. {@code 256MB}; null for none */
    public void setMaxMemory(DataSize maxMemory) {
        this.maxMemory = maxMemory;
    }

    /** An empty value, as {@code ${RILL_TOKEN:}} gives with the variable unset, leaves a property unset. */
    private static String unsetIfEmpty(String value) {
        return value == null || value.isEmpty() ? null : value;
    }

    /** @return the TLS settings */
    public Tls getTls() {
        return tls;
    }

    /** @return the queues to declare, by name (mutable, for binding) */
    public Map<String, Queue> getQueues() {
        return queues;
    }

    /** @return the metrics settings */
    public Metrics getMetrics() {
        return metrics;
    }

    /** @return the shutdown settings */
    public Shutdown getShutdown() {
        return shutdown;
    }

    /** @return the health indicator settings */
    public Health getHealth() {
        return health;
    }

    /**
     * TLS for the client connection. Trust comes from, in order: an SSL bundle ({@code bundle}), PEM certificates
     * ({@code trust-certificates}), or the JVM's default trust store.
     */
    public static class Tls {

        /** Whether to connect with TLS. Implied when any other rill.tls property is set, or rill.url is rills://. */
        private boolean enabled;

        /** Name of a Spring Boot SSL bundle (spring.ssl.bundle.*) that holds the trust store and client key. */
        private String bundle;

        /** PEM file (path or resource location) of the certificates that sign the server's certificate. */
        private String trustCertificates;

        /** PEM file of the client certificate chain, for servers that require client authentication. */
        private String certificate;

        /** PEM file of the client's PKCS#8 private key, paired with rill.tls.certificate. */
        private String privateKey;

        /** @return whether TLS is on, explicitly or implied by another TLS property */
        public boolean isEnabled() {
            return enabled || bundle != null || trustCertificates != null || certificate != null || privateKey != null;
        }

        /** @param enabled whether to connect with TLS */
        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }

        /** @return the SSL bundle name, or null */
        public String getBundle() {
            return bundle;
        }

        /** @param bundle the SSL bundle name */
        public void setBundle(String bundle) {
            this.bundle = unsetIfEmpty(bundle);
        }

        /** @return the trusted certificates' location, or null */
        public String getTrustCertificates() {
            return trustCertificates;
        }

        /** @param trustCertificates the trusted certificates' location (PEM) */
        public void setTrustCertificates(String trustCertificates) {
            this.trustCertificates = unsetIfEmpty(trustCertificates);
        }

        /** @return the client certificate's location, or null */
        public String getCertificate() {
            return certificate;
        }

        /** @param certificate the client certificate chain's location (PEM) */
        public void setCertificate(String certificate) {
            this.certificate = unsetIfEmpty(certificate);
        }

        /** @return the client private key's location, or null */
        public String getPrivateKey() {
            return privateKey;
        }

        /** @param privateKey the client private key's location (PEM, PKCS#8) */
        public void setPrivateKey(String privateKey) {
            this.privateKey = unsetIfEmpty(privateKey);
        }
    }

    /**
     * One queue's settings; each unset value keeps {@link dev.rill.core.QueueSpec}'s default. See
     * {@link dev.rill.core.QueueSpec} for what each one means.
     */
    public static class Queue {

        /** How long a receive leases a message before it becomes deliverable again. QueueSpec default: 30s. */
        private Duration visibilityTimeout;

        /**
         * Deliveries before a message is dead-lettered. Needs dead-letter-queue or discard-dead-letters=true.
         * QueueSpec default: unlimited.
         */
        private Integer maxDeliveries;

        /** Queue that receives rejected messages and messages past max-deliveries. */
        private String deadLetterQueue;

        /** Drop rejected messages and messages past max-deliveries instead of dead-lettering them. */
        private boolean discardDeadLetters;

        /** Most messages held (ready, delayed and leased). QueueSpec default: 100000. */
        private Integer capacity;

        /** Limit on the summed payload size of the messages held. QueueSpec default: none. */
        private DataSize maxBytes;

        /** Delivery ordering. QueueSpec default: fifo. */
        private Ordering ordering;

        /** Time to live of every message, counted from its send. QueueSpec default: none. */
        private Duration messageTtl;

        /** What happens to messages whose time to live runs out. QueueSpec default: drop. */
        private ExpiryAction onExpiry;

        /** How long a message's dedup id is remembered after its send. QueueSpec default: 5m. */
        private Duration dedupWindow;

        /** What a send does when the queue is full: wait for room, or fail. QueueSpec default: wait. */
        private Overflow overflow;

        /** @return the visibility timeout, or null for the default */
        public Duration getVisibilityTimeout() {
            return visibilityTimeout;
        }

        /** @param visibilityTimeout the lease length */
        public void setVisibilityTimeout(Duration visibilityTimeout) {
            this.visibilityTimeout = visibilityTimeout;
        }

        /** @return the delivery limit, or null for unlimited */
        public Integer getMaxDeliveries() {
            return maxDeliveries;
        }

        /** @param maxDeliveries the delivery limit */
        public void setMaxDeliveries(Integer maxDeliveries) {
            this.maxDeliveries = maxDeliveries;
        }

        /** @return the dead-letter queue's name, or null */
        public String getDeadLetterQueue() {
            return deadLetterQueue;
        }

        /** @param deadLetterQueue the dead-letter queue's name; empty (as {@code ${ORDERS_DLQ:}} gives unset) for none */
        public void setDeadLetterQueue(String deadLetterQueue) {
            this.deadLetterQueue = unsetIfEmpty(deadLetterQueue);
        }

        /** @return whether dead letters are dropped */
        public boolean isDiscardDeadLetters() {
            return discardDeadLetters;
        }

        /** @param discardDeadLetters whether dead letters are dropped */
        public void setDiscardDeadLetters(boolean discardDeadLetters) {
            this.discardDeadLetters = discardDeadLetters;
        }

        /** @return the message-count limit, or null for the default */
        public Integer getCapacity() {
            return capacity;
        }

        /** @param capacity the message-count limit */
        public void setCapacity(Integer capacity) {
            this.capacity = capacity;
        }

        /** @return the byte limit, or null for none */
        public DataSize getMaxBytes() {
            return maxBytes;
        }

        /** @param maxBytes the byte limit, e.g. {@code 64MB} */
        public void setMaxBytes(DataSize maxBytes) {
            this.maxBytes = maxBytes;
        }

        /** @return the ordering, or null for the default */
        public Ordering getOrdering() {
            return ordering;
        }

        /** @param ordering the ordering */
        public void setOrdering(Ordering ordering) {
            this.ordering = ordering;
        }

        /** @return the time to live, or null for none */
        public Duration getMessageTtl() {
            return messageTtl;
        }

        /** @param messageTtl the time to live */
        public void setMessageTtl(Duration messageTtl) {
            this.messageTtl = messageTtl;
        }

        /** @return the expiry action, or null for the default */
        public ExpiryAction getOnExpiry() {
            return onExpiry;
        }

        /** @param onExpiry the expiry action */
        public void setOnExpiry(ExpiryAction onExpiry) {
            this.onExpiry = onExpiry;
        }

        /** @return the dedup window, or null for the default */
        public Duration getDedupWindow() {
            return dedupWindow;
        }

        /** @param dedupWindow the dedup window */
        public void setDedupWindow(Duration dedupWindow) {
            this.dedupWindow = dedupWindow;
        }

        /** @return the overflow policy, or null for the default */
        public Overflow getOverflow() {
            return overflow;
        }

        /** @param overflow the overflow policy */
        public void setOverflow(Overflow overflow) {
            this.overflow = overflow;
        }
    }

    /** Micrometer meters ({@link dev.rill.reactive.RillMetrics}) of the declared queues. */
    public static class Metrics {

        /**
         * Whether to register meters for the declared queues and the QueuePipeline beans when a MeterRegistry bean
         * is present.
         */
        private boolean enabled = true;

        /** How often the ready / in-flight / delayed gauges are refreshed. */
        private Duration refreshInterval = Duration.ofSeconds(10);

        /** @return whether meters are registered; default true */
        public boolean isEnabled() {
            return enabled;
        }

        /** @param enabled whether meters are registered */
        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }

        /** @return the gauge refresh interval; default 10 s */
        public Duration getRefreshInterval() {
            return refreshInterval;
        }

        /** @param refreshInterval the gauge refresh interval, at least 1 ms */
        public void setRefreshInterval(Duration refreshInterval) {
            this.refreshInterval = refreshInterval;
        }
    }

    /** Graceful shutdown of the application's {@link dev.rill.reactive.QueuePipeline} beans. */
    public static class Shutdown {

        /**
         * How long running handlers may take to finish when the application stops; then they are cancelled and
         * their messages given back to the queue. Default: spring.lifecycle.timeout-per-shutdown-phase (30s) less a
         * margin of 5s (at most half of it) for giving the rest back, so the drain always ends inside Spring's
         * shutdown phase (25s by default). A longer value is logged as a warning at startup: Spring stops waiting
         * for the phase at its timeout and goes on stopping the application while handlers still run.
         */
        private Duration drainTimeout;

        /** @return the drain grace period, or null to derive it from Spring's shutdown phase timeout */
        public Duration getDrainTimeout() {
            return drainTimeout;
        }

        /** @param drainTimeout the drain grace period, zero or more; null derives it from the phase timeout */
        public void setDrainTimeout(Duration drainTimeout) {
            this.drainTimeout = drainTimeout;
        }
    }

    /** The Actuator health indicator ({@code rill}): the broker's answer and the QueuePipeline beans' state. */
    public static class Health {

        /**
         * How long the health indicator waits for the broker's answer (a remote broker's server may be
         * unreachable while the client reconnects); no answer in time reports the broker DOWN. Positive.
         */
        private Duration timeout = Duration.ofSeconds(10);

        /** @return how long a health check waits for the broker; default 10 s */
        public Duration getTimeout() {
            return timeout;
        }

        /** @param timeout how long a health check waits for the broker, positive */
        public void setTimeout(Duration timeout) {
            this.timeout = timeout;
        }
    }
}
