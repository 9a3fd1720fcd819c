package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.FrameEncoder;
import dev.rill.netty.internal.protocol.Limits;
import dev.rill.netty.internal.protocol.SendReceipt;
import dev.rill.netty.internal.protocol.SendStatus;
import dev.rill.netty.internal.protocol.WireMessage;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.RillException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/**
 * The protocol-3 addition end to end: a message the server refuses fails the remote client's send with the server's
 * reason (SEND_RECEIPTS), as an in-JVM send fails with it; clients of versions 1 and 2 still get SEND_RESULT, and the
 * client still works with a version-2 server.
 */
class ProtocolV3Test {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    /**
     * Decimal integers as UTF-8, as a typed application codec in the server's JVM: anything else fails to decode
     * with the JDK's message, which quotes the text ({@code For input string: "x"}).
     */
    private static final Codec<Integer> INTS = Codec.of(i -> i.toString().getBytes(StandardCharsets.UTF_8),
            b -> Integer.valueOf(new String(b, StandardCharsets.UTF_8)));

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onRealTime();
    private final ReactiveBroker local = fixture.local();

    /** Serves the local broker, where "ints" was declared first with {@link #INTS}. */
    private RillServer serve(ServerOptions options, ReactiveBroker broker) {
        local.queue(QueueSpec.named("ints"), INTS).block(TIMEOUT);
        return fixture.bind(options.broker(broker));
    }

    private ReactiveBroker connect(int port) {
        return fixture.connect(port, ClientOptions.defaults().reconnectAttempts(0));
    }

    private long stored(String queue) {
        return local.stats().block(TIMEOUT).stream().filter(q -> q.name().equals(queue)).findFirst().orElseThrow()
                .size();
    }

    // ---- negotiation, frame by frame ----------------------------------------------------------------------------

    /** A connection offering {@code versions} that declared "ints"; returns it after checking the version chosen. */
    private RawClient open(RillServer server, List<Integer> versions, int expected) throws IOException {
        RawClient raw = new RawClient(server.port());
        fixture.closeAtEnd(raw);
        raw.send(new Frame.Hello(versions, "raw"));
        assertThat(raw.readUntil(Frame.HelloOk.class).version()).isEqualTo(expected);
        raw.send(Frame.Declare.of(1, QueueSpec.named("ints")));
        raw.readUntil(Frame.DeclareOk.class);
        return raw;
    }

    private static WireMessage text(String s) {
        return new WireMessage(s.getBytes(StandardCharsets.UTF_8), null, 0, 0, 0, null, Map.of());
    }

    /** Reads the answers (SEND_RESULT or SEND_RECEIPTS) to a SEND until they hold {@code n} receipts. */
    private static List<Frame> answers(RawClient raw, int n) throws IOException {
        List<Frame> answers = new ArrayList<>();
        int receipts = 0;
        while (receipts < n) {
            Frame f = raw.read();
            assertThat(f).as("the connection stays open").isNotNull();
            if (f instanceof Frame.SendResult r) {
                receipts += r.receipts().size();
                answers.add(f);
            } else if (f instanceof Frame.SendReceipts r) {
                receipts += r.receipts().size();
                answers.add(f);
            }
        }
        assertThat(receipts).isEqualTo(n);
        return answers;
    }

    private static List<SendReceipt> receipts(List<Frame> answers) {
        List<SendReceipt> all = new ArrayList<>();
        for (Frame f : answers) {
            all.addAll(f instanceof Frame.SendReceipts r ? r.receipts() : ((Frame.SendResult) f).receipts());
        }
        return all;
    }

