package dev.rill.spring.journey;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.core.QueueSpec;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.Rill;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * {@link ShopApplication} on {@code rill.data-dir} as a real process, sent SIGTERM while orders are being posted and
 * handled: every order the application accepted (HTTP 200) is afterwards either handled or still in the queue, and
 * no handled order is left in the queue (its handler finished during the drain and its ack reached the log before the
 * broker closed).
 */
class SigtermJourneyTest {

    private static final Duration T = Duration.ofSeconds(30);
    private static final int ORDERS = 300;

    private Process process;

    @AfterEach
    void kill() {
        if (process != null) {
            process.destroyForcibly();
        }
    }

    @Test
    void sigtermMidTrafficLosesNothingAcceptedAndRedeliversNothingHandled(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("out.txt");
        Path data = dir.resolve("data");
        process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), ShopMain.class.getName(), "--server.port=0",
                "--rill.data-dir=" + data)
                .redirectOutput(out.toFile()).redirectError(dir.resolve("err.txt").toFile()).start();
        await().atMost(Duration.ofSeconds(120)).until(() -> port(out) != null || !process.isAlive());
        assertThat(process.isAlive()).as("started; stderr: %s", Files.readString(dir.resolve("err.txt"))).isTrue();
        WebClient http = WebClient.create("http://127.0.0.1:" + port(out));

        Set<String> accepted = ConcurrentHashMap.newKeySet();
        // posts go on while the application stops; those refused or cut off are not counted as accepted
        var posting = Flux.range(1, ORDERS)
                .flatMap(i -> http.post().uri("/orders").bodyValue("slow-" + i).retrieve().toBodilessEntity()
                        .doOnNext(r -> accepted.add("slow-" + i))
                        .onErrorResume(e -> Mono.empty()), 8)
                .then().toFuture();
        await().atMost(T).until(() -> done(out).size() >= 8);
        process.destroy(); // SIGTERM
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("exited").isTrue();
        posting.get(T.toSeconds(), TimeUnit.SECONDS);

        Set<String> handled = done(out);
        ReactiveBroker broker = Rill.embedded(data);
        try {
            ReactiveQueue<String> orders = broker.queue(QueueSpec.named("orders")
                    .visibilityTimeout(Duration.ofSeconds(30)).maxDeliveries(3).deadLetterQueue("orders-dlq"),
                    Codec.utf8()).block(T);
            Set<String> queued = orders.peek(ORDERS).map(Message::payload).collect(Collectors.toSet()).block(T);
            System.out.printf("SigtermJourneyTest: %d orders accepted, %d handled, %d left queued, exit code %d%n",
                    accepted.size(), handled.size(), queued.size(), process.exitValue());
            assertThat(queued).as("handled orders left in the queue").doesNotContainAnyElementsOf(handled);
            Set<String> kept = new HashSet<>(handled);
            kept.addAll(queued);
            assertThat(kept).as("accepted orders neither handled nor queued").containsAll(accepted);
            assertThat(handled).as("the shutdown came mid-traffic").isNotEmpty().hasSizeLessThan(accepted.size());
            assertThat(orders.stats().block(T).deadLettered()).isZero();
        } finally {
            broker.close().block(T);
        }
    }

    private static String port(Path out) throws IOException {
        return lines(out).stream().filter(l -> l.startsWith("PORT ")).map(l -> l.substring(5)).findFirst()
                .orElse(null);
    }

    private static Set<String> done(Path out) throws IOException {
        return lines(out).stream().filter(l -> l.startsWith("DONE ")).map(l -> l.substring(5))
                .collect(Collectors.toSet());
    }

    private static List<String> lines(Path out) throws IOException {
        return Files.exists(out) ? Files.readAllLines(out) : List.of();
    }
}
