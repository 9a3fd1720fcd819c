package dev.rill.reactive;

import java.lang.System.Logger.Level;
import java.util.function.Function;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Gives back at once the {@link Delivery deliveries} that Reactor operators drop.
 *
 * <p>Many operators drop elements and tell only Reactor's discard hook: {@code filter}, {@code distinct},
 * {@code skip}, {@code onBackpressureDrop}, and on cancel the queues of {@code publishOn}, {@code limitRate},
 * {@code flatMap}/{@code concatMap} and {@code bufferTimeout}, e.g. {@code receive().publishOn(s).take(3)} drops
 * what {@code publishOn} prefetched. A dropped delivery keeps its lease until the visibility timeout, then comes
 * back with its delivery count raised (toward {@code maxDeliveries}); under {@code ReceiveOptions.maxUnacked} it
 * keeps its slot meanwhile, so the stream can stall. Applied at the end of the chain, {@link #releasingDiscarded()}
 * gives each dropped delivery back at once, its delivery count not raised:
 *
 * <pre>{@code
 * queue.receive(options)
 *         .publishOn(scheduler)
 *         .take(3)
 *         .concatMap(d -> process(d).then(d.ack()))
 *         .transform(Deliveries.releasingDiscarded())   // last: below every operator that may drop
 *         .subscribe();
 * }</pre>
 *
 * <p>Why at the end: an operator that drops an element looks the hook up in the {@code Context} of its own
 * subscriber, i.e. below it in the chain; a hook placed above it (or inside {@code ReactiveQueue.receive}, which
 * cannot write into its subscriber's {@code Context}) is never seen. The receive stream itself never drops a
 * delivery: what it leased and did not emit it gives back when cancelled, without this hook.
 *
 * <p>Only for drops on cancel: operators that drop and go on asking ({@code filter}, {@code distinct},
 * {@code onBackpressureDrop}/{@code Latest}, {@code ofType}) must not drop deliveries under this hook. A released
 * message is ready again at once, ahead of newer ones, so the same stream leases it and drops it again straight
 * away, a loop that never ends on the receiving thread (the thread that subscribed, or a sender's): a {@code filter}
 * then sees the message it drops over and over and never the ones behind it. Settle unwanted messages instead of
 * filtering them out, e.g. {@code concatMap(d -> wanted(d) ? Mono.just(d) : d.ack().then(Mono.empty()))} (or
 * {@code reject}, or {@code nack(delay)} to let another consumer try later). The hook does not look inside
 * collections: a dropped {@code List<Delivery>} (a buffer dropped whole) is not given back.
 */
public final class Deliveries {

    private static final System.Logger LOG = System.getLogger(Deliveries.class.getName());

    private Deliveries() {
    }

    /**
     * Gives {@code delivery} back for redelivery at once, for use as a discard hook:
     * {@code .doOnDiscard(Delivery.class, Deliveries::releaseDiscarded)} (on a {@code Mono} too).
     *
     * <p>Uses {@link Delivery#release()} (the delivery count is not raised), or {@link Delivery#nack()} for a
     * delivery whose {@code release()} is unsupported. A delivery already settled through its object is left
     * alone. Returns at once, without waiting for the broker, and never throws. A failure is expected when the
     * lease ended meanwhile (ran out, or settled elsewhere), the queue was closed or the connection lost: then there
     * is nothing to give back (the message is back or the server gives it back), and it is logged at {@code DEBUG};
     * any other failure (not a {@link RillException}) is logged at {@code WARNING}, and the message comes back
     * when its lease runs out.
     *
     * @param delivery the dropped delivery; null is ignored
     */
    public static void releaseDiscarded(Delivery<?> delivery) {
        if (delivery == null) {
            return;
        }
        try {
            if (delivery.isSettled()) {
                return;
            }
            Mono<Void> release;
            try {
                release = delivery.release();
            } catch (UnsupportedOperationException e) {
                release = Mono.error(e);
            }
            release.onErrorResume(UnsupportedOperationException.class, e -> delivery.nack())
                    .subscribe(null, e -> failed(delivery, e));
        } catch (RuntimeException e) {
            failed(delivery, e);
        }
    }

    /**
     * A transformer that puts {@link #releaseDiscarded} in the discard hook of everything above it:
     * {@code flux.transform(Deliveries.releasingDiscarded())}, applied last.
     *
     * @param <T> the element type (any: the deliveries are dropped above, whatever the chain emits in the end)
     * @return a function that adds the hook to a {@code Flux}
     */
    public static <T> Function<Flux<T>, Flux<T>> releasingDiscarded() {
        return flux -> flux.doOnDiscard(Delivery.class, Deliveries::releaseDiscarded);
    }

    private static void failed(Delivery<?> delivery, Throwable e) {
        if (e instanceof RillException) {
            if (LOG.isLoggable(Level.DEBUG)) {
                LOG.log(Level.DEBUG, "not released (nothing to give back): " + delivery + ": " + e);
            }
        } else {
            LOG.log(Level.WARNING, "could not release the discarded " + delivery
                    + "; it comes back when its lease runs out", e);
        }
    }
}
