package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * The backpressure proofs of {@link ReactiveQueueContract} at volume: 1M queued for a slow subscriber, 10M sent
 * into a 1k queue. Run with {@code -Pheavy}.
 */
@Tag("heavy")
class BackpressureHeavyTest {

    private final VirtualTimeScheduler vts = VirtualTimeScheduler.create();
    private final ReactiveBroker broker = Rill.inMemory(vts);

    @AfterEach
    void close() {
        broker.close().block(Duration.ofSeconds(10));
        vts.dispose();
    }

    @Test
    void millionQueuedSlowSubscriberHoldsAtMostItsDemand() {
        int n = 1_000_000;
        ReactiveQueue<String> q = broker.queue(QueueSpec.named("heavy-slow").capacity(n), Codec.utf8())
                .block(Duration.ofSeconds(10));
        q.sendMany(Flux.range(0, n).map(i -> OutboundMessage.of("m" + i))).blockLast(Duration.ofMinutes(2));
        long[] maxInFlight = {0};
        long[] count = {0};
        BaseSubscriber<Delivery<String>> slow = new BaseSubscriber<>() {
            final List<Delivery<String>> batch = new ArrayList<>();

            @Override
            protected void hookOnSubscribe(org.reactivestreams.Subscription s) {
                s.request(10);
            }

            @Override
            protected void hookOnNext(Delivery<String> d) {
                count[0]++;
                batch.add(d);
                if (batch.size() == 10) {
                    maxInFlight[0] = Math.max(maxInFlight[0], q.stats().block().inFlight());
                    q.ackAll(batch).block();
                    batch.clear();
                    request(10);
                }
            }
        };
        q.receive().subscribe(slow);
        slow.dispose();
        assertThat(count[0]).isEqualTo(n);
        assertThat(maxInFlight[0]).isEqualTo(10);
    }

    @Test
    void tenMillionIntoAThousandNeverRequestsPastConsumedPlusCapacityPlusMaxInFlight() {
        int n = 10_000_000;
        int capacity = 1_000;
        int maxInFlight = 256;
        ReactiveQueue<String> q = broker.queue(QueueSpec.named("heavy-send").capacity(capacity), Codec.utf8())
                .block(Duration.ofSeconds(10));
        AtomicLong requested = new AtomicLong();
        AtomicLong acked = new AtomicLong();
        AtomicLong violations = new AtomicLong();
        AtomicLong worstSlack = new AtomicLong(Long.MAX_VALUE);
        Flux<OutboundMessage<String>> source = Flux.range(0, n).map(i -> OutboundMessage.of("m"))
                .doOnRequest(r -> {
                    long total = requested.addAndGet(r);
                    long slack = acked.get() + capacity + maxInFlight - total;
                    worstSlack.accumulateAndGet(slack, Math::min);
                    if (slack < 0) {
                        violations.incrementAndGet();
                    }
                });
        Disposable consumer = q.receive().limitRate(64)
                .concatMap(d -> d.ack().doOnSuccess(v -> acked.incrementAndGet()))
                .subscribe();
        StepVerifier.create(q.sendMany(source, SendOptions.defaults().maxInFlight(maxInFlight)).count())
                .expectNext((long) n)
                .expectComplete()
                .verify(Duration.ofMinutes(5));
        consumer.dispose();
        assertThat(violations.get()).isZero();
        assertThat(requested.get()).isBetween((long) n, (long) n + maxInFlight); // the last request may overshoot the end
        assertThat(worstSlack.get()).isGreaterThanOrEqualTo(0);
    }
}