    @ParameterizedTest
    @ValueSource(strings = {"1", "2", "1,2"})
    void aClientOfVersionOneOrTwoGetsSendResultWithoutReasons(String offered) throws IOException {
        RillServer server = serve(ServerOptions.defaults(), local);
        List<Integer> versions = List.of(offered.split(",")).stream().map(Integer::valueOf).toList();
        RawClient raw = open(server, versions, versions.get(versions.size() - 1));
        raw.send(new Frame.Send(2, "ints", List.of(text("x"), text("17"))));

        List<Frame> answers = answers(raw, 2);
        // the strict decoder read the version-2 layout exactly: a SEND_RESULT's bytes, nothing after the receipts
        assertThat(answers).singleElement().isInstanceOf(Frame.SendResult.class);
        List<SendReceipt> r = receipts(answers);
        assertThat(r.get(0)).isEqualTo(new SendReceipt(SendStatus.ERROR, ErrorCode.INVALID_ARGUMENT, 0));
        assertThat(r.get(1).status()).isEqualTo(SendStatus.ENQUEUED);
        assertThat(stored("ints")).isEqualTo(1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"3", "2,3", "1,2,3", "2,3,4"})
    void aClientOfferingVersionThreeGetsSendReceiptsWithTheReason(String offered) throws IOException {
        RillServer server = serve(ServerOptions.defaults(), local);
        List<Integer> versions = List.of(offered.split(",")).stream().map(Integer::valueOf).toList();
        RawClient raw = open(server, versions, versions.get(versions.size() - 1));
        raw.send(new Frame.Send(2, "ints", List.of(text("x"), text("17"))));

        List<Frame> answers = answers(raw, 2);
        assertThat(answers).singleElement().isInstanceOf(Frame.SendReceipts.class);
        List<SendReceipt> r = receipts(answers);
        assertThat(r.get(0).status()).isEqualTo(SendStatus.ERROR);
        assertThat(r.get(0).error()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
        assertThat(r.get(0).reason()).isEqualTo("queue 'ints': a payload of 1 byte that the codec the queue was "
                + "first declared with cannot decode: For input string: \"x\"");
        assertThat(r.get(1).status()).isEqualTo(SendStatus.ENQUEUED);
        assertThat(r.get(1).reason()).isNull();
        assertThat(stored("ints")).isEqualTo(1);
    }

    @Test
    void answersWithReasonsAreSplitToFitTheMaxFrameSizeAndKeepTheirOrder() throws IOException {
        RillServer server = serve(ServerOptions.defaults().maxFrameSize(Limits.MIN_MAX_FRAME_SIZE), local);
        RawClient raw = open(server, Limits.CLIENT_VERSIONS, Limits.PROTOCOL_VERSION);
        // 30 messages of 30 bytes fit one SEND of the smallest max frame size; their reasons (~110 bytes each for
        // the odd ones) do not fit one answer
        List<WireMessage> messages = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            messages.add(text(i % 2 == 0 ? String.format("%05d", i) : String.format("x%04d", i)));
        }
        raw.send(new Frame.Send(2, "ints", messages));

        List<Frame> answers = answers(raw, 30);
        assertThat(answers).hasSizeGreaterThan(1).allSatisfy(f -> {
            assertThat(f).isInstanceOf(Frame.SendReceipts.class);
            ByteBuf b = Unpooled.buffer();
            FrameEncoder.encode(f, b);
            assertThat(b.readableBytes() - 4).isLessThanOrEqualTo(Limits.MIN_MAX_FRAME_SIZE);
            b.release();
        });
        List<SendReceipt> r = receipts(answers);
        for (int i = 0; i < 30; i++) {
            if (i % 2 == 0) {
                assertThat(r.get(i).status()).as("receipt %d", i).isEqualTo(SendStatus.ENQUEUED);
            } else {
                assertThat(r.get(i).reason()).as("receipt %d", i).endsWith(String.format("\"x%04d\"", i));
            }
        }
        assertThat(stored("ints")).isEqualTo(15);
    }

    // ---- through RillClient -------------------------------------------------------------------------------------

    @Test
    void aMessageTheServersCodecRefusesFailsSendAndSendManyWithTheServersReason() {
        RillServer server = serve(ServerOptions.defaults(), local);
        ReactiveQueue<String> q = connect(server.port()).queue(QueueSpec.named("ints"), Codec.utf8()).block(TIMEOUT);

        assertThatThrownBy(() -> q.send(OutboundMessage.of("x")).block(TIMEOUT))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("queue 'ints' refused the message (INVALID_ARGUMENT): a payload of 1 byte that "
                        + "the codec the queue was first declared with cannot decode: For input string: \"x\"");
        StepVerifier.create(q.sendMany(Flux.just("1", "2", "three").map(OutboundMessage::of)))
                .expectNextCount(2)
                .expectErrorSatisfies(e -> assertThat(e).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("queue 'ints' refused the message (INVALID_ARGUMENT)")
                        .hasMessageEndingWith("For input string: \"three\""))
                .verify(TIMEOUT);
        assertThat(stored("ints")).isEqualTo(2);

        // a reason longer than the wire takes arrives cut after a whole character
        String snowmen = "\u2603".repeat(700); // 2100 bytes, quoted whole in the codec's message
        assertThatThrownBy(() -> q.send(OutboundMessage.of(snowmen)).block(TIMEOUT))
                .isInstanceOfSatisfying(IllegalArgumentException.class, e -> {
                    String reason = e.getMessage().substring(e.getMessage().indexOf("): ") + 3);
                    assertThat(reason).startsWith("a payload of 2100 bytes").endsWith("\u2603");
                    // the server's reason began with "queue 'ints': ", which the client does not repeat
                    assertThat(("queue 'ints': " + reason).getBytes(StandardCharsets.UTF_8).length)
                            .isBetween(Limits.MAX_REASON_BYTES - 2, Limits.MAX_REASON_BYTES);
                });
    }

