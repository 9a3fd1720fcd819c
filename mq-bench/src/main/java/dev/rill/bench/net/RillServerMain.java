package dev.rill.bench.net;

import dev.rill.core.DurabilityOptions;
import dev.rill.core.log.FsyncPolicy;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.Rill;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The Rill server of the networked benchmarks, run in its own JVM by {@link NetBench} and by the durable benchmark:
 * a broker on 127.0.0.1, in memory or (given a data directory) durable with an fsync policy. Prints
 * {@code READY <port>} once bound and stops when its standard input closes (a durable broker is synced and its
 * directory unlocked first).
 */
public final class RillServerMain {

    private RillServerMain() {
    }

    /**
     * @param args the port (0: any free port); optionally a data directory and an fsync policy ({@code always},
     *     {@code interval:<ms>} or {@code never}) for a durable broker
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 0;
        ReactiveBroker broker;
        if (args.length > 2) {
            FsyncPolicy policy = dev.rill.bench.durable.DurableBench.parsePolicy(args[2]);
            broker = Rill.embedded(Path.of(args[1]), DurabilityOptions.defaults().fsync(policy));
        } else {
            broker = Rill.inMemory();
        }
        RillServer server = RillServer.bindNow(
                ServerOptions.defaults().broker(broker).host("127.0.0.1").port(port), Duration.ofSeconds(30));
        System.out.println("READY " + server.port());
        System.out.flush();
        InputStream in = System.in;
        while (in.read() != -1) {
            // wait for EOF
        }
        server.disposeNow(Duration.ofSeconds(10));
        if (args.length > 2) {
            broker.close().block(Duration.ofSeconds(30));
        }
    }
}
