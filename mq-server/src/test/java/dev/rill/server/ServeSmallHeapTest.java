package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.netty.ClientOptions;
import dev.rill.netty.RillClient;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.RillException;
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
 * {@code rill serve} in a JVM whose heap cannot hold a message its {@code --max-frame-size} allows (-Xmx32m, frames
 * up to 64 MiB, a message of 40 MiB): the send is refused with an ERROR(FRAME_TOO_LARGE) saying the server has no
 * memory for that frame, logged as such, and the server goes on serving the other clients. Before, the OutOfMemoryError of the payload's copy in the
 * frame decoder closed the connection as "a bug in the server" (INTERNAL_ERROR, logged SEVERE with its stack trace),
 * and so did one gathering the frame's bytes off the heap ({@code -XX:MaxDirectMemorySize} below the message).
 */
class ServeSmallHeapTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final Pattern LISTENING = Pattern.compile("listening on (rill://\\S+)");

    @TempDir
    Path dir;

    private final List<Process> processes = new ArrayList<>();
    private final List<ReactiveBroker> clients = new ArrayList<>();

    @AfterEach
    void tearDown() {
        clients.forEach(c -> c.close().onErrorResume(e -> Mono.empty()).block(TIMEOUT));
        processes.forEach(Process::destroyForcibly);
    }

    @Test
    void aMessageTheHeapCannotHoldIsRefusedSayingSoAndTheServerGoesOn() throws Exception {
        // direct memory beyond the heap: the frame is gathered, and its copy on the heap is what fails
        Throwable e = sendFortyMibTo("-Xmx32m", "-XX:MaxDirectMemorySize=256m");

        // the send's "connection lost while sending", caused by the connection's end with the server's reason
        assertThat(e).isInstanceOf(RillException.class).hasRootCauseMessage("server error FRAME_TOO_LARGE: no memory"
                + " to take a frame of 41943080 bytes now (Java heap space; the JVM's heap limit, -Xmx, is 32 MiB)");
    }

    @Test
    void aMessageTheDirectMemoryCannotGatherIsRefusedSayingSoAndTheServerGoesOn() throws Exception {
        // the bytes gathered off the heap are what fails, before the frame is complete
        Throwable e = sendFortyMibTo("-Xmx128m", "-XX:MaxDirectMemorySize=16m");

        assertThat(e).isInstanceOf(RillException.class).rootCause()
                .hasMessageStartingWith("server error FRAME_TOO_LARGE: no memory to take a frame")
                .hasMessageContaining("the JVM's heap limit, -Xmx, is 128 MiB");
    }

    /**
     * Starts {@code rill serve} (frames up to 64 MiB) in a JVM with {@code memoryFlags}, sends it a 40 MiB message,
     * checks that the server goes on serving another client and logged the refusal as such, not as a bug.
     *
     * @return how the send failed
     */
    private Throwable sendFortyMibTo(String... memoryFlags) throws Exception {
        Path out = dir.resolve("serve.out");
        Path err = dir.resolve("serve.err");
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString()));
        command.addAll(List.of(memoryFlags));
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), RillCli.class.getName(), "serve",
                "--port", "0", "--max-frame-size", Integer.toString(64 << 20),
                // a quarter of these heaps is below the frame size, which the default budget refuses: this server is
                // made to allow more than its heap holds, on purpose
                "--max-memory", "64MiB"));
        Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        processes.add(p);
        await().atMost(TIMEOUT).until(() -> LISTENING.matcher(Files.readString(out)).find() || !p.isAlive());
        Matcher m = LISTENING.matcher(Files.readString(out));
        assertThat(m.find()).as(() -> "serve did not start: " + read(out) + read(err)).isTrue();
        URI address = URI.create(m.group(1));
        ReactiveBroker big = client(address);
        ReactiveQueue<byte[]> bigQueue = big.queue(QueueSpec.named("big"), Codec.bytes()).block(TIMEOUT);

        Throwable e = catchThrowable(() -> bigQueue.send(OutboundMessage.of(new byte[40 << 20])).block(TIMEOUT));

        ReactiveQueue<String> small = client(address).queue(QueueSpec.named("small"), Codec.utf8()).block(TIMEOUT);
        small.send(OutboundMessage.of("still served")).block(TIMEOUT);
        assertThat(small.receiveOne(TIMEOUT).block(TIMEOUT).message().payload()).isEqualTo("still served");
        assertThat(p.isAlive()).isTrue();
        await().atMost(TIMEOUT).until(() -> read(err).contains("[frame_too_large]")); // the log writes on its thread
        assertThat(read(err)).contains("no memory to take a frame").doesNotContain("a bug in the server");
        return e;
    }

    private ReactiveBroker client(URI address) {
        ReactiveBroker b = RillClient.connect(address, ClientOptions.defaults().reconnectAttempts(0)).block(TIMEOUT);
        clients.add(b);
        return b;
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (java.io.IOException e) {
            return "(" + e + ")";
        }
    }
}
