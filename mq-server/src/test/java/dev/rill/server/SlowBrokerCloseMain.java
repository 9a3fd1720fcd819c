package dev.rill.server;

import dev.rill.core.Codec;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import java.time.Duration;
import java.util.List;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;

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

    private static final class SlowClose implements ReactiveBroker {
        private final ReactiveBroker delegate;

        SlowClose(ReactiveBroker delegate) {
            this.delegate = delegate;
        }

        @Override
        public <T> Mono<ReactiveQueue<T>> queue(QueueSpec spec, Codec<T> codec) {
            return delegate.queue(spec, codec);
        }

        @Override
        public <T> Mono<ReactiveQueue<T>> lookup(String name, Codec<T> codec) {
            return delegate.lookup(name, codec);
        }

        @Override
        public Mono<Boolean> delete(String name) {
            return delegate.delete(name);
        }

        @Override
        public Mono<Long> purge(String name) {
            return delegate.purge(name);
        }

        @Override
        public Mono<List<String>> list() {
            return delegate.list();
        }

        @Override
        public Mono<List<QueueStats>> stats() {
            return delegate.stats();
        }

        @Override
        public Mono<Integer> redrive(String deadLetterQueue, int max) {
            return delegate.redrive(deadLetterQueue, max);
        }

        @Override
        public Mono<Integer> redrive(String deadLetterQueue, String targetQueue, int max) {
            return delegate.redrive(deadLetterQueue, targetQueue, max);
        }

        @Override
        public Mono<Void> close() {
            return Mono.delay(Duration.ofMinutes(1)).then(delegate.close());
        }

        @Override
        public Scheduler scheduler() {
            return delegate.scheduler();
        }
    }
}
