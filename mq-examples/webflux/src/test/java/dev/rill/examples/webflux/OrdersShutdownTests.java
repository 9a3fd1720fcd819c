package dev.rill.examples.webflux;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.http.MediaType;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;

/**
 * Stopping the application (SIGTERM runs the same close) while a client reads {@code GET /orders/stream}, as the
 * README's {@code curl -N} does: the stream ends at once, so Spring's graceful shutdown of the web server does not
 * wait its whole phase timeout (30 s) for a response that never completes, and the worker's drain follows.
 */
class OrdersShutdownTests {

    private static final Duration T = Duration.ofSeconds(10);

    @Test
    void stoppingTheApplicationEndsOpenEventStreamsInsteadOfWaitingOutTheShutdownPhase() throws Exception {
        ConfigurableApplicationContext app = new SpringApplicationBuilder(OrdersApplication.class)
                .run("--server.port=0", "--spring.main.banner-mode=off");
        CompletableFuture<Void> closed = new CompletableFuture<>();
        try {
            int port = app.getEnvironment().getRequiredProperty("local.server.port", Integer.class);
            WebClient http = WebClient.create("http://127.0.0.1:" + port);
            Flux<ServerSentEvent<ProcessedOrder>> events = http.get().uri("/orders/stream")
                    .accept(MediaType.TEXT_EVENT_STREAM).retrieve()
                    .bodyToFlux(new ParameterizedTypeReference<ServerSentEvent<ProcessedOrder>>() { });
            long[] closeStarted = new long[1];
            StepVerifier.create(events)
                    .then(() -> http.post().uri("/orders").contentType(MediaType.APPLICATION_JSON)
                            .bodyValue(new Order("s-1", "dora", "lamp", 1)).retrieve().toBodilessEntity().block(T))
                    .assertNext(e -> assertThat(e.id()).isEqualTo("s-1")) // the stream is open and serving
                    .then(() -> {
                        closeStarted[0] = System.nanoTime();
                        CompletableFuture.runAsync(app::close).whenComplete((v, e) -> closed.complete(null));
                    })
                    .expectComplete() // ended by the application, not cut off when Spring gave up waiting
                    .verify(T);
            closed.get(T.toMillis(), TimeUnit.MILLISECONDS);
            assertThat(Duration.ofNanos(System.nanoTime() - closeStarted[0]))
                    .as("the close did not wait out the 30 s graceful-shutdown phase").isLessThan(T);
        } finally {
            if (!closed.isDone()) {
                app.close();
            }
        }
    }
}
