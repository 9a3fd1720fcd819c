package dev.rill.bench.durable;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class DurableDriverTest {

    private final ExecutorService confirmer = Executors.newSingleThreadExecutor();

    @AfterEach
    void stop() throws InterruptedException {
        confirmer.shutdownNow();
        confirmer.awaitTermination(10, TimeUnit.SECONDS);
    }

    /** Confirms each send later on another thread and tracks how many are outstanding at once. */
    final class AsyncSender implements DurableTarget.Sender {
        final AtomicInteger outstanding = new AtomicInteger();
        final AtomicInteger maxOutstanding = new AtomicInteger();
        final AtomicInteger sent = new AtomicInteger();
        final boolean fail;

        AsyncSender(boolean fail) {
            this.fail = fail;
        }

        @Override
        public void send(byte[] payload, DurableTarget.Confirm confirm) {
            sent.incrementAndGet();
            maxOutstanding.accumulateAndGet(outstanding.incrementAndGet(), Math::max);
            confirmer.execute(() -> {
                outstanding.decrementAndGet();
                confirm.done(!fail);
            });
        }
    }

    @Test
    void sendsTheCapSplitBetweenProducersWithinTheirWindowsAndCountsEveryConfirm() throws Exception {
        List<AsyncSender> senders = List.of(new AsyncSender(false), new AsyncSender(false), new AsyncSender(false),
                new AsyncSender(false));
        DurableDriver.RunResult r = DurableDriver.run(new ArrayList<>(senders), new byte[100], 8, 60, 4_000, 30);
        assertThat(r.complete()).isTrue();
        assertThat(r.messages()).isEqualTo(4_000);
        assertThat(r.failures()).isZero();
        assertThat(r.seconds()).isPositive();
        assertThat(r.perSecond()).isEqualTo(4_000 / r.seconds());
        assertThat(r.p50us()).isLessThanOrEqualTo(r.p99us());
        assertThat(r.p99us()).isLessThanOrEqualTo(r.p999us());
        assertThat(r.p999us()).isLessThanOrEqualTo(r.maxUs());
        for (AsyncSender s : senders) {
            assertThat(s.sent.get()).isEqualTo(1_000);
            assertThat(s.maxOutstanding.get()).isBetween(1, 8);
        }
    }

    @Test
    void refusedSendsAreFailuresNotThroughput() throws Exception {
        DurableDriver.RunResult r = DurableDriver.run(List.of(new AsyncSender(true)), new byte[1], 4, 60, 100, 30);
        assertThat(r.complete()).isTrue();
        assertThat(r.messages()).isZero();
        assertThat(r.failures()).isEqualTo(100);
        assertThat(r.perSecond()).isZero();
    }

    @Test
    void aSenderThatThrowsCountsAFailureAndKeepsItsWindow() throws Exception {
        DurableTarget.Sender throwing = (payload, confirm) -> {
            throw new IllegalStateException("connection lost");
        };
        DurableDriver.RunResult r = DurableDriver.run(List.of(throwing), new byte[1], 2, 60, 10, 30);
        assertThat(r.failures()).isEqualTo(10);
        assertThat(r.complete()).isTrue();
    }

    /** Like a pipelining client: nothing is confirmed until flush. */
    static final class PipelineSender implements DurableTarget.Sender {
        final List<DurableTarget.Confirm> pending = new ArrayList<>();
        int flushes;
        int largestBatch;

        @Override
        public void send(byte[] payload, DurableTarget.Confirm confirm) {
            pending.add(confirm);
        }

        @Override
        public void flush() {
            flushes++;
            largestBatch = Math.max(largestBatch, pending.size());
            pending.forEach(c -> c.done(true));
            pending.clear();
        }
    }

    @Test
    void flushesAPipelineWhenTheWindowIsFullAndAtTheEnd() throws Exception {
        PipelineSender s = new PipelineSender();
        DurableDriver.RunResult r = DurableDriver.run(List.of(s), new byte[1], 64, 60, 1_000, 30);
        assertThat(r.complete()).isTrue();
        assertThat(r.messages()).isEqualTo(1_000);
        assertThat(s.largestBatch).isEqualTo(64);
        assertThat(s.flushes).isEqualTo(1_000 / 64 + 1); // 15 full windows, then the 40 left at the end
        assertThat(s.pending).isEmpty();
    }

    @Test
    void confirmsThatNeverArriveMakeTheRunIncomplete() throws Exception {
        DurableTarget.Sender silent = (payload, confirm) -> { };
        DurableDriver.RunResult r = DurableDriver.run(List.of(silent), new byte[1], 4, 60, 4, 1);
        assertThat(r.complete()).isFalse();
        assertThat(r.messages()).isZero();
    }
}
