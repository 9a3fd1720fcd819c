package dev.rill.netty.internal.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.QueueSpec;
import dev.rill.netty.ServerOptions;
import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.FrameRefusedException;
import dev.rill.netty.internal.protocol.FrameType;
import dev.rill.netty.internal.protocol.WireMessage;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.Rill;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.scheduler.Schedulers;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * Whatever the type of the answer to a request, an answer the encoder refuses becomes an ERROR(INTERNAL_ERROR) to that
 * request alone and the connection goes on. The server used to recognise a refused answer by a list of six frame
 * types (PEEK_RESULT, STATS_RESULT, LIST_RESULT, DESCRIBE_OK, DECLARE_OK, RESULT): a refused SEND_RESULT,
 * SEND_RECEIPTS, SETTLE_RESULT or EXTEND_RESULT, or an answer type added later, ended the connection with every queue
 * and stream on it. Here an encoder refuses every frame of one type in turn, for every frame type a server sends that
 * is neither the connection's own nor a subscription's; a new frame type fails this test until it is classified and
 * its answer is shown to be covered.
 */
class RefusedAnswerTypesTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    /** What the client sends. */
    private static final Set<FrameType> CLIENT_FRAMES = EnumSet.of(FrameType.HELLO, FrameType.AUTH,
            FrameType.DECLARE, FrameType.DELETE, FrameType.PURGE, FrameType.STATS, FrameType.LIST, FrameType.REDRIVE,
            FrameType.PEEK, FrameType.DESCRIBE, FrameType.REDRIVE_TO, FrameType.SEND, FrameType.CANCEL_SEND,
            FrameType.SUBSCRIBE, FrameType.CREDIT, FrameType.UNSUBSCRIBE, FrameType.SUBSCRIBE_EVENTS, FrameType.ACK,
            FrameType.NACK, FrameType.EXTEND, FrameType.REJECT, FrameType.RELEASE, FrameType.MEMORY);
    /**
     * What the server sends that answers no request: the connection's own frames, whose refusal still ends it, and a
     * subscription's, whose refusal ends that subscription (UnframeableDeliveryTest). ERROR answers requests too, but
     * its text is always fitted to the wire: it is not refused.
     */
    private static final Set<FrameType> NOT_ANSWERS = EnumSet.of(FrameType.HELLO_OK, FrameType.AUTH_OK,
            FrameType.PING, FrameType.PONG, FrameType.ERROR, FrameType.CLOSE, FrameType.GOAWAY, FrameType.SEND_CREDIT,
            FrameType.SEND_CREDIT_BYTES,
            FrameType.SUBSCRIBE_OK, FrameType.DELIVER, FrameType.EVENT, FrameType.SUBSCRIPTION_END);

    private final VirtualTimeScheduler clock = VirtualTimeScheduler.create();
    private final ReactiveBroker broker = Rill.inMemory(clock);
    private final List<EmbeddedChannel> channels = new ArrayList<>();

    @AfterEach
    void tearDown() {
        channels.forEach(EmbeddedChannel::finishAndReleaseAll);
        broker.close().block(TIMEOUT);
        clock.dispose();
    }

    @Test
    void everyAnswerTypeTheEncoderRefusesFailsItsRequestAndTheConnectionGoesOn() {
        Set<FrameType> answers = EnumSet.allOf(FrameType.class);
        answers.removeAll(CLIENT_FRAMES);
        answers.removeAll(NOT_ANSWERS);
        assertThat(answers).as("the answer types").isNotEmpty();
        Set<FrameType> covered = EnumSet.noneOf(FrameType.class);
        for (FrameType refused : answers) {
            // SEND is answered SEND_RESULT up to version 2, SEND_RECEIPTS from version 3
            for (int version : new int[] {2, 4}) {
                covered.addAll(conversation(refused, version, "q-" + refused + "-" + version));
            }
        }
        assertThat(covered).as("answer types refused and answered ERROR instead").isEqualTo(answers);
    }

    /**
     * Makes every request kind on a new connection whose encoder refuses the frames of type {@code refused}.
     *
     * @return the types refused: each of their requests was answered ERROR(INTERNAL_ERROR) instead
     */
    private Set<FrameType> conversation(FrameType refused, int version, String queue) {
        Refusing encoder = new Refusing(refused);
        EmbeddedChannel ch = new EmbeddedChannel(encoder, new ServerConnection(ServerOptions.defaults(), broker,
                () -> { }, () -> { }, new PeerLog(Schedulers.immediate(), 10, 50, 1024, Duration.ofMinutes(1))));
        channels.add(ch);
        Conversation c = new Conversation(ch);
        ch.writeInbound(new Frame.Hello(List.of(version), "test"));
        assertThat(c.next(0)).isInstanceOf(Frame.HelloOk.class);

        c.ask(Frame.Declare.of(1, QueueSpec.named(queue)));
        c.ask(new Frame.Describe(2, queue));
        byte[] payload = "m".getBytes(StandardCharsets.UTF_8);
        WireMessage m = new WireMessage(payload, null, 0, 0, 0, null, Map.of());
        c.ask(new Frame.Send(3, queue, null, List.of(m, m, m)));
        c.ask(new Frame.Peek(4, queue, 10));
        c.ask(new Frame.Stats(5, null));
        c.ask(new Frame.ListQueues(6));
        c.ask(new Frame.Memory(11));
        ch.writeInbound(new Frame.Subscribe(7, queue, 0, 0, 0));
        ch.writeInbound(new Frame.Credit(7, 2));
        List<Long> tags = new ArrayList<>();
        soon().until(() -> {
            ch.runPendingTasks();
            for (Object o; (o = ch.readOutbound()) != null; ) {
                if (o instanceof Frame.Deliver d) {
                    tags.add(d.deliveryTag());
                } else {
                    c.seen.add((Frame) o);
                }
            }
            return tags.size() == 2;
        });
        c.ask(new Frame.Ack(8, new long[] {tags.get(0)}));
        c.ask(new Frame.Extend(9, 30_000, new long[] {tags.get(1)}));
        c.ask(new Frame.Purge(10, queue));

        assertThat(ch.isOpen()).as("the connection, %s refused", refused).isTrue();
        assertThat(c.answers).as("no ERROR ended the connection").allSatisfy(f -> assertThat(f.streamId()).isPositive());
        Set<FrameType> refusedAnswers = EnumSet.noneOf(FrameType.class);
        for (Frame f : encoder.refusedFrames) {
            refusedAnswers.add(f.type());
            assertThat(c.answers).as("the answer to request %d", f.streamId()).anySatisfy(a -> {
                assertThat(a).isInstanceOfSatisfying(Frame.Error.class, e -> {
                    assertThat(e.id()).isEqualTo(f.streamId());
                    assertThat(e.code()).isEqualTo(ErrorCode.INTERNAL_ERROR);
                    assertThat(e.message()).startsWith("the server cannot send its answer (" + f.type() + ")");
                });
            });
        }
        return refusedAnswers;
    }

    /** Awaits what is mostly there already (the broker answers on the caller's thread): checked at once, then often. */
    private static org.awaitility.core.ConditionFactory soon() {
        return await().atMost(TIMEOUT).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(5));
    }

    /** The requests of one connection and the answers seen. */
    private static final class Conversation {
        final EmbeddedChannel ch;
        final List<Frame> seen = new ArrayList<>();
        final List<Frame> answers = new ArrayList<>();

        Conversation(EmbeddedChannel ch) {
            this.ch = ch;
        }

        /** Sends a request and waits for its answer (a frame with its id that is no SEND_CREDIT). */
        void ask(Frame request) {
            ch.writeInbound(request);
            answers.add(next(request.streamId()));
        }

        Frame next(int id) {
            Frame[] found = new Frame[1];
            soon().until(() -> {
                ch.runPendingTasks();
                for (Object o; (o = ch.readOutbound()) != null; ) {
                    seen.add((Frame) o);
                }
                for (Frame f : seen) {
                    if (f.streamId() == id && !(f instanceof Frame.SendCredit) && !answers.contains(f)) {
                        found[0] = f;
                        return true;
                    }
                }
                return false;
            });
            seen.remove(found[0]);
            return found[0];
        }
    }

    /** Refuses, as the real encoder does with a value out of range, every frame of one type; passes the others. */
    private static final class Refusing extends ChannelOutboundHandlerAdapter {
        final FrameType type;
        final List<Frame> refusedFrames = new ArrayList<>();

        Refusing(FrameType type) {
            this.type = type;
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            if (msg instanceof Frame f && f.type() == type) {
                refusedFrames.add(f);
                throw new FrameRefusedException(f, new IllegalArgumentException("a value out of range (test)"));
            }
            ctx.write(msg, promise);
        }
    }
}
