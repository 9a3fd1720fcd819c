package dev.rill.bench.durable;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentNavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * RabbitMQ quorum queue with {@code com.rabbitmq:amqp-client}: one connection and channel per producer in confirm
 * mode, persistent messages (delivery mode 2) to the default exchange, the producer's window of outstanding
 * confirms kept by the driver ("handling publisher confirms asynchronously": a sorted map of sequence numbers,
 * multiple acks settle a range). A quorum queue confirms once the message is in its Raft log on disk (fsync'd
 * write-ahead log, batched by the server).
 */
final class RabbitQuorumTarget implements DurableTarget {

    static final String QUEUE = "bench-durable-quorum";
    private static final AMQP.BasicProperties PERSISTENT = new AMQP.BasicProperties.Builder().deliveryMode(2).build();

    private final int port;
    private final List<Connection> connections = new ArrayList<>();
    private Channel admin;

    RabbitQuorumTarget(int port) {
        this.port = port;
    }

    @Override
    public String system() {
        return "RabbitMQ";
    }

    @Override
    public String config() {
        return "quorum queue, confirms";
    }

    @Override
    public String durability() {
        return "always";
    }

    @Override
    public String setup() {
        return "quorum queue (one node, Raft log on disk); one connection + channel per producer, persistent "
                + "messages, publisher confirms handled asynchronously (window kept per producer)";
    }

    @Override
    public List<Sender> open(int payloadBytes, int producers) throws Exception {
        ConnectionFactory f = new ConnectionFactory();
        f.setHost("127.0.0.1");
        f.setPort(port);
        Connection adminConnection = f.newConnection("durable-admin");
        connections.add(adminConnection);
        admin = adminConnection.createChannel();
        admin.queueDelete(QUEUE);
        admin.queueDeclare(QUEUE, true, false, false, Map.of("x-queue-type", "quorum"));
        List<Sender> senders = new ArrayList<>();
        for (int i = 0; i < producers; i++) {
            Connection c = f.newConnection("durable-producer-" + i);
            connections.add(c);
            Channel ch = c.createChannel();
            ch.confirmSelect();
            ConcurrentNavigableMap<Long, Confirm> outstanding = new ConcurrentSkipListMap<>();
            ch.addConfirmListener((tag, multiple) -> settle(outstanding, tag, multiple, true),
                    (tag, multiple) -> settle(outstanding, tag, multiple, false));
            senders.add((payload, confirm) -> {
                outstanding.put(ch.getNextPublishSeqNo(), confirm);
                ch.basicPublish("", QUEUE, PERSISTENT, payload);
            });
        }
        return senders;
    }

    private static void settle(ConcurrentNavigableMap<Long, Confirm> outstanding, long tag, boolean multiple,
            boolean ok) {
        if (multiple) {
            ConcurrentNavigableMap<Long, Confirm> done = outstanding.headMap(tag, true);
            Map.Entry<Long, Confirm> e;
            while ((e = done.pollFirstEntry()) != null) {
                e.getValue().done(ok);
            }
        } else {
            Confirm c = outstanding.remove(tag);
            if (c != null) {
                c.done(ok);
            }
        }
    }

    @Override
    public void reset() throws Exception {
        admin.queuePurge(QUEUE);
    }

    @Override
    public void closeRun() {
        try {
            if (admin != null) {
                admin.queueDelete(QUEUE);
            }
        } catch (Exception ignored) {
            // best effort
        }
        for (Connection c : connections) {
            try {
                c.close(5000);
            } catch (Exception ignored) {
                // best effort
            }
        }
        connections.clear();
        admin = null;
    }

    @Override
    public void close() {
        closeRun();
    }
}
