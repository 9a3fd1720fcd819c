package dev.rill.examples.webflux;

/**
 * What the worker publishes on the {@code processed} queue once it handled an {@link Order}; streamed by
 * {@code GET /orders/stream}.
 *
 * @param order the order
 * @param status the outcome, {@code ACCEPTED}
 * @param deliveryCount which delivery of the order message the worker handled (1 unless it was retried)
 * @param processedAt when the worker handled it, epoch milliseconds
 */
public record ProcessedOrder(Order order, String status, int deliveryCount, long processedAt) {
}
