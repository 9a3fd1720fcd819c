package dev.rill.core;

import java.util.Map;

/** A message on its way from a queue to that queue's dead-letter queue (handed over after the source's lock is released). */
record DeadLetter<T>(String sourceQueue, String deadLetterQueue, long originalId, T payload, String key, int priority,
        Map<String, String> headers, int deliveryCount, String reason, long now) {
}
