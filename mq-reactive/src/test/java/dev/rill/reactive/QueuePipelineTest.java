package dev.rill.reactive;

import static java.time.Duration.ofMinutes;
import static java.time.Duration.ofSeconds;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.Ordering;
import dev.rill.core.QueueEvent;
import dev.rill.core.QueueSpec;
import dev.rill.core.QueueStats;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Hooks;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Scheduler;
import reactor.test.StepVerifier;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * The pipeline's semantics, every timer on a {@link VirtualTimeScheduler} injected into the broker and the pipeline,
 * so minutes of queue time take milliseconds.
 */
class QueuePipelineTest {

    private static final Duration WAIT = ofSeconds(5);

    private final VirtualTimeScheduler vts = VirtualTimeScheduler.create();
    private final ReactiveBroker broker = Rill.inMemory(vts);
    private final List<QueuePipeline> pipelines = new ArrayList<>();

    @AfterEach
    void tearDown() {
        Hooks.resetOnErrorDropped();
        pipelines.forEach(QueuePipeline::dispose);
        broker.close().block(WAIT);
        vts.dispose();
    }

    private ReactiveQueue<String> queue(QueueSpec spec) {
        return broker.queue(spec, Codec.utf8()).block(WAIT);
    }

    private static void send(ReactiveQueue<String> q, String... payloads) {
        for (String p : payloads) {
            q.send(OutboundMessage.of(p)).block(WAIT);
        }
    }

    private static QueueStats stats(ReactiveQueue<?> q) {
        return q.stats().block(WAIT);
    }

    private QueuePipeline started(PipelineBuilder<String> builder) {
        QueuePipeline p = builder.scheduler(vts).start();
        pipelines.add(p);
        return p;
    }

    private long now() {
        return vts.now(TimeUnit.MILLISECONDS);
    }

    @Test
    void successAcksEachMessage() {
        ReactiveQueue<String> q = queue(QueueSpec.named("ok"));
        List<String> seen = new CopyOnWriteArrayList<>();
        started(q.pipelineOnPayload(p -> Mono.fromRunnable(() -> seen.add(p))).concurrency(4));
        send(q, "a", "b", "c");
        assertThat(seen).containsExactlyInAnyOrder("a", "b", "c");
        QueueStats s = stats(q);
        assertThat(s.acked()).isEqualTo(3);
        assertThat(s.size()).isZero();
    }

    @Test
    void backoffDelaysGrowExponentiallyAndAreCapped() {
        ReactiveQueue<String> q = queue(QueueSpec.named("backoff").maxDeliveries(6).deadLetterQueue("backoff.dlq"));
        RetryPolicy retry = RetryPolicy.exponential(ofSeconds(1), 2.0, ofSeconds(4));
        AtomicBoolean startedOnce = new AtomicBoolean();
        StepVerifier.withVirtualTime(() -> q.events()
                        .filter(e -> e.type() == QueueEvent.Type.LEASED)
                        .map(QueueEvent::timestamp)
                        .take(6), () -> vts, Long.MAX_VALUE)
                .then(() -> {
                    assertThat(startedOnce.compareAndSet(false, true)).isTrue();
                    started(q.pipelineOnPayload(p -> Mono.error(new IllegalStateException("boom"))).retry(retry));
                    send(q, "poison");
                })
                .assertNext(t -> assertThat(t).isEqualTo(0))
                .thenAwait(ofSeconds(1)) // nack(1 s)
                .assertNext(t -> assertThat(t).isEqualTo(1_000))
                .expectNoEvent(Duration.ofMillis(1_999)) // nack(2 s): nothing before it is due
                .thenAwait(Duration.ofMillis(1))
                .assertNext(t -> assertThat(t).isEqualTo(3_000))
                .thenAwait(ofSeconds(4)) // nack(4 s)
                .assertNext(t -> assertThat(t).isEqualTo(7_000))
                .thenAwait(ofSeconds(4)) // 8 s capped at 4 s
                .assertNext(t -> assertThat(t).isEqualTo(11_000))
                .thenAwait(ofSeconds(4)) // capped again
                .assertNext(t -> assertThat(t).isEqualTo(15_000))
                .expectComplete()
                .verify(WAIT);
        QueueStats s = stats(q);
        assertThat(s.delivered()).isEqualTo(6);
        assertThat(s.nacked()).isEqualTo(5);
        assertThat(s.deadLettered()).isEqualTo(1);
    }

    @Test
    void deadLetteredAfterMaxDeliveriesWithTheExceptionAsReason() {
        ReactiveQueue<String> q = queue(QueueSpec.named("orders").maxDeliveries(3).deadLetterQueue("orders.dlq"));
        ReactiveQueue<String> dlq = queue(QueueSpec.named("orders.dlq"));
        AtomicInteger calls = new AtomicInteger();
        QueuePipeline p = started(q.pipeline(d -> {
            calls.incrementAndGet();
            throw new IllegalStateException("cannot parse order, attempt " + d.deliveryCount());
        }).retry(RetryPolicy.fixed(ofSeconds(10))));
        send(q, "bad order");

        vts.advanceTimeBy(ofSeconds(9));
        assertThat(calls).hasValue(1);
        vts.advanceTimeBy(ofSeconds(1));
        assertThat(calls).hasValue(2);
        vts.advanceTimeBy(ofSeconds(10));
        assertThat(calls).hasValue(3);
        vts.advanceTimeBy(ofMinutes(5));
        assertThat(calls).hasValue(3);

        assertThat(stats(q).size()).isZero();
        assertThat(stats(q).deadLettered()).isEqualTo(1);
        Delivery<String> dead = dlq.receiveOne(Duration.ZERO).block(WAIT);
        assertThat(dead).isNotNull();
        assertThat(dead.payload()).isEqualTo("bad order");
        assertThat(dead.message().headers())
                .containsEntry(Message.HEADER_DELIVERY_COUNT, "3")
                .containsEntry(Message.HEADER_SOURCE_QUEUE, "orders");
        assertThat(dead.message().headers().get(Message.HEADER_DEAD_LETTER_REASON))
                .contains("java.lang.IllegalStateException: cannot parse order, attempt 3")
                .contains("3 deliveries");
        assertThat(p.isDisposed()).isFalse();
    }

