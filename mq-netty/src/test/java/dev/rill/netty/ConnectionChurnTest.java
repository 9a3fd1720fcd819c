package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.netty.internal.transport.RemoteBroker;
import dev.rill.reactive.PipelineError;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import dev.rill.reactive.SendOptions;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * Connections cut again and again while a producer and two competing consumers run flat out: nothing sent is lost,
 * nothing is stored twice, and every message is deleted by exactly one ack.
 *
 * <p>The queue is small, so the producer waits for SEND_CREDIT throughout: cuts find sends waiting for credit or on
 * the wire, and leased, unacknowledged deliveries (whether a send the server stored was still unconfirmed at a cut is
 * timing; {@code RemoteTransportTest} drops a connection under such sends on purpose). Queue timers run on a virtual clock that never advances: no lease ever
 * expires, so every redelivery here comes from a closed connection releasing its leases at once. Cuts are made by
 * progress, from inside a consumer's handler at every 1/14 of the messages handled, not by the clock (a warm JVM
 * moves all 20,000 messages in well under a second); reconnection backoff is Netty's wall clock, kept short.
 */
class ConnectionChurnTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final int MESSAGES = 20_000;
    private static final int CUTS = 12;

    private final VirtualTimeScheduler vts = VirtualTimeScheduler.create();
    private final ReactiveBroker local = Rill.inMemory(vts);
    private final List<ReactiveBroker> clients = new ArrayList<>();
    private final List<Disposable> subscriptions = new ArrayList<>();
    private RillServer server;

    @AfterEach
    void tearDown() {
        subscriptions.forEach(Disposable::dispose);
        clients.forEach(c -> c.close().block(TIMEOUT));
        if (server != null) {
            server.disposeNow(TIMEOUT);
        }
        local.close().block(TIMEOUT);
        vts.dispose();
    }

    private RemoteBroker client() {
        ClientOptions options = ClientOptions.defaults().reconnectAttempts(100)
                .reconnectBackoff(Duration.ofMillis(5), Duration.ofMillis(50));
        RemoteBroker b = (RemoteBroker) RillClient.connect(URI.create("rill://127.0.0.1:" + server.port()), options)
                .block(TIMEOUT);
        clients.add(b);
        return b;
    }

    /**
     * Starts one consumer on a queue; for each delivery, before settling it, it counts the delivery by message number
     * and calls {@code handled}.
     */
    private interface ConsumerStart {
        Disposable start(ReactiveQueue<String> queue, AtomicIntegerArray delivered, Runnable handled);
    }

    @Test
    void cutConnectionsUnderLoadLoseNothingAndDeleteEachMessageOnce() throws Exception {
        AtomicReference<Throwable> streamError = new AtomicReference<>();
        churn((q, delivered, handled) -> q.receive()
                .flatMap(d -> {
                    delivered.incrementAndGet(Integer.parseInt(d.payload()));
                    handled.run();
                    // an ack cut off with its connection has an outcome the client cannot know: the server decides
                    return d.ack().onErrorResume(e -> Mono.empty());
                }, 64)
                .subscribe(v -> { }, streamError::set));
        assertThat(streamError.get()).as("receive streams resubscribe instead of failing").isNull();
    }

    @Test
    void pipelinesKeepRunningThroughCutConnections() throws Exception {
        List<QueuePipeline> pipelines = new CopyOnWriteArrayList<>();
        List<PipelineError> errors = new CopyOnWriteArrayList<>();
        churn((q, delivered, handled) -> {
            QueuePipeline p = q.pipeline(d -> Mono.fromRunnable(() -> {
                delivered.incrementAndGet(Integer.parseInt(d.payload()));
                handled.run();
            })).concurrency(32).start();
            p.errors().subscribe(errors::add);
            pipelines.add(p);
            return p;
        });
        assertThat(pipelines).noneMatch(QueuePipeline::isDisposed);
        // what went wrong was settling over a cut connection, never the pipelines' own stream
        assertThat(errors).allSatisfy(e -> assertThat(e.stage()).isNotEqualTo(PipelineError.Stage.HANDLER));
    }

    private void churn(ConsumerStart consumer) throws Exception {
        server = RillServer.bindNow(ServerOptions.defaults().broker(local), TIMEOUT);
        QueueSpec spec = QueueSpec.named("churn").capacity(256);
        RemoteBroker producer = client();
        List<RemoteBroker> consumers = List.of(client(), client());

        AtomicIntegerArray delivered = new AtomicIntegerArray(MESSAGES);
        AtomicLong handled = new AtomicLong();
        AtomicInteger cuts = new AtomicInteger();
        long every = MESSAGES / (CUTS + 2);
        for (RemoteBroker c : consumers) {
            subscriptions.add(consumer.start(c.queue(spec, Codec.utf8()).block(TIMEOUT), delivered, () -> {
                long h = handled.incrementAndGet();
                if (h % every == 0 && h / every <= CUTS) {
                    // in the handler, before its settlement: the consumer's cut finds at least this delivery leased,
                    // and the producer's finds it still sending (it runs at most about a queue's capacity ahead)
                    cuts.incrementAndGet();
                    producer.dropConnection();
                    c.dropConnection();
                }
            }));
        }

        ReactiveQueue<String> out = producer.queue(spec, Codec.utf8()).block(TIMEOUT);
        AtomicInteger results = new AtomicInteger();
        AtomicIntegerArray resultPerMessage = new AtomicIntegerArray(MESSAGES);
        AtomicReference<Throwable> sendError = new AtomicReference<>();
        CountDownLatch sent = new CountDownLatch(1);
        subscriptions.add(out.sendMany(Flux.range(0, MESSAGES)
                                .map(i -> OutboundMessage.of(Integer.toString(i)).dedupId("m-" + i)),
                        SendOptions.defaults().maxInFlight(128))
                .subscribe(r -> {
                    resultPerMessage.incrementAndGet(Integer.parseInt(r.message().payload()));
                    results.incrementAndGet();
                }, e -> {
                    sendError.set(e);
                    sent.countDown();
                }, sent::countDown));

        assertThat(sent.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).as("sendMany completes").isTrue();
        assertThat(sendError.get()).isNull();
        assertThat(results.get()).isEqualTo(MESSAGES);
        for (int i = 0; i < MESSAGES; i++) {
            assertThat(resultPerMessage.get(i)).as("results for message %d", i).isEqualTo(1);
        }

        ReactiveQueue<byte[]> stored = local.queue(spec, Codec.bytes()).block(TIMEOUT);
        await().atMost(TIMEOUT).until(() -> stored.stats().block(TIMEOUT).acked() == MESSAGES);
        QueueStats s = stored.stats().block(TIMEOUT);
        assertThat(s.sent()).as("stored once each; retried sends are dropped as duplicates").isEqualTo(MESSAGES);
        assertThat(s.acked()).isEqualTo(MESSAGES);
        assertThat(s.size()).isZero();
        assertThat(s.deadLettered()).isZero();
        assertThat(s.expiredLeases()).as("the virtual clock never moved: no lease ran out").isZero();
        for (int i = 0; i < MESSAGES; i++) {
            assertThat(delivered.get(i)).as("deliveries of message %d", i).isPositive();
        }
        assertThat(cuts).hasValue(CUTS);
        // each cut of a consumer released its unacked leases: the churn really redelivered
        assertThat(s.delivered()).isGreaterThan(MESSAGES);
        assertThat(handled.get()).isGreaterThanOrEqualTo(MESSAGES);
        await().atMost(TIMEOUT).until(() -> server.connectionCount() == 3); // closed ones are gone
    }
}
