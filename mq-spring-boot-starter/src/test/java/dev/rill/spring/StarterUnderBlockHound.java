package dev.rill.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.web.reactive.function.client.WebClient;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.blockhound.BlockHound;
import reactor.blockhound.BlockingOperationError;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A real WebFlux application with Actuator and the starter, under BlockHound: requests publish to a queue from the
 * server's event loop, a pipeline bean consumes and publishes on, another consumes that, the meters refresh, and
 * {@code /actuator/health} runs the {@code rill} indicator on the event loop, also once a pipeline failed; then the
 * context stops (the pipelines pause), starts again and closes (the drain). No call blocks a Reactor or Netty
 * thread, the core's short critical section aside. Each subclass runs it on one kind of broker.
 *
 * <p>The subclasses ({@code *BlockHoundTest}) run in their own surefire execution ({@code blockhound}, which sets
 * {@code -Drill.blockhound=true}) and skip themselves anywhere else, because the agent stays installed for the rest
 * of the JVM (as mq-reactive's {@code NonBlockingBlockHoundTest}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
abstract class StarterUnderBlockHound {

    private static final Duration T = Duration.ofMinutes(2); // generous: 400 durable posts took over 30 s once under load 12
    private static final int ORDERS = 400;

    /** Every blocking call BlockHound saw, with where it was made, whether or not its error reached a test. */
    private static final List<String> DETECTED = new CopyOnWriteArrayList<>();

    private static boolean installed;

    private ConfigurableApplicationContext app;
    private WebClient http;

    /** @return the properties that choose the broker (none: the starter's in-memory broker) */
    abstract String[] brokerProperties();

    @BeforeAll
    void startUnderBlockHound() {
        Assumptions.assumeTrue(Boolean.getBoolean("rill.blockhound"),
                "runs in the surefire execution 'blockhound' only");
        install();
        app = new SpringApplicationBuilder(App.class).properties(
                        "spring.main.banner-mode=off",
                        "server.port=0",
                        "management.endpoints.web.exposure.include=health",
                        "management.endpoint.health.show-details=always",
                        "rill.queues.orders.capacity=1000",
                        "rill.queues.processed.capacity=1000",
                        "rill.metrics.refresh-interval=20ms")
                .properties(brokerProperties())
                .run();
        int port = ((WebServerApplicationContext) app).getWebServer().getPort();
        http = WebClient.create("http://127.0.0.1:" + port);
    }

    /** Once per JVM: the agent cannot be taken back. */
    private static synchronized void install() {
        if (installed) {
            return;
        }
        installed = true;
        BlockHound.install(builder -> {
            // The design's one exception: dev.rill.core.MessageQueue's lock, held for O(1)/O(log n) work without I/O
            // or user code, may park a thread under contention. Allowed in the methods that take it, not in fire()
            // (listeners run there, after the unlock).
            Arrays.asList("send", "sendAll", "acceptDeadLetter", "receiveMillis", "ackAll", "settle", "advance",
                            "nextDeadline", "purge", "close", "isClosed", "peek", "stats", "size", "isFull")
                    .forEach(m -> builder.allowBlockingCallsInside("dev.rill.core.MessageQueue", m));
            builder.disallowBlockingCallsInside("dev.rill.core.MessageQueue", "fire");
            builder.blockingMethodCallback(method -> {
                DETECTED.add(Thread.currentThread().getName() + ": " + method + " at "
                        + Arrays.stream(new Throwable().getStackTrace()).skip(2).limit(25)
                                .map(String::valueOf).collect(Collectors.joining("\n  ")));
                throw new BlockingOperationError(method);
            });
        });
    }

    @AfterAll
    void close() {
        if (app != null) {
            app.close();
        }
    }

    @Test
    @Order(1)
    void blockHoundWatchesTheServersEventLoop() {
        int before = DETECTED.size();
        assertThat(status(http.get().uri("/block"))).isEqualTo(500);
        assertThat(DETECTED).hasSize(before + 1);
        assertThat(DETECTED.get(before)).startsWith("reactor-http-");
        DETECTED.remove(before); // the deliberate one; the tests below assert on the rest
    }

    @Test
    @Order(2)
    void publishingConsumingMetersAndHealthNeverBlock() {
        Flux<Integer> posts = Flux.range(0, ORDERS)
                .flatMap(i -> http.post().uri("/orders").bodyValue("order-" + i)
                        .exchangeToMono(r -> r.releaseBody().thenReturn(r.statusCode().value())), 16);
        Flux<Integer> healthChecks = Flux.range(0, 40)
                .concatMap(i -> http.get().uri("/actuator/health")
                        .exchangeToMono(r -> r.releaseBody().thenReturn(r.statusCode().value())));
        List<Integer> statuses = Flux.merge(posts, healthChecks).collectList().block(T);
        assertThat(statuses).hasSize(ORDERS + 40).containsOnly(202, 200);
        AtomicInteger processed = app.getBean(Counter.class).processed;
        await().atMost(T).until(() -> processed.get() == ORDERS);

        Map<String, Object> rill = rillHealth();
        assertThat(rill).containsEntry("status", "UP");
        assertThat(pipeline(rill, "ordersWorker")).containsEntry("state", "running");
        assertThat(pipeline(rill, "processedWorker")).containsEntry("state", "running");
        assertThat(DETECTED).isEmpty();
    }

    @Test
    @Order(3)
    void theHealthOfAFailedPipelineIsReportedWithoutBlocking() {
        app.getBean(ReactiveBroker.class).delete("processed").block(T); // processedWorker's receive stream fails
        await().atMost(T).until(() -> "DOWN".equals(rillHealth().get("status")));
        assertThat(pipeline(rillHealth(), "processedWorker")).containsEntry("state", "failed");
        assertThat(status(http.get().uri("/actuator/health"))).isEqualTo(503);
        assertThat(DETECTED).isEmpty();
    }

    @Test
    @Order(4)
    void stoppingStartingAndClosingTheContextNeverBlock() {
        QueuePipeline worker = app.getBean("ordersWorker", QueuePipeline.class);
        app.stop(); // pauses the pipelines and waits until they hold nothing
        assertThat(worker.isPaused()).isTrue();
        app.start(); // resumes them
        assertThat(worker.isPaused()).isFalse();
        app.close(); // drains them
        assertThat(worker.isDisposed()).isTrue();
        assertThat(DETECTED).isEmpty();
    }

    private int status(WebClient.RequestHeadersSpec<?> request) {
        return request.exchangeToMono(r -> r.releaseBody().thenReturn(r.statusCode().value())).block(T);
    }

    private Map<String, Object> rillHealth() {
        Map<String, Object> all = http.get().uri("/actuator/health")
                .exchangeToMono(r -> r.bodyToMono(new ParameterizedTypeReference<Map<String, Object>>() { }))
                .block(T);
        return map(map(all.get("components")).get("rill"));
    }

    private static Map<String, Object> pipeline(Map<String, Object> rill, String name) {
        return map(map(map(rill.get("details")).get("pipelines")).get(name));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o) {
        assertThat(o).isInstanceOf(Map.class);
        return (Map<String, Object>) o;
    }

    /** What the second pipeline consumed. */
    static final class Counter {
        final AtomicInteger processed = new AtomicInteger();
    }

    /** The application: an HTTP endpoint that publishes, a worker that publishes on, and a consumer of that. */
    @Configuration(proxyBeanMethods = false)
    @EnableAutoConfiguration
    static class App {

        @Bean
        Counter counter() {
            return new Counter();
        }

        @Bean
        RouterFunction<ServerResponse> routes(RillQueues queues) {
            ReactiveQueue<String> orders = queues.queue("orders", Codec.utf8()).block(T);
            return RouterFunctions.route()
                    .POST("/orders", request -> request.bodyToMono(String.class)
                            .flatMap(body -> orders.send(OutboundMessage.of(body)))
                            .flatMap(sent -> ServerResponse.accepted().build()))
                    // what BlockHound must catch: a blocking call on the event loop
                    .GET("/block", request -> Mono.fromCallable(() -> new CountDownLatch(1).await(10,
                                    TimeUnit.SECONDS))
                            .flatMap(waited -> ServerResponse.ok().build()))
                    .build();
        }

        @Bean
        QueuePipeline ordersWorker(RillQueues queues) {
            ReactiveQueue<String> processed = queues.queue("processed", Codec.utf8()).block(T);
            return queues.queue("orders", Codec.utf8()).block(T)
                    .pipelineOnPayload(p -> processed.send(OutboundMessage.of(p.toUpperCase())))
                    .concurrency(8)
                    .start();
        }

        @Bean
        QueuePipeline processedWorker(RillQueues queues, Counter counter) {
            return queues.queue("processed", Codec.utf8()).block(T)
                    .pipelineOnPayload(p -> Mono.fromRunnable(counter.processed::incrementAndGet))
                    .concurrency(4)
                    .start();
        }
    }
}