    @Test
    void ownMaxAttemptsRejectsBeforeTheQueueLimit() {
        ReactiveQueue<String> q = queue(QueueSpec.named("strict").maxDeliveries(10).deadLetterQueue("strict.dlq"));
        AtomicInteger calls = new AtomicInteger();
        started(q.pipelineOnPayload(x -> {
            calls.incrementAndGet();
            return Mono.error(new IllegalArgumentException("nope"));
        }).retry(RetryPolicy.immediate().maxAttempts(2)));
        send(q, "x");
        vts.advanceTimeBy(ofMinutes(1));
        assertThat(calls).hasValue(2);
        assertThat(stats(q).deadLettered()).isEqualTo(1);
    }

    /** As RetryPolicy.immediate() says: the failed message is ready again first, and the next lease takes it. */
    @Test
    void immediateRetryHandsTheFailedMessageBackBeforeTheOthers() {
        ReactiveQueue<String> q = queue(QueueSpec.named("first").maxDeliveries(3).deadLetterQueue("first.dlq"));
        send(q, "m0", "m1");
        List<String> handled = new CopyOnWriteArrayList<>();
        started(q.pipelineOnPayload(x -> {
            handled.add(x);
            return x.equals("m0") ? Mono.error(new IllegalStateException("always")) : Mono.empty();
        }).retry(RetryPolicy.immediate()));
        org.awaitility.Awaitility.await().atMost(WAIT).untilAsserted(() ->
                assertThat(handled).containsExactly("m0", "m0", "m0", "m1")); // no time passes
        assertThat(stats(q).deadLettered()).isEqualTo(1);
    }

    @Test
    void handlingTimeoutCancelsTheHandlerAndNacks() {
        ReactiveQueue<String> q = queue(QueueSpec.named("slow"));
        AtomicInteger cancelled = new AtomicInteger();
        List<Integer> deliveries = new CopyOnWriteArrayList<>();
        QueuePipeline p = started(q.pipeline(d -> {
            deliveries.add(d.deliveryCount());
            return Mono.never().doOnCancel(cancelled::incrementAndGet);
        }).handlingTimeout(ofSeconds(5)).retry(RetryPolicy.fixed(ofSeconds(10))));
        List<PipelineError> errors = new CopyOnWriteArrayList<>();
        p.errors().subscribe(errors::add);
        send(q, "m");

        vts.advanceTimeBy(Duration.ofMillis(4_999));
        assertThat(cancelled).hasValue(0);
        assertThat(stats(q).inFlight()).isEqualTo(1);
        vts.advanceTimeBy(Duration.ofMillis(1));
        assertThat(cancelled).hasValue(1);
        QueueStats s = stats(q);
        assertThat(s.nacked()).isEqualTo(1);
        assertThat(s.inFlight()).isZero();
        assertThat(s.delayed()).isEqualTo(1);
        assertThat(errors).singleElement().satisfies(e -> {
            assertThat(e.stage()).isEqualTo(PipelineError.Stage.TIMEOUT);
            assertThat(e.error()).isInstanceOf(HandlingTimeoutException.class);
            assertThat(e.deliveryCount()).isEqualTo(1);
        });
        vts.advanceTimeBy(ofSeconds(10)); // the backoff, then delivered again
        assertThat(deliveries).containsExactly(1, 2);
    }

    @Test
    void leaseRenewalKeepsATenMinuteHandlerFromBeingRedelivered() {
        ReactiveQueue<String> q = queue(QueueSpec.named("long").visibilityTimeout(ofSeconds(30)));
        List<Integer> deliveries = new CopyOnWriteArrayList<>();
        started(q.pipeline(d -> {
            deliveries.add(d.deliveryCount());
            return Mono.delay(ofMinutes(10), vts);
        }).concurrency(2)); // room for a second delivery, so a redelivery would be seen
        send(q, "big job");

        for (int i = 0; i < 59; i++) { // 590 s in 10 s steps: the lease would have run out 19 times
            vts.advanceTimeBy(ofSeconds(10));
            QueueStats s = stats(q);
            assertThat(s.inFlight()).as("in flight at %s s", (i + 1) * 10).isEqualTo(1);
            assertThat(s.delivered()).isEqualTo(1);
            assertThat(s.expiredLeases()).isZero();
            assertThat(deliveries).containsExactly(1);
        }
        vts.advanceTimeBy(ofSeconds(10));
        QueueStats s = stats(q);
        assertThat(s.acked()).isEqualTo(1);
        assertThat(s.size()).isZero();
        assertThat(deliveries).containsExactly(1);
    }

