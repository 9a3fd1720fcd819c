package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.core.log.RecoveryListener;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.LeaseExpiredException;
import dev.rill.reactive.PipelineError;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import dev.rill.reactive.RillException;
import dev.rill.reactive.SendOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * A user's production day over the network: a durable broker served by a {@link RillServer} is stopped (gracefully
 * and abruptly, in turn) and started again on the same data directory and port several times while one
 * {@link RillClient} sends (sendMany with dedup ids, and without) and consumes (a receive stream and a pipeline).
 * Nothing the client saw confirmed is lost, nothing with a dedup id is stored twice, sends that fail say why in the
 * documented words, the streams carry on across each restart, the consumer never holds more than it asked for, and
 * acking a delivery of a connection that is gone says the lease is over.
 *
 * <p>Reusing the port works: the server binds with SO_REUSEADDR (reactor-netty's default), so a port whose
 * connections are still in TIME_WAIT is free to bind again. Queue timers run on a virtual clock that never advances
 * (no lease, dedup window or TTL ever runs out: every redelivery comes from a restart); restarts are made by progress
 * (confirmed sends), not by the clock; the client's backoff is Netty's wall clock, kept short.
 */
class ServerRestartTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final int RESTARTS = 4;
    /** The dedup'd messages are sent in phases, one more after each restart: traffic flows before and after it. */
    private static final int PHASE = 800;
    private static final int DEDUP_MESSAGES = PHASE * (RESTARTS + 1);
    /** The receive stream's concurrency: what it asks for, and so at most what it may hold. */
    private static final int CONCURRENCY = 32;

    @TempDir
    Path dir;

    private final VirtualTimeScheduler vts = VirtualTimeScheduler.create();
    private final List<Disposable> running = new CopyOnWriteArrayList<>();
    private ReactiveBroker broker;
    private RillServer server;
    private ReactiveBroker client;
    private int port;

    @AfterEach
    void tearDown() {
        running.forEach(Disposable::dispose);
        if (client != null) {
            client.close().block(TIMEOUT);
        }
        stop(false);
        vts.dispose();
    }

    private void start() {
        broker = Rill.embedded(dir, DurabilityOptions.defaults().recoveryListener(RecoveryListener.none()), vts);
        server = RillServer.bindNow(ServerOptions.defaults().broker(broker).port(port), TIMEOUT);
        port = server.port();
    }

    private void stop(boolean graceful) {
        if (server != null) {
            if (graceful) {
                server.shutdownNow(Duration.ofMillis(500));
            } else {
                server.disposeNow(TIMEOUT);
            }
            server = null;
        }
        if (broker != null) {
            broker.close().block(TIMEOUT);
            broker = null;
        }
    }

    @Test
    void restartsOnTheSameDataDirectoryAndPortLoseNothingConfirmed() throws Exception {
        start();
        client = RillClient.connect(ServingFixture.uri(port), ClientOptions.defaults()
                .reconnectBackoff(Duration.ofMillis(10), Duration.ofMillis(100))
                .reconnectWait(Duration.ofSeconds(20))).block(TIMEOUT);
        QueueSpec dedupSpec = QueueSpec.named("dedup").capacity(512);
        QueueSpec plainSpec = QueueSpec.named("plain").capacity(512);
        ReactiveQueue<String> dedup = client.queue(dedupSpec, Codec.utf8()).block(TIMEOUT);
        ReactiveQueue<String> plain = client.queue(plainSpec, Codec.utf8()).block(TIMEOUT);

        // the receive stream on "dedup": what it got (payload -> the message ids it had), how much it held at most
        Map<String, Set<Long>> dedupIds = new ConcurrentHashMap<>();
        Set<String> ackConfirmed = ConcurrentHashMap.newKeySet();
        List<String> deliveredAfterAck = new CopyOnWriteArrayList<>();
        AtomicInteger holding = new AtomicInteger();
        AtomicInteger mostHeld = new AtomicInteger();
        AtomicInteger dedupReceived = new AtomicInteger();
        List<Throwable> ackErrors = new CopyOnWriteArrayList<>();
        AtomicReference<Throwable> receiveError = new AtomicReference<>();
        running.add(dedup.receive().flatMap(d -> {
            mostHeld.accumulateAndGet(holding.incrementAndGet(), Math::max);
            if (ackConfirmed.contains(d.payload())) {
                deliveredAfterAck.add(d.payload());
            }
            dedupIds.computeIfAbsent(d.payload(), p -> ConcurrentHashMap.newKeySet()).add(d.message().id());
            dedupReceived.incrementAndGet();
            // an ack cut off with its connection may or may not have been applied; the message may come again
            return d.ack().doOnSuccess(v -> ackConfirmed.add(d.payload())).onErrorResume(e -> {
                ackErrors.add(e);
                return Mono.empty();
            }).doFinally(s -> holding.decrementAndGet());
        }, CONCURRENCY).subscribe(v -> { }, receiveError::set));

        // the pipeline on "plain"
        Set<String> plainReceived = ConcurrentHashMap.newKeySet();
        List<PipelineError> pipelineErrors = new CopyOnWriteArrayList<>();
        QueuePipeline pipeline = plain.pipeline(d -> Mono.fromRunnable(() -> plainReceived.add(d.payload())))
                .concurrency(8).start();
        pipeline.errors().subscribe(pipelineErrors::add);
        running.add(pipeline);

        // sendMany with dedup ids: one stream, retried across every restart, never failing; a phase of it is let
        // out at the start and after each restart, so that a restart comes in the middle of one (a fast producer
        // could otherwise have sent everything before the last restarts)
        Set<String> dedupConfirmed = ConcurrentHashMap.newKeySet();
        AtomicReference<Throwable> dedupSendError = new AtomicReference<>();
        CountDownLatch dedupDone = new CountDownLatch(1);
        Sinks.Many<Integer> phases = Sinks.many().unicast().onBackpressureBuffer();
        phases.tryEmitNext(0);
        running.add(dedup.sendMany(phases.asFlux().concatMap(p -> Flux.range(p * PHASE, PHASE))
                                .map(i -> OutboundMessage.of("d" + i).dedupId("id-" + i)),
                        SendOptions.defaults().maxInFlight(64))
                .subscribe(r -> dedupConfirmed.add(r.message().payload()), e -> {
                    dedupSendError.set(e);
                    dedupDone.countDown();
                }, dedupDone::countDown));

        // sendMany without dedup ids, in rounds: a round the connection's loss ends is followed by the next
        Set<String> plainConfirmed = ConcurrentHashMap.newKeySet();
        List<Throwable> plainSendErrors = new CopyOnWriteArrayList<>();
        AtomicBoolean producing = new AtomicBoolean(true);
        AtomicInteger nextPlain = new AtomicInteger();
        Thread plainProducer = new Thread(() -> {
            while (producing.get()) {
                int from = nextPlain.getAndAdd(100);
                Throwable e = catchThrowable(() -> plain.sendMany(Flux.range(from, 100)
                                .map(i -> OutboundMessage.of("p" + i)), SendOptions.defaults().maxInFlight(32))
                        .doOnNext(r -> plainConfirmed.add(r.message().payload()))
                        .blockLast(TIMEOUT));
                if (e != null) {
                    plainSendErrors.add(e);
                }
            }
        }, "plain-producer");
        plainProducer.start();

        for (int restart = 1; restart <= RESTARTS; restart++) {
            int confirmedBefore = (restart - 1) * PHASE + PHASE / 2; // half of the phase let out last
            await().atMost(TIMEOUT).until(() -> dedupConfirmed.size() >= confirmedBefore);
            // a delivery taken on this connection and settled only after it is gone
            ReactiveQueue<String> held = client.queue(QueueSpec.named("held-" + restart), Codec.utf8())
                    .block(TIMEOUT);
            held.send(OutboundMessage.of("held-" + restart)).block(TIMEOUT);
            Delivery<String> old = held.receiveOne(TIMEOUT).block(TIMEOUT);
            assertThat(old.payload()).isEqualTo("held-" + restart);
            QueueStats dedupStats = ServingFixture.stats(broker, "dedup");
            assertThat(dedupStats.inFlight()).as("leases of the receive stream before restart %d", restart)
                    .isLessThanOrEqualTo(CONCURRENCY);
            int receivedBefore = dedupReceived.get();
            int plainBefore = plainReceived.size();

            stop(restart % 2 == 1);
            start();
            phases.tryEmitNext(restart);

            assertThat(catchThrowable(() -> old.ack().block(TIMEOUT))).as("ack of a delivery of the old connection")
                    .isInstanceOfAny(LeaseExpiredException.class, RillException.class);
            // the streams carry on: new messages arrive on the new connection
            await().atMost(TIMEOUT).until(() -> dedupReceived.get() > receivedBefore + CONCURRENCY
                    && plainReceived.size() > plainBefore);
            assertThat(ServingFixture.stats(broker, "dedup").inFlight())
                    .as("leases of the receive stream after restart %d", restart).isLessThanOrEqualTo(CONCURRENCY);
        }

        phases.tryEmitComplete();
        assertThat(dedupDone.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).as("the dedup sendMany completes").isTrue();
        assertThat(dedupSendError.get()).as("sends with a dedup id are retried, never failed").isNull();
        assertThat(dedupConfirmed).hasSize(DEDUP_MESSAGES);
        producing.set(false);
        plainProducer.join(TIMEOUT.toMillis());
        assertThat(plainProducer.isAlive()).isFalse();

        // every held message is delivered again and acked; the ack of the old delivery did not delete it
        for (int restart = 1; restart <= RESTARTS; restart++) {
            ReactiveQueue<String> held = client.queue(QueueSpec.named("held-" + restart), Codec.utf8())
                    .block(TIMEOUT);
            Delivery<String> again = held.receiveOne(TIMEOUT).block(TIMEOUT);
            assertThat(again.payload()).isEqualTo("held-" + restart);
            again.ack().block(TIMEOUT);
        }

        await().atMost(TIMEOUT).until(() -> dedupReceived.get() > 0 && dedupIds.keySet().containsAll(dedupConfirmed)
                && plainReceived.containsAll(plainConfirmed));
        await().atMost(TIMEOUT).until(() -> ServingFixture.stats(broker, "dedup").size() == 0
                && ServingFixture.stats(broker, "plain").size() == 0);
        assertThat(dedupIds).as("each dedup'd message stored once: one message id per payload")
                .allSatisfy((payload, ids) -> assertThat(ids).as(payload).hasSize(1));
        assertThat(deliveredAfterAck).as("a confirmed ack is durable: its message never comes back").isEmpty();
        assertThat(receiveError.get()).as("the receive stream carries on across restarts").isNull();
        assertThat(pipeline.isDisposed()).isFalse();
        assertThat(pipelineErrors).allSatisfy(e -> assertThat(e.stage()).isNotEqualTo(PipelineError.Stage.HANDLER));
        assertThat(mostHeld.get()).as("deliveries held at once by the receive stream").isLessThanOrEqualTo(CONCURRENCY);
        assertThat(plainSendErrors).allSatisfy(e -> {
            assertThat(e).isInstanceOf(RillException.class);
            assertThat(e.getMessage()).satisfiesAnyOf(
                    m -> assertThat(m).contains("lost while sending to 'plain'").contains("give it a dedupId"),
                    m -> assertThat(m).contains("no connection to 127.0.0.1:" + port));
        });
        assertThat(ackErrors).allSatisfy(e -> assertThat(e).isInstanceOfAny(LeaseExpiredException.class,
                RillException.class));
        assertThat(plainConfirmed).hasSizeGreaterThan(RESTARTS * 100);
    }
}
