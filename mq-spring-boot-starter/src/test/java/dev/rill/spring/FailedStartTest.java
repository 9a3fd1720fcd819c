package dev.rill.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.reactive.QueuePipeline;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import reactor.core.publisher.Mono;

/**
 * A start that fails after the starter's lifecycle started (the web server's port is taken: its start comes after the
 * pipelines' in phase order) must let the JVM exit: Spring reports "APPLICATION FAILED TO START", and the process
 * ended there. The starter's non-daemon {@code rill-keep-alive} thread waited for a close that a failed refresh never
 * publishes, so the process hung after the report until killed.
 */
class FailedStartTest {

    private static final Duration T = Duration.ofSeconds(10);

    @Test
    void aStartThatFailsAfterThePipelinesStartedEndsTheKeepAliveThread() {
        AtomicReference<Thread> keepAlive = new AtomicReference<>();
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(RillAutoConfiguration.class))
                .withPropertyValues("rill.queues.work.capacity=10")
                .withUserConfiguration(App.class)
                .withBean(AtomicReference.class, () -> keepAlive)
                .run(context -> assertThat(context).hasFailed()
                        .getFailure().rootCause().hasMessage("Port 8080 was already in use"));
        assertThat(keepAlive.get()).as("started before the failing bean").isNotNull();
        await().atMost(T).until(() -> !keepAlive.get().isAlive());
    }

    /** What an application has: a pipeline bean, and a later phase that fails to start (a web server). */
    @Configuration(proxyBeanMethods = false)
    static class App {

        @Bean
        QueuePipeline worker(RillQueues queues) {
            return queues.queue("work", Codec.utf8()).block(T).pipelineOnPayload(p -> Mono.empty()).start();
        }

        @Bean
        SmartLifecycle webServer(RillPipelineLifecycle rill, AtomicReference<Thread> keepAlive) {
            return new SmartLifecycle() {
                @Override
                public void start() {
                    keepAlive.set(rill.keepAliveThread());
                    throw new IllegalStateException("Port 8080 was already in use");
                }

                @Override
                public void stop() {
                }

                @Override
                public boolean isRunning() {
                    return false;
                }
            };
        }
    }
}