    @Test
    void deliveriesStartedAtDifferentTimesAreEachRenewedBeforeTheirLeaseRunsOut() {
        ReactiveQueue<String> q = queue(QueueSpec.named("staggered").visibilityTimeout(ofSeconds(30)));
        List<String> done = new CopyOnWriteArrayList<>();
        started(q.pipeline(d -> Mono.delay(ofMinutes(5), vts).then(Mono.fromRunnable(() -> done.add(d.payload()))))
                .concurrency(8));
        for (int i = 0; i < 8; i++) { // one new long job every 7 s: their renewals fall due at eight different times
            send(q, "job-" + i);
            vts.advanceTimeBy(ofSeconds(7));
        }
        for (int i = 0; i < 60; i++) { // 6 minutes in 6 s steps: every lease would have run out ~10 times
            vts.advanceTimeBy(ofSeconds(6));
            QueueStats s = stats(q);
            assertThat(s.expiredLeases()).as("expired leases at step %s", i).isZero();
            assertThat(s.delivered()).isEqualTo(8);
        }
        assertThat(done).hasSize(8);
        assertThat(stats(q).acked()).isEqualTo(8);
    }

    @Test
    void handlersStartedAtDifferentTimesEachTimeOutAtTheirOwnDeadline() {
        ReactiveQueue<String> q = queue(QueueSpec.named("slow-staggered").visibilityTimeout(ofSeconds(30)));
        List<String> cancelled = new CopyOnWriteArrayList<>();
        QueuePipeline p = started(q.pipeline(d -> Mono.never().doOnCancel(() -> cancelled.add(d.payload())))
                .concurrency(4).handlingTimeout(ofSeconds(5)).retry(RetryPolicy.none()));
        List<PipelineError> errors = new CopyOnWriteArrayList<>();
        p.errors().subscribe(errors::add);
        for (int i = 0; i < 4; i++) { // started at 0, 2, 4 and 6 s: timing out at 5, 7, 9 and 11 s
            send(q, "m" + i);
            if (i < 3) {
                vts.advanceTimeBy(ofSeconds(2));
            }
        }
        assertThat(cancelled).containsExactly("m0"); // at 6 s
        vts.advanceTimeBy(Duration.ofMillis(999));
        assertThat(cancelled).containsExactly("m0");
        vts.advanceTimeBy(Duration.ofMillis(1)); // 7 s
        assertThat(cancelled).containsExactly("m0", "m1");
        vts.advanceTimeBy(ofSeconds(2)); // 9 s
        assertThat(cancelled).containsExactly("m0", "m1", "m2");
        vts.advanceTimeBy(Duration.ofMillis(1_999));
        assertThat(cancelled).containsExactly("m0", "m1", "m2");
        vts.advanceTimeBy(Duration.ofMillis(1)); // 11 s
        assertThat(cancelled).containsExactly("m0", "m1", "m2", "m3");
        assertThat(errors).hasSize(4).allSatisfy(e -> assertThat(e.stage()).isEqualTo(PipelineError.Stage.TIMEOUT));
        assertThat(stats(q).size()).isZero(); // RetryPolicy.none(): each dropped (no dead-letter queue)
    }

    @Test
    void oneTimerServesEveryHeldDeliveryInsteadOfTwoPerMessage() {
        ReactiveQueue<String> q = queue(QueueSpec.named("timers").visibilityTimeout(ofSeconds(30)));
        AtomicInteger timers = new AtomicInteger();
        Scheduler counting = new Scheduler() {
            @Override
            public Disposable schedule(Runnable task) {
                return vts.schedule(task);
            }

            @Override
            public Disposable schedule(Runnable task, long delay, TimeUnit unit) {
                timers.incrementAndGet();
                return vts.schedule(task, delay, unit);
            }

            @Override
            public long now(TimeUnit unit) {
                return vts.now(unit);
            }

            @Override
            public Worker createWorker() {
                return vts.createWorker();
            }
        };
        QueuePipeline p = q.pipelineOnPayload(x -> Mono.empty()).concurrency(16).handlingTimeout(ofSeconds(10))
                .scheduler(counting).start();
        pipelines.add(p);
        q.sendMany(Flux.range(0, 2_000).map(i -> OutboundMessage.of("m" + i))).blockLast(WAIT);
        org.awaitility.Awaitility.await().atMost(WAIT).until(() -> stats(q).acked() == 2_000);
        // before: two timers armed (and cancelled) per message, lease renewal and handling timeout, each a wake-up
        // of a scheduler thread
        assertThat(timers.get()).isLessThanOrEqualTo(5);
        vts.advanceTimeBy(ofSeconds(20)); // the pending sweep finds nothing due and arms no other
        assertThat(timers.get()).isLessThanOrEqualTo(5);
    }

    @Test
    void withoutLeaseRenewalTheSameHandlerIsRedeliveredAndItsAckReported() {
        ReactiveQueue<String> q = queue(QueueSpec.named("long2").visibilityTimeout(ofSeconds(30)));
        List<Integer> deliveries = new CopyOnWriteArrayList<>();
        QueuePipeline p = started(q.pipeline(d -> {
            deliveries.add(d.deliveryCount());
            return Mono.delay(ofSeconds(40), vts);
        }).concurrency(2).noLeaseRenewal());
        List<PipelineError> errors = new CopyOnWriteArrayList<>();
        p.errors().subscribe(errors::add);
        send(q, "big job");

        vts.advanceTimeBy(ofSeconds(30));
        assertThat(deliveries).containsExactly(1, 2); // the control: renewal is what prevents this
        vts.advanceTimeBy(ofSeconds(10));
        assertThat(errors).anySatisfy(e -> {
            assertThat(e.stage()).isEqualTo(PipelineError.Stage.ACK);
            assertThat(e.error()).isInstanceOf(LeaseExpiredException.class);
        });
    }

