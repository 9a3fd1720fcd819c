package dev.rill.examples;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.netty.RillClient;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import java.io.PrintStream;
import java.net.URI;
import java.time.Duration;
import java.util.Objects;
import reactor.core.publisher.Mono;

/**
 * The seed example on the reactive API: send "Hello, World!", receive it, acknowledge (delete) it, then look again
 * and find nothing.
 *
 * <p>The steps are one {@code Mono} chain; {@link #main} blocks on it only at the very end, on the main thread. They
 * are the same code in one JVM and against a server: given a server's URL, {@link #main} runs them through
 * {@link RillClient} instead of on an in-memory broker.
 *
 * <pre>
 * ./mvnw -q -pl mq-examples -am compile exec:java -Dexec.mainClass=dev.rill.examples.ReactiveHelloWorld
 * ./mvnw -q -pl mq-examples -am compile exec:java -Dexec.mainClass=dev.rill.examples.ReactiveHelloWorld \
 *     -Dexec.args=rill://127.0.0.1:7400      # with a server running: java -jar mq-server/target/rill.jar serve
 * </pre>
 */
public final class ReactiveHelloWorld {

    private ReactiveHelloWorld() {
    }

    /**
     * What the example saw.
     *
     * @param messageId the id the queue gave the message
     * @param received the payload received
     * @param deliveryCount the delivery count of the received message (1: first delivery)
     * @param emptyAfterAck whether a second look found nothing once the message was acknowledged
     */
    public record Summary(long messageId, String received, int deliveryCount, boolean emptyAfterAck) {
    }

    /**
     * Runs the example on a fresh in-memory broker, or on the server whose URL is given.
     *
     * @param args nothing, or a server's URL such as {@code rill://127.0.0.1:7400}
     */
    public static void main(String[] args) {
        ReactiveBroker broker = open(args);
        Summary s;
        try {
            s = run(broker, System.out);
        } finally {
            broker.close().block(Duration.ofSeconds(5));
        }
        if (!s.emptyAfterAck() || !"Hello, World!".equals(s.received())) {
            System.exit(1);
        }
    }

    /**
     * The broker to run on: the only line that differs between one JVM and a server.
     *
     * @param args nothing for a fresh in-memory broker, or a server's URL ({@code rill://HOST[:PORT]})
     * @return the broker, for the caller to close
     */
    public static ReactiveBroker open(String... args) {
        return args.length == 0 ? Rill.inMemory()
                : Objects.requireNonNull(RillClient.connect(URI.create(args[0])).block(Duration.ofSeconds(10)));
    }

    /**
     * Sends, receives, acks and receives again, printing each step.
     *
     * @param broker the broker to declare the {@code hello} queue on
     * @param out where to print the steps
     * @return what the example saw
     */
    public static Summary run(ReactiveBroker broker, PrintStream out) {
        Mono<Summary> steps = broker.queue(QueueSpec.named("hello"), Codec.utf8()).flatMap(queue ->
                queue.send(OutboundMessage.of("Hello, World!"))
                        .doOnNext(r -> out.println("send    -> id=" + r.messageId()))
                        .then(queue.receiveOne(Duration.ofSeconds(1)))           // Receive (leases it)
                        .doOnNext(d -> out.println("receive -> \"" + d.payload() + "\" (delivery "
                                + d.deliveryCount() + ")"))
                        .flatMap(d -> d.ack()                                    // Delete
                                .doOnSuccess(v -> out.println("ack     -> deleted"))
                                .then(nothingLeft(queue, out))
                                .map(empty -> new Summary(d.message().id(), d.payload(), d.deliveryCount(), empty))));
        return Objects.requireNonNull(steps.block(Duration.ofSeconds(5)), "no message received");
    }

    private static Mono<Boolean> nothingLeft(ReactiveQueue<String> queue, PrintStream out) {
        return queue.receiveOne(Duration.ZERO)                                   // a single look, no waiting
                .map((Delivery<String> d) -> false)
                .defaultIfEmpty(true)
                .doOnNext(empty -> out.println("receive -> " + (empty ? "nothing" : "a message (unexpected)")));
    }
}
