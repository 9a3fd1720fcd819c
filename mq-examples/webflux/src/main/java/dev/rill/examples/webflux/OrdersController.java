package dev.rill.examples.webflux;

import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueStats;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The HTTP side: publish orders, stream outcomes, show the queues.
 *
 * <p>{@code GET /orders/stream} is a consumer of the {@code processed} queue that acks each delivery right after
 * emitting it as an event. So it is at-least-once: a client that disconnects between the event and the ack leaves
 * that outcome to be delivered again, to another stream, after the queue's visibility timeout. Several open streams
 * compete for the outcomes (each goes to one stream): a queue is not a topic.
 */
@RestController
class OrdersController {

    private final ReactiveBroker broker;
    private final ReactiveQueue<Order> orders;
    private final ReactiveQueue<ProcessedOrder> processed;
    private final EventStreams streams;

    OrdersController(ReactiveBroker broker, ReactiveQueue<Order> orders, ReactiveQueue<ProcessedOrder> processed,
            EventStreams streams) {
        this.broker = broker;
        this.orders = orders;
        this.processed = processed;
        this.streams = streams;
    }

    /**
     * Publishes an order. The order id (generated when absent) is the dedup id: posting the same id again within the
     * queue's dedup window answers {@code duplicate: true} and enqueues nothing. When the queue is full the request
     * waits for room (the queue's overflow policy is WAIT), without holding a thread.
     */
    @PostMapping("/orders")
    @ResponseStatus(HttpStatus.ACCEPTED)
    Mono<Map<String, Object>> publish(@RequestBody Order order) {
        if (order.customer() == null || order.customer().isBlank() || order.item() == null || order.quantity() < 1) {
            return Mono.error(new IllegalArgumentException("an order needs a customer, an item and quantity >= 1"));
        }
        if (order.id() != null && (order.id().isBlank() || order.id().length() > 200)) {
            // the id is the dedup id: say what is wrong with the order, not with the queue's dedup id rules
            return Mono.error(new IllegalArgumentException("an order id, when given, needs 1 to 200 characters, not "
                    + "only blanks"));
        }
        Order withId = order.id() != null ? order : new Order(UUID.randomUUID().toString(), order.customer(),
                order.item(), order.quantity());
        return orders.send(OutboundMessage.of(withId).key(withId.customer()).dedupId(withId.id()))
                .map(r -> Map.of("id", withId.id(), "messageId", r.messageId(), "duplicate", r.duplicate()));
    }

    /**
     * Streams processed orders as server-sent events (event name {@code processed}, id = order id), until the client
     * goes away or the application stops (then the response completes, so the shutdown need not wait for it).
     */
    @GetMapping(path = "/orders/stream", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
    Flux<ServerSentEvent<ProcessedOrder>> stream() {
        // prefetch 0: one lease at a time, taken when the response asks for more; the ack follows the emitted event.
        // On closing, receiving stops (the lease taken but not emitted is released) and the event in progress is
        // still emitted and acked before the response completes.
        return processed.receive().takeUntilOther(streams.closing()).concatMap(this::emitThenAck, 0);
    }

    private Flux<ServerSentEvent<ProcessedOrder>> emitThenAck(Delivery<ProcessedOrder> d) {
        ProcessedOrder p = d.message().payload();
        ServerSentEvent<ProcessedOrder> event = ServerSentEvent.builder(p).event("processed").id(p.order().id())
                .build();
        return Flux.just(event).concatWith(d.ack().then(Mono.empty()));
    }

    /** Every queue's depth and counters. */
    @GetMapping("/queues")
    Mono<List<QueueStats>> queues() {
        return broker.stats();
    }

    @ExceptionHandler(IllegalArgumentException.class)
    @ResponseStatus(HttpStatus.BAD_REQUEST)
    Map<String, String> badRequest(IllegalArgumentException e) {
        return Map.of("error", e.getMessage());
    }
}
