/**
 * Spring Boot auto-configuration for Rill: a {@link dev.rill.reactive.ReactiveBroker} bean (in-memory by default,
 * remote with {@code rill.url}), queues declared from {@code rill.queues.*} ({@link dev.rill.spring.RillQueues}),
 * Micrometer meters, an Actuator health indicator and graceful drain of
 * {@link dev.rill.reactive.QueuePipeline} beans on shutdown. See {@link dev.rill.spring.RillProperties}.
 */
package dev.rill.spring;
