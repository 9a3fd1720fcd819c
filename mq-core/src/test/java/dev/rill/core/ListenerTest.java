package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.QueueEvent.Type;
import dev.rill.core.SendOutcome.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link QueueListener}: readable/writable edges, events, and that callbacks run after the lock is released. */
class ListenerTest {

    private final ExecutorService other = Executors.newSingleThreadExecutor();

    @AfterEach
    void stopExecutor() throws InterruptedException {
        other.shutdownNow();
        assertThat(other.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }

    /** Runs {@code call} on another thread and waits (bounded) for it: it would hang if the queue's lock were held. */
    private <R> R fromAnotherThread(Supplier<R> call) {
        Future<R> f = other.submit(call::get);
        try {
            return f.get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            f.cancel(true);
            throw new AssertionError("call from another thread did not complete: is the lock still held?", e);
        }
    }

    static final class Recorder implements QueueListener {
        final AtomicInteger readable = new AtomicInteger();
        final AtomicInteger writable = new AtomicInteger();
        final List<List<QueueEvent>> batches = new CopyOnWriteArrayList<>();
        volatile boolean wantsEvents;
        volatile Runnable onReadable = () -> { };
        volatile Runnable onWritable = () -> { };
        volatile Runnable onEvents = () -> { };

        @Override
        public void onReadable() {
            readable.incrementAndGet();
            onReadable.run();
        }

        @Override
        public void onWritable() {
            writable.incrementAndGet();
            onWritable.run();
        }

        @Override
        public void onEvents(List<QueueEvent> events) {
            batches.add(List.copyOf(events));
            onEvents.run();
        }

        @Override
        public boolean wantsEvents() {
            return wantsEvents;
        }

        List<QueueEvent> events() {
            List<QueueEvent> all = new ArrayList<>();
            batches.forEach(all::addAll);
            return all;
        }

        List<Type> types() {
            return events().stream().map(QueueEvent::type).toList();
        }
    }

    private static OutboundMessage<String> msg(String payload) {
        return OutboundMessage.of(payload);
    }

    private static MessageQueue<String> listened(QueueSpec spec, Recorder r) {
        MessageQueue<String> q = MessageQueue.create(spec);
        q.setListener(r);
        return q;
    }

    // ------------------------------------------------------------------------------------------- readable

    @Test
    void readableIsAnEdgeNotALevel() {
        Recorder r = new Recorder();
        MessageQueue<String> q = listened(QueueSpec.named("q"), r);
        q.send(msg("a"), 0);
        assertThat(r.readable).hasValue(1);
        q.send(msg("b"), 0);
        q.advance(1);
        assertThat(r.readable).hasValue(1);
        List<Lease<String>> ls = q.receive(10, 2);
        assertThat(r.readable).hasValue(1);
        q.send(msg("c"), 3);
        assertThat(r.readable).hasValue(2);
        q.ack(ls.get(0).handle(), 4);
        assertThat(r.readable).hasValue(2);
        assertThat(r.writable).hasValue(0);
    }

    @Test
    void readableWhenADelayedMessageFallsDue() {
        Recorder r = new Recorder();
        MessageQueue<String> q = listened(QueueSpec.named("q"), r);
        q.send(msg("a").delay(Duration.ofMillis(100)), 0);
        assertThat(r.readable).hasValue(0);
        q.advance(99);
        assertThat(r.readable).hasValue(0);
        q.advance(100);
        assertThat(r.readable).hasValue(1);
    }

    @Test
    void readableWhenALeasedMessageComesBack() {
        Recorder r = new Recorder();
        MessageQueue<String> q = listened(QueueSpec.named("q").visibilityTimeout(Duration.ofMillis(100)), r);
        q.send(msg("a"), 0);
        Lease<String> l = q.receive(1, 0).get(0);
        q.nack(l.handle(), Duration.ZERO, 1);
        assertThat(r.readable).hasValue(2);
        q.receive(1, 2);
        q.advance(102); // lease expiry
        assertThat(r.readable).hasValue(3);
        Lease<String> l3 = q.receive(1, 103).get(0);
        q.release(l3.handle(), 104);
        assertThat(r.readable).hasValue(4);
    }

    @Test
    void readableCallbackCanCallBackIntoTheQueueFromAnotherThread() {
        Recorder r = new Recorder();
        MessageQueue<String> q = listened(QueueSpec.named("q"), r);
        AtomicReference<List<Lease<String>>> got = new AtomicReference<>();
        r.onReadable = () -> got.set(fromAnotherThread(() -> q.receive(10, 0)));
        assertThat(q.send(msg("a"), 0).status()).isEqualTo(Status.ENQUEUED);
        assertThat(got.get()).extracting(Lease::payload).containsExactly("a");
        assertThat(q.stats().inFlight()).isEqualTo(1);
    }

    @Test
    void readableCallbackCanCallBackIntoTheQueueOnItsOwnThread() {
        Recorder r = new Recorder();
        MessageQueue<String> q = listened(QueueSpec.named("q"), r);
        List<String> got = new ArrayList<>();
        r.onReadable = () -> q.receive(10, 0).forEach(l -> {
            got.add(l.payload());
            q.ack(l.handle(), 0);
        });
        q.sendAll(List.of(msg("a"), msg("b")), 0);
        assertThat(got).containsExactly("a", "b");
        assertThat(q.size()).isZero();
        q.send(msg("c"), 1);
        assertThat(got).containsExactly("a", "b", "c");
        assertThat(r.readable).hasValue(2);
    }

    // ------------------------------------------------------------------------------------------- writable

    @Test
    void writableAfterAFullQueueGetsRoomOnce() {
        Recorder r = new Recorder();
        MessageQueue<String> q = listened(QueueSpec.named("q").capacity(2), r);
        q.send(msg("a"), 0);
        q.send(msg("b"), 0);
        assertThat(q.send(msg("c"), 0).status()).isEqualTo(Status.FULL);
        assertThat(r.writable).hasValue(0);
        List<Lease<String>> ls = q.receive(2, 1);
        assertThat(r.writable).hasValue(0);
        q.ack(ls.get(0).handle(), 2);
        assertThat(r.writable).hasValue(1);
        q.ack(ls.get(1).handle(), 3);
        assertThat(r.writable).hasValue(1);
    }

    @Test
    void noWritableWithoutARefusedSend() {
        Recorder r = new Recorder();
        MessageQueue<String> q = listened(QueueSpec.named("q").capacity(1), r);
        q.send(msg("a"), 0);
        q.ack(q.receive(1, 0).get(0).handle(), 1);
        q.send(msg("b"), 2);
        q.purge(3);
        assertThat(r.writable).hasValue(0);
    }

    @Test
    void writableAfterPurgeTtlExpiryAndDeadLettering() {
        Recorder r = new Recorder();
        MessageQueue<String> q = listened(QueueSpec.named("q").capacity(1).maxDeliveries(1).discardDeadLetters(), r);
        q.send(msg("a"), 0);
        q.send(msg("x"), 0);
        q.purge(1);
        assertThat(r.writable).hasValue(1);

        q.send(msg("ttl").ttl(Duration.ofMillis(10)), 2);
        q.send(msg("x"), 2);
        q.advance(12);
        assertThat(r.writable).hasValue(2);

        q.send(msg("poison"), 13);
        q.send(msg("x"), 13);
        q.receive(1, Duration.ofMillis(5), 13);
        q.advance(18); // lease ends on its only allowed delivery: discarded
        assertThat(r.writable).hasValue(3);
    }

    @Test
    void byteLimitRefusalIsNotImmediatelyFollowedByWritable() {
        Recorder r = new Recorder();
        MessageQueue<byte[]> q = MessageQueue.create(QueueSpec.named("q").maxBytes(10));
        q.setListener(r);
        q.send(OutboundMessage.of(new byte[6]), 0);
        assertThat(q.send(OutboundMessage.of(new byte[6]), 0).status()).isEqualTo(Status.FULL);
        // the refused message still does not fit: the queue did not go from full to having room
        assertThat(r.writable).hasValue(0);
        q.advance(1);
        assertThat(r.writable).hasValue(0);
        q.ack(q.receive(1, 2).get(0).handle(), 3);
        assertThat(r.writable).hasValue(1);
    }

    @Test
    void writableCallbackCanSendFromAnotherThread() {
        Recorder r = new Recorder();
        MessageQueue<String> q = listened(QueueSpec.named("q").capacity(1), r);
        AtomicReference<SendOutcome> resent = new AtomicReference<>();
        r.onWritable = () -> resent.set(fromAnotherThread(() -> q.send(msg("retry"), 1)));
        q.send(msg("a"), 0);
        assertThat(q.send(msg("retry"), 0).status()).isEqualTo(Status.FULL);
        q.ack(q.receive(1, 0).get(0).handle(), 1);
        assertThat(resent.get().status()).isEqualTo(Status.ENQUEUED);
        assertThat(q.peek(5)).extracting(Message::payload).containsExactly("retry");
    }

    // ------------------------------------------------------------------------------------------- events

    @Test
    void eventsAreRecordedOnlyWhileWantsEventsIsTrue() {
        Recorder r = new Recorder();
        MessageQueue<String> q = listened(QueueSpec.named("q"), r);
        q.send(msg("a"), 0);
        q.ack(q.receive(1, 0).get(0).handle(), 1);
        assertThat(r.batches).isEmpty();

        r.wantsEvents = true;
        q.send(msg("b"), 2);
        assertThat(r.types()).containsExactly(Type.ENQUEUED);

        r.wantsEvents = false;
        q.receive(1, 3);
        q.purge(4);
        assertThat(r.types()).containsExactly(Type.ENQUEUED);
    }

    @Test
    void eventsDescribeEachStepInOrder() {
        Recorder r = new Recorder();
        r.wantsEvents = true;
        MessageQueue<String> q = listened(QueueSpec.named("ev").visibilityTimeout(Duration.ofMillis(100))
                .maxDeliveries(3).discardDeadLetters(), r);
        long id = q.send(msg("a").dedupId("d"), 0).messageId();
        q.send(msg("a").dedupId("d"), 1);
        Lease<String> l1 = q.receive(1, 2).get(0);
        q.extend(l1.handle(), Duration.ofMillis(50), 3);
        q.nack(l1.handle(), Duration.ofMillis(250), 4);
        Lease<String> l2 = q.receive(1, 254).get(0);
        q.release(l2.handle(), 255);
        Lease<String> l3 = q.receive(1, 256).get(0);
        q.advance(356); // lease expiry
        Lease<String> l4 = q.receive(1, 357).get(0);
        q.reject(l4.handle(), "bad", 358);
        q.send(msg("t").ttl(Duration.ofMillis(10)), 400);
        q.advance(410);
        q.send(msg("k"), 420);
        q.ack(q.receive(1, 421).get(0).handle(), 422);
        q.send(msg("p"), 430);
        q.purge(431);

        assertThat(l3.deliveryCount()).isEqualTo(2);
        List<QueueEvent> ev = r.events();
        assertThat(ev).extracting(QueueEvent::type).containsExactly(Type.ENQUEUED, Type.DEDUPLICATED, Type.LEASED,
                Type.EXTENDED, Type.NACKED, Type.LEASED, Type.RELEASED, Type.LEASED, Type.EXPIRED, Type.LEASED,
                Type.DEAD_LETTERED, Type.ENQUEUED, Type.TTL_EXPIRED, Type.ENQUEUED, Type.LEASED, Type.ACKED,
                Type.ENQUEUED, Type.PURGED);
        assertThat(ev).extracting(QueueEvent::queue).containsOnly("ev");
        assertThat(ev.get(0)).isEqualTo(new QueueEvent(Type.ENQUEUED, "ev", id, 0, null, 0));
        assertThat(ev.get(1)).isEqualTo(new QueueEvent(Type.DEDUPLICATED, "ev", id, 0, "d", 1));
        assertThat(ev.get(2)).isEqualTo(new QueueEvent(Type.LEASED, "ev", id, 1, null, 2));
        assertThat(ev.get(3)).isEqualTo(new QueueEvent(Type.EXTENDED, "ev", id, 1, "53", 3));
        assertThat(ev.get(4)).isEqualTo(new QueueEvent(Type.NACKED, "ev", id, 1, "250", 4));
        assertThat(ev.get(5)).isEqualTo(new QueueEvent(Type.LEASED, "ev", id, 2, null, 254));
        assertThat(ev.get(6)).isEqualTo(new QueueEvent(Type.RELEASED, "ev", id, 1, null, 255));
        assertThat(ev.get(8)).isEqualTo(new QueueEvent(Type.EXPIRED, "ev", id, 2, null, 356));
        assertThat(ev.get(10)).isEqualTo(new QueueEvent(Type.DEAD_LETTERED, "ev", id, 3, "bad", 358));
        assertThat(ev.get(12).timestamp()).isEqualTo(410);
        assertThat(ev.get(17)).isEqualTo(new QueueEvent(Type.PURGED, "ev", 0, 0, "1", 431));
    }

    @Test
    void eventsOfOneCallArriveInOneBatch() {
        Recorder r = new Recorder();
        r.wantsEvents = true;
        MessageQueue<String> q = listened(QueueSpec.named("q"), r);
        q.sendAll(List.of(msg("a"), msg("b"), msg("c")), 0);
        q.receive(3, 1);
        assertThat(r.batches).hasSize(2);
        assertThat(r.batches.get(0)).extracting(QueueEvent::type).containsOnly(Type.ENQUEUED).hasSize(3);
        assertThat(r.batches.get(1)).extracting(QueueEvent::type).containsOnly(Type.LEASED).hasSize(3);
        assertThat(r.batches.get(1)).extracting(QueueEvent::messageId).isSorted();
    }

    @Test
    void eventsCallbackCanCallBackIntoTheQueueFromAnotherThread() {
        Recorder r = new Recorder();
        r.wantsEvents = true;
        MessageQueue<String> q = listened(QueueSpec.named("q"), r);
        AtomicReference<QueueStats> seen = new AtomicReference<>();
        r.onEvents = () -> seen.set(fromAnotherThread(q::stats));
        q.send(msg("a"), 0);
        assertThat(seen.get().ready()).isEqualTo(1);
    }

    // ------------------------------------------------------------------------------------------- robustness

    @Test
    void aThrowingListenerDoesNotBreakTheQueue() {
        Recorder r = new Recorder();
        r.wantsEvents = true;
        r.onReadable = () -> {
            throw new IllegalStateException("boom");
        };
        r.onEvents = () -> {
            throw new IllegalStateException("boom");
        };
        MessageQueue<String> q = listened(QueueSpec.named("q"), r);
        assertThat(q.send(msg("a"), 0).status()).isEqualTo(Status.ENQUEUED);
        Lease<String> l = q.receive(1, 0).get(0);
        assertThat(q.ack(l.handle(), 1)).isEqualTo(LeaseOutcome.OK);
        assertThat(q.send(msg("b"), 2).status()).isEqualTo(Status.ENQUEUED);
        assertThat(q.size()).isEqualTo(1);
    }

    @Test
    void setListenerReplacesAndNullRemoves() {
        Recorder first = new Recorder();
        Recorder second = new Recorder();
        MessageQueue<String> q = listened(QueueSpec.named("q"), first);
        q.send(msg("a"), 0);
        q.setListener(second);
        q.receive(1, 0);
        q.send(msg("b"), 1);
        q.setListener(null);
        q.receive(1, 2);
        q.send(msg("c"), 3);
        assertThat(first.readable).hasValue(1);
        assertThat(second.readable).hasValue(1);
    }

    @Test
    void deadLettersAreHandedOverAfterTheSourceLockIsReleased() {
        Broker b = Broker.create();
        MessageQueue<String> dlq = b.declare(QueueSpec.named("dlq"));
        MessageQueue<String> src = b.declare(QueueSpec.named("src").deadLetterQueue("dlq"));
        Recorder r = new Recorder();
        AtomicReference<SendOutcome> fromCallback = new AtomicReference<>();
        r.onReadable = () -> fromCallback.set(fromAnotherThread(() -> src.send(msg("from dlq listener"), 1)));
        dlq.setListener(r);
        src.send(msg("a"), 0);
        assertThat(src.reject(src.receive(1, 0).get(0).handle(), "no", 1)).isEqualTo(LeaseOutcome.OK);
        assertThat(r.readable).hasValue(1);
        assertThat(fromCallback.get().status()).isEqualTo(Status.ENQUEUED);
        assertThat(dlq.size()).isEqualTo(1);
        assertThat(src.size()).isEqualTo(1);
    }
}
