package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.rill.core.BrokerOptions;
import dev.rill.core.Codec;
import dev.rill.core.MemoryStats;
import dev.rill.core.OutboundMessage;
import dev.rill.core.Overflow;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.QueueFullException;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import dev.rill.reactive.SendOptions;
import dev.rill.reactive.SendResult;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;

/**
 * A server whose broker has a memory budget: a remote producer to a queue that has room but whose broker's budget is
 * spent waits ({@link Overflow#WAIT}, the default) and resumes when a remote consumer acks messages of another queue;
 * with {@link Overflow#FAIL} it gets {@link QueueFullException}. Sends need nothing new in the protocol: the
 * server's send sees the core's FULL, as for a full queue. The client reads the server's memory with MEMORY
 * (protocol version 5).
 */
class MemoryBudgetOverNetworkTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final int PAYLOAD = 1000;
    private static final long M = PAYLOAD + BrokerOptions.MESSAGE_OVERHEAD_BYTES;

    private final ReactiveBroker local = Rill.inMemory(BrokerOptions.defaults().memoryBudget(3 * M));
    private final RillServer server = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(0)
            .broker(local), TIMEOUT);
    private final ReactiveBroker producer = connect();
    private final ReactiveBroker consumer = connect();

    private ReactiveBroker connect() {
        return RillClient.connect(URI.create("rill://127.0.0.1:" + server.port()),
                ClientOptions.defaults().reconnectAttempts(0)).block(TIMEOUT);
    }

    @AfterEach
    void tearDown() {
        producer.close().block(TIMEOUT);
        consumer.close().block(TIMEOUT);
        server.disposeNow(TIMEOUT);
        local.close().block(TIMEOUT);
    }

    private static OutboundMessage<byte[]> msg() {
        return OutboundMessage.of(new byte[PAYLOAD]);
    }

    private long used() {
        return local.memory().block(TIMEOUT).used();
    }

    @Test
    void aRemoteSendBlockedByTheBudgetResumesWhenAnotherQueuesMessagesAreAcked() throws Exception {
        ReactiveQueue<byte[]> full = producer.queue(QueueSpec.named("full"), Codec.bytes()).block(TIMEOUT);
        ReactiveQueue<byte[]> other = producer.queue(QueueSpec.named("other"), Codec.bytes()).block(TIMEOUT);
        full.sendMany(Flux.just(msg(), msg(), msg())).blockLast(TIMEOUT);
        assertThat(used()).isEqualTo(3 * M);

        CompletableFuture<SendResult<byte[]>> waiting = other.send(msg()).toFuture();
        // the server holds the send: 'other' is empty, the budget is spent. Nothing to wait for but its state
        await().during(Duration.ofMillis(300)).atMost(TIMEOUT).until(() -> !waiting.isDone());
        assertThat(used()).isEqualTo(3 * M);

        ReactiveQueue<byte[]> fullSeenByConsumer = consumer.queue(QueueSpec.named("full"), Codec.bytes())
                .block(TIMEOUT);
        fullSeenByConsumer.receive().take(1).concatMap(d -> d.ack()).blockLast(TIMEOUT);

        SendResult<byte[]> r = waiting.get(30, TimeUnit.SECONDS); // completes: the ack of 'full' woke the send waiting on 'other'
        assertThat(r.duplicate()).isFalse();
        await().atMost(TIMEOUT).untilAsserted(() -> assertThat(local.stats().block(TIMEOUT))
                .filteredOn(s -> s.name().equals("other")).singleElement()
                .satisfies(s -> assertThat(s.ready()).isEqualTo(1)));
        assertThat(used()).isEqualTo(3 * M);
    }

    @Test
    void aRemoteSendWithFailOverflowGetsQueueFullException() {
        ReactiveQueue<byte[]> full = producer.queue(QueueSpec.named("full"), Codec.bytes()).block(TIMEOUT);
        ReactiveQueue<byte[]> other = producer.queue(QueueSpec.named("other"), Codec.bytes()).block(TIMEOUT);
        full.sendMany(Flux.just(msg(), msg(), msg())).blockLast(TIMEOUT);
        StepVerifier.create(other.send(msg(), SendOptions.defaults().overflow(Overflow.FAIL)))
                .expectError(QueueFullException.class)
                .verify(TIMEOUT);
        StepVerifier.create(other.sendMany(Flux.just(msg()), SendOptions.defaults().overflow(Overflow.FAIL)))
                .expectError(QueueFullException.class)
                .verify(TIMEOUT);
        assertThat(used()).isEqualTo(3 * M);
    }

    @Test
    void aRemoteSendManyWaitsAndResumesAsOtherQueuesAreConsumed() throws Exception {
        ReactiveQueue<byte[]> a = producer.queue(QueueSpec.named("a"), Codec.bytes()).block(TIMEOUT);
        ReactiveQueue<byte[]> b = producer.queue(QueueSpec.named("b"), Codec.bytes()).block(TIMEOUT);
        a.sendMany(Flux.just(msg(), msg(), msg())).blockLast(TIMEOUT);
        CompletableFuture<List<SendResult<byte[]>>> sent = b.sendMany(Flux.range(0, 10).map(i -> msg()))
                .collectList().toFuture();
        // a consumer of 'a' and one of 'b' ack everything: b's ten messages all get through a budget of three
        ReactiveQueue<byte[]> ca = consumer.queue(QueueSpec.named("a"), Codec.bytes()).block(TIMEOUT);
        ReactiveQueue<byte[]> cb = consumer.queue(QueueSpec.named("b"), Codec.bytes()).block(TIMEOUT);
        CompletableFuture<Void> drainedA = ca.receive().take(3).concatMap(d -> d.ack()).then().toFuture();
        CompletableFuture<Void> drainedB = cb.receive().take(10).concatMap(d -> d.ack()).then().toFuture();
        assertThat(sent.get(30, TimeUnit.SECONDS)).hasSize(10);
        drainedA.get(30, TimeUnit.SECONDS);
        drainedB.get(30, TimeUnit.SECONDS);
        await().atMost(TIMEOUT).until(() -> used() == 0);
    }

    @Test
    void aClientReadsTheServersMemoryAndAServerOfVersionFourIsNotAsked() throws Exception {
        ReactiveQueue<byte[]> a = producer.queue(QueueSpec.named("a"), Codec.bytes()).block(TIMEOUT);
        a.sendMany(Flux.just(msg(), msg())).blockLast(TIMEOUT);
        assertThat(producer.memory().block(TIMEOUT)).isEqualTo(new MemoryStats(2 * M, OptionalLong.of(3 * M)));

        ReactiveBroker unbounded = Rill.inMemory();
        RillServer plain = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(0).broker(unbounded),
                TIMEOUT);
        FrameCountingRelay relay = new FrameCountingRelay(plain.port(), 4);
        ReactiveBroker old = RillClient.connect(URI.create("rill://127.0.0.1:" + relay.port()),
                ClientOptions.defaults().reconnectAttempts(0)).block(TIMEOUT);
        ReactiveBroker current = RillClient.connect(URI.create("rill://127.0.0.1:" + plain.port()),
                ClientOptions.defaults().reconnectAttempts(0)).block(TIMEOUT);
        try {
            assertThatThrownBy(() -> old.memory().block(TIMEOUT))
                    .isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining("protocol version 4")
                    .hasMessageContaining("needs version 5");
            assertThat(relay.clientFrames(0x60)).isZero(); // nothing was sent: an old server would close the connection
            assertThat(current.memory().block(TIMEOUT)).isEqualTo(new MemoryStats(0, OptionalLong.empty()));
        } finally {
            old.close().block(TIMEOUT);
            current.close().block(TIMEOUT);
            relay.close();
            plain.disposeNow(TIMEOUT);
            unbounded.close().block(TIMEOUT);
        }
    }
}