    @Test
    void aMessageRefusedForAnotherReasonFailsWithThatCodesExceptionAndTheServersReason() {
        ReactiveBroker failing = sendsFail(local, new UncheckedIOException(new IOException("no space left on device")));
        RillServer server = serve(ServerOptions.defaults(), failing);
        ReactiveQueue<String> q = connect(server.port()).queue(QueueSpec.named("disk"), Codec.utf8()).block(TIMEOUT);

        assertThatThrownBy(() -> q.send(OutboundMessage.of("m")).block(TIMEOUT))
                .isExactlyInstanceOf(RillException.class)
                .hasMessage("queue 'disk' refused the message (INTERNAL_ERROR): java.io.IOException: no space left on "
                        + "device"); // the code named once
        StepVerifier.create(q.sendMany(Flux.just(OutboundMessage.of("m"))))
                .expectErrorSatisfies(e -> assertThat(e).isExactlyInstanceOf(RillException.class)
                        .hasMessageContaining("no space left on device"))
                .verify(TIMEOUT);
    }

    @Test
    void anExceptionWithAnOverlongOrMalformedMessageIsAnsweredAndTheConnectionLives() {
        // 20,000 characters with an unpaired surrogate: as it is, no ERROR or SUBSCRIPTION_END could carry it
        RuntimeException odd = new IllegalStateException("bad \uD800 surrogate " + "x".repeat(20_000));
        ReactiveBroker broker = proxy(ReactiveBroker.class, local,
                m -> m.getName().equals("purge") ? Mono.error(odd) : null,
                q -> proxy(ReactiveQueue.class, q, m -> m.getName().equals("receive") ? Flux.error(odd) : null));
        RillServer server = serve(ServerOptions.defaults(), broker);
        ReactiveBroker client = connect(server.port());
        ReactiveQueue<String> q = client.queue(QueueSpec.named("odd"), Codec.utf8()).block(TIMEOUT);

        assertThatThrownBy(() -> client.purge("odd").block(TIMEOUT)) // answered by ERROR (INVALID_ARGUMENT)
                .isInstanceOf(IllegalArgumentException.class)
                .satisfies(e -> assertCutAndMended(e.getMessage()));
        StepVerifier.create(q.receive()) // ended by SUBSCRIPTION_END
                .expectErrorSatisfies(e -> assertCutAndMended(e.getMessage()))
                .verify(TIMEOUT);
        q.send(OutboundMessage.of("still connected")).block(TIMEOUT);
        assertThat(stored("odd")).isEqualTo(1);
    }

    private static void assertCutAndMended(String message) {
        assertThat(message).contains("bad \uFFFD surrogate x");
        assertThat(message.chars().filter(c -> c == 'x').count()).isBetween(8000L, (long) Limits.MAX_TEXT_BYTES);
    }

    @Test
    void againstAVersionTwoServerARefusedSendFailsAsBeforeWithoutAReason() throws IOException {
        RillServer server = serve(ServerOptions.defaults(), local);
        FrameCountingRelay relay = new FrameCountingRelay(server.port(), 2);
        fixture.closeAtEnd(relay);
        ReactiveQueue<String> q = connect(relay.port()).queue(QueueSpec.named("ints"), Codec.utf8()).block(TIMEOUT);

        q.send(OutboundMessage.of("1")).block(TIMEOUT);
        assertThatThrownBy(() -> q.send(OutboundMessage.of("x")).block(TIMEOUT))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("queue 'ints' refused the message (INVALID_ARGUMENT): a field broke the server's rules, or "
                        + "the payload is not one the codec the queue was first declared with in the server's JVM can "
                        + "decode");
        StepVerifier.create(q.sendMany(Flux.just("2", "three").map(OutboundMessage::of)))
                .expectNextCount(1)
                .expectError(IllegalArgumentException.class)
                .verify(TIMEOUT);
        assertThat(stored("ints")).isEqualTo(2);
        assertThat(relay.clientFrames(0x01)).isEqualTo(1); // one HELLO, passed on as version 2 only
    }

    /**
     * The broker, with every queue's {@code send} failing with {@code failure}, as a queue whose storage broke would;
     * its queues are not store-first, so the server sends through {@code send}.
     */
    private static ReactiveBroker sendsFail(ReactiveBroker broker, RuntimeException failure) {
        UnaryOperator<Object> failingQueue = q -> proxy(ReactiveQueue.class, q,
                m -> m.getName().equals("send") ? Mono.error(failure) : null);
        return proxy(ReactiveBroker.class, broker, m -> null, failingQueue);
    }

    private static <T> T proxy(Class<T> type, Object target, java.util.function.Function<Method, Object> override) {
        return proxy(type, target, override, UnaryOperator.identity());
    }

    /** A {@code type} calling {@code target}, but for methods {@code override} answers; Mono results mapped. */
    private static <T> T proxy(Class<T> type, Object target, java.util.function.Function<Method, Object> override,
            UnaryOperator<Object> mapQueues) {
        Object p = Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (self, m, args) -> {
            Object answer = override.apply(m);
            if (answer != null) {
                return answer;
            }
            Object result;
            try {
                result = m.invoke(target, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
            boolean queue = m.getName().equals("queue") || m.getName().equals("lookup");
            return queue ? ((Mono<?>) result).map(mapQueues) : result;
        });
        return type.cast(p);
    }
}
