package dev.rill.examples;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.netty.ClientOptions;
import dev.rill.netty.RillClient;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.ReceiveOptions;
import dev.rill.reactive.Rill;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

/**
 * One queue used in its own JVM and over the network at once: the application sends and consumes typed
 * {@link Order}s in process, with no encoding, while {@link RillServer} serves the same broker and a remote client
 * (here a {@link RillClient} in the same process, standing in for another service) sends and receives the orders
 * as text.
 *
 * <p>The queue keeps objects of the codec it was first declared with (the application's {@link #ORDERS}); the
 * server's view converts through bytes. Text that the application's codec cannot decode is refused at the remote
 * send and never stored.
 *
 * <pre>
 * ./mvnw -q -pl mq-examples -am compile exec:java -Dexec.mainClass=dev.rill.examples.ServedQueueExample
 * </pre>
 */
public final class ServedQueueExample {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private ServedQueueExample() {
    }

    /**
     * An order.
     *
     * @param id the order id
     * @param quantity how many
     */
    public record Order(String id, int quantity) {
    }

    /** Orders as {@code id,quantity} in UTF-8; anything else is not an order. */
    public static final Codec<Order> ORDERS = Codec.of(
            o -> (o.id() + "," + o.quantity()).getBytes(StandardCharsets.UTF_8),
            bytes -> {
                String text = new String(bytes, StandardCharsets.UTF_8);
                String[] parts = text.split(",", -1);
                try {
                    if (parts.length == 2 && !parts[0].isEmpty()) {
                        return new Order(parts[0], Integer.parseInt(parts[1]));
                    }
                } catch (NumberFormatException e) {
                    // not a quantity: refused below
                }
                throw new IllegalArgumentException("not an order: '" + text + "'");
            });

    /**
     * What the example saw.
     *
     * @param handledInProcess the orders the application consumed in its own JVM, in order
     * @param receivedRemotely the text the remote client received
     * @param refused the error of the remote send that was not an order
     */
    public record Summary(List<Order> handledInProcess, String receivedRemotely, String refused) {
    }

    /**
     * Runs the example on a fresh in-memory broker served on a port the OS chooses on 127.0.0.1.
     *
     * @param args ignored
     */
    public static void main(String[] args) {
        Summary s = run(System.out);
        if (s.handledInProcess().size() != 2 || s.refused() == null) {
            System.exit(1);
        }
    }

    /**
     * Serves a broker, uses its {@code orders} queue in process and remotely, and prints each step.
     *
     * @param out where to print the steps
     * @return what the example saw
     */
    public static Summary run(PrintStream out) {
        // each resource closed even when the next one fails to open (a port refused, a client that cannot connect)
        ReactiveBroker broker = Rill.inMemory();
        try {
            RillServer server = RillServer.bindNow(ServerOptions.defaults().broker(broker), TIMEOUT);
            try {
                ReactiveBroker remote = RillClient.connect(URI.create("rill://127.0.0.1:" + server.port()),
                        ClientOptions.defaults()).block(TIMEOUT);
                try {
                    return steps(out, broker, remote);
                } finally {
                    remote.close().block(TIMEOUT);
                }
            } finally {
                server.disposeNow(TIMEOUT);
            }
        } finally {
            broker.close().block(TIMEOUT);
        }
    }

    private static Summary steps(PrintStream out, ReactiveBroker broker, ReactiveBroker remote) {
        QueueSpec spec = QueueSpec.named("orders");
        // declared first by the application: the queue keeps Order objects
        ReactiveQueue<Order> orders = broker.queue(spec, ORDERS).block(TIMEOUT);
        ReactiveQueue<String> text = remote.queue(spec, Codec.utf8()).block(TIMEOUT);

        orders.send(OutboundMessage.of(new Order("local-1", 2))).block(TIMEOUT);
        out.println("in process  -> sent Order[id=local-1, quantity=2]");
        Delivery<String> d = text.receiveOne(Duration.ofSeconds(5)).block(TIMEOUT);
        String receivedRemotely = d.payload();
        d.ack().block(TIMEOUT);
        out.println("remote      <- \"" + receivedRemotely + "\"");

        text.send(OutboundMessage.of("remote-1,5")).block(TIMEOUT);
        text.send(OutboundMessage.of("remote-2,1")).block(TIMEOUT);
        out.println("remote      -> sent \"remote-1,5\" and \"remote-2,1\"");
        String refused = null;
        try {
            text.send(OutboundMessage.of("five apples")).block(TIMEOUT);
        } catch (IllegalArgumentException e) {
            refused = e.getMessage();
            out.println("remote      -> \"five apples\" refused: " + refused);
        }

        List<Order> handled = orders.receive(ReceiveOptions.defaults().maxMessages(2))
                .concatMap(o -> o.ack().thenReturn(o.payload()))
                .doOnNext(o -> out.println("in process  <- " + o))
                .collectList().block(TIMEOUT);
        return new Summary(handled, receivedRemotely, refused);
    }
}
