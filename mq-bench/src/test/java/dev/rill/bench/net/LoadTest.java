package dev.rill.bench.net;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class LoadTest {

    /** A peer that consumes each message as soon as it is flushed, on the producer's thread. */
    static final class LoopbackPeer implements Peer {
        final List<Long> buffered = new ArrayList<>();
        Listener listener;
        int flushes;

        @Override
        public String name() {
            return "loopback";
        }

        @Override
        public String setup() {
            return "test";
        }

        @Override
        public void open(Listener l) {
            listener = l;
        }

        @Override
        public void send(long intendedNanos) {
            buffered.add(intendedNanos);
        }

        @Override
        public void flush() {
            flushes++;
            for (long t : buffered) {
                listener.consumed(t);
            }
            buffered.clear();
        }

        @Override
        public void close() {
        }
    }

    @Test
    void payloadCarriesTheStampIn100Bytes() {
        long t = System.nanoTime();
        byte[] p = Peer.payload(t);
        assertThat(p).hasSize(100);
        assertThat(Peer.stamp(p)).isEqualTo(t);
        assertThat(Peer.stamp(Peer.payload(-5))).isEqualTo(-5);
        String s = RedisPeer.payload(t);
        assertThat(s).hasSize(100);
        assertThat(RedisPeer.stamp(s)).isEqualTo(t);
    }

    @Test
    void throughputRunCountsEveryMessageOnce() throws Exception {
        LoopbackPeer peer = new LoopbackPeer();
        Load.Router router = new Load.Router();
        peer.open(router);
        Load.Outcome o = Load.throughput(peer, router, 10_000, 10);
        assertThat(o.complete()).isTrue();
        assertThat(o.messages()).isEqualTo(10_000);
        assertThat(o.perSecond()).isPositive();
        assertThat(router.current).isNull();
    }

    @Test
    void fixedRateRecordsOnlyMessagesAfterTheWarmupAndMeasuresFromTheIntendedTime() throws Exception {
        LoopbackPeer peer = new LoopbackPeer();
        Load.Router router = new Load.Router();
        peer.open(router);
        // 2,000 msg/s for 0.05 s warmup + 0.1 s: 300 messages, 200 of them recorded
        Load.Outcome o = Load.fixedRate(peer, router, 2_000, 0.05, 0.1, 10);
        assertThat(o.complete()).isTrue();
        assertThat(o.messages()).isEqualTo(300);
        assertThat(o.latency().getTotalCount()).isEqualTo(200);
        assertThat(o.senderLag().getTotalCount()).isEqualTo(200);
        // latency includes the sender's lag: it is at least as large
        assertThat(o.latency().getMaxValue()).isGreaterThanOrEqualTo(o.senderLag().getMinValue());
        assertThat(peer.flushes).isGreaterThan(1); // flushed while waiting for the next due time
        assertThat(o.latency().getMaxValue()).isLessThan(TimeUnit.SECONDS.toNanos(10));
    }

    @Test
    void messagesArrivingOutsideARunAreIgnored() {
        Load.Router router = new Load.Router();
        router.consumed(1); // no run: nothing to count, no failure
        Load.Run run = new Load.Run(2, 0);
        router.current = run;
        router.consumed(10); // far in the past: clamped to the histogram's range, still counted
        router.consumed(System.nanoTime());
        assertThat(run.count.get()).isEqualTo(2);
        assertThat(run.done.getCount()).isZero();
        assertThat(run.latency.getTotalCount()).isEqualTo(2);
    }
}
