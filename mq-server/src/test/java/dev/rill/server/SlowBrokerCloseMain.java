package dev.rill.server;

import dev.rill.netty.ForwardingBroker;
import dev.rill.reactive.ReactiveBroker;
import java.time.Duration;
import reactor.core.publisher.Mono;

/**
 * {@code rill} with a broker whose close takes a minute, for {@link ServeSigtermTest}: a real process whose graceful
 * shutdown cannot close its broker within {@code --shutdown-grace}.
 */
public final class SlowBrokerCloseMain {

    private SlowBrokerCloseMain() {
    }

    /**
     * Runs {@link RillCli#main} with the slow broker.
     *
     * @param args the command line
     */
    public static void main(String[] args) {
        ServerProcess.brokerDecorator = SlowClose::new;
        RillCli.main(args);
    }

    /** The broker behind, but a close that takes a minute. */
    private static final class SlowClose extends ForwardingBroker {

        SlowClose(ReactiveBroker delegate) {
            super(delegate);
        }

        @Override
        public Mono<Void> close() {
            return Mono.delay(Duration.ofMinutes(1)).then(delegate.close());
        }
    }
}