    @Test
    void concurrencyBoundsRunningHandlersAndLeases() {
        ReactiveQueue<String> q = queue(QueueSpec.named("bounded"));
        Map<String, Sinks.Empty<Void>> running = new ConcurrentHashMap<>();
        AtomicInteger now = new AtomicInteger();
        AtomicInteger max = new AtomicInteger();
        started(q.pipelineOnPayload(p -> {
            Sinks.Empty<Void> done = Sinks.empty();
            running.put(p, done);
            max.accumulateAndGet(now.incrementAndGet(), Math::max);
            // doOnTerminate runs before the completion travels on (doFinally would run after the next start)
            return done.asMono().doOnTerminate(now::decrementAndGet);
        }).concurrency(3));
        for (int i = 0; i < 10; i++) {
            send(q, "m" + i);
        }
        assertThat(now).hasValue(3);
        QueueStats s = stats(q);
        assertThat(s.inFlight()).isEqualTo(3);
        assertThat(s.ready()).isEqualTo(7);

        for (int finished = 0; finished < 10; finished++) {
            String next = running.keySet().stream().sorted().findFirst().orElseThrow();
            running.remove(next).tryEmitEmpty();
            int left = 10 - finished - 1;
            assertThat(now).hasValue(Math.min(3, left));
            assertThat(stats(q).inFlight()).isEqualTo(Math.min(3, left));
        }
        assertThat(max).hasValue(3);
        assertThat(stats(q).acked()).isEqualTo(10);
    }

    @Test
    void keyOrderedRunsEachKeyInOrderAndKeysInParallel() {
        ReactiveQueue<String> q = queue(QueueSpec.named("keyed")); // a FIFO queue: the pipeline does the ordering
        Map<String, List<String>> starts = new ConcurrentHashMap<>();
        Set<String> runningKeys = ConcurrentHashMap.newKeySet();
        AtomicInteger overlapSameKey = new AtomicInteger();
        AtomicInteger maxParallel = new AtomicInteger();
        started(q.pipeline(d -> {
            String key = d.message().key();
            if (!runningKeys.add(key)) {
                overlapSameKey.incrementAndGet();
            }
            maxParallel.accumulateAndGet(runningKeys.size(), Math::max);
            starts.computeIfAbsent(key, k -> new CopyOnWriteArrayList<>()).add(d.payload());
            // the first message of each key is the slowest, so a later one would overtake it if allowed
            long ms = d.payload().endsWith("1") ? 3_000 : 100;
            return Mono.delay(Duration.ofMillis(ms), vts).doOnTerminate(() -> runningKeys.remove(key));
        }).concurrency(4).keyOrdered());
        for (int i = 1; i <= 4; i++) {
            for (String key : List.of("a", "b", "c")) {
                q.send(OutboundMessage.of(key + i).key(key)).block(WAIT);
            }
        }
        vts.advanceTimeBy(ofMinutes(1));

        assertThat(starts.get("a")).containsExactly("a1", "a2", "a3", "a4");
        assertThat(starts.get("b")).containsExactly("b1", "b2", "b3", "b4");
        assertThat(starts.get("c")).containsExactly("c1", "c2", "c3", "c4");
        assertThat(overlapSameKey).hasValue(0);
        assertThat(maxParallel.get()).isGreaterThanOrEqualTo(3);
        assertThat(stats(q).acked()).isEqualTo(12);
    }

    @Test
    void keyOrderedOnAKeyOrderedQueueKeepsOrderAcrossRetries() {
        ReactiveQueue<String> q = queue(QueueSpec.named("keyed2").ordering(Ordering.KEY_ORDERED));
        List<String> handled = new CopyOnWriteArrayList<>();
        AtomicBoolean failedOnce = new AtomicBoolean();
        started(q.pipeline(d -> {
            if (d.payload().equals("k1") && failedOnce.compareAndSet(false, true)) {
                return Mono.error(new IllegalStateException("transient"));
            }
            handled.add(d.payload());
            return Mono.empty();
        }).concurrency(4).keyOrdered().retry(RetryPolicy.fixed(ofSeconds(1))));
        for (String p : List.of("k1", "k2", "k3")) {
            q.send(OutboundMessage.of(p).key("k")).block(WAIT);
        }
        send(q, "other");
        vts.advanceTimeBy(ofSeconds(5));
        assertThat(handled).containsSubsequence("k1", "k2", "k3").contains("other");
        assertThat(stats(q).acked()).isEqualTo(4);
    }

