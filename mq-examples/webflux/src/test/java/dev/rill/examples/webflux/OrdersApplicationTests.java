package dev.rill.examples.webflux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.QueueStats;
import dev.rill.reactive.ReactiveBroker;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.webtestclient.autoconfigure.AutoConfigureWebTestClient;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.http.MediaType;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.test.web.reactive.server.WebTestClient;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;

/** End to end over HTTP: publish, the worker processes, the stream shows the outcome, the stats show the counts. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@AutoConfigureWebTestClient
class OrdersApplicationTests {

    private static final Duration T = Duration.ofSeconds(10);

    @Autowired
    WebTestClient http;

    @Autowired
    ReactiveBroker broker;

    @Test
    void postedOrdersAreProcessedStreamedAsServerSentEventsAndAcked() {
        for (int i = 1; i <= 3; i++) {
            http.post().uri("/orders").contentType(MediaType.APPLICATION_JSON)
                    .bodyValue(new Order("o-" + i, "alice", "book", i))
                    .exchange()
                    .expectStatus().isAccepted()
                    .expectBody().jsonPath("$.id").isEqualTo("o-" + i).jsonPath("$.duplicate").isEqualTo(false);
        }

        Flux<ServerSentEvent<ProcessedOrder>> events = http.get().uri("/orders/stream")
                .accept(MediaType.TEXT_EVENT_STREAM)
                .exchange()
                .expectStatus().isOk()
                .returnResult(new ParameterizedTypeReference<ServerSentEvent<ProcessedOrder>>() { })
                .getResponseBody();
        StepVerifier.create(events.take(3).map(e -> {
                    assertThat(e.event()).isEqualTo("processed");
                    assertThat(e.data().status()).isEqualTo("ACCEPTED");
                    assertThat(e.data().order().id()).isEqualTo(e.id());
                    return e.data().order().quantity();
                }))
                .expectNext(1, 2, 3) // one customer's orders stay in order (key-ordered queue and pipeline)
                .verifyComplete();

        await().atMost(T).untilAsserted(() -> {
            assertThat(stats("orders").acked()).isEqualTo(3);
            assertThat(stats("processed").acked()).isEqualTo(3); // acked after each event was emitted
            assertThat(stats("processed").size()).isZero();
        });
    }

    @Test
    void postingTheSameOrderIdAgainIsDeduplicated() {
        Order order = new Order("dup-1", "bob", "pen", 2);
        http.post().uri("/orders").bodyValue(order).exchange().expectStatus().isAccepted()
                .expectBody().jsonPath("$.duplicate").isEqualTo(false);
        http.post().uri("/orders").bodyValue(order).exchange().expectStatus().isAccepted()
                .expectBody().jsonPath("$.duplicate").isEqualTo(true);
    }

    @Test
    void anInvalidOrderIsRefused() {
        http.post().uri("/orders").bodyValue(new Order(null, "carol", "cup", 0)).exchange()
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.error").isEqualTo("an order needs a customer, an item and quantity >= 1");
        long sent = stats("orders").sent();
        for (String id : new String[] {"", "  ", "x".repeat(201)}) {
            http.post().uri("/orders").bodyValue(new Order(id, "carol", "cup", 1)).exchange()
                    .expectStatus().isBadRequest()
                    .expectBody().jsonPath("$.error")
                    .isEqualTo("an order id, when given, needs 1 to 200 characters, not only blanks");
        }
        assertThat(stats("orders").sent()).as("nothing enqueued").isEqualTo(sent);
    }

    @Test
    void queuesShowsEveryDeclaredQueuesStats() {
        http.get().uri("/queues").exchange().expectStatus().isOk()
                .expectBody(new ParameterizedTypeReference<List<Map<String, Object>>>() { })
                .value(list -> assertThat(list).extracting(m -> m.get("name"))
                        .containsExactly("orders", "orders-dlq", "processed"))
                .value(list -> assertThat(list.get(0)).containsKeys("ready", "inFlight", "delayed", "acked")
                        .containsEntry("capacity", 10000));
    }

    @Test
    void actuatorHealthShowsTheBrokerAndItsQueues() {
        http.get().uri("/actuator/health").exchange().expectStatus().isOk()
                .expectBody()
                .jsonPath("$.components.rill.status").isEqualTo("UP")
                .jsonPath("$.components.rill.details.queues.orders.capacity").isEqualTo(10000)
                .jsonPath("$.components.rill.details.pipelines.ordersWorker.state").isEqualTo("running");
    }

    private QueueStats stats(String queue) {
        return broker.stats().block(T).stream().filter(s -> s.name().equals(queue)).findFirst().orElseThrow();
    }
}
