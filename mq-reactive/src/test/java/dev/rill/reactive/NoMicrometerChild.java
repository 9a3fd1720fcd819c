package dev.rill.reactive;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import reactor.core.publisher.Mono;

/**
 * Run by {@link PipelineWithoutMicrometerTest} in a JVM without Micrometer on its class path: a named pipeline acks
 * one message and rejects another, then drains. Prints {@code OK} and what it saw; exits non-zero otherwise.
 */
final class NoMicrometerChild {

    private NoMicrometerChild() {
    }

    public static void main(String[] args) throws Exception {
        try {
            Class.forName("io.micrometer.core.instrument.MeterRegistry");
            System.out.println("micrometer is on the class path");
            System.exit(2);
        } catch (ClassNotFoundException expected) {
            // as intended
        }
        Duration wait = Duration.ofSeconds(10);
        ReactiveBroker broker = Rill.inMemory();
        ReactiveQueue<String> q = broker.queue(QueueSpec.named("plain").maxDeliveries(1).discardDeadLetters(),
                Codec.utf8()).block(wait);
        CountDownLatch handled = new CountDownLatch(2);
        QueuePipeline p = q.pipelineOnPayload(s -> {
            handled.countDown();
            return s.equals("bad") ? Mono.error(new IllegalStateException("bad")) : Mono.empty();
        }).name("worker").concurrency(2).handlingTimeout(Duration.ofSeconds(30)).start();
        q.send(OutboundMessage.of("ok")).block(wait);
        q.send(OutboundMessage.of("bad")).block(wait);
        if (!handled.await(10, TimeUnit.SECONDS)) {
            System.out.println("not handled");
            System.exit(3);
        }
        p.drain(Duration.ofSeconds(5)).block(wait);
        String metrics;
        try {
            PipelineMetrics.of(p);
            metrics = "bound";
        } catch (NoClassDefFoundError e) { // only the binder needs Micrometer
            metrics = "needs micrometer";
        }
        System.out.println("OK " + p.name() + " on " + p.queue() + " acked=" + q.stats().block(wait).acked()
                + " metrics " + metrics);
        broker.close().block(wait);
        System.exit(0);
    }
}