    @Test
    void aDeliveryWaitingBehindItsKeyKeepsItsLeaseAndDrainGivesItBack() {
        ReactiveQueue<String> q = queue(QueueSpec.named("keyed3").visibilityTimeout(ofSeconds(30)));
        List<String> started = new CopyOnWriteArrayList<>();
        QueuePipeline p = started(q.pipeline(d -> {
            started.add(d.payload());
            return Mono.delay(ofMinutes(2), vts);
        }).concurrency(3).keyOrdered());
        for (String x : List.of("k-first", "k-second", "k-third")) {
            q.send(OutboundMessage.of(x).key("k")).block(WAIT);
        }
        vts.advanceTimeBy(ofSeconds(90)); // three lease lengths: the two waiting ones are renewed too
        assertThat(started).containsExactly("k-first");
        QueueStats s = stats(q);
        assertThat(s.inFlight()).isEqualTo(3);
        assertThat(s.delivered()).isEqualTo(3);
        assertThat(s.expiredLeases()).isZero();

        StepVerifier.create(p.drain(ofSeconds(10)))
                .then(() -> vts.advanceTimeBy(ofSeconds(10)))
                .expectComplete()
                .verify(WAIT);
        assertThat(started).containsExactly("k-first"); // the waiters were given back, not started
        QueueStats after = stats(q);
        assertThat(after.inFlight()).isZero();
        assertThat(after.ready()).isEqualTo(3);
        assertThat(after.acked()).isZero();
    }

    @Test
    void errorsCompleteWhenThePipelineEnds() {
        ReactiveQueue<String> q = queue(QueueSpec.named("errs"));
        QueuePipeline p = started(q.pipelineOnPayload(x -> Mono.error(new IllegalStateException(x)))
                .retry(RetryPolicy.none()));
        StepVerifier.create(p.errors())
                .then(() -> send(q, "x"))
                .assertNext(e -> {
                    assertThat(e.stage()).isEqualTo(PipelineError.Stage.HANDLER);
                    assertThat(e.queue()).isEqualTo("errs");
                    assertThat(e.messageId()).isPositive();
                    assertThat(e.error()).hasMessage("x");
                })
                .then(p::dispose)
                .expectComplete()
                .verify(WAIT);
        assertThat(stats(q).deadLettered()).isEqualTo(1); // none(): the first failure rejects
    }

    @Test
    void pauseStopsLeasingAndResumeStartsAgain() {
        ReactiveQueue<String> q = queue(QueueSpec.named("pausable"));
        List<String> seen = new CopyOnWriteArrayList<>();
        Sinks.Empty<Void> slow = Sinks.empty();
        QueuePipeline p = started(q.pipelineOnPayload(x -> {
            seen.add(x);
            return x.equals("slow") ? slow.asMono() : Mono.empty();
        }).concurrency(2));
        send(q, "slow");
        p.pause();
        assertThat(p.isPaused()).isTrue();
        send(q, "a", "b", "c");
        vts.advanceTimeBy(ofMinutes(1));
        assertThat(seen).containsExactly("slow");
        QueueStats paused = stats(q);
        assertThat(paused.ready()).isEqualTo(3);
        assertThat(paused.inFlight()).isEqualTo(1); // the running handler keeps its (renewed) lease

        slow.tryEmitEmpty(); // a handler running across pause is still settled
        assertThat(stats(q).acked()).isEqualTo(1);
        assertThat(seen).containsExactly("slow");

        p.resume();
        assertThat(p.isPaused()).isFalse();
        assertThat(seen).containsExactly("slow", "a", "b", "c");
        assertThat(stats(q).acked()).isEqualTo(4);
    }

    @Test
    void drainLetsInFlightHandlersFinishAndLosesNothing() {
        ReactiveQueue<String> q = queue(QueueSpec.named("drain"));
        List<String> finished = new CopyOnWriteArrayList<>();
        QueuePipeline p = started(q.pipelineOnPayload(x -> Mono.delay(ofSeconds(2), vts)
                .doOnNext(t -> finished.add(x))).concurrency(3));
        send(q, "m1", "m2", "m3", "m4", "m5", "m6");
        assertThat(stats(q).inFlight()).isEqualTo(3);

        StepVerifier.create(p.drain(ofSeconds(10)))
                .then(() -> assertThat(p.isDisposed()).isTrue())
                .then(() -> vts.advanceTimeBy(Duration.ofMillis(1_999)))
                .expectNoEvent(Duration.ZERO)
                .then(() -> vts.advanceTimeBy(Duration.ofMillis(1)))
                .expectComplete()
                .verify(WAIT);

        assertThat(finished).containsExactlyInAnyOrder("m1", "m2", "m3");
        QueueStats s = stats(q);
        assertThat(s.acked()).isEqualTo(3);
        assertThat(s.inFlight()).isZero();
        assertThat(s.ready()).isEqualTo(3);
        assertThat(s.size()).isEqualTo(3); // 6 sent = 3 acked + 3 still there
        vts.advanceTimeBy(ofMinutes(1));
        assertThat(finished).hasSize(3); // it leases nothing after the drain
        assertThat(p.inFlight()).isZero();
        StepVerifier.create(p.onTerminate()).expectComplete().verify(WAIT);
    }

    @Test
    void drainGivesBackWhatOutlivesTheGracePeriod() {
        ReactiveQueue<String> q = queue(QueueSpec.named("drain2"));
        AtomicInteger cancelled = new AtomicInteger();
        QueuePipeline p = started(q.pipelineOnPayload(x -> (x.equals("fast") ? Mono.delay(ofSeconds(1), vts)
                : Mono.delay(ofMinutes(10), vts)).doOnCancel(cancelled::incrementAndGet)).concurrency(3));
        send(q, "fast", "slow1", "slow2", "waiting");

        StepVerifier.create(p.drain(ofSeconds(5)))
                .then(() -> vts.advanceTimeBy(ofSeconds(4)))
                .expectNoEvent(Duration.ZERO)
                .then(() -> vts.advanceTimeBy(ofSeconds(1)))
                .expectComplete()
                .verify(WAIT);

        assertThat(cancelled).hasValue(2);
        QueueStats s = stats(q);
        assertThat(s.acked()).isEqualTo(1);
        assertThat(s.inFlight()).isZero();
        assertThat(s.ready()).isEqualTo(3); // slow1, slow2 given back at once, "waiting" never leased
        assertThat(s.delayed()).isZero();
    }

