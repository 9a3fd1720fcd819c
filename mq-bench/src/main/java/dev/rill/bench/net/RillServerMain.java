package dev.rill.bench.net;

import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import dev.rill.reactive.Rill;
import java.io.InputStream;
import java.time.Duration;

/**
 * The Rill server of the networked benchmark, run in its own JVM by {@link NetBench}: an in-memory broker on
 * 127.0.0.1. Prints {@code READY <port>} once bound and stops when its standard input closes.
 */
public final class RillServerMain {

    private RillServerMain() {
    }

    /**
     * @param args the port (0: any free port)
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 0;
        RillServer server = RillServer.bindNow(
                ServerOptions.defaults().broker(Rill.inMemory()).host("127.0.0.1").port(port), Duration.ofSeconds(30));
        System.out.println("READY " + server.port());
        System.out.flush();
        InputStream in = System.in;
        while (in.read() != -1) {
            // wait for EOF
        }
        server.disposeNow(Duration.ofSeconds(10));
    }
}
