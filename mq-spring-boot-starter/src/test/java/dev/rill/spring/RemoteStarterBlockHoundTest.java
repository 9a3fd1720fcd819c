package dev.rill.spring;

import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;

/**
 * {@link StarterUnderBlockHound} on a connection to a Rill server ({@code rill.url}): the client's and the server's
 * event loops are watched too (the server runs in this JVM).
 */
class RemoteStarterBlockHoundTest extends StarterUnderBlockHound {

    private RillServer server;

    @Override
    String[] brokerProperties() {
        server = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(0), Duration.ofSeconds(10));
        return new String[] {"rill.url=rill://127.0.0.1:" + server.port()};
    }

    @AfterAll
    void stopServer() {
        close(); // the application first, so its client does not go on reconnecting
        if (server != null) {
            server.disposeNow(Duration.ofSeconds(10));
        }
    }
}