    @Test
    void disposeGivesBackHeldDeliveriesAtOnce() {
        ReactiveQueue<String> q = queue(QueueSpec.named("dispose"));
        QueuePipeline p = started(q.pipelineOnPayload(x -> Mono.never()).concurrency(2));
        send(q, "a", "b", "c");
        assertThat(stats(q).inFlight()).isEqualTo(2);
        p.dispose();
        assertThat(p.isDisposed()).isTrue();
        StepVerifier.create(p.onTerminate()).expectComplete().verify(WAIT);
        QueueStats s = stats(q);
        assertThat(s.inFlight()).isZero();
        assertThat(s.ready()).isEqualTo(3);
    }

    @Test
    void survivesThrownErroredAndNullHandlers() {
        ReactiveQueue<String> q = queue(QueueSpec.named("robust"));
        Map<String, Integer> attempts = new ConcurrentHashMap<>();
        QueuePipeline p = started(q.pipeline(d -> {
            int n = attempts.merge(d.payload(), 1, Integer::sum);
            if (n == 1) {
                switch (d.payload()) {
                    case "throws" -> throw new IllegalStateException("thrown");
                    case "errors" -> {
                        return Mono.error(new IllegalArgumentException("signalled"));
                    }
                    case "null" -> {
                        return null;
                    }
                    default -> {
                        return Mono.empty();
                    }
                }
            }
            return Mono.just("done");
        }).concurrency(2).retry(RetryPolicy.fixed(ofSeconds(1))));
        List<PipelineError> errors = new CopyOnWriteArrayList<>();
        p.errors().subscribe(errors::add);
        send(q, "throws", "fine", "errors", "null", "fine2");
        vts.advanceTimeBy(ofSeconds(5));

        assertThat(stats(q).acked()).isEqualTo(5);
        assertThat(stats(q).size()).isZero();
        assertThat(attempts).containsEntry("throws", 2).containsEntry("errors", 2).containsEntry("null", 2)
                .containsEntry("fine", 1).containsEntry("fine2", 1);
        assertThat(errors).hasSize(3).allSatisfy(e -> assertThat(e.stage()).isEqualTo(PipelineError.Stage.HANDLER));
        assertThat(errors).extracting(e -> e.error().getClass().getSimpleName())
                .containsExactlyInAnyOrder("IllegalStateException", "IllegalArgumentException",
                        "NullPointerException");
        assertThat(p.isDisposed()).isFalse();
        send(q, "later"); // still consuming
        assertThat(stats(q).acked()).isEqualTo(6);
    }

    @Test
    void anyPublisherIsAHandlerItsOutcomeNotItsValuesCounts() {
        ReactiveQueue<String> q = queue(QueueSpec.named("publishers"));
        Map<String, Integer> attempts = new ConcurrentHashMap<>();
        AtomicInteger rawRequests = new AtomicInteger();
        QueuePipeline p = started(q.pipeline(d -> {
            int n = attempts.merge(d.payload(), 1, Integer::sum);
            switch (d.payload()) {
                case "flux" -> {
                    return Flux.range(1, 1_000); // many values: all ignored, the completion acks
                }
                case "raw" -> {
                    // not a Reactor type: a plain Reactive Streams publisher that emits two values when asked
                    return (Publisher<String>) s -> s.onSubscribe(new Subscription() {
                        private boolean done;

                        @Override
                        public void request(long k) {
                            rawRequests.incrementAndGet();
                            if (!done) {
                                done = true;
                                s.onNext("x");
                                s.onNext("y");
                                s.onComplete();
                            }
                        }

                        @Override
                        public void cancel() {
                            done = true;
                        }
                    });
                }
                case "throwsOnSubscribe" -> {
                    if (n == 1) { // breaks the spec: throws instead of signalling onError
                        return (Publisher<String>) s -> {
                            throw new IllegalStateException("subscribe threw");
                        };
                    }
                    return Mono.empty();
                }
                default -> {
                    return Mono.just(d.payload());
                }
            }
        }).concurrency(4).retry(RetryPolicy.fixed(ofSeconds(1))));
        List<PipelineError> errors = new CopyOnWriteArrayList<>();
        p.errors().subscribe(errors::add);
        send(q, "flux", "raw", "throwsOnSubscribe", "mono");
        vts.advanceTimeBy(ofSeconds(2));

        QueueStats s = stats(q);
        assertThat(s.acked()).isEqualTo(4);
        assertThat(s.nacked()).isEqualTo(1);
        assertThat(s.size()).isZero();
        assertThat(attempts).containsEntry("flux", 1).containsEntry("raw", 1).containsEntry("mono", 1)
                .containsEntry("throwsOnSubscribe", 2);
        assertThat(rawRequests).hasValue(1); // asked once, for everything
        assertThat(errors).singleElement().satisfies(e -> {
            assertThat(e.stage()).isEqualTo(PipelineError.Stage.HANDLER);
            assertThat(e.error()).hasMessage("subscribe threw");
        });
    }

