package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueEvent;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;

/**
 * A value the wire cannot carry fails the one operation that carries it, never the connection: every case here went
 * to the frame encoder, which threw on the event loop, and the connection (every queue, stream and send of that
 * client) was lost. Each test keeps a receive stream open across the bad call and proves afterwards that it still
 * delivers on the same connection (the clients do not reconnect).
 */
class EncodeFailureTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);
    private static final String TOO_LONG = "n".repeat(1025); // a name: 1024 UTF-8 bytes at most on the wire
    private static final String UNPAIRED = "orders\uD800"; // no UTF-8 form

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onRealTime();

    private final ReactiveBroker local = fixture.local();

    private ReactiveBroker client() {
        return fixture.connect(fixture.serve(ServerOptions.defaults()), ClientOptions.defaults().reconnectAttempts(0));
    }

    /**
     * A nack delay or lease extension too long for a count of milliseconds (e.g. {@code Duration.ofSeconds(Long.MAX_VALUE)})
     * saturates as it does in one JVM: the message waits "forever", the call returns its Mono. It threw an
     * ArithmeticException from the call itself.
     */
    @Test
    void hugeNackDelayAndExtensionSaturateInsteadOfThrowing() throws Exception {
        ReactiveBroker client = client();
        ReactiveQueue<String> q = client.queue(QueueSpec.named("huge"), Codec.utf8()).block(TIMEOUT);
        q.send(OutboundMessage.of("a")).block(TIMEOUT);
        Delivery<String> d = q.receiveOne(TIMEOUT).block(TIMEOUT);
        assertThat(d).isNotNull();
        Duration forever = Duration.ofSeconds(Long.MAX_VALUE);
        d.extend(forever).block(TIMEOUT);
        d.nack(forever).block(TIMEOUT);
        assertThat(q.stats().block(TIMEOUT).delayed()).isEqualTo(1);
        BlockingQueue<String> got = fixture.receiving(client, "huge.after");
        ServingFixture.stillConnected(client, "huge.after", got);
    }

    /**
     * Queue names the broker's admin calls take as plain strings (lookup, delete, purge, redrive): one longer than the
     * wire's 1024 UTF-8 bytes, or with an unpaired surrogate, fails that call with an IllegalArgumentException naming
     * the argument and the limit.
     */
    @Test
    void aNameTheWireCannotCarryFailsTheCallNotTheConnection() throws Exception {
        ReactiveBroker client = client();
        BlockingQueue<String> got = fixture.receiving(client, "work");
        for (String bad : List.of(TOO_LONG, UNPAIRED)) {
            List<Supplier<Mono<?>>> calls = List.of(
                    () -> client.lookup(bad, Codec.utf8()),
                    () -> client.delete(bad),
                    () -> client.purge(bad),
                    () -> client.redrive(bad, 1),
                    () -> client.redrive(bad, "work", 1),
                    () -> client.redrive("work.dlq", bad, 1));
            for (Supplier<Mono<?>> call : calls) {
                assertThatThrownBy(() -> call.get().block(TIMEOUT)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining(bad == TOO_LONG ? "1025 UTF-8 bytes, the limit is 1024"
                                : "unpaired surrogate");
            }
        }
        ServingFixture.stillConnected(client, "work", got);
    }

    /**
     * A message TTL travels in whole milliseconds and 0 means none: a TTL under 1 ms went as "no TTL" (the message
     * kept forever instead of expiring at once), one beyond the wire's range ended the send with an
     * ArithmeticException. Both are refused, naming the field.
     */
    @Test
    void aTtlTheWireCannotCarryIsRefused() throws Exception {
        ReactiveBroker client = client();
        BlockingQueue<String> got = fixture.receiving(client, "work");
        ReactiveQueue<String> q = client.queue(QueueSpec.named("ttl"), Codec.utf8()).block(TIMEOUT);
        assertThatThrownBy(() -> q.send(OutboundMessage.of("x").ttl(Duration.ofNanos(999_999))).block(TIMEOUT))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ttl")
                .hasMessageContaining("at least 1 ms");
        assertThatThrownBy(() -> q.send(OutboundMessage.of("x").ttl(Duration.ofSeconds(Long.MAX_VALUE)))
                .block(TIMEOUT)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ttl");
        assertThat(ServingFixture.stats(local, "ttl").ready()).isZero();
        ServingFixture.stillConnected(client, "work", got);
    }

    /**
     * A client name or token is checked in UTF-8 bytes, what the wire limits (256 and 2048): 200 'é' are 200
     * characters but 400 bytes, and the HELLO could not be written (the connection failed with no useful reason).
     */
    @Test
    void aClientNameOrTokenIsCheckedInUtf8Bytes() {
        assertThatThrownBy(() -> ClientOptions.defaults().clientName("é".repeat(200)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("256");
        assertThatThrownBy(() -> ClientOptions.defaults().clientName("app\uDC00"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unpaired surrogate");
        assertThatThrownBy(() -> ClientOptions.defaults().token("€".repeat(700)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2048");
        assertThat(ClientOptions.defaults().clientName("é".repeat(128)).clientName()).hasSize(128);
    }

    /**
     * A DEAD_LETTERED event carries the reason an in-JVM consumer gave, which may be of any length (a stack trace) or
     * hold an unpaired surrogate; the EVENT frame's detail holds 8192 bytes of UTF-8. The server cuts it (as it does
     * an error's text) instead of ending the connection of every events subscriber.
     */
    @Test
    void aLongOrUnencodableEventDetailIsFittedNotTheConnection() throws Exception {
        local.queue(QueueSpec.named("ev").deadLetterQueue("ev.dlq"), Codec.utf8()).block(TIMEOUT);
        ReactiveBroker client = client();
        BlockingQueue<String> got = fixture.receiving(client, "work");
        ReactiveQueue<String> remote = client.queue(QueueSpec.named("ev").deadLetterQueue("ev.dlq"), Codec.utf8())
                .block(TIMEOUT);
        BlockingQueue<QueueEvent> events = new LinkedBlockingQueue<>();
        Disposable d = remote.events().filter(e -> e.type() == QueueEvent.Type.DEAD_LETTERED)
                .subscribe(events::add);
        fixture.atEnd(d::dispose);
        ReactiveQueue<String> q = local.queue(QueueSpec.named("ev").deadLetterQueue("ev.dlq"), Codec.utf8())
                .block(TIMEOUT);
        // the events stream is open on the server once a stats round trip after it came back
        client.stats().block(TIMEOUT);
        for (String reason : List.of("é".repeat(10_000), "cut\uD83D")) {
            q.send(OutboundMessage.of("poison")).block(TIMEOUT);
            Delivery<String> del = q.receive().next().block(TIMEOUT);
            del.reject(reason).block(TIMEOUT);
            QueueEvent e = events.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            assertThat(e).as("the DEAD_LETTERED event of reason " + reason.length() + " chars").isNotNull();
            assertThat(e.detail().getBytes(StandardCharsets.UTF_8).length).isLessThanOrEqualTo(8192);
            assertThat(e.detail()).startsWith(reason.substring(0, 3));
        }
        ServingFixture.stillConnected(client, "work", got);
    }

    /**
     * DESCRIBE answers a queue's spec in whole milliseconds: a queue made in the server's JVM with a duration under
     * 1 ms (valid there) cannot be described. The lookup fails with INVALID_ARGUMENT naming the field; it went as 0,
     * which the encoder refused, and the connection ended.
     */
    @Test
    void describingAQueueWithASubMillisecondDurationFailsTheLookupNotTheConnection() throws Exception {
        local.queue(QueueSpec.named("fast").visibilityTimeout(Duration.ofNanos(500_000)), Codec.utf8()).block(TIMEOUT);
        ReactiveBroker client = client();
        BlockingQueue<String> got = fixture.receiving(client, "work");
        assertThatThrownBy(() -> client.lookup("fast", Codec.utf8()).block(TIMEOUT))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("visibilityTimeout")
                .hasMessageContaining("1 ms");
        ServingFixture.stillConnected(client, "work", got);
    }
}
