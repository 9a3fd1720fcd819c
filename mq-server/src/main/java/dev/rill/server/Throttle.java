package dev.rill.server;

import java.time.Duration;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** Paces a stream to a rate, without sub-millisecond timers at high rates and without holding elements back. */
final class Throttle {

    /** An element due within this much of now goes at once: no timer per element at high rates. */
    private static final long SLACK_NANOS = 1_000_000;
    /** The longest gap between two elements (a rate below one per 365 days is paced as one per 365 days). */
    private static final long MAX_GAP_NANOS = Duration.ofDays(365).toNanos();

    private Throttle() {
    }

    /**
     * Paces {@code source} to about {@code perSecond} elements per second: each element is due one gap
     * ({@code 1 / perSecond}) after the previous one's due time, or at once if that has passed (an element that comes
     * late from upstream is not followed by a burst that catches up), and goes as soon as it is due, within 1 ms.
     * Each element goes as soon as it arrives and is due: none waits for others (grouping elements into bursts held a
     * slow source's elements, such as lines typed on standard input, until the burst was full).
     *
     * @param source the elements
     * @param perSecond the rate; 0 or less, or not finite, leaves the stream as it is
     * @param <T> the element type
     * @return the paced stream
     */
    static <T> Flux<T> pace(Flux<T> source, double perSecond) {
        if (!(perSecond > 0) || Double.isInfinite(perSecond)) {
            return source;
        }
        long gap = (long) Math.min(MAX_GAP_NANOS, Math.max(1, Math.round(1e9 / perSecond)));
        return Flux.defer(() -> {
            long[] next = new long[1];
            boolean[] started = new boolean[1];
            return source.concatMap(e -> {
                long now = System.nanoTime();
                long due = started[0] && next[0] - now > 0 ? next[0] : now;
                started[0] = true;
                next[0] = due + gap;
                long wait = due - now;
                return wait <= SLACK_NANOS ? Mono.just(e) : Mono.delay(Duration.ofNanos(wait)).thenReturn(e);
            });
        });
    }
}