    /**
     * A handler's publisher that hands its subscriber to the test (which ends it when it likes) and ignores
     * cancellation, counting it only.
     */
    private static Publisher<Object> stubborn(List<Subscriber<? super Object>> subscribers, AtomicInteger cancels) {
        return s -> {
            subscribers.add(s);
            s.onSubscribe(new Subscription() {
                @Override
                public void request(long n) {
                    // ends only when the test says so
                }

                @Override
                public void cancel() {
                    cancels.incrementAndGet();
                }
            });
        };
    }

    @Test
    void aHandlerThatIgnoresCancellationAndEndsAfterItsTimeoutIsSettledOnce() {
        ReactiveQueue<String> q = queue(QueueSpec.named("stubborn"));
        List<Subscriber<? super Object>> late = new CopyOnWriteArrayList<>();
        AtomicInteger cancels = new AtomicInteger();
        List<Integer> deliveries = new CopyOnWriteArrayList<>();
        QueuePipeline p = started(q.pipeline(d -> {
            deliveries.add(d.deliveryCount());
            // it will still complete or fail after it timed out
            return stubborn(late, cancels);
        }).handlingTimeout(ofSeconds(5)).retry(RetryPolicy.fixed(ofSeconds(10))));
        List<PipelineError> errors = new CopyOnWriteArrayList<>();
        p.errors().subscribe(errors::add);
        send(q, "m");

        vts.advanceTimeBy(ofSeconds(5));
        assertThat(cancels).hasValue(1);
        assertThat(stats(q).nacked()).isEqualTo(1);
        late.get(0).onComplete(); // too late: the timeout already settled it
        late.get(0).onError(new IllegalStateException("and broken")); // a second terminal signal: ignored too
        QueueStats s = stats(q);
        assertThat(s.acked()).isZero();
        assertThat(s.nacked()).isEqualTo(1);
        assertThat(s.delayed()).isEqualTo(1);
        assertThat(p.inFlight()).isZero();
        assertThat(errors).singleElement().satisfies(e -> assertThat(e.stage()).isEqualTo(PipelineError.Stage.TIMEOUT));

        vts.advanceTimeBy(ofSeconds(10)); // delivered again; this time the handler completes in time
        assertThat(deliveries).containsExactly(1, 2);
        late.get(1).onComplete();
        assertThat(stats(q).acked()).isEqualTo(1);
        assertThat(stats(q).size()).isZero();
        assertThat(p.inFlight()).isZero();
    }

    @Test
    void aHandlerThatEndsAfterDisposeGaveItsDeliveryBackDoesNotAckIt() {
        ReactiveQueue<String> q = queue(QueueSpec.named("given-back"));
        List<Subscriber<? super Object>> late = new CopyOnWriteArrayList<>();
        QueuePipeline p = started(q.pipeline(d -> stubborn(late, new AtomicInteger())));
        send(q, "m");
        assertThat(stats(q).inFlight()).isEqualTo(1);
        p.dispose();
        late.get(0).onComplete();
        QueueStats s = stats(q);
        assertThat(s.acked()).isZero();
        assertThat(s.ready()).isEqualTo(1); // given back at once, and still there
        StepVerifier.create(p.onTerminate()).expectComplete().verify(WAIT);
    }

    /**
     * A handler that fails after the pipeline settled its delivery without it (dispose or an expired drain gave it
     * back, or it timed out): its failure changes nothing, and it is not handed to Reactor's global
     * {@code onErrorDropped} hook, which logs it at ERROR (a {@code rill demo} stopped by SIGTERM printed its
     * handlers' failures so on standard error).
     */
    @ParameterizedTest
    @ValueSource(strings = {"dispose", "dispose key-ordered", "drain past its grace", "handling timeout"})
    void aHandlerThatFailsAfterItsDeliveryWasSettledWithoutItIsNotDroppedToReactorsHook(String how) {
        List<Throwable> dropped = new CopyOnWriteArrayList<>();
        Hooks.onErrorDropped(dropped::add);
        ReactiveQueue<String> q = queue(QueueSpec.named("late-failure"));
        List<Subscriber<? super Object>> late = new CopyOnWriteArrayList<>();
        AtomicInteger cancels = new AtomicInteger();
        PipelineBuilder<String> b = q.pipeline(d -> stubborn(late, cancels)).retry(RetryPolicy.none());
        if (how.endsWith("key-ordered")) {
            b = b.keyOrdered();
        }
        if (how.equals("handling timeout")) {
            b = b.handlingTimeout(ofSeconds(5));
        }
        QueuePipeline p = started(b);
        List<PipelineError> errors = new CopyOnWriteArrayList<>();
        p.errors().subscribe(errors::add);
        q.send(OutboundMessage.of("m").key("k")).block(WAIT);
        assertThat(late).hasSize(1);

        switch (how) {
            case "handling timeout" -> vts.advanceTimeBy(ofSeconds(5));
            case "drain past its grace" -> {
                p.drain(ofSeconds(5)).subscribe();
                vts.advanceTimeBy(ofSeconds(5));
            }
            default -> p.dispose();
        }
        assertThat(cancels).hasValue(1);
        QueueStats settled = stats(q);
        late.get(0).onError(new IllegalStateException("payment gateway timeout")); // after its cancel

        assertThat(dropped).isEmpty();
        assertThat(stats(q)).usingRecursiveComparison().isEqualTo(settled); // the late failure changed nothing
        assertThat(p.inFlight()).isZero();
        assertThat(errors).noneMatch(e -> e.stage() == PipelineError.Stage.HANDLER);
    }

