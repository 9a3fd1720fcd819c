package dev.rill.spring;

import dev.rill.netty.ClientOptions;

/**
 * Adjusts the {@link ClientOptions} of the remote broker ({@code rill.url}) beyond what the properties cover, e.g.
 * the receive window or reconnect policy. Every customizer bean is applied, in {@code @Order}, after the properties.
 * The options it gets reconnect without a limit on attempts ({@link ClientOptions#defaults()}): set
 * {@code reconnectAttempts} to have the client give up instead.
 *
 * <pre>{@code
 * @Bean
 * RillClientOptionsCustomizer bigWindow() {
 *     return options -> options.receiveWindow(1024).reconnectBackoff(Duration.ofMillis(200), Duration.ofSeconds(10));
 * }
 * }</pre>
 */
@FunctionalInterface
public interface RillClientOptionsCustomizer {

    /**
     * Returns the options to use. Options are immutable: return the result of the option calls.
     *
     * @param options the options so far
     * @return the options to use, not null
     */
    ClientOptions customize(ClientOptions options);
}
