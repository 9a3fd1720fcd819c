package dev.rill.spring.journey;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.reactive.QueuePipeline;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.RetryPolicy;
import dev.rill.spring.RillQueues;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * What a new user writes from the README's starter sections: queues in {@code application.properties}, a WebFlux
 * controller that publishes, a {@link QueuePipeline} bean that consumes with retries (dead-lettered after
 * {@code rill.queues.orders.max-deliveries}). Only the starter's public API is used (another package).
 */
@SpringBootApplication
public class ShopApplication {

    /**
     * The orders queue, with the spec of {@code rill.queues.orders.*}.
     *
     * @param queues the declared queues
     * @return the queue
     */
    @Bean
    ReactiveQueue<String> orders(RillQueues queues) {
        return queues.queue("orders", Codec.utf8()).block(Duration.ofSeconds(10));
    }

    /**
     * The worker: four orders at a time, retried with a short backoff.
     *
     * @param orders the orders queue
     * @param fulfilment what handles an order
     * @return the running pipeline
     */
    @Bean
    QueuePipeline ordersWorker(ReactiveQueue<String> orders, Fulfilment fulfilment) {
        return orders.pipelineOnPayload(fulfilment::fulfil)
                .concurrency(4)
                .retry(RetryPolicy.exponential(Duration.ofMillis(20), 2.0, Duration.ofMillis(100)))
                .start();
    }

    /** Publishes what is posted. */
    @RestController
    static class OrdersController {

        private final ReactiveQueue<String> orders;

        OrdersController(ReactiveQueue<String> orders) {
            this.orders = orders;
        }

        @PostMapping("/orders")
        Mono<Map<String, Object>> publish(@RequestBody String order) {
            return orders.send(OutboundMessage.of(order).dedupId(order))
                    .map(r -> Map.of("messageId", r.messageId(), "duplicate", r.duplicate()));
        }
    }

    /**
     * The business logic, given to the context by the test: {@code poison-*} orders always fail, {@code slow-*} ones
     * wait for {@link #releaseSlow}, the others succeed at once.
     */
    public static final class Fulfilment {

        /** Orders whose handler completed. */
        final Set<String> done = ConcurrentHashMap.newKeySet();
        /** Handler calls by order. */
        final Map<String, AtomicInteger> attempts = new ConcurrentHashMap<>();
        final CountDownLatch slowStarted;
        final Sinks.Empty<Void> releaseSlow = Sinks.empty();
        /** How long a {@code slow-*} order takes; null: until {@link #releaseSlow}. */
        private final Duration slowFor;
        /** Told of each order whose handler completed. */
        private final Consumer<String> onDone;

        Fulfilment(int slow) {
            this(slow, null, order -> { });
        }

        Fulfilment(int slow, Duration slowFor, Consumer<String> onDone) {
            slowStarted = new CountDownLatch(slow);
            this.slowFor = slowFor;
            this.onDone = onDone;
        }

        Mono<Void> fulfil(String order) {
            return Mono.defer(() -> {
                attempts.computeIfAbsent(order, o -> new AtomicInteger()).incrementAndGet();
                if (order.startsWith("poison-")) {
                    return Mono.error(new IllegalStateException("cannot fulfil " + order));
                }
                Mono<Void> slow = slowFor == null ? releaseSlow.asMono() : Mono.delay(slowFor).then();
                Mono<Void> work = order.startsWith("slow-")
                        ? slow.doOnSubscribe(s -> slowStarted.countDown())
                        : Mono.empty();
                return work.then(Mono.fromRunnable(() -> {
                    done.add(order);
                    onDone.accept(order);
                }));
            });
        }
    }
}
