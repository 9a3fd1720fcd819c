package dev.rill.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import dev.rill.reactive.QueuePipeline;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.convert.DurationStyle;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.MapPropertySource;
import org.springframework.core.env.StandardEnvironment;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * The drain of {@code rill.shutdown.drain-timeout} against Spring's {@code spring.lifecycle.timeout-per-shutdown-phase}:
 * Spring stops waiting for a phase after that timeout and goes on closing the context, broker included.
 */
class ShutdownPhaseTests {

    private static final Duration T = Duration.ofSeconds(10);

    /** What happened, in order: the handler cancelled by the drain, the next shutdown phase begun. */
    private final List<String> events = new CopyOnWriteArrayList<>();
    private final CountDownLatch handlerStarted = new CountDownLatch(1);
    private final Sinks.Empty<Void> release = Sinks.empty();
    private final CapturedLog log = new CapturedLog();
    private RillServer server;

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(LifecycleAutoConfiguration.class, RillAutoConfiguration.class))
            .withPropertyValues("rill.queues.work.visibility-timeout=5m")
            .withBean(ShutdownPhaseTests.class, () -> this)
            .withUserConfiguration(Worker.class);

    @AfterEach
    void cleanUp() {
        log.close();
        if (server != null) {
            server.disposeNow(T);
        }
    }

    @Test
    void theDefaultDrainTimeoutEndsInsideSpringsShutdownPhase() throws Exception {
        runner.withPropertyValues("spring.lifecycle.timeout-per-shutdown-phase=2s").run(context -> {
            assertThat(context).hasNotFailed();
            context.getBean(RillQueues.class).queue("work", Codec.utf8())
                    .flatMap(q -> q.send(OutboundMessage.of("job"))).block(T);
            assertThat(handlerStarted.await(10, TimeUnit.SECONDS)).isTrue();
            context.getSourceApplicationContext().close(); // the handler never completes
        });
        // the drain gave the handler up (and its message back) before Spring moved on to the next phase
        assertThat(events).containsExactly("handler cancelled", "next phase");
        assertThat(log.warnings()).isEmpty();
    }

    @Test
    void aDrainTimeoutBeyondTheShutdownPhaseIsWarnedAndTheBrokerIsClosedOnlyOnceTheDrainEnded() throws Exception {
        server = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(0), T);
        runner.withPropertyValues("rill.url=rill://127.0.0.1:" + server.port(),
                        "spring.lifecycle.timeout-per-shutdown-phase=200ms", "rill.shutdown.drain-timeout=20s")
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    assertThat(log.warnings()).singleElement().asString()
                            .contains("rill.shutdown.drain-timeout=20s")
                            .contains("spring.lifecycle.timeout-per-shutdown-phase=200ms");
                    context.getBean(RillQueues.class).queue("work", Codec.utf8())
                            .flatMap(q -> q.send(OutboundMessage.of("job"))).block(T);
                    assertThat(handlerStarted.await(10, TimeUnit.SECONDS)).isTrue();
                    Thread closer = new Thread(context.getSourceApplicationContext()::close);
                    CompletableFuture<Void> closed = new CompletableFuture<>();
                    closer.setUncaughtExceptionHandler((t, e) -> closed.completeExceptionally(e));
                    closer.start();
                    // Spring gave up on the phase; the closing thread has reached the broker (or closed it already)
                    await().atMost(T).until(() -> events.contains("next phase"));
                    await().atMost(T).until(() -> server.connectionCount() == 0 || inBrokerDestroy(closer));
                    release.tryEmitEmpty(); // the handler ends now, within its drain timeout: its ack must get through
                    closer.join(TimeUnit.SECONDS.toMillis(20));
                    assertThat(closer.isAlive()).isFalse();
                });
        QueueStats s = server.broker().queue(QueueSpec.named("work").visibilityTimeout(Duration.ofMinutes(5)),
                Codec.utf8()).flatMap(q -> q.stats()).block(T);
        assertThat(s.acked()).as("acked by the handler that finished within the drain timeout").isEqualTo(1);
    }

    @Test
    void theDefaultDrainTimeoutIsThePhaseTimeoutLessAMarginForGivingBackTheRest() {
        assertThat(drainTimeout(null, null)).isEqualTo(Duration.ofSeconds(25)); // Spring Boot's 30 s phase
        assertThat(drainTimeout("60s", null)).isEqualTo(Duration.ofSeconds(55));
        assertThat(drainTimeout("4s", null)).isEqualTo(Duration.ofSeconds(2)); // the margin is at most half
        assertThat(drainTimeout("0s", null)).isZero();
        assertThat(drainTimeout("60s", "50s")).isEqualTo(Duration.ofSeconds(50));
        assertThat(drainTimeout(null, "25s")).isEqualTo(Duration.ofSeconds(25));
        assertThat(log.warnings()).isEmpty();
        assertThat(drainTimeout(null, "30s")).isEqualTo(Duration.ofSeconds(30)); // kept, but warned
        assertThat(log.warnings()).singleElement().asString().startsWith("rill.shutdown.drain-timeout=30s does not "
                + "fit in spring.lifecycle.timeout-per-shutdown-phase=30s").contains("at least 35s");
    }

    private static Duration drainTimeout(String phase, String drain) {
        StandardEnvironment env = new StandardEnvironment();
        if (phase != null) {
            env.getPropertySources().addFirst(new MapPropertySource("test",
                    Map.of("spring.lifecycle.timeout-per-shutdown-phase", phase)));
        }
        RillProperties p = new RillProperties();
        p.getShutdown().setDrainTimeout(drain == null ? null : DurationStyle.detectAndParse(drain));
        return RillAutoConfiguration.drainTimeout(p, env);
    }

    private static boolean inBrokerDestroy(Thread t) {
        for (StackTraceElement e : t.getStackTrace()) {
            if (e.getClassName().equals(ManagedBroker.class.getName()) && e.getMethodName().equals("destroy")) {
                return true;
            }
        }
        return false;
    }

    @Configuration(proxyBeanMethods = false)
    static class Worker {

        @Bean
        QueuePipeline worker(RillQueues queues, ShutdownPhaseTests test) {
            return queues.queue("work", Codec.utf8()).block(T).pipelineOnPayload(p -> {
                test.handlerStarted.countDown();
                return test.release.asMono().doOnCancel(() -> test.events.add("handler cancelled"));
            }).start();
        }

        /** Stops in the phase after the drain's: when Spring has finished, or given up on, the drain's phase. */
        @Bean
        SmartLifecycle nextPhase(ShutdownPhaseTests test) {
            return new SmartLifecycle() {
                private volatile boolean running;

                @Override
                public void start() {
                    running = true;
                }

                @Override
                public void stop() {
                    test.events.add("next phase");
                    running = false;
                }

                @Override
                public boolean isRunning() {
                    return running;
                }

                @Override
                public int getPhase() {
                    return RillPipelineLifecycle.PHASE - 1;
                }
            };
        }
    }

    /** Collects the starter's log records (System.Logger goes to java.util.logging here). */
    static final class CapturedLog extends Handler {
        private final List<LogRecord> records = new CopyOnWriteArrayList<>();
        private final Logger logger = Logger.getLogger("dev.rill.spring");

        CapturedLog() {
            logger.addHandler(this);
        }

        List<String> warnings() {
            return records.stream().filter(r -> r.getLevel() == java.util.logging.Level.WARNING)
                    .map(LogRecord::getMessage).toList();
        }

        @Override
        public void publish(LogRecord record) {
            records.add(record);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
            logger.removeHandler(this);
        }
    }
}
