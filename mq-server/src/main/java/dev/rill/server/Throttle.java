package dev.rill.server;

import java.time.Duration;
import reactor.core.publisher.Flux;

/** Paces a stream to a rate, in small bursts so high rates need no sub-millisecond timers. */
final class Throttle {

    private Throttle() {
    }

    /**
     * Paces {@code source} to about {@code perSecond} elements per second: up to 100/s one element per tick, above
     * that a burst every 10 ms. Ticks that find no demand are dropped (no catching up in a burst).
     *
     * @param source the elements
     * @param perSecond the rate; 0 or less leaves the stream as it is
     * @param <T> the element type
     * @return the paced stream
     */
    static <T> Flux<T> pace(Flux<T> source, double perSecond) {
        if (perSecond <= 0) {
            return source;
        }
        Duration tick;
        int burst;
        if (perSecond <= 100) {
            tick = Duration.ofNanos((long) (1_000_000_000L / perSecond));
            burst = 1;
        } else {
            tick = Duration.ofMillis(10);
            burst = (int) Math.max(1, Math.round(perSecond / 100));
        }
        return Flux.zip(source.buffer(burst), Flux.interval(Duration.ZERO, tick).onBackpressureDrop(), (b, t) -> b)
                .concatMapIterable(b -> b);
    }
}
