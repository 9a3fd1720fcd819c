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
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.core.publisher.Flux;

/**
 * An Error on a connection's event loop that cannot even be put in words (an OutOfMemoryError where building its
 * message or log line needs the memory there is not) ends that connection with an ERROR, and the server goes on
 * serving the others.
 *
 * <p>Before, the Error went back to netty from {@code ServerConnection.channelRead}; {@code exceptionCaught} threw
 * while describing it, then netty's own fallback log threw while formatting it, so it left the pipeline, and the
 * epoll read loop released the read buffer the frame decoder had already released: {@code
 * IllegalReferenceCountException: refCnt: 0, decrement: 1 at ...EpollStreamUnsafe.handleReadException} in the
 * selector loop ({@code rill serve -Xmx512m} fed messages of tens of MiB logged it three times), exceptionCaught and
 * the input shutdown skipped, the connection left open, and its client waited for an answer until its timeout.
 */
class UnloggableErrorTest {

    private static final Duration TIMEOUT = ServingFixture.TIMEOUT;

    @RegisterExtension
    final ServingFixture fixture = ServingFixture.onVirtualTime();

    @Test
    void anErrorThatCannotBeDescribedEndsItsConnectionWithAnErrorAndTheOthersGoOn() throws Exception {
        RillServer server = fixture.bind(ServerOptions.defaults().broker(new PeekingBroker(fixture.local(), new UnloggablePeeks())));
        ReactiveBroker other = fixture.connect(server, ClientOptions.defaults().reconnectAttempts(0));
        BlockingQueue<String> got = fixture.receiving(other, "other");
        ReactiveBroker client = fixture.connect(server, ClientOptions.defaults().reconnectAttempts(0));
        ReactiveQueue<String> odd = client.queue(QueueSpec.named("odd"), Codec.utf8()).block(TIMEOUT);
        odd.send(OutboundMessage.of("m")).block(TIMEOUT);

        Throwable e = catchThrowable(() -> odd.peek(10).collectList().block(TIMEOUT));

        assertThat(e).isInstanceOf(RillException.class).hasMessageContaining("INTERNAL_ERROR")
                .hasMessageContaining(Unloggable.class.getName());
        ServingFixture.stillConnected(other, "other", got);
        assertThat(server.connectionErrors().get("internal_error")).isEqualTo(1);
    }

    /** Out of memory, and so without the memory to say so: its description throws it again. */
    private static final class Unloggable extends OutOfMemoryError {
        private static final long serialVersionUID = 1L;

        @Override
        public String toString() {
            throw this;
        }

        @Override
        public String getMessage() {
            throw this;
        }
    }

    /** A queue's peek fails at once with an {@link Unloggable}. */
    private static final class UnloggablePeeks implements PeekingBroker.Peek {
        @Override
        public <T> Flux<Message<T>> peek(ReactiveQueue<T> queue, int max) {
            throw new Unloggable();
        }
    }
}
