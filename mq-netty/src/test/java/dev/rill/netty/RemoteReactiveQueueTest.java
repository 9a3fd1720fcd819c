package dev.rill.netty;

import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueueContract;
import dev.rill.reactive.Rill;
import java.net.URI;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import reactor.core.scheduler.Scheduler;

/**
 * Runs the {@link ReactiveQueueContract} against {@link RillClient} talking to an in-process {@link RillServer} on
 * 127.0.0.1 (OS-chosen port). Server and client share the virtual-time scheduler: queue timers run on the server's
 * broker, {@code receiveOne} waits run on the client's.
 */
class RemoteReactiveQueueTest extends ReactiveQueueContract {

    private RillServer server;

    @Override
    protected ReactiveBroker createBroker(Scheduler scheduler) {
        server = RillServer.bindNow(ServerOptions.defaults().broker(Rill.inMemory(scheduler)), TIMEOUT);
        return RillClient.connect(URI.create("rill://127.0.0.1:" + server.port()),
                ClientOptions.defaults().scheduler(scheduler).reconnectAttempts(0)).block(TIMEOUT);
    }

    @AfterEach
    void stopServer() {
        if (server != null) {
            server.disposeNow(Duration.ofSeconds(10));
        }
    }
}
