package dev.rill.examples.webflux;

/**
 * An order as posted to {@code POST /orders} and carried on the {@code orders} queue.
 *
 * @param id the order id; doubles as the dedup id, so posting the same order twice enqueues it once
 * @param customer who ordered; the message key, so one customer's orders are processed in order
 * @param item what was ordered
 * @param quantity how many, at least 1
 */
public record Order(String id, String customer, String item, int quantity) {
}
