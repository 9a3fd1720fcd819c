package dev.rill.bench.durable;

import io.nats.client.Connection;
import io.nats.client.JetStream;
import io.nats.client.JetStreamManagement;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import java.util.ArrayList;
import java.util.List;

/**
 * NATS JetStream file storage with {@code io.nats:jnats}: one stream (file storage, one replica), one connection per
 * producer publishing with {@code publishAsync}, each publish confirmed by its {@code PublishAck} (the driver keeps
 * the window). JetStream acks once the message is written to its file store; it fsyncs on its own timer
 * ({@code sync_interval}), not per publish.
 */
final class NatsFileTarget implements DurableTarget {

    static final String STREAM = "BENCH_DURABLE";
    static final String SUBJECT = "bench.durable";

    private final int port;
    private final List<Connection> connections = new ArrayList<>();
    private JetStreamManagement jsm;

    NatsFileTarget(int port) {
        this.port = port;
    }

    @Override
    public String system() {
        return "NATS JetStream";
    }

    @Override
    public String config() {
        return "file storage";
    }

    @Override
    public String durability() {
        return "interval";
    }

    @Override
    public String setup() {
        return "stream with file storage (server defaults: acked after the write, fsync on its sync timer); one "
                + "connection per producer, publishAsync, each PublishAck confirms its send";
    }

    @Override
    public List<Sender> open(int payloadBytes, int producers) throws Exception {
        Options o = new Options.Builder().server("nats://127.0.0.1:" + port).build();
        Connection admin = Nats.connect(o);
        connections.add(admin);
        jsm = admin.jetStreamManagement();
        try {
            jsm.deleteStream(STREAM);
        } catch (Exception ignored) {
            // none yet
        }
        jsm.addStream(StreamConfiguration.builder().name(STREAM).subjects(SUBJECT).storageType(StorageType.File)
                .build());
        List<Sender> senders = new ArrayList<>();
        for (int i = 0; i < producers; i++) {
            Connection c = Nats.connect(o);
            connections.add(c);
            JetStream js = c.jetStream();
            senders.add((payload, confirm) -> js.publishAsync(SUBJECT, payload)
                    .whenComplete((ack, e) -> confirm.done(e == null && ack != null && !ack.isDuplicate())));
        }
        return senders;
    }

    @Override
    public void reset() throws Exception {
        jsm.purgeStream(STREAM);
    }

    @Override
    public void closeRun() {
        try {
            if (jsm != null) {
                jsm.deleteStream(STREAM);
            }
        } catch (Exception ignored) {
            // best effort
        }
        jsm = null;
        for (Connection c : connections) {
            try {
                c.close();
            } catch (Exception ignored) {
                // best effort
            }
        }
        connections.clear();
    }

    @Override
    public void close() {
        closeRun();
    }
}
