package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.BrokerOptions;
import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.Overflow;
import dev.rill.core.QueueSpec;
import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.FrameEncoder;
import dev.rill.netty.internal.protocol.FrameType;
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
 * Version 6: SEND_CREDIT counts bytes as well as messages (SEND_CREDIT_BYTES), so what a connection's sends to one
 * queue hold on the server while they wait for room stays within the allowance plus one message whatever the order
 * of their sizes. Before, the grants were sized from the sizes seen so far: a producer that switched from small
 * messages to large ones sent the large ones on the credit it held for small ones (up to the 256-message window).
 */
class SendCreditBytesTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final int FRAME = 64 * 1024;
    /** A SEND carries one such message. */
    private static final int LARGE = FRAME - 4096;
    private static final long ALLOWANCE = ServerConnection.sendAllowance(FRAME);
    private static final int WINDOW = ServerOptions.defaults().sendWindow();
    /**
     * What the server may hold for one lane, as it counts the heap (payload + 128 B a message + strings): the SEND bytes
     * of the messages are below the allowance plus one message; the 128 B a message counted on top of its SEND bytes
     * are bounded by the message window.
     */
    private static final long BOUND = ALLOWANCE + FRAME + (long) WINDOW * BrokerOptions.MESSAGE_OVERHEAD_BYTES;

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

    private ReactiveBroker connect(int port) {
        ReactiveBroker b = RillClient.connect(URI.create("rill://127.0.0.1:" + port),
                ClientOptions.defaults().reconnectAttempts(0)).block(TIMEOUT);
        closing.add(() -> b.close().block(TIMEOUT));
        return b;
    }

    private static OutboundMessage<byte[]> numbered(int i, int size) {
        byte[] payload = new byte[size];
        ByteBuffer.wrap(payload).putInt(i);
        return OutboundMessage.of(payload);
    }

    /** 300 small messages, which the queue stores, then {@code large} messages of nearly a frame, which wait. */
    private static Flux<OutboundMessage<byte[]>> smallThenLarge(int small, int large) {
        return Flux.range(0, small + large).map(i -> numbered(i, i < small ? 100 : LARGE));
    }

    private void sendSmallThenLargeAndReceiveAll(RillServer server, ReactiveBroker producer, boolean bounded)
            throws Exception {
        int small = 300;
        int large = 48;
        int n = small + large;
        // room for the small ones only: the large ones wait on the server for room, as received
        QueueSpec spec = QueueSpec.named("mixed").capacity(small);
        ReactiveQueue<byte[]> q = producer.queue(spec, Codec.bytes()).block(TIMEOUT);
        CompletableFuture<List<SendResult<byte[]>>> sent = q.sendMany(smallThenLarge(small, large)).collectList()
                .toFuture();
        // the lane takes large messages as far as its credit lets it, then gets no more
        await().atMost(TIMEOUT).until(() -> server.peakSendBytesHeld() >= ALLOWANCE - FRAME);
        assertThat(sent).isNotDone();
        if (bounded) {
            assertThat(server.peakSendBytesHeld()).as("bytes held for sends waiting for room").isLessThanOrEqualTo(BOUND);
        }

        ReactiveBroker consumer = connect(server.port());
        ReactiveQueue<byte[]> cq = consumer.queue(spec, Codec.bytes()).block(TIMEOUT);
        List<Integer> got = cq.receive().take(n)
                .concatMap(d -> d.ack().thenReturn(ByteBuffer.wrap(d.message().payload()).getInt()))
                .collectList().block(TIMEOUT);
        assertThat(sent.get(30, TimeUnit.SECONDS)).hasSize(n).noneMatch(SendResult::duplicate);
        Set<Integer> distinct = new HashSet<>(got);
        assertThat(got).as("every message once").hasSize(n);
        assertThat(distinct).hasSize(n);
        if (bounded) {
            assertThat(server.peakSendBytesHeld()).isLessThanOrEqualTo(BOUND);
        }
    }

    @Test
    void aProducerSwitchingFromSmallToLargeMessagesHoldsAtMostTheAllowanceAndOneFrame() throws Exception {
        ReactiveBroker local = Rill.inMemory();
        closing.add(() -> local.close().block(TIMEOUT));
        RillServer server = serve(local);
        sendSmallThenLargeAndReceiveAll(server, connect(server.port()), true);
    }

    @Test
    void aVersion6ClientStillSendsEverythingToAServerOfVersion5() throws Exception {
        ReactiveBroker local = Rill.inMemory();
        closing.add(() -> local.close().block(TIMEOUT));
        RillServer server = serve(local);
        FrameCountingRelay relay = new FrameCountingRelay(server.port(), Limits.MEMORY_VERSION);
        closing.add(relay);
        ReactiveBroker producer = connect(relay.port());
        // version 5 grants messages only, sized from the sizes seen: the switch is not bounded there (the weaker
        // bound protocol.md names), but every message still goes, once
        sendSmallThenLargeAndReceiveAll(server, producer, false);
        assertThat(relay.clientFrames(FrameType.SEND.code())).isPositive();
    }

    private static RawClient open(RillServer server, int version, QueueSpec spec) throws Exception {
        RawClient raw = new RawClient(server.port());
        raw.send(new Frame.Hello(List.of(version), "raw"));
        assertThat(raw.readUntil(Frame.HelloOk.class).version()).isEqualTo(version);
        raw.send(Frame.Declare.of(1, spec));
        raw.readUntil(Frame.DeclareOk.class);
        return raw;
    }

    @Test
    void aSendBeyondTheByteCreditIsRefusedWholeAndTheConnectionGoesOn() throws Exception {
        ReactiveBroker local = Rill.inMemory();
        closing.add(() -> local.close().block(TIMEOUT));
        RillServer server = serve(local);
        // full after one message: what follows waits on the server, unanswered, so no credit comes back
        QueueSpec spec = QueueSpec.named("one").capacity(1);
        RawClient raw = open(server, Limits.PROTOCOL_VERSION, spec);
        closing.add(raw);
        Frame.SendCredit first = raw.readUntil(Frame.SendCredit.class);
        assertThat(first.type()).isEqualTo(FrameType.SEND_CREDIT_BYTES);
        assertThat(first.credit()).as("the whole window: bytes bound the memory").isEqualTo(WINDOW);
        assertThat(first.bytes()).isEqualTo(ALLOWANCE);

        WireMessage stored = new WireMessage(new byte[100], null, 0, 0, 0, null, Map.of());
        raw.send(new Frame.Send(2, "one", Overflow.WAIT, List.of(stored)));
        raw.readUntil(Frame.SendReceipts.class);
        Frame.SendCredit back = raw.readUntil(Frame.SendCredit.class);
        assertThat(back.credit()).isEqualTo(1);
        assertThat(back.bytes()).as("the answered message's bytes in its SEND").isEqualTo(FrameEncoder.encodedSize(stored));

        // each SEND of one large message goes while byte credit is left (the last one overdraws it)
        WireMessage big = new WireMessage(new byte[LARGE], null, 0, 0, 0, null, Map.of());
        long left = ALLOWANCE;
        int id = 3;
        while (left > 0) {
            raw.send(new Frame.Send(id++, "one", Overflow.WAIT, List.of(big)));
            left -= FrameEncoder.encodedSize(big);
        }
        assertThat(id - 3).as("SENDs within the byte credit, far fewer than the message credit").isLessThan(WINDOW);
        raw.send(new Frame.Send(id, "one", Overflow.WAIT, List.of(big)));
        Frame.Error refused = raw.readUntil(Frame.Error.class);
        assertThat(refused.code()).isEqualTo(ErrorCode.SEND_CREDIT_EXCEEDED);
        assertThat(refused.id()).as("the first SEND beyond the byte credit, not one before it").isEqualTo(id);

        // the connection goes on, and the refused SEND is not waiting: as room comes back (purges), the accepted
        // SENDs are answered, then a later SEND, never the refused one
        int last = id + 1000;
        Set<Integer> answered = new HashSet<>();
        int purge = id + 1;
        raw.send(new Frame.Purge(purge++, "one"));
        boolean lastSent = false;
        Frame f;
        while (!answered.contains(last) && (f = raw.read()) != null) {
            assertThat(f).isNotInstanceOf(Frame.Error.class);
            if (f instanceof Frame.SendReceipts r) {
                answered.add(r.requestId());
            } else if (f instanceof Frame.Result) {
                if (!lastSent && answered.size() == id - 3) {
                    raw.send(new Frame.Send(last, "one", Overflow.WAIT, List.of(stored)));
                    lastSent = true;
                }
                raw.send(new Frame.Purge(purge++, "one"));
            }
        }
        assertThat(answered).as("the accepted SENDs and the later one").hasSize(id - 3 + 1).doesNotContain(id);
    }

    @Test
    void aVersion5ClientStillGetsSendCreditInMessagesOnly() throws Exception {
        ReactiveBroker local = Rill.inMemory();
        closing.add(() -> local.close().block(TIMEOUT));
        RillServer server = serve(local);
        RawClient raw = open(server, Limits.MEMORY_VERSION, QueueSpec.named("old"));
        closing.add(raw);
        Frame.SendCredit first = raw.readUntil(Frame.SendCredit.class);
        assertThat(first.type()).isEqualTo(FrameType.SEND_CREDIT);
        assertThat(first.credit()).as("the estimate-based grant: the allowance in frames of the largest size")
                .isEqualTo((int) (ALLOWANCE / FRAME));
        // a version-5 client counts no bytes: SENDs within the message credit are all taken, whatever their bytes
        WireMessage big = new WireMessage(new byte[LARGE], null, 0, 0, 0, null, Map.of());
        for (int i = 0; i < first.credit(); i++) {
            raw.send(new Frame.Send(2 + i, "old", Overflow.WAIT, List.of(big)));
        }
        int answered = 0;
        Frame f;
        while (answered < first.credit() && (f = raw.read()) != null) {
            assertThat(f).isNotInstanceOf(Frame.Error.class);
            if (f instanceof Frame.SendReceipts) {
                answered++;
            } else {
                assertThat(f.type()).as("no byte credit on version 5").isEqualTo(FrameType.SEND_CREDIT);
            }
        }
        assertThat(answered).isEqualTo(first.credit());
    }
}
