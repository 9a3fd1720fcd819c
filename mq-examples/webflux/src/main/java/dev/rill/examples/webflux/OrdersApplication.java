package dev.rill.examples.webflux;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.spring.RillQueues;
import java.time.Duration;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;
import tools.jackson.databind.json.JsonMapper;

/**
 * A WebFlux application on the Rill starter: {@code POST /orders} publishes to the {@code orders} queue, a worker
 * {@link QueuePipeline} processes each order and publishes the outcome to {@code processed}, {@code GET /orders/stream}
 * streams the outcomes as server-sent events, {@code GET /queues} shows the queues' stats. The queues are declared in
 * {@code application.properties}; the broker is in-memory unless {@code rill.url} names a server.
 *
 * <p>Run: {@code ./mvnw -q -pl mq-examples/webflux -am compile exec:java}
 */
@SpringBootApplication
public class OrdersApplication {

    /**
     * Starts the application.
     *
     * @param args Spring Boot arguments, e.g. {@code --server.port=9090}
     */
    public static void main(String[] args) {
        SpringApplication.run(OrdersApplication.class, args);
    }

    /**
     * JSON on the wire when the broker is remote; an in-memory broker keeps the objects as they are.
     *
     * @param json Spring Boot's JSON mapper
     * @return the codec of {@link Order}
     */
    @Bean
    Codec<Order> orderCodec(JsonMapper json) {
        return Codec.of(json::writeValueAsBytes, bytes -> json.readValue(bytes, Order.class));
    }

    /**
     * The codec of {@link ProcessedOrder}.
     *
     * @param json Spring Boot's JSON mapper
     * @return the codec
     */
    @Bean
    Codec<ProcessedOrder> processedCodec(JsonMapper json) {
        return Codec.of(json::writeValueAsBytes, bytes -> json.readValue(bytes, ProcessedOrder.class));
    }

    /**
     * The {@code orders} queue, with the spec declared in {@code rill.queues.orders.*}.
     *
     * @param queues the declared queues
     * @param codec the payload codec
     * @return the queue
     */
    @Bean
    ReactiveQueue<Order> ordersQueue(RillQueues queues, Codec<Order> codec) {
        return queues.queue("orders", codec).block(Duration.ofSeconds(10));
    }

    /**
     * The {@code processed} queue, with the spec declared in {@code rill.queues.processed.*}.
     *
     * @param queues the declared queues
     * @param codec the payload codec
     * @return the queue
     */
    @Bean
    ReactiveQueue<ProcessedOrder> processedQueue(RillQueues queues, Codec<ProcessedOrder> codec) {
        return queues.queue("processed", codec).block(Duration.ofSeconds(10));
    }

    /**
     * The worker: takes orders as its handlers have room (at most {@code concurrency} leases), processes each and
     * publishes the outcome; the pipeline acks an order once its handler completed (so an order is acked only after
     * its outcome is stored), and retries it with backoff when the handler fails (dead-lettered to
     * {@code orders-dlq} after {@code rill.queues.orders.max-deliveries}). The starter drains it when the
     * application stops.
     *
     * @param orders the orders queue
     * @param processed the outcomes queue
     * @param concurrency how many orders are processed at once
     * @return the running pipeline
     */
    @Bean
    QueuePipeline ordersWorker(ReactiveQueue<Order> orders, ReactiveQueue<ProcessedOrder> processed,
            @Value("${app.worker.concurrency:4}") int concurrency) {
        return orders.pipeline(delivery -> {
                    Order order = delivery.message().payload();
                    ProcessedOrder outcome = new ProcessedOrder(order, "ACCEPTED", delivery.deliveryCount(),
                            System.currentTimeMillis());
                    return processed.send(OutboundMessage.of(outcome).key(order.customer()).dedupId(order.id()));
                })
                .concurrency(concurrency)
                .keyOrdered()
                .start();
    }
}
