package dev.rill.reactive;

import dev.rill.core.Codec;
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
 */
final class CrashLoopChild {

    private CrashLoopChild() {
    }

    /**
     * @param args data directory, run number
     */
    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        String run = args[1];
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true);
        ReactiveBroker broker = Rill.embedded(dir);
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
                        .map(i -> "r" + run + "-p" + p + "-" + i)
                        .flatMap(payload -> q.send(OutboundMessage.of(payload))
                                .doOnNext(r -> out.println("S " + payload)), 32)
                        .subscribeOn(Schedulers.boundedElastic()))
                .blockLast(); // until killed
    }
}
