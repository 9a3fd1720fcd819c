package dev.rill.bench.durable;

import dev.rill.bench.net.RillServerMain;
import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.log.FsyncPolicy;
import dev.rill.netty.ClientOptions;
import dev.rill.netty.RillClient;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Rill over loopback, the like-for-like comparison with the networked peers: a {@code RillServerMain} in its own JVM
 * serving a durable broker ({@code Rill.embedded(dataDir, fsync)}), and one {@code RillClient} connection per
 * producer in the bench JVM, each sending with {@code ReactiveQueue.send} (one {@code Mono} per message; the client
 * pipelines them on the connection). One server per fsync policy, started on first use, stopped by
 * {@link #close()}.
 */
final class RillNetworkTarget implements DurableTarget {

    static final String QUEUE = "bench-durable";

    private final FsyncPolicy policy;
    private final Path parent;
    private final String serverHeap;
    private Process server;
    private Path dir;
    private int port;
    private final List<ReactiveBroker> clients = new ArrayList<>();

    /**
     * @param policy the server's fsync policy
     * @param parent where the server's data directory is made
     * @param serverHeap the server JVM's -Xmx value, e.g. "3g"
     */
    RillNetworkTarget(FsyncPolicy policy, Path parent, String serverHeap) {
        this.policy = policy;
        this.parent = parent;
        this.serverHeap = serverHeap;
    }

    @Override
    public String system() {
        return "Rill (network)";
    }

    @Override
    public String config() {
        return DurableBench.label(policy);
    }

    @Override
    public String durability() {
        return policy.kind().name().toLowerCase(Locale.ROOT);
    }

    @Override
    public String setup() {
        return "server in its own JVM (-Xmx" + serverHeap + ") on Rill.embedded(dir, fsync); one RillClient "
                + "connection per producer, ReactiveQueue.send Mono per message; confirmed when the Mono succeeds "
                + "(the server answers once the record is durable under the policy)";
    }

    @Override
    public List<Sender> open(int payloadBytes, int producers) throws Exception {
        if (server == null) {
            dir = Files.createTempDirectory(parent, "rill-server-");
            server = RillServerMain.start(serverHeap, "0", dir.toString(), DurableBench.policyArg(policy));
            port = RillServerMain.readyPort(server);
        }
        URI uri = URI.create("rill://127.0.0.1:" + port);
        QueueSpec spec = QueueSpec.named(QUEUE).unbounded();
        List<Sender> senders = new ArrayList<>();
        for (int i = 0; i < producers; i++) {
            ReactiveBroker b = RillClient.connect(uri, ClientOptions.defaults().clientName("durable-producer-" + i))
                    .block(Duration.ofSeconds(30));
            clients.add(b);
            ReactiveQueue<byte[]> q = b.queue(spec, Codec.bytes()).block(Duration.ofSeconds(30));
            if (i == 0) {
                q.purge().block(Duration.ofSeconds(60));
            }
            senders.add((payload, confirm) -> q.send(OutboundMessage.of(payload))
                    .subscribe(r -> { }, e -> confirm.done(false), () -> confirm.done(true)));
        }
        return senders;
    }

    @Override
    public void reset() {
        clients.get(0).purge(QUEUE).block(Duration.ofSeconds(60));
    }

    @Override
    public void closeRun() {
        if (!clients.isEmpty()) {
            try {
                clients.get(0).purge(QUEUE).block(Duration.ofSeconds(60));
            } catch (RuntimeException ignored) {
                // best effort: the server is stopped with its directory at the end anyway
            }
        }
        for (ReactiveBroker b : clients) {
            try {
                b.close().block(Duration.ofSeconds(10));
            } catch (RuntimeException ignored) {
                // best effort
            }
        }
        clients.clear();
    }

    @Override
    public void close() {
        closeRun();
        if (server != null) {
            try {
                server.getOutputStream().close();
                if (!server.waitFor(60, TimeUnit.SECONDS)) {
                    server.destroyForcibly();
                }
            } catch (Exception e) {
                server.destroyForcibly();
            }
            server = null;
        }
        if (dir != null) {
            DurableBench.deleteTree(dir);
            dir = null;
        }
    }
}
