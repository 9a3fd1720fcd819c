package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.MemoryStats;
import dev.rill.reactive.SendResult;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import reactor.core.publisher.Flux;
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
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Mono;

/**
 * {@code rill serve} with its default flags in a small heap (-Xmx64m): producers filling many queues with 1 MiB
 * messages (the default largest frame) are stopped by the default memory budget, a quarter of the heap, as by a full
 * queue, and the server goes on serving. Before the budget, each queue took up to 100,000 such messages: the heap ran
 * out after a few dozen and sends failed with "no memory to take a frame". The same server keeps a WAIT producer of
 * such messages waiting, its connection open, with byte-aware SEND_CREDIT.
 */
class ServeDefaultMemoryTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final Pattern LISTENING = Pattern.compile("listening on (rill://\\S+)");
    private static final int MIB = 1 << 20;
    /** The largest payload a default frame (1 MiB) carries with room for the SEND's own fields. */
    private static final int PAYLOAD = MIB - 1024;

    @TempDir
    Path dir;

    private Path out;
    private Path err;

    private Process process;
    private final List<ReactiveBroker> clients = new ArrayList<>();

    @BeforeEach
    void files() {
        out = dir.resolve("serve.out");
        err = dir.resolve("serve.err");
    }

    @AfterEach
    void tearDown() {
        clients.forEach(c -> c.close().onErrorResume(e -> Mono.empty()).block(TIMEOUT));
        if (process != null) {
            process.destroyForcibly();
        }
    }

    /** Forks {@code rill serve -Xmx64m} with its default flags and waits for its memory budget line. */
    private URI serve() throws Exception {
        process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx64m",
                "-cp", System.getProperty("java.class.path"), RillCli.class.getName(), "serve", "--port", "0")
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        await().atMost(TIMEOUT).until(() -> LISTENING.matcher(Files.readString(out)).find() || !process.isAlive());
        Matcher m = LISTENING.matcher(Files.readString(out));
        assertThat(m.find()).as(() -> "serve did not start: " + read(out) + read(err)).isTrue();
        // printed after the listening line: wait for it rather than read it with that line
        await().atMost(TIMEOUT).until(() -> read(out).contains("rill: memory budget"));
        assertThat(read(out)).contains("(a quarter of the heap; --max-memory sets it)");
        return URI.create(m.group(1));
    }

    private ReactiveBroker connect(URI address) {
        ReactiveBroker client = RillClient.connect(address, ClientOptions.defaults().reconnectAttempts(0))
                .block(TIMEOUT);
        clients.add(client);
        return client;
    }

    @Test
    void producersOnManyQueuesAreStoppedByTheDefaultBudgetNotByTheHeap() throws Exception {
        ReactiveBroker client = connect(serve());

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

    /**
     * A WAIT producer of 1 MiB messages while no one consumes: the default budget (16 MiB) stops the queue, and the
     * producer waits with its connection open, because the server grants SEND_CREDIT for a few frames' worth of bytes
     * (4 × the max frame size) rather than for 256 messages. Before, the server stored 16 messages, then held the next
     * sends as they came until it could not take a frame ("no memory to take a frame") and closed the producer's
     * connection. Once a consumer acks, every message arrives exactly once.
     */
    @Test
    void aWaitProducerOfLargeMessagesWaitsWithItsConnectionOpenAndResumesWhenConsumed() throws Exception {
        URI address = serve();
        ReactiveBroker producer = connect(address);
        ReactiveQueue<byte[]> q = producer.queue(QueueSpec.named("big"), Codec.bytes()).block(TIMEOUT);
        int messages = 200;
        CompletableFuture<List<SendResult<byte[]>>> sent = q.sendMany(Flux.range(0, messages).map(i -> {
            byte[] payload = new byte[PAYLOAD];
            ByteBuffer.wrap(payload).putInt(i);
            return OutboundMessage.of(payload);
        })).collectList().toFuture();
        // the budget is spent (within one message of it) and the producer's sendMany waits, its connection open
        await().atMost(TIMEOUT).until(() -> {
            MemoryStats mem = producer.memory().block(TIMEOUT);
            return sent.isDone() || mem.used() > mem.budget().getAsLong() - (PAYLOAD + 128);
        });
        await().during(Duration.ofMillis(500)).atMost(TIMEOUT).until(() -> !sent.isDone());
        assertThat(read(err)).doesNotContain("no memory");

        ReactiveQueue<byte[]> consumed = connect(address).queue(QueueSpec.named("big"), Codec.bytes()).block(TIMEOUT);
        List<Integer> got = consumed.receive().take(messages)
                .concatMap(d -> d.ack().thenReturn(ByteBuffer.wrap(d.message().payload()).getInt()))
                .collectList().block(TIMEOUT);
        assertThat(sent.get(60, TimeUnit.SECONDS)).hasSize(messages);
        assertThat(got).hasSize(messages);
        assertThat(new HashSet<>(got)).hasSize(messages);
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
