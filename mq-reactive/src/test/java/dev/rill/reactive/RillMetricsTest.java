package dev.rill.reactive;

import static java.time.Duration.ofSeconds;
import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueEvent;
import dev.rill.core.QueueSpec;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.scheduler.VirtualTimeScheduler;

class RillMetricsTest {

    private static final Duration WAIT = ofSeconds(5);

    private final VirtualTimeScheduler vts = VirtualTimeScheduler.create();
    private final ReactiveBroker broker = Rill.inMemory(vts);
    private final MeterRegistry registry = new SimpleMeterRegistry();

    @AfterEach
    void tearDown() {
        broker.close().block(WAIT);
        vts.dispose();
    }

    private double counter(String name) {
        return registry.get(name).tag("queue", "orders").counter().count();
    }

    private double gauge(String name) {
        return registry.get(name).tag("queue", "orders").gauge().value();
    }

    @Test
    void countsGaugesAndLeaseToAckLatency() {
        ReactiveQueue<String> q = broker.queue(QueueSpec.named("orders").visibilityTimeout(ofSeconds(30))
                .maxDeliveries(2).deadLetterQueue("orders.dlq"), Codec.utf8()).block(WAIT);
        RillMetrics metrics = RillMetrics.of(q).refreshEvery(ofSeconds(5), vts);
        metrics.bindTo(registry);

        for (String p : List.of("a", "b", "c")) {
            q.send(OutboundMessage.of(p)).block(WAIT);
        }
        List<Delivery<String>> got = q.receive(ReceiveOptions.defaults().maxMessages(3)).collectList().block(WAIT);
        assertThat(got).hasSize(3);

        vts.advanceTimeBy(ofSeconds(2));
        got.get(0).ack().block(WAIT); // leased at 0, acked at 2 s
        got.get(1).nack(Duration.ofMinutes(5)).block(WAIT);
        vts.advanceTimeBy(ofSeconds(3)); // a refresh at 5 s
        assertThat(gauge(RillMetrics.IN_FLIGHT)).isEqualTo(1); // c
        assertThat(gauge(RillMetrics.DELAYED)).isEqualTo(1); // b
        assertThat(gauge(RillMetrics.READY)).isZero();

        vts.advanceTimeBy(ofSeconds(25)); // c's lease runs out at 30 s
        assertThat(counter(RillMetrics.REDELIVERED)).isEqualTo(1);
        Delivery<String> again = q.receiveOne(Duration.ZERO).block(WAIT);
        assertThat(again.deliveryCount()).isEqualTo(2);
        again.reject("bad").block(WAIT);

        assertThat(counter(RillMetrics.SENT)).isEqualTo(3);
        assertThat(counter(RillMetrics.ACKED)).isEqualTo(1);
        assertThat(counter(RillMetrics.NACKED)).isEqualTo(1);
        assertThat(counter(RillMetrics.DEAD_LETTERED)).isEqualTo(1);
        Timer latency = registry.get(RillMetrics.LEASE_TO_ACK).tag("queue", "orders").timer();
        assertThat(latency.count()).isEqualTo(1);
        assertThat(latency.totalTime(TimeUnit.MILLISECONDS)).isEqualTo(2_000);

        vts.advanceTimeBy(ofSeconds(5));
        assertThat(gauge(RillMetrics.IN_FLIGHT)).isZero();
        assertThat(gauge(RillMetrics.DELAYED)).isEqualTo(1);

        metrics.dispose();
        q.send(OutboundMessage.of("d")).block(WAIT);
        assertThat(counter(RillMetrics.SENT)).isEqualTo(3); // unsubscribed
    }

