package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.ReceiveOptions;
import dev.rill.reactive.Rill;
import dev.rill.reactive.SendOptions;
import dev.rill.reactive.SendResult;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Flux;

/**
 * The server's send lanes on a durable broker store a connection's sends back to back and confirm each run once it
 * is durable: what a client saw confirmed survives a restart, in order, and nothing is confirmed that the log did
 * not make durable.
 */
class DurableSendLaneTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private final List<AutoCloseable> cleanup = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = cleanup.size() - 1; i >= 0; i--) {
            cleanup.get(i).close();
        }
    }

    private RillServer serve(ReactiveBroker broker) {
        RillServer server = RillServer.bindNow(ServerOptions.defaults().broker(broker), TIMEOUT);
        cleanup.add(() -> broker.close().block(TIMEOUT));
        cleanup.add(() -> server.disposeNow(TIMEOUT));
        return server;
    }

    private ReactiveBroker connect(RillServer server) {
        ReactiveBroker client = RillClient.connect(URI.create("rill://127.0.0.1:" + server.port()),
                ClientOptions.defaults().reconnectAttempts(0)).block(TIMEOUT);
        cleanup.add(() -> client.close().block(TIMEOUT));
        return client;
    }

    /** Closes clients, server and broker (in that order). */
    private void closeAll() throws Exception {
        tearDown();
        cleanup.clear();
    }

    @Test
    void confirmedSendsFromSeveralConnectionsSurviveARestartInTheirOrder() throws Exception {
        Path data = dir.resolve("data");
        RillServer server = serve(Rill.embedded(data, DurabilityOptions.defaults()));
        List<ReactiveBroker> producers = List.of(connect(server), connect(server));
        int perProducer = 3000;
        List<Flux<SendResult<String>>> sends = new ArrayList<>();
        for (int p = 0; p < producers.size(); p++) {
            ReactiveQueue<String> q = producers.get(p).queue(QueueSpec.named("orders"), Codec.utf8()).block(TIMEOUT);
            int id = p;
            sends.add(q.sendMany(Flux.range(0, perProducer).map(i -> OutboundMessage.of(id + ":" + i)),
                    SendOptions.defaults().maxInFlight(64)));
        }
        List<SendResult<String>> confirmed = Flux.merge(sends).collectList().block(TIMEOUT);
        assertThat(confirmed).hasSize(2 * perProducer);
        closeAll();

        ReactiveBroker reopened = Rill.embedded(data, DurabilityOptions.defaults());
        try {
            ReactiveQueue<String> q = reopened.queue(QueueSpec.named("orders"), Codec.utf8()).block(TIMEOUT);
            List<String> got = q.receive(ReceiveOptions.defaults().maxMessages(2 * perProducer))
                    .map(Delivery::payload).collectList().block(TIMEOUT);
            assertThat(got).hasSize(2 * perProducer).doesNotHaveDuplicates();
            for (int p = 0; p < 2; p++) {
                String prefix = p + ":";
                List<Integer> order = got.stream().filter(s -> s.startsWith(prefix))
                        .map(s -> Integer.parseInt(s.substring(prefix.length()))).toList();
                assertThat(order).as("producer %d's messages in its send order", p).isSorted().hasSize(perProducer);
            }
        } finally {
            reopened.close().block(TIMEOUT);
        }
    }

    @Test
    void acksConfirmedOverTheNetworkInBatchesSurviveARestart() throws Exception {
        Path data = dir.resolve("acks");
        ReactiveBroker client = connect(serve(Rill.embedded(data, DurabilityOptions.defaults())));
        ReactiveQueue<String> q = client.queue(QueueSpec.named("work"), Codec.utf8()).block(TIMEOUT);
        int n = 2000;
        q.sendMany(Flux.range(0, n).map(i -> OutboundMessage.of("m" + i)), SendOptions.defaults().maxInFlight(256))
                .blockLast(TIMEOUT);
        // acks in flight together: the client batches them on the wire and the server acks each frame in one
        // call to the queue; an ack's Mono completes once its record is durable. The first 1500 are acked.
        List<String> acked = new CopyOnWriteArrayList<>();
        q.receive(ReceiveOptions.defaults().maxMessages(1500))
                .flatMap(d -> d.ack().thenReturn(d.payload()), 128)
                .doOnNext(acked::add)
                .blockLast(TIMEOUT);
        assertThat(acked).hasSize(1500).doesNotHaveDuplicates();
        closeAll();

        ReactiveBroker reopened = Rill.embedded(data, DurabilityOptions.defaults());
        try {
            ReactiveQueue<String> r = reopened.queue(QueueSpec.named("work"), Codec.utf8()).block(TIMEOUT);
            assertThat(r.stats().block(TIMEOUT).size()).isEqualTo(n - 1500);
            List<String> left = r.receive(ReceiveOptions.defaults().maxMessages(n - 1500)).map(Delivery::payload)
                    .collectList().block(TIMEOUT);
            assertThat(left).hasSize(n - 1500).doesNotContainAnyElementsOf(acked);
        } finally {
            reopened.close().block(TIMEOUT);
        }
    }

    @Test
    void whenTheLogFailsNoLaterSendIsConfirmed() throws Exception {
        Path data = dir.resolve("vanishing");
        ReactiveBroker client = connect(serve(Rill.embedded(data, DurabilityOptions.defaults().segmentBytes(4096))));
        ReactiveQueue<String> q = client.queue(QueueSpec.named("q"), Codec.utf8()).block(TIMEOUT);
        q.send(OutboundMessage.of("before")).block(TIMEOUT);
        // the directory disappears (a volume gone): the log's next segment cannot be created
        try (Stream<Path> files = Files.list(data)) {
            for (Path f : files.toList()) {
                Files.delete(f);
            }
        }
        Files.delete(data);
        List<SendResult<String>> ok = new CopyOnWriteArrayList<>();
        AtomicReference<Throwable> failed = new AtomicReference<>();
        String big = "x".repeat(500);
        q.sendMany(Flux.range(0, 200).map(i -> OutboundMessage.of(i + big)), SendOptions.defaults().maxInFlight(64))
                .doOnNext(ok::add)
                .onErrorResume(e -> {
                    failed.set(e);
                    return Flux.empty();
                })
                .blockLast(TIMEOUT);
        // 200 x 500 B cannot fit in the open 4 KiB segment: the roll fails, and from then on nothing is confirmed
        assertThat(failed.get()).as("the sendMany fails once the log fails").isNotNull();
        assertThat(ok.size()).isLessThan(200);
        assertThat(q.send(OutboundMessage.of("after")).onErrorResume(e -> reactor.core.publisher.Mono.empty())
                .block(TIMEOUT)).as("a later send is not confirmed").isNull();
    }
}
