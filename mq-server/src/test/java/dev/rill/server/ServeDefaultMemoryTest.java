package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.Overflow;
import dev.rill.core.QueueSpec;
import dev.rill.netty.ClientOptions;
import dev.rill.netty.RillClient;
import dev.rill.reactive.QueueFullException;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.SendOptions;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Mono;

/**
 * {@code rill serve} with its default flags in a small heap (-Xmx64m): producers filling many queues with 1 MiB
 * messages (the default largest frame) are stopped by the default memory budget, a quarter of the heap, as by a full
 * queue, and the server goes on serving. Before the budget, each queue took up to 100,000 such messages: the heap ran
 * out after a few dozen and sends failed with "no memory to take a frame".
 */
class ServeDefaultMemoryTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final Pattern LISTENING = Pattern.compile("listening on (rill://\\S+)");
    private static final int MIB = 1 << 20;
    /** The largest payload a default frame (1 MiB) carries with room for the SEND's own fields. */
    private static final int PAYLOAD = MIB - 1024;

    @TempDir
    Path dir;

    private Process process;
    private final List<ReactiveBroker> clients = new ArrayList<>();

    @AfterEach
    void tearDown() {
        clients.forEach(c -> c.close().onErrorResume(e -> Mono.empty()).block(TIMEOUT));
        if (process != null) {
            process.destroyForcibly();
        }
    }

    @Test
    void producersOnManyQueuesAreStoppedByTheDefaultBudgetNotByTheHeap() throws Exception {
        Path out = dir.resolve("serve.out");
        Path err = dir.resolve("serve.err");
        process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx64m",
                "-cp", System.getProperty("java.class.path"), RillCli.class.getName(), "serve", "--port", "0")
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        await().atMost(TIMEOUT).until(() -> LISTENING.matcher(Files.readString(out)).find() || !process.isAlive());
        Matcher m = LISTENING.matcher(Files.readString(out));
        assertThat(m.find()).as(() -> "serve did not start: " + read(out) + read(err)).isTrue();
        // printed after the listening line: wait for it rather than read it with that line
        await().atMost(TIMEOUT).until(() -> read(out).contains("rill: memory budget"));
        assertThat(read(out)).contains("(a quarter of the heap; --max-memory sets it)");
        URI address = URI.create(m.group(1));
        ReactiveBroker client = RillClient.connect(address, ClientOptions.defaults().reconnectAttempts(0))
                .block(TIMEOUT);
        clients.add(client);

        // round robin over 8 queues until one refuses: the budget (16 MiB at most) is what is spent, not a queue
        List<ReactiveQueue<byte[]>> queues = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            queues.add(client.queue(QueueSpec.named("q" + i), Codec.bytes()).block(TIMEOUT));
        }
        SendOptions fail = SendOptions.defaults().overflow(Overflow.FAIL);
        int stored = 0;
        Throwable refused = null;
        while (refused == null && stored < 1000) {
            try {
                queues.get(stored % queues.size()).send(OutboundMessage.of(new byte[PAYLOAD]), fail).block(TIMEOUT);
                stored++;
            } catch (RuntimeException e) {
                refused = e;
            }
        }
        assertThat(refused).as("the send that did not fit").isInstanceOf(QueueFullException.class);
        assertThat(stored).as("1 MiB messages stored before the budget was spent").isBetween(4, 16);

        // the server still serves: a message is sent and received once a queue is consumed
        queues.get(0).receive().take(1).concatMap(d -> d.ack()).blockLast(TIMEOUT);
        queues.get(0).send(OutboundMessage.of(new byte[PAYLOAD])).block(TIMEOUT);
        assertThat(process.isAlive()).isTrue();
        assertThat(read(err)).doesNotContain("no memory").doesNotContain("OutOfMemoryError");
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (java.io.IOException e) {
            return "(" + e + ")";
        }
    }
}