    @Test
    void pipelineTrafficShowsUpInTheCounters() {
        ReactiveQueue<String> q = broker.queue(QueueSpec.named("orders"), Codec.utf8()).block(WAIT);
        RillMetrics.of(q).refreshEvery(ofSeconds(1), vts).bindTo(registry);
        QueuePipeline p = q.pipelineOnPayload(x -> x.startsWith("fail") && !x.endsWith("!")
                ? Mono.error(new IllegalStateException(x)) : Mono.delay(Duration.ofMillis(250), vts))
                .retry(RetryPolicy.fixed(ofSeconds(1)).maxAttempts(2))
                .concurrency(4).scheduler(vts).start();
        try {
            for (String x : List.of("ok1", "ok2", "fail1", "ok3")) {
                q.send(OutboundMessage.of(x)).block(WAIT);
            }
            vts.advanceTimeBy(ofSeconds(10));
            assertThat(counter(RillMetrics.SENT)).isEqualTo(4);
            assertThat(counter(RillMetrics.ACKED)).isEqualTo(3);
            assertThat(counter(RillMetrics.NACKED)).isEqualTo(1); // first failure: backoff
            assertThat(counter(RillMetrics.DEAD_LETTERED)).isEqualTo(1); // second failure: out of attempts
            Timer latency = registry.get(RillMetrics.LEASE_TO_ACK).tag("queue", "orders").timer();
            assertThat(latency.count()).isEqualTo(3);
            assertThat(latency.mean(TimeUnit.MILLISECONDS)).isEqualTo(250);
            assertThat(gauge(RillMetrics.READY) + gauge(RillMetrics.IN_FLIGHT) + gauge(RillMetrics.DELAYED))
                    .isZero();
        } finally {
            p.dispose();
        }
    }

    @Test
    void gaugesReadAPeriodicSnapshotAndOptionsCopy() {
        ReactiveQueue<String> q = broker.queue(QueueSpec.named("orders"), Codec.utf8()).block(WAIT);
        RillMetrics base = RillMetrics.of(q);
        RillMetrics tuned = base.refreshEvery(ofSeconds(1), vts);
        assertThat(tuned).isNotSameAs(base);
        base.bindTo(registry); // refreshes on Schedulers.parallel(): assert only that it registered
        assertThat(registry.find(RillMetrics.READY).tag("queue", "orders").gauge()).isNotNull();
        base.dispose();
        assertThat(base.isDisposed()).isTrue();

        MeterRegistry other = new SimpleMeterRegistry();
        RillMetrics slow = RillMetrics.of(q).refreshEvery(Duration.ofHours(1), vts);
        q.send(OutboundMessage.of("x")).block(WAIT);
        slow.bindTo(other); // first refresh runs at bind time on the virtual scheduler
        assertThat(other.get(RillMetrics.READY).gauge().value()).isEqualTo(1);
        q.send(OutboundMessage.of("y")).block(WAIT);
        assertThat(other.get(RillMetrics.READY).gauge().value()).isEqualTo(1); // a snapshot, not a live read
        slow.refresh().block(WAIT);
        assertThat(other.get(RillMetrics.READY).gauge().value()).isEqualTo(2);
        slow.dispose();
    }

    /**
     * A lease whose ACKED (or EXPIRED, NACKED...) event was missed while the events stream was down stayed in the
     * lease-to-ack bookkeeping for good: a slow leak, one entry per lease in flight at each failure (an overflowing
     * stream, say). The bookkeeping now starts over on every (re)subscription and is dropped when the stream ends.
     */
    @Test
    void leasesWhoseEndWasMissedWhileTheEventStreamWasDownAreForgotten() {
        ReactiveQueue<String> q = broker.queue(QueueSpec.named("orders"), Codec.utf8()).block(WAIT);
        List<Sinks.Many<QueueEvent>> streams = new CopyOnWriteArrayList<>();
        @SuppressWarnings("unchecked")
        ReactiveQueue<String> view = (ReactiveQueue<String>) java.lang.reflect.Proxy.newProxyInstance(
                getClass().getClassLoader(), new Class<?>[] {ReactiveQueue.class}, (proxy, method, args) -> {
                    if (method.getName().equals("events")) {
                        return Flux.defer(() -> {
                            Sinks.Many<QueueEvent> s = Sinks.many().unicast().onBackpressureBuffer();
                            streams.add(s);
                            return s.asFlux();
                        });
                    }
                    return method.invoke(q, args);
                });
        RillMetrics metrics = RillMetrics.of(view).refreshEvery(Duration.ofHours(1), vts);
        try {
            metrics.bindTo(registry);
            assertThat(streams).hasSize(1);
            for (long id = 1; id <= 100; id++) {
                streams.get(0).tryEmitNext(event(QueueEvent.Type.LEASED, id, 0));
            }
            streams.get(0).tryEmitNext(event(QueueEvent.Type.ACKED, 1, 10));
            assertThat(metrics.trackedLeases()).isEqualTo(99);

            streams.get(0).tryEmitError(new IllegalStateException("events overflowed")); // 2..100 end unseen
            vts.advanceTimeBy(ofSeconds(1)); // resubscribes
            assertThat(streams).hasSize(2);
            assertThat(metrics.trackedLeases()).isZero();

            streams.get(1).tryEmitNext(event(QueueEvent.Type.LEASED, 101, 2_000));
            streams.get(1).tryEmitNext(event(QueueEvent.Type.ACKED, 101, 2_500));
            streams.get(1).tryEmitNext(event(QueueEvent.Type.ACKED, 50, 2_600)); // leased before the gap: not timed
            Timer latency = registry.get(RillMetrics.LEASE_TO_ACK).tag("queue", "orders").timer();
            assertThat(latency.count()).isEqualTo(2);
            assertThat(latency.totalTime(TimeUnit.MILLISECONDS)).isEqualTo(510);
            assertThat(counter(RillMetrics.ACKED)).isEqualTo(3);

            streams.get(1).tryEmitNext(event(QueueEvent.Type.LEASED, 102, 3_000));
            assertThat(metrics.trackedLeases()).isEqualTo(1);
            streams.get(1).tryEmitComplete(); // the queue was deleted or closed: no event will end 102
            assertThat(metrics.trackedLeases()).isZero();
        } finally {
            metrics.dispose();
        }
    }

