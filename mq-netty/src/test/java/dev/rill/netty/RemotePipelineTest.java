package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.reactive.PipelineError;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.ReceiveOptions;
import dev.rill.reactive.RetryPolicy;
import dev.rill.reactive.Rill;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * {@code QueuePipeline} over the network: the pipeline is built on the public receive and delivery API only, so it
 * runs on a {@link RillClient} queue as it does in process. Its handler's outcomes arrive on the client's event
 * loop and on other threads at once; every message must be settled exactly once and nothing left leased.
 */
class RemotePipelineTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private final ReactiveBroker local = Rill.inMemory();
    private final List<QueuePipeline> pipelines = new CopyOnWriteArrayList<>();
    private RillServer server;
    private ReactiveBroker client;

    @AfterEach
    void tearDown() {
        pipelines.forEach(QueuePipeline::dispose);
        if (client != null) {
            client.close().block(TIMEOUT);
        }
        if (server != null) {
            server.disposeNow(TIMEOUT);
        }
        local.close().block(TIMEOUT);
    }

    private ReactiveQueue<String> remote(QueueSpec spec) {
        server = RillServer.bindNow(ServerOptions.defaults().broker(local), TIMEOUT);
        client = RillClient.connect(URI.create("rill://127.0.0.1:" + server.port()),
                ClientOptions.defaults().reconnectAttempts(0)).block(TIMEOUT);
        return client.queue(spec, Codec.utf8()).block(TIMEOUT);
    }

    private QueueStats stats(String queue) {
        return local.stats().block(TIMEOUT).stream().filter(q -> q.name().equals(queue)).findFirst().orElseThrow();
    }

    private static void send(ReactiveQueue<String> q, int n) {
        q.sendMany(Flux.range(0, n).map(i -> OutboundMessage.of(Integer.toString(i)))).then().block(TIMEOUT);
    }

    @Test
    void manyMessagesWithFailuresAndHandlersOnOtherThreadsAreEachAckedOnce() {
        int n = 20_000;
        ReactiveQueue<String> q = remote(QueueSpec.named("work"));
        Map<String, Integer> attempts = new ConcurrentHashMap<>();
        AtomicInteger succeeded = new AtomicInteger();
        QueuePipeline p = q.pipeline(d -> {
            int i = Integer.parseInt(d.payload());
            int attempt = attempts.merge(d.payload(), 1, Integer::sum);
            if (i % 10 == 0 && attempt == 1) {
                return Mono.error(new IllegalStateException("first try of " + i));
            }
            Mono<Void> work = Mono.fromRunnable(succeeded::incrementAndGet);
            // a third finish on a scheduler thread, racing the client's event loop that delivers and settles
            return i % 3 == 0 ? work.subscribeOn(Schedulers.parallel()) : work;
        }).concurrency(64).retry(RetryPolicy.immediate()).start();
        pipelines.add(p);
        List<PipelineError> errors = new CopyOnWriteArrayList<>();
        p.errors().subscribe(errors::add);

        send(q, n);

        await().atMost(TIMEOUT).until(() -> stats("work").acked() == n);
        QueueStats s = stats("work");
        assertThat(s.size()).isZero();
        assertThat(s.nacked()).isEqualTo(n / 10);
        assertThat(succeeded).hasValue(n);
        assertThat(attempts).hasSize(n);
        assertThat(attempts.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(n + n / 10);
        await().atMost(TIMEOUT).until(() -> p.inFlight() == 0 && errors.size() == n / 10);
        assertThat(errors).allSatisfy(e -> assertThat(e.stage()).isEqualTo(PipelineError.Stage.HANDLER));
    }

    @Test
    void aMessageThatAlwaysFailsEndsInTheDeadLetterQueue() {
        ReactiveQueue<String> q = remote(QueueSpec.named("orders").maxDeliveries(3).deadLetterQueue("orders.dlq"));
        QueuePipeline p = q.pipeline(d -> d.payload().equals("poison")
                ? Mono.error(new IllegalArgumentException("cannot handle " + d.payload()))
                : Mono.empty()).retry(RetryPolicy.immediate()).start();
        pipelines.add(p);
        q.send(OutboundMessage.of("fine")).block(TIMEOUT);
        q.send(OutboundMessage.of("poison")).block(TIMEOUT);
        q.send(OutboundMessage.of("fine too")).block(TIMEOUT);

        await().atMost(TIMEOUT).until(() -> stats("orders.dlq").ready() == 1);
        QueueStats s = stats("orders");
        assertThat(s.acked()).isEqualTo(2);
        assertThat(s.deadLettered()).isEqualTo(1);
        assertThat(s.size()).isZero();
        Message<String> dead = client.queue(QueueSpec.named("orders.dlq"), Codec.utf8()).block(TIMEOUT)
                .peek(1).blockFirst(TIMEOUT); // read back over the network too
        assertThat(dead.payload()).isEqualTo("poison");
        assertThat(dead.headers()).containsEntry(Message.HEADER_DELIVERY_COUNT, "3");
        assertThat(dead.headers().get(Message.HEADER_DEAD_LETTER_REASON))
                .contains("pipeline gave up after 3 deliveries").contains("cannot handle poison");
    }

    @Test
    void disposeGivesBackWhatIsStillRunningAndAnotherConsumerGetsIt() {
        ReactiveQueue<String> q = remote(QueueSpec.named("slow").visibilityTimeout(Duration.ofMinutes(10)));
        AtomicInteger started = new AtomicInteger();
        QueuePipeline p = q.pipeline(d -> {
            started.incrementAndGet();
            return Mono.never(); // never finishes: only a give-back frees its lease
        }).concurrency(4).start();
        pipelines.add(p);
        send(q, 10);
        await().atMost(TIMEOUT).until(() -> started.get() == 4 && stats("slow").inFlight() == 4);
        assertThat(stats("slow").ready()).isEqualTo(6); // concurrency bounds the leases taken over the network

        p.dispose();
        p.onTerminate().block(TIMEOUT);

        await().atMost(TIMEOUT).until(() -> stats("slow").ready() == 10); // long before the 10-minute lease ends
        assertThat(stats("slow").inFlight()).isZero();
        List<String> again = q.receive(ReceiveOptions.defaults().maxMessages(10))
                .concatMap(d -> d.ack().thenReturn(d.payload())).collectList().block(TIMEOUT);
        assertThat(again).hasSize(10);
        assertThat(stats("slow").size()).isZero();
    }
}
