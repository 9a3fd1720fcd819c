package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.RillException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.core.publisher.Flux;

/**
 * An answer to a request that the server's encoder refuses (a served broker of another implementation handing out a
 * value the wire cannot carry, here a message priority of 300 in a PEEK) fails that request with an ERROR naming the
 * answer and the reason; the connection, its streams and other requests go on. Before, the refusal reached
 * {@code ServerConnection.exceptionCaught} as any bug and ended the connection with ERROR(INTERNAL_ERROR): every
 * queue, stream and send of the client on it was cut, and a client that reconnected and peeked again was cut again.
 */
class RefusedAnswerTest {

    private static final Duration TIMEOUT = ServingFixture.TIMEOUT;

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onVirtualTime();
    @RegisterExtension
    final LogCapture log = new LogCapture();

    @Test
    void aPeekResultTheEncoderRefusesFailsThatPeekAndTheConnectionGoesOn() throws Exception {
        ReactiveBroker local = fixture.local();
        RillServer server = fixture.bind(ServerOptions.defaults().broker(new PeekingBroker(local, new OutOfRangePeeks())));
        ReactiveBroker client = fixture.connect(server, ClientOptions.defaults().reconnectAttempts(0));
        BlockingQueue<String> other = fixture.receiving(client, "other");
        ReactiveQueue<String> odd = client.queue(QueueSpec.named("odd"), Codec.utf8()).block(TIMEOUT);
        odd.send(OutboundMessage.of("m")).block(TIMEOUT);

        Throwable e = catchThrowable(() -> odd.peek(10).collectList().block(TIMEOUT));

        assertThat(e).isInstanceOf(RillException.class)
                .hasMessageStartingWith("server error INTERNAL_ERROR: the server cannot send its answer (PEEK_RESULT)")
                .hasMessageContaining("priority out of range for the wire: 300");
        ServingFixture.stillConnected(client, "other", other);
        assertThat(odd.stats().block(TIMEOUT).ready()).isEqualTo(1); // the connection's requests go on
        assertThat(server.connectionErrors().get("internal_error")).isZero();
        assertThat(log.lines()).anySatisfy(l -> assertThat(l).contains("[undeliverable]")
                .contains("PEEK_RESULT").contains("priority out of range for the wire: 300"));
    }

    /** Serves {@code delegate}; its queues' peeks give every message a priority of 300. */
    private static final class OutOfRangePeeks implements PeekingBroker.Peek {
        @Override
        public <T> Flux<Message<T>> peek(ReactiveQueue<T> queue, int max) {
            return queue.peek(max).map(m -> new Message<>(m.id(), m.payload(), m.key(), 300, m.headers(),
                    m.timestamp()));
        }
    }
}
