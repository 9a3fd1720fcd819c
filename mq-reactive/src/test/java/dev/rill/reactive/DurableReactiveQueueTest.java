package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.DurabilityOptions;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.AnnotatedElementContext;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.io.TempDirFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Scheduler;
import reactor.test.StepVerifier;

/**
 * Runs the {@link ReactiveQueueContract} against {@link Rill#embedded(Path, DurabilityOptions, Scheduler)} with
 * fsync {@code ALWAYS}: every send and ack waits for its record to be written and fsynced.
 *
 * <p>The log lives on {@code /dev/shm} when there is one: the code path is the same (write, fsync, confirm), but an
 * fsync costs microseconds instead of about a millisecond, and some contract tests ack 20,000 messages one at a
 * time, i.e. 20,000 sequential fsyncs. Disk-backed restarts are covered by {@code DurableRestartTest}.
 */
class DurableReactiveQueueTest extends ReactiveQueueContract {

    /** Prefers tmpfs for the log directory. */
    static final class ShmFirst implements TempDirFactory {
        @Override
        public Path createTempDirectory(AnnotatedElementContext element, ExtensionContext context) throws IOException {
            Path shm = Path.of("/dev/shm");
            if (Files.isDirectory(shm) && Files.isWritable(shm)) {
                return Files.createTempDirectory(shm, "rill-contract-");
            }
            return Files.createTempDirectory("rill-contract-");
        }
    }

    @TempDir(factory = ShmFirst.class)
    Path dir;

    @Override
    protected ReactiveBroker createBroker(Scheduler scheduler) {
        return Rill.embedded(dir, DurabilityOptions.defaults(), scheduler);
    }

    /**
     * The contract's bound with "consumed" counted when an ack is issued rather than when its {@code Mono}
     * completes: a durable broker frees the space at the in-memory ack and confirms it only after the fsync, so
     * counting confirmations would lag by the acks in flight (at most one here) and report a violation that is
     * only that lag. The bound itself (capacity + maxInFlight beyond what was consumed) is unchanged.
     */
    @Test
    @Override
    void sendManyNeverRequestsMoreThanConsumedPlusCapacityPlusMaxInFlight() {
        int capacity = 100;
        int maxInFlight = 16;
        int n = 20_000;
        ReactiveQueue<String> q = queue(QueueSpec.named("many-bound").capacity(capacity));
        AtomicLong requestedUpstream = new AtomicLong();
        AtomicLong consumed = new AtomicLong();
        AtomicLong violations = new AtomicLong();
        Flux<OutboundMessage<String>> source = Flux.range(0, n).map(i -> OutboundMessage.of("m" + i))
                .doOnRequest(r -> {
                    if (requestedUpstream.addAndGet(r) > consumed.get() + capacity + maxInFlight) {
                        violations.incrementAndGet();
                    }
                });
        Disposable consumer = q.receive().limitRate(1)
                .concatMap(d -> {
                    consumed.incrementAndGet(); // before the ack frees the space
                    return d.ack();
                })
                .subscribe();
        StepVerifier.create(q.sendMany(source, SendOptions.defaults().maxInFlight(maxInFlight)))
                .expectNextCount(n)
                .expectComplete()
                .verify(TIMEOUT.multipliedBy(3));
        consumer.dispose();
        assertThat(requestedUpstream.get()).isBetween((long) n, (long) n + maxInFlight);
        assertThat(violations.get()).isZero();
    }
    /**
     * A durable broker takes up to {@code maxInFlight} messages ahead of the downstream demand: their results wait
     * for the disk, so the store runs ahead of the emission by that much (documented on
     * {@link ReactiveQueue#sendMany(org.reactivestreams.Publisher, SendOptions)}).
     */
    @Override
    protected long sendManyTakesAheadOfDemand(int maxInFlight) {
        return maxInFlight;
    }
}
