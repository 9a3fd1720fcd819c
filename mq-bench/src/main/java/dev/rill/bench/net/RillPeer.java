package dev.rill.bench.net;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.netty.ClientOptions;
import dev.rill.netty.RillClient;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.SendOptions;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * Rill over loopback: {@code sendMany} fed by the producer (a window of {@value #WINDOW} unconfirmed sends), and
 * {@code receive().flatMap(d -> d.ack(), 128)} on a second connection (the client batches acks on the wire; a small
 * flatMap concurrency matters: flatMap rescans its inner array on every completion, ~1.5 µs at 1024, 0.27 µs at 64).
 * The peer {@code rill-pipeline} (or {@code -Drill.bench.consumer=pipeline} for {@code rill}) consumes with a
 * {@code QueuePipeline} of the same concurrency instead (its handler completes at once; the pipeline acks each
 * message): the API applications are pointed to, measured next to the hand-written {@code flatMap} in one run.
 */
final class RillPeer implements Peer {

    static final int WINDOW = 1024;
    /**
     * Confirmations handed back to the load generator at a time: released one by one, every confirmation of a full
     * window woke the parked generator for a single message (a futex wake-up per message on the client's loop).
     */
    static final int RELEASE_BATCH = 64;
    /** Acks in flight at once: flatMap rescans its inner array on every completion, so keep it small. */
    static final int ACK_CONCURRENCY = 128;

    /** {@code flatMap} (default) or {@code pipeline}: how the {@code rill} peer's consumer acks (class comment). */
    static final String CONSUMER = System.getProperty("rill.bench.consumer", "flatMap");

    private final int port;
    private final boolean pipeline;
    private final Semaphore window = new Semaphore(WINDOW);
    private ReactiveBroker producerBroker;
    private ReactiveBroker consumerBroker;
    private Sinks.Many<OutboundMessage<byte[]>> outbound;
    private Disposable sending;
    private Disposable receiving;
    private volatile Throwable error;
    /** Confirmations not yet released; only the sendMany subscriber touches it (its signals are serialized). */
    private int confirmed;

    /** The {@code rill} peer: consumes as {@code -Drill.bench.consumer} says (flatMap by default). */
    RillPeer(int port) {
        this(port, consumerProperty());
    }

    /** @param pipeline true: a {@code QueuePipeline} consumes; false: {@code flatMap(ack, 128)} */
    RillPeer(int port, boolean pipeline) {
        this.port = port;
        this.pipeline = pipeline;
    }

    @Override
    public String name() {
        return pipeline ? "Rill (pipeline)" : "Rill";
    }

    @Override
    public String setup() {
        return "in-memory queue, server in its own JVM; sendMany with " + WINDOW + " unconfirmed sends (freed for the "
                + "generator " + RELEASE_BATCH + " at a time); "
                + "receive (receiveWindow " + WINDOW + ") → " + (pipeline
                        ? "pipeline(concurrency " + ACK_CONCURRENCY + ", each message acked by it)"
                        : "flatMap(ack, " + ACK_CONCURRENCY + ")") + ", acks batched on the wire by the client";
    }

    private static boolean consumerProperty() {
        if (!CONSUMER.equals("flatMap") && !CONSUMER.equals("pipeline")) {
            throw new IllegalArgumentException("rill.bench.consumer must be flatMap or pipeline, was " + CONSUMER);
        }
        return CONSUMER.equals("pipeline");
    }

    @Override
    public void open(Listener listener) {
        URI uri = URI.create("rill://127.0.0.1:" + port);
        producerBroker = RillClient.connect(uri, ClientOptions.defaults().clientName("bench-producer"))
                .block(Duration.ofSeconds(30));
        consumerBroker = RillClient.connect(uri,
                ClientOptions.defaults().clientName("bench-consumer").receiveWindow(WINDOW))
                .block(Duration.ofSeconds(30));
        QueueSpec spec = QueueSpec.named("bench");
        ReactiveQueue<byte[]> pq = producerBroker.queue(spec, Codec.bytes()).block(Duration.ofSeconds(30));
        ReactiveQueue<byte[]> cq = consumerBroker.queue(spec, Codec.bytes()).block(Duration.ofSeconds(30));
        pq.purge().block(Duration.ofSeconds(30));
        if (pipeline) {
            QueuePipeline p = cq.pipeline(d -> {
                listener.consumed(Peer.stamp(d.payload()));
                return Mono.empty();
            }).concurrency(ACK_CONCURRENCY).start();
            p.errors().subscribe(e -> error = e.error());
            receiving = p;
        } else {
            receiving = cq.receive()
                    .flatMap(d -> {
                        listener.consumed(Peer.stamp(d.payload()));
                        return d.ack();
                    }, ACK_CONCURRENCY)
                    .subscribe(null, e -> error = e);
        }
        outbound = Sinks.many().unicast().onBackpressureBuffer();
        sending = pq.sendMany(outbound.asFlux(), SendOptions.defaults().maxInFlight(WINDOW))
                .subscribe(r -> confirmed(), e -> error = e);
    }

    /** At most {@code RELEASE_BATCH - 1} permits are held back; the window always has more than that in flight. */
    private void confirmed() {
        if (++confirmed == RELEASE_BATCH) {
            confirmed = 0;
            window.release(RELEASE_BATCH);
        }
    }

    @Override
    public void send(long intendedNanos) throws Exception {
        check();
        window.acquire();
        outbound.emitNext(OutboundMessage.of(Peer.payload(intendedNanos)), Sinks.EmitFailureHandler.FAIL_FAST);
    }

    private void check() {
        Throwable e = error;
        if (e != null) {
            throw new IllegalStateException("rill stream failed", e);
        }
    }

    @Override
    public void close() {
        if (outbound != null) {
            outbound.tryEmitComplete();
        }
        if (sending != null) {
            sending.dispose();
        }
        if (receiving != null) {
            receiving.dispose();
        }
        if (producerBroker != null) {
            producerBroker.close().block(Duration.ofSeconds(10));
        }
        if (consumerBroker != null) {
            consumerBroker.close().block(Duration.ofSeconds(10));
        }
    }
}
