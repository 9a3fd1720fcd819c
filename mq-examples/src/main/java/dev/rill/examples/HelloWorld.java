package dev.rill.examples;

import dev.rill.core.Lease;
import dev.rill.core.LeaseOutcome;
import dev.rill.core.MessageQueue;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.SendOutcome;
import java.io.PrintStream;
import java.util.List;

/**
 * The seed example: send "Hello, World!", receive it, delete (acknowledge) it, receive again and get nothing.
 *
 * <p>Uses the core queue directly; time is passed in explicitly, here the wall clock.
 */
public final class HelloWorld {

    private HelloWorld() {
    }

    /**
     * Runs the example, printing each step.
     *
     * @param args ignored
     */
    public static void main(String[] args) {
        boolean ok = run(System.out);
        if (!ok) {
            System.exit(1);
        }
    }

    /**
     * Runs the four steps.
     *
     * @param out where to print the steps
     * @return whether every step behaved as the seed says
     */
    public static boolean run(PrintStream out) {
        MessageQueue<String> queue = MessageQueue.create(QueueSpec.named("hello"));
        long now = System.currentTimeMillis();

        SendOutcome sent = queue.send(OutboundMessage.of("Hello, World!"), now);
        out.println("send    -> " + sent.status() + " id=" + sent.messageId());

        List<Lease<String>> received = queue.receive(1, now);
        if (received.isEmpty()) {
            out.println("receive -> nothing (unexpected)");
            return false;
        }
        Lease<String> lease = received.get(0);
        out.println("receive -> \"" + lease.payload() + "\" (delivery " + lease.deliveryCount() + ")");

        LeaseOutcome deleted = queue.ack(lease.handle(), now);
        out.println("delete  -> " + deleted);

        List<Lease<String>> again = queue.receive(1, now);
        out.println("receive -> " + (again.isEmpty() ? "nothing" : "\"" + again.get(0).payload() + "\" (unexpected)"));

        return sent.status() == SendOutcome.Status.ENQUEUED && "Hello, World!".equals(lease.payload())
                && deleted == LeaseOutcome.OK && again.isEmpty();
    }
}
