package dev.rill.bench.net;

import io.nats.client.Connection;
import io.nats.client.ConsumeOptions;
import io.nats.client.ConsumerContext;
import io.nats.client.JetStream;
import io.nats.client.JetStreamManagement;
import io.nats.client.MessageConsumer;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.api.AckPolicy;
import io.nats.client.api.ConsumerConfiguration;
import io.nats.client.api.RetentionPolicy;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import java.util.concurrent.Semaphore;

/**
 * NATS JetStream with {@code io.nats:jnats}: a work-queue stream (memory or file storage), {@code publishAsync}
 * with a window of {@value #WINDOW} unacknowledged publishes, and a durable pull consumer with explicit acks
 * consumed through the simplified API ({@code ConsumerContext.consume}, batch {@value #WINDOW}), {@code ack()} per
 * message.
 */
final class NatsPeer implements Peer {

    static final int WINDOW = 1024;
    static final String STREAM = "BENCH";
    static final String SUBJECT = "bench";

    private final int port;
    private final boolean file;
    private final Semaphore window = new Semaphore(WINDOW);
    private Connection producerConnection;
    private Connection consumerConnection;
    private JetStream js;
    private MessageConsumer consumer;

    NatsPeer(int port, boolean file) {
        this.port = port;
        this.file = file;
    }

    @Override
    public String name() {
        return file ? "NATS JetStream (file)" : "NATS JetStream (memory)";
    }

    @Override
    public String setup() {
        return "work-queue stream, " + (file ? "file" : "memory") + " storage; publishAsync window " + WINDOW
                + "; durable pull consumer, explicit ack per message (consume, batch " + WINDOW + ")";
    }

    @Override
    public void open(Listener listener) throws Exception {
        Options o = new Options.Builder().server("nats://127.0.0.1:" + port).build();
        producerConnection = Nats.connect(o);
        consumerConnection = Nats.connect(o);
        JetStreamManagement jsm = producerConnection.jetStreamManagement();
        try {
            jsm.deleteStream(STREAM);
        } catch (Exception ignored) {
            // none yet
        }
        jsm.addStream(StreamConfiguration.builder().name(STREAM).subjects(SUBJECT)
                .retentionPolicy(RetentionPolicy.WorkQueue)
                .storageType(file ? StorageType.File : StorageType.Memory).build());
        js = producerConnection.jetStream();
        ConsumerContext cc = consumerConnection.getStreamContext(STREAM).createOrUpdateConsumer(
                ConsumerConfiguration.builder().durable("c").ackPolicy(AckPolicy.Explicit).build());
        consumer = cc.consume(ConsumeOptions.builder().batchSize(WINDOW).build(), m -> {
            listener.consumed(Peer.stamp(m.getData()));
            m.ack();
        });
    }

    @Override
    public void send(long intendedNanos) throws Exception {
        window.acquire();
        js.publishAsync(SUBJECT, Peer.payload(intendedNanos)).whenComplete((ack, e) -> {
            window.release();
            if (e != null) {
                System.err.println("nats publish failed: " + e);
            }
        });
    }

    @Override
    public void close() {
        try {
            if (consumer != null) {
                consumer.stop();
                consumer.close();
            }
            if (consumerConnection != null) {
                consumerConnection.close();
                consumerConnection = null;
            }
            if (producerConnection != null) {
                producerConnection.jetStreamManagement().deleteStream(STREAM);
            }
        } catch (Exception ignored) {
            // best effort
        }
        for (Connection c : new Connection[] {producerConnection, consumerConnection}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception ignored) {
                // best effort
            }
        }
    }
}
