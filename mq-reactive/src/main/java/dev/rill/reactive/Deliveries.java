package dev.rill.reactive;

import java.lang.System.Logger.Level;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Function;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.util.function.Tuple2;

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
 * {@code reject}, or {@code nack(delay)} to let another consumer try later).
 *
 * <p>Some operators drop deliveries inside what they hold: on cancel the lists of {@code buffer},
 * {@code bufferTimeout} or {@code collectList} waiting in the queue of {@code publishOn}, {@code limitRate} or
 * {@code concatMap}, the map of a cancelled {@code collectMap}, the tuples of {@code zip}. The hook looks into
 * collections, maps, tuples and optionals ({@link #releaseDiscardedDeliveries}); a window or group of
 * {@code window}/{@code groupBy} dropped before anyone subscribed to it is not looked into, and its deliveries
 * come back when their leases run out. One drop is not one: a {@code buffer} cancelled while it emits the last
 * list on its source's completion (e.g. {@code receive(options.maxMessages(10)).buffer(3).take(4)}) drops that
 * list's elements though they were emitted, and the hook releases deliveries the subscriber holds (their
 * settlement then fails with {@link LeaseExpiredException}).
 */
public final class Deliveries {

    private static final System.Logger LOG = System.getLogger(Deliveries.class.getName());

    private Deliveries() {
    }

    /**
     * Gives {@code delivery} back for redelivery at once, for use as a discard hook:
     * {@code .doOnDiscard(Delivery.class, Deliveries::releaseDiscarded)} (on a {@code Mono} too). Such a hook sees
     * single deliveries only; {@link #releaseDiscardedDeliveries} also looks into dropped lists.
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
     * Gives back, as {@link #releaseDiscarded} does, every delivery that {@code discarded} is or holds, for use as
     * the discard hook of a {@code Mono} (or of a {@code Flux} without {@link #releasingDiscarded()}):
     * {@code .doOnDiscard(Object.class, Deliveries::releaseDiscardedDeliveries)}.
     *
     * <p>Looks into what Reactor operators drop whole: a {@link java.util.Collection} (the list of
     * {@code buffer} or {@code collectList}), a {@link java.util.Map}'s keys and values ({@code collectMap}), a
     * {@link reactor.util.function.Tuple2} or larger tuple ({@code zip}), an {@link java.util.Optional}, at any
     * depth (a list of lists). Nothing else is looked into: not an {@code Iterable} that is not a collection (it
     * may be lazy, endless or blocking), not a window or group (a {@code Flux}) dropped unsubscribed, not an
     * application's own objects. A delivery held twice in {@code discarded} is released once. Never throws.
     *
     * @param discarded what an operator dropped; null, and anything that holds no delivery, is ignored
     */
    public static void releaseDiscardedDeliveries(Object discarded) {
        new Releaser(0).accept(discarded);
    }

    /**
     * A transformer that gives back the deliveries dropped by everything above it, as
     * {@link #releaseDiscardedDeliveries} (single deliveries, and those inside dropped collections, maps, tuples
     * and optionals): {@code flux.transform(Deliveries.releasingDiscarded())}, applied last.
     *
     * <p>Each subscription asks for the release of a delivery once, though Reactor may drop it more than once
     * (e.g. {@code buffer} drops the elements of the last list it emitted on completion when cancelled, while that
     * list is dropped whole by the {@code publishOn} queue it waits in): a delivery given back over the network is
     * settled only once the server answers, and would otherwise be released again meanwhile.
     *
     * @param <T> the element type (any: the deliveries are dropped above, whatever the chain emits in the end)
     * @return a function that adds the hook to a {@code Flux}
     */
    public static <T> Function<Flux<T>, Flux<T>> releasingDiscarded() {
        return flux -> Flux.defer(() -> flux.doOnDiscard(Object.class, new Releaser(REMEMBERED)));
    }

    /** How many released deliveries a subscription's hook remembers, so as not to release them again. */
    static final int REMEMBERED = 4096;

    /**
     * Walks what was dropped and releases the deliveries found, each once. One per subscription of
     * {@link #releasingDiscarded()} (remembering the last deliveries it released, up to a bound: a chain misused
     * with a {@code filter} releases without end), or one per call of {@link #releaseDiscardedDeliveries}.
     */
    static final class Releaser implements Consumer<Object> {

        /** Identity, not equality: two deliveries of one message are two leases, each to give back. */
        private record Same(Object o) {
            @Override
            public boolean equals(Object other) {
                return other instanceof Same s && s.o == o;
            }

            @Override
            public int hashCode() {
                return System.identityHashCode(o);
            }
        }

        private final int remembered;
        /** Deliveries released by earlier calls; null when nothing is remembered across calls. */
        private final Set<Same> released;

        Releaser(int remembered) {
            this.remembered = remembered;
            this.released = remembered > 0 ? ConcurrentHashMap.newKeySet() : null;
        }

        @Override
        public void accept(Object discarded) {
            if (discarded instanceof Delivery<?> d) { // the usual case: no walk, nothing allocated but the key
                releaseOnce(d, null);
                return;
            }
            if (!isContainer(discarded)) {
                return;
            }
            Set<Same> seen = new HashSet<>(); // containers and deliveries met in this walk
            ArrayDeque<Object> todo = new ArrayDeque<>();
            todo.push(discarded);
            while (!todo.isEmpty()) {
                Object o = todo.pop();
                if (o instanceof Delivery<?> d) {
                    releaseOnce(d, seen);
                } else if (isContainer(o) && seen.add(new Same(o))) {
                    try {
                        contents(o, todo);
                    } catch (RuntimeException e) {
                        LOG.log(Level.WARNING, "could not look into a discarded " + o.getClass().getName()
                                + "; the deliveries it holds come back when their leases run out", e);
                    }
                }
            }
        }

        private void releaseOnce(Delivery<?> d, Set<Same> seen) {
            Same key = new Same(d);
            if (seen != null && !seen.add(key)) {
                return;
            }
            if (released != null) {
                if (!released.add(key)) {
                    return;
                }
                if (released.size() > remembered) {
                    released.clear(); // bounded; a delivery dropped again after this is released again (harmless)
                    released.add(key);
                }
            }
            releaseDiscarded(d);
        }

        private static boolean isContainer(Object o) {
            return o instanceof Collection<?> || o instanceof Map<?, ?> || o instanceof Tuple2<?, ?>
                    || o instanceof Optional<?>;
        }

        private static void contents(Object o, ArrayDeque<Object> todo) {
            if (o instanceof Collection<?> c) {
                for (Object x : c) {
                    push(x, todo);
                }
            } else if (o instanceof Map<?, ?> m) {
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    push(e.getKey(), todo);
                    push(e.getValue(), todo);
                }
            } else if (o instanceof Tuple2<?, ?> t) {
                for (Object x : t) {
                    push(x, todo);
                }
            } else if (o instanceof Optional<?> opt) {
                opt.ifPresent(x -> push(x, todo));
            }
        }

        private static void push(Object x, ArrayDeque<Object> todo) {
            if (x instanceof Delivery<?> || isContainer(x)) { // skips nulls and payloads
                todo.push(x);
            }
        }
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
