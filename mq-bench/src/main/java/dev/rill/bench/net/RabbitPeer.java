package dev.rill.bench.net;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import java.util.Map;
import java.util.NavigableSet;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.Semaphore;

/**
 * RabbitMQ with {@code com.rabbitmq:amqp-client}: publisher confirms with a window of {@value #WINDOW} outstanding
 * confirms (the "handling publisher confirms asynchronously" pattern), a consumer on its own connection with
 * {@code basicQos(PREFETCH)} and a manual {@code basicAck} per message.
 */
final class RabbitPeer implements Peer {

    static final int WINDOW = 1024;
    static final int PREFETCH = 1024;

    private final int port;
    private final boolean quorum;
    private final String queue;
    private final Semaphore window = new Semaphore(WINDOW);
    private final NavigableSet<Long> outstanding = new ConcurrentSkipListSet<>();
    private Connection producerConnection;
    private Connection consumerConnection;
    private Channel producer;

    RabbitPeer(int port, boolean quorum) {
        this.port = port;
        this.quorum = quorum;
        this.queue = quorum ? "bench-quorum" : "bench-classic";
    }

    @Override
    public String name() {
        return quorum ? "RabbitMQ quorum" : "RabbitMQ classic";
    }

    @Override
    public String setup() {
        return (quorum ? "quorum queue (replicated log on disk, one node)" : "classic queue, non-durable, transient messages")
                + "; publisher confirms, window " + WINDOW + "; basicQos(" + PREFETCH + "), basicAck per message";
    }

    @Override
    public void open(Listener listener) throws Exception {
        ConnectionFactory f = new ConnectionFactory();
        f.setHost("127.0.0.1");
        f.setPort(port);
        producerConnection = f.newConnection("bench-producer");
        consumerConnection = f.newConnection("bench-consumer");
        producer = producerConnection.createChannel();
        producer.queueDelete(queue);
        if (quorum) {
            producer.queueDeclare(queue, true, false, false, Map.of("x-queue-type", "quorum"));
        } else {
            producer.queueDeclare(queue, false, false, false, null);
        }
        producer.confirmSelect();
        producer.addConfirmListener((tag, multiple) -> settle(tag, multiple), (tag, multiple) -> {
            settle(tag, multiple);
            System.err.println("rabbitmq nacked publish " + tag);
        });
        Channel consumer = consumerConnection.createChannel();
        consumer.basicQos(PREFETCH);
        consumer.basicConsume(queue, false, (tag, delivery) -> {
            listener.consumed(Peer.stamp(delivery.getBody()));
            consumer.basicAck(delivery.getEnvelope().getDeliveryTag(), false);
        }, tag -> { });
    }

    private void settle(long tag, boolean multiple) {
        if (multiple) {
            NavigableSet<Long> done = outstanding.headSet(tag, true);
            int n = 0;
            while (done.pollFirst() != null) {
                n++;
            }
            window.release(n);
        } else if (outstanding.remove(tag)) {
            window.release();
        }
    }

    @Override
    public void send(long intendedNanos) throws Exception {
        window.acquire();
        outstanding.add(producer.getNextPublishSeqNo());
        producer.basicPublish("", queue, quorum ? AMQP_PERSISTENT : null, Peer.payload(intendedNanos));
    }

    private static final AMQP.BasicProperties AMQP_PERSISTENT = new AMQP.BasicProperties.Builder().deliveryMode(2)
            .build();

    @Override
    public void close() {
        try {
            if (producer != null) {
                producer.queueDelete(queue);
            }
        } catch (Exception ignored) {
            // best effort
        }
        for (Connection c : new Connection[] {producerConnection, consumerConnection}) {
            try {
                if (c != null) {
                    c.close(5000);
                }
            } catch (Exception ignored) {
                // best effort
            }
        }
    }
}
