package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.BrokerOptions;
import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.Limits;
import dev.rill.netty.internal.protocol.WireMessage;
import dev.rill.netty.internal.transport.ServerConnection;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import dev.rill.reactive.SendResult;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;

/**
 * SEND_CREDIT counts bytes, not only messages: a connection's sends to one queue that wait on the server for room
 * hold at most {@link ServerConnection#sendAllowance} there (4 max frame sizes, at least 1 MiB), while small messages still get
 * the whole send window. Before, a lane granted the window (256 messages) whatever their size, so one WAIT producer
 * of large messages could make the server hold 256 max-size frames per queue, uncounted by the memory budget.
 *
 * <p>Since protocol version 6 (this client's) the credit carries bytes, and a message goes while some are left, so
 * the last one may overdraw them: the bound is the allowance plus one message ({@link SendCreditBytesTest}). On
 * version 5 the grants are sized from the messages seen, which holds the allowance for steady sizes.
 */
class ByteAwareSendCreditTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final int FRAME = 64 * 1024;
    /** Nearly a whole frame: a SEND carries one such message. */
    private static final int PAYLOAD = FRAME - 1024;
    private static final long ALLOWANCE = ServerConnection.sendAllowance(FRAME);

    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
    }

    private RillServer serve(ReactiveBroker local) {
        RillServer server = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(0).maxFrameSize(FRAME)
                .broker(local), TIMEOUT);
        closing.add(() -> server.disposeNow(TIMEOUT));
        return server;
    }

    private ReactiveBroker connect(RillServer server) {
        ReactiveBroker b = RillClient.connect(URI.create("rill://127.0.0.1:" + server.port()),
                ClientOptions.defaults().reconnectAttempts(0)).block(TIMEOUT);
        closing.add(() -> b.close().block(TIMEOUT));
        return b;
    }

    private static OutboundMessage<byte[]> large(int i) {
        byte[] payload = new byte[PAYLOAD];
        ByteBuffer.wrap(payload).putInt(i);
        return OutboundMessage.of(payload);
    }

    @Test
    void waitingLargeSendsHoldAtMostTheAllowanceAndAllArriveOnceConsumed() throws Exception {
        long m = PAYLOAD + BrokerOptions.MESSAGE_OVERHEAD_BYTES;
        ReactiveBroker local = Rill.inMemory(BrokerOptions.defaults().memoryBudget(2 * m));
        closing.add(() -> local.close().block(TIMEOUT));
        RillServer server = serve(local);
        ReactiveBroker producer = connect(server);
        ReactiveQueue<byte[]> q = producer.queue(QueueSpec.named("big"), Codec.bytes()).block(TIMEOUT);

        int n = 40;
        CompletableFuture<List<SendResult<byte[]>>> sent = q.sendMany(Flux.range(0, n).map(i -> large(i)))
                .collectList().toFuture();
        // the budget takes two; the lane takes what its allowance lets it, then grants no more
        await().atMost(TIMEOUT).until(() -> local.memory().block(TIMEOUT).used() == 2 * m);
        await().atMost(TIMEOUT).until(() -> server.peakSendBytesHeld() >= ALLOWANCE - 2 * m);
        assertThat(sent).isNotDone();
        assertThat(server.peakSendBytesHeld()).as("bytes held for sends waiting for room")
                .isLessThanOrEqualTo(ALLOWANCE + FRAME);
        assertThat(server.connectionCount()).isEqualTo(1);

        ReactiveBroker consumer = connect(server);
        ReactiveQueue<byte[]> cq = consumer.queue(QueueSpec.named("big"), Codec.bytes()).block(TIMEOUT);
        List<Integer> got = cq.receive().take(n)
                .concatMap(d -> d.ack().thenReturn(ByteBuffer.wrap(d.message().payload()).getInt()))
                .collectList().block(TIMEOUT);
        assertThat(sent.get(30, TimeUnit.SECONDS)).hasSize(n);
        Set<Integer> distinct = new HashSet<>(got);
        assertThat(got).hasSize(n);
        assertThat(distinct).hasSize(n);
        assertThat(server.peakSendBytesHeld()).isLessThanOrEqualTo(ALLOWANCE + FRAME);
    }

    @Test
    void smallMessagesGetTheWholeSendWindowAfterTheirFirstSendOnVersion5() throws Exception {
        ReactiveBroker local = Rill.inMemory();
        closing.add(() -> local.close().block(TIMEOUT));
        RillServer server = serve(local);
        RawClient raw = new RawClient(server.port());
        closing.add(raw);
        raw.send(new Frame.Hello(List.of(Limits.MEMORY_VERSION), "raw")); // version 6 grants bytes as well
        raw.readUntil(Frame.HelloOk.class);
        raw.send(Frame.Declare.of(1, QueueSpec.named("small")));
        Frame.SendCredit first = raw.readUntil(Frame.SendCredit.class);
        assertThat(first.credit()).as("the first grant: the allowance in frames of the largest size")
                .isEqualTo((int) (ALLOWANCE / FRAME)).isLessThan(ServerOptions.defaults().sendWindow());

        List<WireMessage> small = new ArrayList<>();
        for (int i = 0; i < first.credit(); i++) {
            small.add(new WireMessage(new byte[100], null, 0, 0, 0, null, Map.of()));
        }
        raw.send(new Frame.Send(2, "small", small));
        Frame.SendCredit again = raw.readUntil(Frame.SendCredit.class);
        assertThat(again.credit()).as("credit granted once the first send is answered: the whole window")
                .isEqualTo(ServerOptions.defaults().sendWindow());
    }
}
