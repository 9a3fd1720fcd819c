package dev.rill.reactive;

import dev.rill.core.OutboundMessage;
import dev.rill.core.Overflow;
import dev.rill.core.SendOutcome;
import dev.rill.reactive.internal.Withdrawable;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;

/**
 * {@link ReactiveQueue#send}: stores one message per subscription. When the queue is full and the policy is
 * {@link Overflow#WAIT}, registers as a writer and tries again on the queue's writable edge; no thread waits.
 */
final class MonoSend<T> extends Mono<SendResult<T>> {

    private final InMemoryQueue<T> queue;
    private final OutboundMessage<T> message;
    private final Overflow overflow;
    private final boolean awaitDurable;
    private final Withdrawable withdrawable;

    /**
     * @param awaitDurable complete once the message is durable (a durable broker's send); false: once stored
     *     ({@link dev.rill.reactive.internal.StoreFirst#sendStored})
     * @param withdrawable the transport's handle to withdraw this send, or null
     */
    MonoSend(InMemoryQueue<T> queue, OutboundMessage<T> message, Overflow overflow, boolean awaitDurable,
            Withdrawable withdrawable) {
        this.queue = queue;
        this.message = message;
        this.overflow = overflow;
        this.awaitDurable = awaitDurable;
        this.withdrawable = withdrawable;
    }

    @Override
    public void subscribe(CoreSubscriber<? super SendResult<T>> actual) {
        SendSubscriber<T> s = new SendSubscriber<>(actual, queue, message, overflow, awaitDurable, withdrawable);
        actual.onSubscribe(s);
        s.drive();
    }

    static final class SendSubscriber<T> extends Operators.MonoSubscriber<SendResult<T>, SendResult<T>>
            implements EdgeWaiters.Waiter {

        private final InMemoryQueue<T> queue;
        private final OutboundMessage<T> message;
        private final Overflow overflow;
        private final boolean awaitDurable;
        /** Null, or the transport's: each try to store claims it first, so a withdrawal and a store never cross. */
        private final Withdrawable withdrawable;

        volatile int wip;
        static final AtomicIntegerFieldUpdater<SendSubscriber> WIP =
                AtomicIntegerFieldUpdater.newUpdater(SendSubscriber.class, "wip");

        /** Registered as a writer and not woken yet. */
        volatile boolean registered;
        /** Set while a writable edge runs this send: if it waits again, it keeps its place in line. */
        volatile boolean edgeWoken;
        /** Owned by the drive loop: the send reached a final outcome. */
        private boolean done;

        SendSubscriber(CoreSubscriber<? super SendResult<T>> actual, InMemoryQueue<T> queue,
                OutboundMessage<T> message, Overflow overflow, boolean awaitDurable, Withdrawable withdrawable) {
            super(actual);
            this.queue = queue;
            this.message = message;
            this.overflow = overflow;
            this.awaitDurable = awaitDurable;
            this.withdrawable = withdrawable;
        }

        @Override
        public boolean onEdge() {
            registered = false;
            edgeWoken = true;
            boolean blocked = drive();
            edgeWoken = false;
            return blocked;
        }

        /**
         * Tries the send; serialized, so a wake-up racing with the re-check never sends twice.
         *
         * @return true when this call ran and found the queue full (the send waits for the next writable edge)
         */
        boolean drive() {
            if (WIP.getAndIncrement(this) != 0) {
                return false;
            }
            boolean full = false;
            int missed = 1;
            for (;;) {
                if (!done) {
                    if (isCancelled()) {
                        // a cancel on another thread while this loop registered (or was about to) as a writer:
                        // its removal may have come first, so the registration is undone here, after it
                        done = true;
                        queue.writers.remove(this);
                    } else {
                        full = attempt();
                    }
                }
                missed = WIP.addAndGet(this, -missed);
                if (missed == 0) {
                    return full;
                }
            }
        }

        /** @return true when the send found the queue full and waits */
        private boolean attempt() {
            for (;;) {
                if (isCancelled()) {
                    return false; // cancelled while registering: the drive loop unregisters
                }
                Withdrawable w = withdrawable;
                if (w != null && !w.beginStore()) {
                    // withdrawn by the transport, which answered "not stored" and disposes this send: end silently
                    done = true;
                    unregister();
                    return false;
                }
                if (queue.closed) {
                    fail(queue.closedException());
                    return false;
                }
                long now = queue.now();
                SendOutcome o;
                try {
                    o = queue.core.send(message, now); // durable: encodes the payload, refuses one it cannot encode
                } catch (RuntimeException e) {
                    fail(e);
                    return false;
                }
                switch (o.status()) {
                    case ENQUEUED, DUPLICATE -> {
                        done = true;
                        unregister();
                        if (o.status() == SendOutcome.Status.ENQUEUED) {
                            queue.timer.ensure(queue.deadlineOf(message, now));
                        }
                        SendResult<T> result = new SendResult<>(o.messageId(),
                                o.status() == SendOutcome.Status.DUPLICATE, message);
                        if (awaitDurable) {
                            queue.broker.afterDurable(() -> complete(result), actual::onError); // durable: wait
                        } else {
                            complete(result);
                        }
                        return false;
                    }
                    case CLOSED -> {
                        fail(queue.closedException());
                        return false;
                    }
                    case FULL -> {
                        if (overflow == Overflow.FAIL) {
                            fail(new QueueFullException(queue.name()));
                            return false;
                        }
                        if (w != null && !w.storeRefusedFull()) {
                            // a withdrawal asked for during this try, which stored nothing: end instead of waiting
                            fail(new Withdrawable.WithdrawnException());
                            return false;
                        }
                        if (registered) {
                            return true; // the writable edge will wake us
                        }
                        registered = true;
                        queue.writers.add(this, edgeWoken);
                        // re-check: the queue may have freed space before we registered
                    }
                    default -> throw new IllegalStateException("unexpected outcome " + o);
                }
            }
        }

        private void fail(Throwable e) {
            done = true;
            unregister();
            actual.onError(e);
        }

        private void unregister() {
            if (registered) {
                registered = false;
                queue.writers.remove(this);
            }
        }

        @Override
        public void cancel() {
            super.cancel();
            // through the drive loop: a drive running now on another thread may be registering this send as a writer
            // (after a removal done here), and would leave it among the writers for good
            drive();
        }
    }
}
