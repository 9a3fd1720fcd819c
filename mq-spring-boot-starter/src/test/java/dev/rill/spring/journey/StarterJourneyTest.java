package dev.rill.spring.journey;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.core.QueueStats;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.spring.RillQueues;
import dev.rill.spring.journey.ShopApplication.Fulfilment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.web.reactive.function.client.WebClient;

/**
 * A new user's journey through the starter: {@link ShopApplication} with its {@code application.properties}
 * ({@code journey/application.properties}), run by {@link SpringApplicationBuilder} as {@code main} would, on an
 * embedded durable broker ({@code rill.data-dir}) and on a Rill server ({@code rill.url}, a {@link RillServer} on
 * 127.0.0.1). Orders are posted over HTTP, the worker pipeline handles them, a poison order ends in the dead-letter
 * queue, health and metrics are read over HTTP, and the application is closed (what SIGTERM's shutdown hook does)
 * while handlers run: they finish and ack, nothing acknowledged comes back, nothing unhandled is lost.
 */
class StarterJourneyTest {

    private static final Duration T = Duration.ofSeconds(20);
    private static final List<String> QUICK = IntStream.rangeClosed(1, 10).mapToObj(i -> "ok-" + i).toList();
    private static final List<String> SLOW = IntStream.rangeClosed(1, 4).mapToObj(i -> "slow-" + i).toList();
    private static final List<String> BEHIND = IntStream.rangeClosed(1, 10).mapToObj(i -> "later-" + i).toList();

    @Test
    void onAnEmbeddedDurableBroker(@TempDir Path dir) {
        Fulfilment first = new Fulfilment(SLOW.size());
        ConfigurableApplicationContext app = start(first, "--rill.data-dir=" + dir);
        journey(app, first);
        shutDownWhileHandlersRun(app, first);

        // a restart on the same directory: what was not handled comes back, nothing acked does
        Fulfilment second = new Fulfilment(0);
        ConfigurableApplicationContext again = start(second, "--rill.data-dir=" + dir);
        try {
            await().atMost(T).until(() -> second.done.containsAll(BEHIND));
            assertThat(second.attempts.keySet()).containsExactlyInAnyOrderElementsOf(BEHIND);
            assertThat(stats(again, "orders").ready()).isZero();
            assertThat(deadLetters(again)).isEqualTo(1);
        } finally {
            again.close();
        }
    }

    @Test
    void onARillServer() {
        RillServer server = RillServer.bindNow(ServerOptions.defaults().host("127.0.0.1").port(0), T);
        try {
            Fulfilment f = new Fulfilment(SLOW.size());
            ConfigurableApplicationContext app = start(f, "--rill.url=rill://127.0.0.1:" + server.port());
            journey(app, f);
            shutDownWhileHandlersRun(app, f);
            // the server holds what was not handled, leased to nobody
            QueueStats orders = server.broker().stats().block(T).stream().filter(s -> s.name().equals("orders"))
                    .findFirst().orElseThrow();
            assertThat(orders.ready()).isEqualTo(BEHIND.size());
            assertThat(orders.inFlight()).isZero();
            assertThat(orders.acked()).isEqualTo(QUICK.size() + SLOW.size());
        } finally {
            server.disposeNow(T);
        }
    }

    private static ConfigurableApplicationContext start(Fulfilment fulfilment, String... args) {
        return new SpringApplicationBuilder(ShopApplication.class)
                .web(WebApplicationType.REACTIVE)
                .properties("spring.config.location=classpath:journey/application.properties")
                .initializers(c -> c.getBeanFactory().registerSingleton("fulfilment", fulfilment))
                .run(args);
    }

    /** Posts orders, sees them handled, a poison one dead-lettered, health and metrics. */
    private void journey(ConfigurableApplicationContext app, Fulfilment f) {
        WebClient http = WebClient.create("http://127.0.0.1:" + app.getEnvironment().getProperty("local.server.port"));
        for (String order : QUICK) {
            post(http, order);
        }
        post(http, "poison-1");
        Map<String, Object> duplicate = post(http, "ok-1");
        assertThat(duplicate).containsEntry("duplicate", true);
        await().atMost(T).until(() -> f.done.containsAll(QUICK));

        // retried, then dead-lettered after max-deliveries=3 with the reason
        await().atMost(T).until(() -> deadLetters(app) == 1);
        assertThat(f.attempts.get("poison-1")).hasValue(3);
        ReactiveQueue<String> dlq = app.getBean(RillQueues.class).queue("orders-dlq", Codec.utf8()).block(T);
        Delivery<String> dead = dlq.receiveOne(T).block(T);
        assertThat(dead.payload()).isEqualTo("poison-1");
        assertThat(dead.message().headers()).containsEntry(Message.HEADER_SOURCE_QUEUE, "orders")
                .containsKey(Message.HEADER_DEAD_LETTER_REASON);
        dead.nack().block(T); // left there for the restart to find
        assertThat(dlq.stats().block(T).capacity()).as("rill.queues.orders-dlq.capacity").isEqualTo(1000);

        Map<String, Object> health = http.get().uri("/actuator/health/rill").retrieve()
                .bodyToMono(new ParameterizedTypeReference<Map<String, Object>>() { }).block(T);
        assertThat(health).containsEntry("status", "UP");
        assertThat(health.toString()).contains("ordersWorker={queue=orders, state=running");
        // a handler's completion comes before its ack: the count may still be catching up
        await().atMost(T).untilAsserted(() -> assertThat(http.get()
                .uri("/actuator/metrics/rill.pipeline.messages?tag=outcome:acked").retrieve()
                .bodyToMono(new ParameterizedTypeReference<Map<String, Object>>() { }).block(T).toString())
                .contains("value=" + (double) QUICK.size()));
    }

    /**
     * Closes the application (as the JVM's shutdown hook does on SIGTERM) while four handlers run and more orders
     * wait: the close waits for the running handlers, they ack, the waiting orders stay in the queue.
     */
    private void shutDownWhileHandlersRun(ConfigurableApplicationContext app, Fulfilment f) {
        WebClient http = WebClient.create("http://127.0.0.1:" + app.getEnvironment().getProperty("local.server.port"));
        SLOW.forEach(o -> post(http, o));
        await().atMost(T).until(() -> f.slowStarted.getCount() == 0);
        BEHIND.forEach(o -> post(http, o));
        QueuePipeline worker = app.getBean("ordersWorker", QueuePipeline.class);
        CompletableFuture<Void> closed = CompletableFuture.runAsync(app::close);
        await().atMost(T).until(worker::isDisposed); // draining: no new leases
        assertThat(closed).isNotDone();
        f.releaseSlow.tryEmitEmpty();
        closed.join();
        assertThat(f.done).containsAll(SLOW).doesNotContainAnyElementsOf(BEHIND);
    }

    private static Map<String, Object> post(WebClient http, String order) {
        return http.post().uri("/orders").bodyValue(order).retrieve()
                .bodyToMono(new ParameterizedTypeReference<Map<String, Object>>() { }).block(T);
    }

    private static QueueStats stats(ConfigurableApplicationContext app, String queue) {
        return app.getBean(RillQueues.class).broker().stats().block(T).stream()
                .filter(s -> s.name().equals(queue)).findFirst().orElseThrow();
    }

    private static long deadLetters(ConfigurableApplicationContext app) {
        QueueStats s = stats(app, "orders-dlq");
        return s.ready() + s.inFlight();
    }
}
