package dev.rill.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.RetryPolicy;
import dev.rill.reactive.Rill;
import dev.rill.reactive.RillException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import reactor.core.publisher.Mono;

/** Handler beans that fail, and a context closing while its remote broker reconnects. */
class RillHandlerLifecycleTests {

    private static final Duration T = Duration.ofSeconds(10);

    private final AtomicInteger calls = new AtomicInteger();
    private final CountDownLatch handlerStarted = new CountDownLatch(1);
    private final CompletableFuture<Void> handlerCancelled = new CompletableFuture<>();

    @Test
    void aHandlerThatThrowsIsRetriedAndTheContextStillDrainsCleanly() {
        ReactiveBroker broker = Rill.inMemory();
        try {
            new ApplicationContextRunner()
                    .withConfiguration(AutoConfigurations.of(RillAutoConfiguration.class))
                    .withBean(ReactiveBroker.class, () -> broker)
                    .withBean(RillHandlerLifecycleTests.class, () -> this)
                    .withUserConfiguration(ThrowingWorker.class)
                    .withPropertyValues("rill.queues.work.visibility-timeout=5m")
                    .run(context -> {
                        assertThat(context).hasNotFailed();
                        context.getBean(RillQueues.class).queue("work", Codec.utf8())
                                .flatMap(q -> q.send(OutboundMessage.of("job"))).block(T);
                        await().atMost(T).until(() -> stats(broker).acked() == 1); // thrown on the first delivery
                        assertThat(calls).hasValue(2);
                        QueuePipeline worker = context.getBean(QueuePipeline.class);
                        context.getSourceApplicationContext().close();
                        assertThat(worker.isDisposed()).isTrue();
                        assertThat(worker.onTerminate().block(T)).isNull(); // ended cleanly, not with an error
                    });
            assertThat(stats(broker).size()).isZero();
        } finally {
            broker.close().block(T);
        }
    }

    @Test
    void closingTheContextWhileTheRemoteBrokerReconnectsEndsWithinTheDrainAndClosesTheClient() throws Exception {
        RillServer server = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(0), T);
        try {
            ReactiveBroker[] client = new ReactiveBroker[1];
            new ApplicationContextRunner()
                    .withConfiguration(AutoConfigurations.of(RillAutoConfiguration.class))
                    .withPropertyValues("rill.url=rill://127.0.0.1:" + server.port(), "rill.queues.work.capacity=5",
                            "rill.shutdown.drain-timeout=200ms")
                    .withBean(RillClientOptionsCustomizer.class, () -> o -> o.reconnectAttempts(1000)
                            .reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(100)))
                    .withBean(RillHandlerLifecycleTests.class, () -> this)
                    .withUserConfiguration(HangingWorker.class)
                    .run(context -> {
                        assertThat(context).hasNotFailed();
                        client[0] = context.getBean(ReactiveBroker.class);
                        context.getBean(RillQueues.class).queue("work", Codec.utf8())
                                .flatMap(q -> q.send(OutboundMessage.of("job"))).block(T);
                        assertThat(handlerStarted.await(10, TimeUnit.SECONDS)).isTrue();
                        server.disposeNow(T); // the connection is lost: the client keeps trying to reconnect
                        CompletableFuture<Void> closed = CompletableFuture.runAsync(
                                context.getSourceApplicationContext()::close);
                        closed.get(20, TimeUnit.SECONDS); // not held up by the reconnect attempts
                        assertThat(handlerCancelled).isDone(); // the drain timed out and cancelled the handler
                    });
            // the client was closed, not left reconnecting
            assertThatThrownBy(() -> client[0].stats().block(T)).isInstanceOf(RillException.class)
                    .hasMessageContaining("closed");
        } finally {
            server.disposeNow(T);
        }
    }

    private static QueueStats stats(ReactiveBroker broker) {
        return broker.queue(QueueSpec.named("work").visibilityTimeout(Duration.ofMinutes(5)), Codec.utf8())
                .flatMap(q -> q.stats()).block(T);
    }

    @Configuration(proxyBeanMethods = false)
    static class ThrowingWorker {

        @Bean
        QueuePipeline worker(RillQueues queues, RillHandlerLifecycleTests test) {
            return queues.queue("work", Codec.utf8()).block(T).pipelineOnPayload(p -> {
                if (test.calls.incrementAndGet() == 1) {
                    throw new IllegalStateException("handler bug"); // thrown, not a Mono.error
                }
                return Mono.<Void>empty();
            }).retry(RetryPolicy.immediate()).start();
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class HangingWorker {

        @Bean
        QueuePipeline worker(RillQueues queues, RillHandlerLifecycleTests test) {
            return queues.queue("work", Codec.utf8()).block(T).pipelineOnPayload(p -> {
                test.handlerStarted.countDown();
                return Mono.<Void>never().doOnCancel(() -> test.handlerCancelled.complete(null));
            }).start();
        }
    }
}