    /**
     * A queue whose event stream fails at every resubscription (a remote client that gave up its connection) was
     * logged as a WARNING with a stack trace every second; now it is one line, once, without a stack trace, and
     * again only once the failure changes (here: after the stream worked again).
     */
    @Test
    void anEventStreamThatKeepsFailingTheSameWayIsLoggedOnceInOneLine() {
        ReactiveQueue<String> q = broker.queue(QueueSpec.named("orders"), Codec.utf8()).block(WAIT);
        List<Sinks.Many<QueueEvent>> streams = new CopyOnWriteArrayList<>();
        java.util.concurrent.atomic.AtomicBoolean down = new java.util.concurrent.atomic.AtomicBoolean(true);
        @SuppressWarnings("unchecked")
        ReactiveQueue<String> view = (ReactiveQueue<String>) java.lang.reflect.Proxy.newProxyInstance(
                getClass().getClassLoader(), new Class<?>[] {ReactiveQueue.class}, (proxy, method, args) -> {
                    if (method.getName().equals("events")) {
                        return Flux.defer(() -> {
                            if (down.get()) {
                                return Flux.error(new RillException("connection to mq:7400 lost and not "
                                        + "re-established after 10 attempts"));
                            }
                            Sinks.Many<QueueEvent> s = Sinks.many().unicast().onBackpressureBuffer();
                            streams.add(s);
                            return s.asFlux();
                        });
                    }
                    return method.invoke(q, args);
                });
        JulCapture log = new JulCapture(RillMetrics.class.getName());
        RillMetrics metrics = RillMetrics.of(view).refreshEvery(Duration.ofHours(1), vts);
        try {
            metrics.bindTo(registry);
            vts.advanceTimeBy(ofSeconds(60)); // 60 more failed resubscriptions
            List<java.util.logging.LogRecord> records = log.records();
            assertThat(records).hasSize(1);
            assertThat(records.get(0).getMessage()).contains("metrics for queue 'orders': event stream failed")
                    .contains("not re-established after 10 attempts").doesNotContain("\n");
            assertThat(records.get(0).getThrown()).isNull();

            down.set(false);
            vts.advanceTimeBy(ofSeconds(1));
            assertThat(streams).hasSize(1);
            streams.get(0).tryEmitNext(event(QueueEvent.Type.LEASED, 1, 0)); // it works again
            down.set(true);
            streams.get(0).tryEmitError(new RillException("connection to mq:7400 lost and not re-established after "
                    + "10 attempts"));
            vts.advanceTimeBy(ofSeconds(30));
            assertThat(records).hasSize(2);
        } finally {
            metrics.dispose();
            log.close();
        }
    }

    private static QueueEvent event(QueueEvent.Type type, long id, long at) {
        return new QueueEvent(type, "orders", id, 1, null, at);
    }
}
