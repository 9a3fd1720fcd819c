package dev.rill.reactive;

import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.OutboundMessage;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * The child JVM of {@link CrashLoopTest}: a durable broker (fsync ALWAYS) under producer/consumer load until it is
 * killed. Prints {@code S <payload>} once a send's {@code Mono} completed and {@code A <payload>} once an ack's
 * did, so the parent knows exactly what was confirmed before the SIGKILL; {@code D <payload>} on each delivery.
 * One message in {@value #PINNED_EVERY} is sent with a one-day delay: never delivered during the loop, these pin
 * old segments, so with small segments the log keeps relocating them while the child is being killed.
 */
final class CrashLoopChild {

    static final int PINNED_EVERY = 200;

    private CrashLoopChild() {
    }

    /**
     * @param args data directory, run number, log segment size in bytes
     */
    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        String run = args[1];
        long segmentBytes = Long.parseLong(args[2]);
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true);
        ReactiveBroker broker = Rill.embedded(dir, DurabilityOptions.defaults().segmentBytes(segmentBytes));
        ReactiveQueue<String> q = broker.queue(CrashLoopTest.SPEC, Codec.utf8()).block(Duration.ofSeconds(30));
        out.println("READY");
        q.receive()
                .doOnNext(d -> out.println("D " + d.payload()))
                .flatMap(d -> d.ack().then(Mono.fromRunnable(() -> out.println("A " + d.payload()))), 32)
                .subscribe(null, e -> {
                    out.println("ERROR consumer " + e);
                    System.exit(3);
                });
        Flux.range(0, 2)
                .flatMap(p -> Flux.range(0, Integer.MAX_VALUE)
                        .flatMap(i -> {
                            String payload = "r" + run + "-p" + p + "-" + i;
                            OutboundMessage<String> m = i % PINNED_EVERY == 7
                                    ? OutboundMessage.of(payload).delay(Duration.ofDays(1))
                                    : OutboundMessage.of(payload);
                            return q.send(m).doOnNext(r -> out.println("S " + payload));
                        }, 32)
                        .subscribeOn(Schedulers.boundedElastic()))
                .blockLast(); // until killed
    }
}
