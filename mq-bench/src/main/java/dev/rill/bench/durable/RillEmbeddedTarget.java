package dev.rill.bench.durable;

import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.DurableBroker;
import dev.rill.core.MessageQueue;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.SendOutcome;
import dev.rill.core.log.FsyncPolicy;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Rill in the bench JVM on a data directory: either through {@code Rill.embedded}'s {@code ReactiveQueue.send}
 * {@code Mono} (what an application embedding Rill calls), or through the core ({@code DurableBroker}'s
 * {@code MessageQueue.send} then {@code whenDurable(lastSeq())}, what that {@code Mono} waits for). Each payload size
 * gets a fresh data directory; the queue is purged between runs.
 */
final class RillEmbeddedTarget implements DurableTarget {

    private final FsyncPolicy policy;
    private final boolean core;
    private final Path parent;
    private Path dir;
    private ReactiveBroker broker;
    private DurableBroker durable;
    private MessageQueue<byte[]> coreQueue;

    /**
     * @param policy the fsync policy
     * @param core true: the core path; false: the reactive send Mono
     * @param parent where the data directory is made
     */
    RillEmbeddedTarget(FsyncPolicy policy, boolean core, Path parent) {
        this.policy = policy;
        this.core = core;
        this.parent = parent;
    }

    @Override
    public String system() {
        return core ? "Rill embedded (core)" : "Rill embedded";
    }

    @Override
    public String config() {
        return DurableBench.label(policy);
    }

    @Override
    public String durability() {
        return policy.kind().name().toLowerCase(java.util.Locale.ROOT);
    }

    @Override
    public String setup() {
        return core
                ? "DurableBroker in the bench JVM: MessageQueue.send, then whenDurable(lastSeq()) (what the send Mono "
                        + "waits for), one producer thread each"
                : "Rill.embedded(dir, fsync) in the bench JVM: ReactiveQueue.send Mono per message, subscribed from "
                        + "one producer thread each; confirmed when the Mono succeeds";
    }

    @Override
    public List<Sender> open(int payloadBytes, int producers) throws Exception {
        dir = Files.createTempDirectory(parent, core ? "rill-core-" : "rill-embedded-");
        DurabilityOptions opts = DurabilityOptions.defaults().fsync(policy);
        QueueSpec spec = QueueSpec.named("bench-durable").unbounded();
        List<Sender> senders = new ArrayList<>();
        if (core) {
            durable = DurableBroker.open(dir, opts);
            coreQueue = durable.declare(spec, Codec.bytes());
            DurableBroker b = durable;
            MessageQueue<byte[]> q = coreQueue;
            for (int i = 0; i < producers; i++) {
                senders.add((payload, confirm) -> {
                    SendOutcome o = q.send(OutboundMessage.of(payload), 0);
                    boolean stored = o.status() == SendOutcome.Status.ENQUEUED;
                    b.whenDurable(b.lastSeq()).whenComplete((v, e) -> confirm.done(stored && e == null));
                });
            }
        } else {
            broker = Rill.embedded(dir, opts);
            ReactiveQueue<byte[]> q = broker.queue(spec, Codec.bytes()).block(Duration.ofSeconds(30));
            for (int i = 0; i < producers; i++) {
                senders.add((payload, confirm) -> q.send(OutboundMessage.of(payload))
                        .subscribe(r -> { }, e -> confirm.done(false), () -> confirm.done(true)));
            }
        }
        return senders;
    }

    @Override
    public void reset() {
        if (core) {
            coreQueue.purge(0);
        } else {
            broker.purge("bench-durable").block(Duration.ofSeconds(60));
        }
    }

    @Override
    public void closeRun() {
        try {
            if (durable != null) {
                durable.close();
            }
            if (broker != null) {
                broker.close().block(Duration.ofSeconds(60));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            durable = null;
            broker = null;
            coreQueue = null;
            if (dir != null) {
                DurableBench.deleteTree(dir);
                dir = null;
            }
        }
    }

    @Override
    public void close() {
        closeRun();
    }
}
