package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.ReceiveOptions;
import dev.rill.reactive.Rill;
import dev.rill.reactive.RillException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/**
 * A broker served by {@link RillServer} and used in the server's JVM with typed codecs at the same time: the queue
 * keeps objects of the codec it was first declared with and the server's {@code Codec.bytes()} views convert, so
 * local and remote producers and consumers exchange messages. Payloads that a codec cannot convert fail where
 * they are sent or handled, never silently and never by ending a stream.
 */
class ServedBrokerCodecTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    /** Decimal integers as UTF-8; refuses anything else (a strict codec, like JSON for a record). */
    private static final Codec<Integer> INTS = Codec.of(i -> i.toString().getBytes(StandardCharsets.UTF_8), b -> {
        String s = new String(b, StandardCharsets.UTF_8);
        try {
            return Integer.valueOf(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not an integer: '" + s + "'");
        }
    });

    private final ReactiveBroker local = Rill.inMemory();
    private RillServer server;
    private ReactiveBroker client;

    @AfterEach
    void tearDown() {
        ServingFixture.close(client, server);
        local.close().block(TIMEOUT);
    }

    private void serve(ReactiveBroker broker) {
        server = RillServer.bindNow(ServerOptions.defaults().broker(broker), TIMEOUT);
        client = RillClient.connect(URI.create("rill://127.0.0.1:" + server.port()),
                ClientOptions.defaults().reconnectAttempts(0)).block(TIMEOUT);
    }

    private QueueStats stats(String queue) {
        return local.stats().block(TIMEOUT).stream().filter(q -> q.name().equals(queue)).findFirst().orElseThrow();
    }

    private static <T> Delivery<T> one(ReactiveQueue<T> q) {
        return q.receive(ReceiveOptions.defaults().maxMessages(1)).blockFirst(TIMEOUT);
    }

    @Test
    void aTypedLocalQueueAndRemoteClientsExchangeMessagesBothWays() {
        ReactiveQueue<String> typed = local.queue(QueueSpec.named("typed"), Codec.utf8()).block(TIMEOUT);
        typed.send(OutboundMessage.of("sent in the server's JVM").key("k")).block(TIMEOUT);
        serve(local);

        ReactiveQueue<String> remote = client.queue(QueueSpec.named("typed"), Codec.utf8()).block(TIMEOUT);
        Delivery<String> d = one(remote);
        assertThat(d.payload()).isEqualTo("sent in the server's JVM");
        assertThat(d.message().key()).isEqualTo("k");
        d.ack().block(TIMEOUT);

        remote.send(OutboundMessage.of("sent by a remote client")).block(TIMEOUT);
        Delivery<String> back = one(typed);
        assertThat(back.payload()).isEqualTo("sent by a remote client");
        back.ack().block(TIMEOUT);
        assertThat(stats("typed").acked()).isEqualTo(2);
        assertThat(stats("typed").size()).isZero();
    }

    @Test
    void bytesTheQueuesCodecCannotDecodeFailTheRemoteSendAndAreNotStored() {
        ReactiveQueue<Integer> ints = local.queue(QueueSpec.named("ints"), INTS).block(TIMEOUT);
        serve(local);
        ReactiveQueue<byte[]> remote = client.queue(QueueSpec.named("ints"), Codec.bytes()).block(TIMEOUT);

        assertThatThrownBy(() -> remote.send(OutboundMessage.of("x".getBytes(StandardCharsets.UTF_8)))
                .block(TIMEOUT))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("queue 'ints' refused the message (INVALID_ARGUMENT)")
                .hasMessageContaining("the codec the queue was first declared with cannot decode: not an integer: 'x'");
        assertThat(stats("ints").size()).isZero();
        // the connection carries on
        remote.send(OutboundMessage.of("17".getBytes(StandardCharsets.UTF_8))).block(TIMEOUT);
        assertThat(one(ints).payload()).isEqualTo(17);
    }

    @Test
    void aPayloadARemoteConsumerCannotDecodeFailsInItsHandlerAndTheStreamGoesOn() {
        ReactiveQueue<String> typed = local.queue(QueueSpec.named("mixed"), Codec.utf8()).block(TIMEOUT);
        for (String s : List.of("1", "two", "3")) {
            typed.send(OutboundMessage.of(s)).block(TIMEOUT);
        }
        serve(local);
        ReactiveQueue<Integer> remote = client.queue(QueueSpec.named("mixed"), INTS).block(TIMEOUT);

        List<Integer> handled = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        remote.receive(ReceiveOptions.defaults().maxMessages(3))
                .concatMap(d -> {
                    try {
                        handled.add(d.payload());
                        return d.ack();
                    } catch (IllegalArgumentException e) {
                        failures.add(d.message().id() + " " + d.message() + ": " + e.getMessage());
                        return d.reject("cannot decode");
                    }
                })
                .then().block(TIMEOUT);

        assertThat(handled).containsExactly(1, 3);
        assertThat(failures).singleElement().asString().startsWith("2 Message{id=2, payload=<3 bytes, not decoded")
                .contains("message 2: its codec cannot decode its payload of 3 bytes: not an integer: 'two'");
        assertThat(stats("mixed").size()).isZero();
    }

    @Test
    void aServedBrokerThatIgnoresTheViewsCodecEndsTheRemoteStreamWithAClearErrorAndTheMessageStaysQueued() {
        ReactiveBroker ignoring = new CodecIgnoringBroker(local);
        local.queue(QueueSpec.named("typed"), Codec.utf8()).block(TIMEOUT)
                .send(OutboundMessage.of("a String")).block(TIMEOUT);
        local.queue(QueueSpec.named("raw"), Codec.bytes()).block(TIMEOUT)
                .send(OutboundMessage.of(new byte[] {1, 2})).block(TIMEOUT);
        serve(ignoring);

        ReactiveQueue<byte[]> typed = client.queue(QueueSpec.named("typed"), Codec.bytes()).block(TIMEOUT);
        StepVerifier.create(typed.receive())
                .expectErrorSatisfies(e -> assertThat(e).isInstanceOf(RillException.class)
                        .hasMessageContaining("queue 'typed'").hasMessageContaining("java.lang.String")
                        .hasMessageContaining("must convert payloads"))
                .verify(TIMEOUT);
        QueueStats s = stats("typed");
        assertThat(s.ready()).isEqualTo(1);
        assertThat(s.inFlight()).isZero();

        // the same connection goes on serving a queue whose view gives bytes
        ReactiveQueue<byte[]> raw = client.queue(QueueSpec.named("raw"), Codec.bytes()).block(TIMEOUT);
        Delivery<byte[]> d = raw.receiveOne(Duration.ZERO).block(TIMEOUT);
        assertThat(d.payload()).containsExactly(1, 2);
        d.ack().block(TIMEOUT);
        assertThat(stats("raw").size()).isZero();
    }

    @Test
    void aRemoteConsumerThatGoesAwayGivesATypedQueuesMessagesBackAtOnce() {
        ReactiveQueue<Integer> typed = local.queue(QueueSpec.named("leased").visibilityTimeout(Duration.ofMinutes(10)),
                INTS).block(TIMEOUT);
        for (int i = 0; i < 3; i++) {
            typed.send(OutboundMessage.of(i)).block(TIMEOUT);
        }
        serve(local);
        ReactiveQueue<Integer> remote = client.lookup("leased", INTS).block(TIMEOUT);
        List<Delivery<Integer>> held = remote.receive(ReceiveOptions.defaults().maxMessages(3)).collectList()
                .block(TIMEOUT);
        assertThat(held).extracting(Delivery::payload).containsExactly(0, 1, 2);
        assertThat(stats("leased").inFlight()).isEqualTo(3);

        client.close().block(TIMEOUT); // no ack: the server gives the leases back when the connection closes
        client = null;
        org.awaitility.Awaitility.await().atMost(TIMEOUT).until(() -> stats("leased").ready() == 3);
        List<Integer> again = typed.receive(ReceiveOptions.defaults().maxMessages(3))
                .concatMap(d -> d.ack().thenReturn(d.payload())).collectList().block(TIMEOUT);
        assertThat(again).containsExactly(0, 1, 2); // long before the 10-minute visibility timeout
    }

    @Test
    void underLoadLocalAndRemoteProducersAndConsumersOfOneTypedQueueLoseNothing() {
        QueueSpec spec = QueueSpec.named("load").capacity(500);
        ReactiveQueue<Integer> typed = local.queue(spec, INTS).block(TIMEOUT);
        serve(local);
        ReactiveQueue<Integer> remote = client.queue(spec, INTS).block(TIMEOUT);
        int each = 5_000;
        Mono<Void> producers = Mono.when(
                typed.sendMany(Flux.range(0, each).map(OutboundMessage::of)).then(),
                remote.sendMany(Flux.range(each, each).map(OutboundMessage::of)).then());
        Flux<Integer> consumers = Flux.merge(
                        typed.receive(ReceiveOptions.defaults().prefetch(32))
                                .flatMap(d -> d.ack().thenReturn(d.payload())),
                        remote.receive(ReceiveOptions.defaults().prefetch(32))
                                .flatMap(d -> d.ack().thenReturn(d.payload())))
                .take(2L * each);

        List<Integer> got = new ArrayList<>();
        Mono.when(producers, consumers.doOnNext(got::add).then()).block(Duration.ofSeconds(60));

        assertThat(got).hasSize(2 * each).doesNotHaveDuplicates();
        assertThat(got).allMatch(i -> i >= 0 && i < 2 * each);
        QueueStats s = stats("load");
        assertThat(s.size()).isZero();
        assertThat(s.acked()).isEqualTo(2L * each);
    }

    /** A broker of another implementation that gives every view the queue's first codec, whatever it was asked. */
    private static final class CodecIgnoringBroker extends ForwardingBroker {

        CodecIgnoringBroker(ReactiveBroker delegate) {
            super(delegate);
        }

        @Override
        @SuppressWarnings({"unchecked", "rawtypes"})
        public <T> Mono<ReactiveQueue<T>> queue(QueueSpec spec, Codec<T> codec) {
            Codec first = spec.name().equals("typed") ? Codec.utf8() : Codec.bytes();
            return delegate.queue(spec, first).map(q -> (ReactiveQueue<T>) q);
        }

        @Override
        @SuppressWarnings({"unchecked", "rawtypes"})
        public <T> Mono<ReactiveQueue<T>> lookup(String name, Codec<T> codec) {
            Codec first = name.equals("typed") ? Codec.utf8() : Codec.bytes();
            return delegate.lookup(name, first).map(q -> (ReactiveQueue<T>) q);
        }
    }
}
