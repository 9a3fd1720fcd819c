package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.LeaseOutcome;
import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.reactive.internal.AckEach;
import dev.rill.reactive.internal.DeclareOnly;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * One queue used through views of different codecs: the queue keeps objects of the codec it was first declared
 * with, and a view with another codec converts through bytes (what a served broker's {@code Codec.bytes()} view
 * needs next to the application's typed one).
 */
class TranscodingQueueTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    /** Decimal integers as UTF-8; refuses anything else (a strict codec, like JSON for a record). */
    private static final Codec<Integer> INTS = Codec.of(i -> i.toString().getBytes(StandardCharsets.UTF_8), b -> {
        String s = new String(b, StandardCharsets.UTF_8);
        try {
            return Integer.valueOf(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not an integer: '" + s + "'");
        }
    });

    private final VirtualTimeScheduler clock = VirtualTimeScheduler.create();
    private final List<ReactiveBroker> brokers = new ArrayList<>();

    @TempDir
    Path dir;

    @AfterEach
    void tearDown() {
        for (ReactiveBroker b : brokers) {
            b.close().block(TIMEOUT);
        }
        clock.dispose();
    }

    private ReactiveBroker inMemory() {
        ReactiveBroker b = Rill.inMemory(clock);
        brokers.add(b);
        return b;
    }

    private static <T> ReactiveQueue<T> queue(ReactiveBroker b, QueueSpec spec, Codec<T> codec) {
        return b.queue(spec, codec).block(TIMEOUT);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    private static <T> List<Delivery<T>> receive(ReactiveQueue<T> q, int n) {
        List<Delivery<T>> got = q.receive(ReceiveOptions.defaults().maxMessages(n)).collectList().block(TIMEOUT);
        assertThat(got).hasSize(n);
        return got;
    }

    @Test
    void aTypedViewAndABytesViewOfOneQueueExchangeMessagesBothWays() {
        ReactiveBroker b = inMemory();
        QueueSpec spec = QueueSpec.named("orders");
        ReactiveQueue<String> typed = queue(b, spec, Codec.utf8());
        ReactiveQueue<byte[]> raw = queue(b, spec, Codec.bytes());
        assertThat(raw).isInstanceOf(TranscodingQueue.class);

        typed.send(OutboundMessage.of("é from the typed view").key("k").header("h", "v")).block(TIMEOUT);
        raw.send(OutboundMessage.of(utf8("from the bytes view"))).block(TIMEOUT);

        List<Delivery<byte[]>> asBytes = receive(raw, 1);
        Message<byte[]> m = asBytes.get(0).message();
        assertThat(utf8(m.payload())).isEqualTo("é from the typed view");
        assertThat(m.key()).isEqualTo("k");
        assertThat(m.headers()).containsEntry("h", "v");
        assertThat(m.id()).isPositive();
        asBytes.get(0).ack().block(TIMEOUT);

        List<Delivery<String>> asStrings = receive(typed, 1);
        assertThat(asStrings.get(0).payload()).isEqualTo("from the bytes view"); // stored as a String
        asStrings.get(0).ack().block(TIMEOUT);
        assertThat(typed.stats().block(TIMEOUT).acked()).isEqualTo(2);
    }

    @Test
    void viewsWithTheQueuesOwnCodecInstanceCallNoCodecAndGetTheSameObjects() {
        ReactiveBroker b = inMemory();
        assertThat(Codec.utf8()).isSameAs(Codec.utf8());
        assertThat(Codec.bytes()).isSameAs(Codec.bytes());
        int[] calls = new int[1];
        Codec<StringBuilder> counting = Codec.of(sb -> {
            calls[0]++;
            return utf8(sb.toString());
        }, bytes -> {
            calls[0]++;
            return new StringBuilder(utf8(bytes));
        });
        QueueSpec spec = QueueSpec.named("objects");
        ReactiveQueue<StringBuilder> first = queue(b, spec, counting);
        ReactiveQueue<StringBuilder> again = queue(b, spec, counting);
        assertThat(again).isSameAs(first).isInstanceOf(InMemoryQueue.class);

        StringBuilder sent = new StringBuilder("kept as it is");
        first.send(OutboundMessage.of(sent)).block(TIMEOUT);
        assertThat(receive(again, 1).get(0).payload()).isSameAs(sent);
        assertThat(calls[0]).isZero();

        // another instance of an equivalent codec works too, through one conversion each way
        Codec<StringBuilder> other = Codec.of(sb -> utf8(sb.toString()), bytes -> new StringBuilder(utf8(bytes)));
        ReactiveQueue<StringBuilder> converting = queue(b, spec, other);
        converting.send(OutboundMessage.of(new StringBuilder("converted"))).block(TIMEOUT);
        assertThat(receive(first, 1).get(0).payload().toString()).isEqualTo("converted");
        assertThat(calls[0]).isEqualTo(1); // decoded with the queue's codec at the send
    }

    @Test
    void aPayloadTheQueuesCodecCannotDecodeFailsItsSendAndIsNotStored() {
        ReactiveBroker b = inMemory();
        QueueSpec spec = QueueSpec.named("ints");
        ReactiveQueue<Integer> ints = queue(b, spec, INTS);
        ReactiveQueue<byte[]> raw = queue(b, spec, Codec.bytes());

        assertThat(raw.send(OutboundMessage.of(utf8("42"))).block(TIMEOUT).messageId()).isPositive();
        assertThatThrownBy(() -> raw.send(OutboundMessage.of(utf8("forty-two"))).block(TIMEOUT))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("queue 'ints'")
                .hasMessageContaining("not an integer: 'forty-two'");
        assertThat(ints.stats().block(TIMEOUT).size()).isEqualTo(1);
        assertThat(receive(ints, 1).get(0).payload()).isEqualTo(42);
    }

    @Test
    void sendManyAnswersWithTheCallersOwnMessagesInOrderAndStopsAtOneItCannotConvert() {
        ReactiveBroker b = inMemory();
        QueueSpec spec = QueueSpec.named("many");
        queue(b, spec, INTS);
        ReactiveQueue<byte[]> raw = queue(b, spec, Codec.bytes());
        List<OutboundMessage<byte[]>> sent = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            sent.add(OutboundMessage.of(utf8(i == 300 ? "x" : Integer.toString(i))));
        }
        List<OutboundMessage<byte[]>> answered = new ArrayList<>();
        StepVerifier.create(raw.sendMany(Flux.fromIterable(sent)))
                .thenConsumeWhile(r -> answered.add(r.message()))
                .expectErrorSatisfies(e -> assertThat(e).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("not an integer: 'x'"))
                .verify(TIMEOUT);
        assertThat(answered).hasSize(300);
        for (int i = 0; i < 300; i++) {
            assertThat(answered.get(i)).isSameAs(sent.get(i));
        }
        assertThat(raw.stats().block(TIMEOUT).size()).isEqualTo(300);
    }

    @Test
    void aPayloadAConsumerCannotDecodeFailsInItsHandlerAndTheStreamGoesOn() {
        ReactiveBroker b = inMemory();
        QueueSpec spec = QueueSpec.named("mixed").maxDeliveries(2).deadLetterQueue("mixed-dlq");
        ReactiveQueue<byte[]> raw = queue(b, spec, Codec.bytes()); // first declared: stores byte[]
        ReactiveQueue<Integer> ints = queue(b, spec, INTS);
        for (String s : List.of("1", "two", "3")) {
            raw.send(OutboundMessage.of(utf8(s))).block(TIMEOUT);
        }

        List<Integer> handled = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        // each failure is nacked (counted): at maxDeliveries 2 the second nack dead-letters it
        ints.receive(ReceiveOptions.defaults().maxMessages(4))
                .concatMap(d -> {
                    try {
                        handled.add(d.payload());
                        return d.ack();
                    } catch (IllegalArgumentException e) {
                        failures.add(d.message().id() + ": " + e.getMessage());
                        return d.nack();
                    }
                })
                .then().block(TIMEOUT);

        assertThat(handled).containsExactly(1, 3);
        assertThat(failures).hasSize(2).allSatisfy(f -> assertThat(f).startsWith("2: message 2: ")
                .contains("cannot decode its payload of 3 bytes").contains("not an integer: 'two'"));
        assertThat(ints.stats().block(TIMEOUT).size()).isZero();
        List<Message<byte[]>> dead = queue(b, QueueSpec.named("mixed-dlq"), Codec.bytes()).peek(10)
                .collectList().block(TIMEOUT);
        assertThat(dead).hasSize(1);
        assertThat(utf8(dead.get(0).payload())).isEqualTo("two");
    }

    @Test
    void peekConvertsAndDecodesOnUse() {
        ReactiveBroker b = inMemory();
        QueueSpec spec = QueueSpec.named("browse");
        ReactiveQueue<byte[]> raw = queue(b, spec, Codec.bytes());
        ReactiveQueue<Integer> ints = queue(b, spec, INTS);
        raw.send(OutboundMessage.of(utf8("7"))).block(TIMEOUT);
        raw.send(OutboundMessage.of(utf8("seven"))).block(TIMEOUT);

        List<Message<Integer>> seen = ints.peek(10).collectList().block(TIMEOUT);
        assertThat(seen).hasSize(2);
        assertThat(seen.get(0).payload()).isEqualTo(7);
        assertThat(seen.get(1).toString()).contains("5 bytes, not decoded yet"); // logging never decodes
        assertThatThrownBy(() -> seen.get(1).payload()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not an integer");
        assertThat(raw.stats().block(TIMEOUT).ready()).isEqualTo(2); // peeking leased nothing
    }

    @Test
    void acksOfConvertedDeliveriesGoThroughTheQueuesBatchCalls() {
        ReactiveBroker b = inMemory();
        QueueSpec spec = QueueSpec.named("batch");
        ReactiveQueue<String> typed = queue(b, spec, Codec.utf8());
        ReactiveQueue<byte[]> raw = queue(b, spec, Codec.bytes());
        for (int i = 0; i < 6; i++) {
            typed.send(OutboundMessage.of("m" + i)).block(TIMEOUT);
        }
        List<Delivery<byte[]>> got = receive(raw, 6);
        raw.ackAll(got.subList(0, 2)).block(TIMEOUT);
        @SuppressWarnings("unchecked")
        AckEach<byte[]> each = (AckEach<byte[]>) raw;
        assertThat(each.ackEach(got.subList(2, 4)).block(TIMEOUT))
                .containsExactly(LeaseOutcome.OK, LeaseOutcome.OK);
        got.get(4).ack().block(TIMEOUT);
        assertThat(got.subList(0, 5)).allMatch(Delivery::isSettled);
        // the typed view refuses a delivery of another queue, as the queue itself does
        ReactiveQueue<String> elsewhere = queue(b, QueueSpec.named("elsewhere"), Codec.utf8());
        elsewhere.send(OutboundMessage.of("x")).block(TIMEOUT);
        Delivery<String> foreign = receive(elsewhere, 1).get(0);
        assertThatThrownBy(() -> typed.ackAll(List.of(foreign)).block(TIMEOUT))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not received from queue 'batch'");
        QueueStats s = typed.stats().block(TIMEOUT);
        assertThat(s.acked()).isEqualTo(5);
        assertThat(s.inFlight()).isEqualTo(1);
    }

    @Test
    void aDeletedQueueDeclaredAgainTakesItsNewFirstCodec() {
        ReactiveBroker b = inMemory();
        QueueSpec spec = QueueSpec.named("again");
        queue(b, spec, Codec.utf8());
        assertThat(queue(b, spec, Codec.bytes())).isInstanceOf(TranscodingQueue.class);
        assertThat(b.delete("again").block(TIMEOUT)).isTrue();
        assertThat(queue(b, spec, Codec.bytes())).isInstanceOf(InMemoryQueue.class);
        assertThat(queue(b, spec, Codec.utf8())).isInstanceOf(TranscodingQueue.class);
    }

    @Test
    void aStoredPayloadOfAnotherTypeEndsTheStreamClearlyAndGoesBackUncounted() {
        ReactiveBroker b = inMemory();
        // two queues of different codecs share one dead-letter queue: it stores its first source's type
        ReactiveQueue<String> strings = queue(b, QueueSpec.named("s").deadLetterQueue("shared-dlq"), Codec.utf8());
        ReactiveQueue<Integer> ints = queue(b, QueueSpec.named("i").deadLetterQueue("shared-dlq"), INTS);
        strings.send(OutboundMessage.of("a string")).block(TIMEOUT);
        ints.send(OutboundMessage.of(5)).block(TIMEOUT);
        receive(strings, 1).get(0).reject("bad").block(TIMEOUT);
        receive(ints, 1).get(0).reject("bad").block(TIMEOUT);

        ReactiveQueue<byte[]> dlq = queue(b, QueueSpec.named("shared-dlq"), Codec.bytes());
        StepVerifier.create(dlq.receive())
                .assertNext(d -> {
                    assertThat(utf8(d.payload())).isEqualTo("a string");
                    d.ack().block(TIMEOUT);
                })
                .expectErrorSatisfies(e -> assertThat(e).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("queue 'shared-dlq'").hasMessageContaining("java.lang.Integer")
                        .hasMessageContaining("first declared with"))
                .verify(TIMEOUT);
        QueueStats s = dlq.stats().block(TIMEOUT);
        assertThat(s.ready()).isEqualTo(1); // given back at once, not left leased until its visibility timeout
        assertThat(s.inFlight()).isZero();
    }

    @Test
    void aDurableQueueLogsWithItsStoredCodecWhicheverViewSent() {
        QueueSpec spec = QueueSpec.named("journal");
        ReactiveBroker first = Rill.embedded(dir, DurabilityOptions.defaults(), clock);
        ReactiveQueue<String> typed = queue(first, spec, Codec.utf8());
        ReactiveQueue<byte[]> raw = queue(first, spec, Codec.bytes()); // must not replace the log's codec
        typed.send(OutboundMessage.of("from the typed view")).block(TIMEOUT);
        raw.send(OutboundMessage.of(utf8("from the bytes view"))).block(TIMEOUT);
        typed.send(OutboundMessage.of("typed again")).block(TIMEOUT);
        first.close().block(TIMEOUT);

        ReactiveBroker second = Rill.embedded(dir, DurabilityOptions.defaults(), clock);
        brokers.add(second);
        ReactiveQueue<byte[]> back = queue(second, spec, Codec.bytes());
        assertThat(receive(back, 3)).extracting(d -> utf8(d.payload()))
                .containsExactly("from the typed view", "from the bytes view", "typed again");
    }

    @Test
    void aQueueRecoveredWithBytesServesATypedViewDeclaredAfterwards() {
        QueueSpec spec = QueueSpec.named("served");
        ReactiveBroker first = Rill.embedded(dir, DurabilityOptions.defaults(), clock);
        queue(first, spec, Codec.bytes()).send(OutboundMessage.of(utf8("stored as bytes"))).block(TIMEOUT);
        first.close().block(TIMEOUT);

        // what rill serve does: every queue of the log live at open, holding byte[]
        ReactiveBroker second = Rill.embedded(dir, DurabilityOptions.defaults().declareRecoveredWith(Codec.bytes()),
                clock);
        brokers.add(second);
        ReactiveQueue<String> typed = queue(second, spec, Codec.utf8());
        assertThat(typed).isInstanceOf(TranscodingQueue.class);
        Delivery<String> d = receive(typed, 1).get(0);
        assertThat(d.payload()).isEqualTo("stored as bytes");
        d.ack().block(TIMEOUT);
        typed.send(OutboundMessage.of("sent typed")).block(TIMEOUT);
        assertThat(utf8(receive(queue(second, spec, Codec.bytes()), 1).get(0).payload())).isEqualTo("sent typed");
    }

    @Test
    void aDeclareOnlyLeavesTheChoiceOfCodecToTheFirstTypedDeclare() {
        ReactiveBroker b = inMemory();
        QueueSpec spec = QueueSpec.named("tool").deadLetterQueue("tool-dlq");
        ReactiveQueue<?> tools = ((DeclareOnly) b).declareOnly(spec).block(TIMEOUT);
        assertThat(tools.spec()).isEqualTo(spec);
        assertThat(b.list().block(TIMEOUT)).containsExactly("tool", "tool-dlq");
        assertThat(queue(b, spec, INTS)).isInstanceOf(InMemoryQueue.class); // the first codec: no conversion
        assertThat(queue(b, spec, Codec.bytes())).isInstanceOf(TranscodingQueue.class);
        assertThat(queue(b, QueueSpec.named("tool-dlq"), INTS)).isInstanceOf(InMemoryQueue.class);
        assertThat(tools.stats().block(TIMEOUT).size()).isZero();
        // a spec that contradicts the declared one is refused, as by queue()
        assertThatThrownBy(() -> ((DeclareOnly) b).declareOnly(QueueSpec.named("tool").capacity(5)).block(TIMEOUT))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("capacity");

        ReactiveBroker durable = Rill.embedded(dir, DurabilityOptions.defaults(), clock);
        brokers.add(durable);
        assertThatThrownBy(() -> ((DeclareOnly) durable).declareOnly(spec).block(TIMEOUT))
                .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("needs the codec");
    }

    @Test
    void underConcurrentProducersAndConsumersOfBothViewsEveryMessageArrivesOnce() {
        ReactiveBroker b = Rill.inMemory(); // real time: parallel threads on both sides
        brokers.add(b);
        QueueSpec spec = QueueSpec.named("load").capacity(1_000);
        ReactiveQueue<Integer> ints = queue(b, spec, INTS);
        ReactiveQueue<byte[]> raw = queue(b, spec, Codec.bytes());
        int perProducer = 5_000;
        // two producers per view, on parallel threads, through a queue small enough to fill
        Flux<Integer> sent = Flux.range(0, 4).parallel(4).runOn(reactor.core.scheduler.Schedulers.parallel())
                .flatMap(p -> {
                    Flux<Integer> values = Flux.range(p * perProducer, perProducer);
                    return p % 2 == 0
                            ? ints.sendMany(values.map(OutboundMessage::of)).map(r -> r.message().payload())
                            : raw.sendMany(values.map(i -> OutboundMessage.of(utf8(Integer.toString(i)))))
                                    .map(r -> Integer.valueOf(utf8(r.message().payload())));
                })
                .sequential();
        // two consumers per view, each message acked individually
        Flux<Integer> received = Flux.merge(
                ints.receive(ReceiveOptions.defaults().prefetch(16)).flatMap(d -> d.ack().thenReturn(d.payload())),
                ints.receive(ReceiveOptions.defaults().prefetch(16)).flatMap(d -> d.ack().thenReturn(d.payload())),
                raw.receive(ReceiveOptions.defaults().prefetch(16))
                        .flatMap(d -> d.ack().thenReturn(Integer.valueOf(utf8(d.payload())))),
                raw.receive(ReceiveOptions.defaults().prefetch(16))
                        .flatMap(d -> d.ack().thenReturn(Integer.valueOf(utf8(d.payload())))))
                .take(4L * perProducer);

        List<Integer> got = new ArrayList<>();
        Flux.merge(sent.then().flux().cast(Integer.class), received.doOnNext(got::add))
                .then().block(Duration.ofSeconds(60));

        assertThat(got).hasSize(4 * perProducer);
        assertThat(new java.util.TreeSet<>(got)).hasSize(4 * perProducer)
                .first().isEqualTo(0);
        assertThat(new java.util.TreeSet<>(got).last()).isEqualTo(4 * perProducer - 1);
        QueueStats s = ints.stats().block(TIMEOUT);
        assertThat(s.size()).isZero();
        assertThat(s.acked()).isEqualTo(4L * perProducer);
    }

    @Test
    void aPipelineOnPayloadRetriesAPayloadItCannotDecodeAndDeadLettersItWithTheReason() {
        ReactiveBroker b = inMemory();
        QueueSpec spec = QueueSpec.named("piped").maxDeliveries(3).deadLetterQueue("piped-dlq");
        ReactiveQueue<byte[]> raw = queue(b, spec, Codec.bytes());
        for (String s : List.of("1", "two", "3")) {
            raw.send(OutboundMessage.of(utf8(s))).block(TIMEOUT);
        }
        List<Integer> handled = new java.util.concurrent.CopyOnWriteArrayList<>();
        QueuePipeline pipeline = queue(b, spec, INTS)
                .pipelineOnPayload(i -> reactor.core.publisher.Mono.fromRunnable(() -> handled.add(i)))
                .retry(RetryPolicy.immediate())
                .start();
        try {
            org.awaitility.Awaitility.await().atMost(TIMEOUT).untilAsserted(() -> {
                assertThat(handled).containsExactlyInAnyOrder(1, 3);
                assertThat(b.stats().block(TIMEOUT)).filteredOn(q -> q.name().equals("piped-dlq"))
                        .singleElement().satisfies(q -> assertThat(q.size()).isEqualTo(1));
            });
        } finally {
            pipeline.dispose();
        }
        Message<byte[]> dead = queue(b, QueueSpec.named("piped-dlq"), Codec.bytes()).peek(1).blockFirst(TIMEOUT);
        assertThat(utf8(dead.payload())).isEqualTo("two");
        assertThat(dead.headers().get(Message.HEADER_DEAD_LETTER_REASON)).contains("not an integer: 'two'");
        assertThat(dead.headers().get(Message.HEADER_DELIVERY_COUNT)).isEqualTo("3");
    }
}
