package dev.rill.bench.net;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class RelayTest {

    @Test
    void everyMessageReachesTheConsumerOnceInOrder() throws Exception {
        try (Relay.Server server = Relay.Server.bind(0)) {
            assertRelaysInOrder(new Relay.RelayPeer(server.port()));
        }
    }

    @Test
    void theBlockingRelayRelaysEveryMessageOnceInOrderToo() throws Exception {
        try (BlockingRelay.Server server = BlockingRelay.Server.bind(0)) {
            assertRelaysInOrder(new BlockingRelay.BlockingRelayPeer(server.port()));
        }
    }

    /** More messages than the producer's window: confirmations must come back for the rest to go out. */
    private static void assertRelaysInOrder(Peer relay) throws Exception {
        int n = 5_000;
        List<Long> seen = new ArrayList<>();
        CountDownLatch all = new CountDownLatch(n);
        try (Peer peer = relay) {
            peer.open(t -> {
                synchronized (seen) {
                    seen.add(t);
                }
                all.countDown();
            });
            for (long i = 0; i < n; i++) {
                peer.send(i);
            }
            peer.flush();
            assertThat(all.await(60, TimeUnit.SECONDS)).as("all %d messages relayed", n).isTrue();
        }
        synchronized (seen) {
            assertThat(seen).hasSize(n);
            for (int i = 0; i < n; i++) {
                assertThat(seen.get(i)).isEqualTo(i);
            }
        }
    }

    @Test
    void aThroughputRunOverTheRelayCompletes() throws Exception {
        try (Relay.Server server = Relay.Server.bind(0);
                Relay.RelayPeer peer = new Relay.RelayPeer(server.port())) {
            Load.Router router = new Load.Router();
            peer.open(router);
            Load.Outcome o = Load.throughput(peer, router, 20_000, 60);
            assertThat(o.complete()).isTrue();
            assertThat(o.messages()).isEqualTo(20_000);
        }
    }

    @Test
    void theFloorIsReportedBesideThePeersButIsNeverTheFastestPeer() {
        NetBench.PeerResult rill = result("Rill (pipeline)", false, 400_000, 100, 1_000);
        NetBench.PeerResult redis = result("Redis Streams", false, 200_000, 80, 300);
        NetBench.PeerResult floor = result("Netty relay (transport floor)", true, 900_000, 50, 2_000);
        String md = NetBench.report(List.of(rill, redis, floor), NetBench.profile("smoke")).markdown();
        assertThat(md).contains("Rill (pipeline) consume+ack = **2.00×** the fastest peer (Redis Streams)");
        assertThat(md).contains("Against the transport floor");
        assertThat(md).contains("| Rill (pipeline) | 5,000 | 2.00× | 0.50× | 0.50× |");
    }

    private static NetBench.PeerResult result(String name, boolean calibration, double perSecond, double p50,
            double p99) {
        NetBench.PeerResult r = new NetBench.PeerResult(name, "test", calibration);
        r.throughput.add(perSecond);
        r.latency.put(5_000, new ArrayList<>(List.of(
                new NetBench.Outcome(p50, p99, p99, p99 * 2, 20, true, 50_000))));
        return r;
    }

}