    @Test
    void aDeletedQueueEndsThePipelineWithAnError() {
        ReactiveQueue<String> q = queue(QueueSpec.named("doomed"));
        QueuePipeline p = started(q.pipelineOnPayload(x -> Mono.empty()));
        broker.delete("doomed").block(WAIT);
        StepVerifier.create(p.onTerminate()).expectError(QueueClosedException.class).verify(WAIT);
        assertThat(p.isDisposed()).isTrue();
    }

    @Test
    void builderIsImmutableAndValidates() {
        ReactiveQueue<String> q = queue(QueueSpec.named("builder").visibilityTimeout(ofSeconds(10)));
        PipelineBuilder<String> base = q.pipelineOnPayload(x -> Mono.empty());
        String before = base.toString();
        PipelineBuilder<String> tuned = base.concurrency(8).keyOrdered().handlingTimeout(ofSeconds(3))
                .retry(RetryPolicy.none()).leaseRenewal(ofSeconds(2));
        assertThat(base.toString()).isEqualTo(before);
        assertThat(tuned.toString()).contains("concurrency=8", "keyOrdered=true", "PT3S", "PT2S");
        assertThatThrownBy(() -> base.concurrency(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("concurrency");
        assertThatThrownBy(() -> base.handlingTimeout(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("handlingTimeout");
        assertThatThrownBy(() -> base.leaseRenewal(ofSeconds(10)).start())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("leaseRenewal");
        // a lease too short for the default renewal is named as such, not as a leaseRenewal the user never set
        assertThatThrownBy(() -> base.visibilityTimeout(Duration.ofMillis(1)).start())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("a lease of 1ms is too short to renew (every half lease, at least 1ms): give the pipeline "
                        + "a visibilityTimeout of at least 2ms, or noLeaseRenewal()");
        QueuePipeline unrenewed = base.visibilityTimeout(Duration.ofMillis(1)).noLeaseRenewal().start();
        assertThat(unrenewed.isDisposed()).isFalse();
        unrenewed.dispose();
    }

    @Test
    void manyMessagesThroughSeveralPipelinesAreEachHandledOnce() {
        ReactiveQueue<String> q = queue(QueueSpec.named("many"));
        Set<String> seen = Collections.synchronizedSet(new HashSet<>());
        AtomicInteger duplicates = new AtomicInteger();
        for (int i = 0; i < 3; i++) {
            started(q.pipelineOnPayload(x -> Mono.delay(Duration.ofMillis(x.hashCode() & 7), vts)
                    .doOnNext(t -> {
                        if (!seen.add(x)) {
                            duplicates.incrementAndGet();
                        }
                    })).concurrency(5));
        }
        for (int i = 0; i < 500; i++) {
            send(q, "m" + i);
        }
        vts.advanceTimeBy(ofSeconds(10));
        assertThat(seen).hasSize(500);
        assertThat(duplicates).hasValue(0);
        assertThat(stats(q).acked()).isEqualTo(500);
    }

    /**
     * A receive stream that fails (the queue deleted) concerns no message: the pipeline's log line says that the
     * receive stream failed and why, where it said "RECEIVE failed for message 0 (delivery 0)".
     */
    @Test
    void aFailedReceiveStreamIsLoggedAsSuchNotAsMessageZero() {
        try (JulCapture log = new JulCapture(QueuePipeline.class.getName())) {
            ReactiveQueue<String> q = queue(QueueSpec.named("gone"));
            QueuePipeline p = started(q.pipelineOnPayload(x -> Mono.empty()));
            assertThat(broker.delete("gone").block(WAIT)).isTrue();
            assertThatThrownBy(() -> p.onTerminate().block(WAIT)).isNotNull();
            assertThat(log.messages()).anySatisfy(m -> assertThat(m)
                    .startsWith("pipeline on queue 'gone' stopped: the receive stream failed: ")
                    .contains("gone"));
            assertThat(log.messages()).noneMatch(m -> m.contains("message 0"));
        }
    }

    @Test
    void aPipelineKnowsItsQueueAndItsNameWhichItsLogLinesUse() {
        ReactiveQueue<String> q = queue(QueueSpec.named("orders").maxDeliveries(1).discardDeadLetters());
        QueuePipeline unnamed = started(q.pipelineOnPayload(x -> Mono.empty()));
        assertThat(unnamed.queue()).isEqualTo("orders");
        assertThat(unnamed.name()).isEqualTo("orders");
        assertThat(unnamed.toString()).startsWith("QueuePipeline{queue=orders, concurrency=1");
        unnamed.dispose();

        try (JulCapture log = new JulCapture(QueuePipeline.class.getName())) {
            QueuePipeline named = started(q.pipelineOnPayload(x -> Mono.error(new IllegalStateException("boom")))
                    .name("billing"));
            assertThat(named.queue()).isEqualTo("orders");
            assertThat(named.name()).isEqualTo("billing");
            assertThat(named.toString()).startsWith("QueuePipeline{queue=orders, name=billing, concurrency=1");
            send(q, "a");
            assertThat(log.messages()).anySatisfy(m -> assertThat(m)
                    .startsWith("pipeline 'billing' on queue 'orders': HANDLER failed for message "));
        }
        assertThatThrownBy(() -> q.pipelineOnPayload(x -> Mono.empty()).name(" "))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("name must not be blank");
    }
}
