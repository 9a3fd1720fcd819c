package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.netty.ClientOptions;
import dev.rill.netty.RillClient;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.SendOptions;
import dev.rill.reactive.SendResult;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * {@code rill serve --data-dir} as its own process, killed with SIGKILL four times while a remote producer and a
 * remote consumer run flat out, and started again on the same port and directory each time. The clients reconnect
 * on their own. With the default fsync policy ({@code always}) a confirmed send or ack is on disk, so: every
 * confirmed message is consumed in the end, none is stored twice (the producer's sends in flight at a kill are
 * retried with their dedup ids, and the dedup windows survive the restart: each message's id sent once more at the
 * end is found), and no message whose ack was confirmed is delivered again.
 */
class ServeCrashTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    /** 600 confirmed between kills: enough for sends and acks in flight at each; the kills are the point. */
    private static final int MESSAGES = 3_000;
    private static final int KILLS = 4;
    private static final Pattern LISTENING = Pattern.compile("listening on (rill://\\S+)");

    @TempDir
    Path dir;

    private final List<Process> processes = new ArrayList<>();
    private final List<ReactiveBroker> clients = new ArrayList<>();
    private final List<Disposable> subscriptions = new ArrayList<>();

    @AfterEach
    void tearDown() {
        subscriptions.forEach(Disposable::dispose);
        clients.forEach(c -> c.close().onErrorResume(e -> Mono.empty()).block(TIMEOUT));
        processes.forEach(Process::destroyForcibly);
    }

    /** Starts {@code rill serve} on the data directory and returns its address once it listens. */
    private String serve(Path data, int port, int run) throws Exception {
        Path out = dir.resolve("serve-" + run + ".out");
        Path err = dir.resolve("serve-" + run + ".err");
        // the JVM as users run it, both compilers: the client compiler alone made the server's fsynced stream slower
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), RillCli.class.getName(), "serve",
                "--port", Integer.toString(port), "--data-dir", data.toString())
                .redirectOutput(out.toFile())
                .redirectError(err.toFile())
                .start();
        processes.add(p);
        await().atMost(TIMEOUT).until(() -> LISTENING.matcher(read(out)).find() || !p.isAlive());
        Matcher m = LISTENING.matcher(read(out));
        assertThat(m.find()).as(() -> "serve did not start: " + read(out) + read(err)).isTrue();
        return m.group(1);
    }

    private ReactiveBroker client(String address) {
        ReactiveBroker b = RillClient.connect(URI.create(address), ClientOptions.defaults().reconnectAttempts(500)
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200))).block(TIMEOUT);
        clients.add(b);
        return b;
    }

    @Test
    void sigkilledServerLosesNoConfirmedSendOrAckAndStoresNothingTwice() throws Exception {
        Path data = dir.resolve("data");
        String address = serve(data, 0, 0);
        int port = URI.create(address).getPort();
        QueueSpec spec = QueueSpec.named("crash"); // room for all: the producer streams through every kill

        // consumer: which stored ids each payload was delivered under, which payloads' acks were confirmed
        Map<Integer, Set<Long>> idsOf = new ConcurrentHashMap<>();
        Set<Integer> acked = ConcurrentHashMap.newKeySet();
        List<String> deliveredAfterAck = new CopyOnWriteArrayList<>();
        AtomicReference<Throwable> receiveError = new AtomicReference<>();
        ReactiveQueue<String> in = client(address).queue(spec, Codec.utf8()).block(TIMEOUT);
        subscriptions.add(in.receive()
                .flatMap(d -> {
                    int i = Integer.parseInt(d.payload());
                    idsOf.computeIfAbsent(i, k -> ConcurrentHashMap.newKeySet()).add(d.message().id());
                    if (acked.contains(i)) {
                        deliveredAfterAck.add(d.payload() + " (delivery " + d.deliveryCount() + ")");
                    }
                    // an ack cut off by the kill has an unknown outcome; the message comes back if it was not stored
                    return d.ack().doOnSuccess(v -> acked.add(i)).onErrorResume(e -> Mono.empty());
                }, 32)
                .subscribe(v -> { }, receiveError::set));

        // producer: every message carries a dedup id, so sends on the wire at a kill are retried safely
        ReactiveQueue<String> out = client(address).queue(spec, Codec.utf8()).block(TIMEOUT);
        AtomicIntegerArray resultsOf = new AtomicIntegerArray(MESSAGES);
        AtomicInteger confirmed = new AtomicInteger();
        AtomicReference<Throwable> sendError = new AtomicReference<>();
        CountDownLatch sent = new CountDownLatch(1);
        subscriptions.add(out.sendMany(Flux.range(0, MESSAGES)
                                .map(i -> OutboundMessage.of(Integer.toString(i)).dedupId("m-" + i)),
                        SendOptions.defaults().maxInFlight(128))
                .subscribe(r -> {
                            resultsOf.incrementAndGet(Integer.parseInt(r.message().payload()));
                            confirmed.incrementAndGet();
                        },
                        e -> {
                            sendError.set(e);
                            sent.countDown();
                        }, sent::countDown));

        for (int kill = 1; kill <= KILLS; kill++) {
            int threshold = MESSAGES * kill / (KILLS + 1);
            await().atMost(TIMEOUT).until(() -> confirmed.get() >= threshold);
            Process p = processes.get(processes.size() - 1);
            p.destroyForcibly(); // SIGKILL: no drain, no sync beyond what each confirmation waited for
            assertThat(p.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            serve(data, port, kill);
        }

        assertThat(sent.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).as("sendMany completes").isTrue();
        assertThat(sendError.get()).isNull();
        for (int i = 0; i < MESSAGES; i++) {
            assertThat(resultsOf.get(i)).as("results for message %d", i).isEqualTo(1);
        }
        // done when every message was delivered and none is left: some acks cut off by a kill were stored (their
        // messages are gone) without the client hearing so, which is why the client's count of acks cannot decide
        await().atMost(TIMEOUT).ignoreExceptions()
                .until(() -> idsOf.size() == MESSAGES && out.stats().block(TIMEOUT).size() == 0);
        // the dedup windows came back from the log: every message's first send is known, though it was consumed
        for (int i : new int[] {0, MESSAGES / 2, MESSAGES - 1}) {
            SendResult<String> again = out.send(OutboundMessage.of(Integer.toString(i)).dedupId("m-" + i))
                    .block(TIMEOUT);
            assertThat(again.duplicate()).as("message %d sent again", i).isTrue();
            assertThat(idsOf.get(i)).containsExactly(again.messageId());
        }
        assertThat(deliveredAfterAck).as("delivered again after a confirmed ack").isEmpty();
        assertThat(idsOf).hasSize(MESSAGES);
        idsOf.forEach((i, ids) -> assertThat(ids).as("stored ids of message %d", i).hasSize(1));
        assertThat(receiveError.get()).as("the receive stream resubscribes after each restart").isNull();
    }

    private static String read(Path p) {
        try {
            return Files.exists(p) ? Files.readString(p) : "";
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }
}
