package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.Message;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import dev.rill.reactive.ReactiveQueue;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code rill} process under {@code LANG=C LC_ALL=C} (containers, CI), where Java 17's default charset is
 * US-ASCII: it writes UTF-8 whatever the locale, so what it prints of a payload is the payload's bytes. It wrote
 * {@code ?} for every character beyond ASCII, and {@code rill consume} acked the messages it had printed so.
 */
@org.junit.jupiter.api.Timeout(180)
class OutputCharsetTest {

    private static final Duration T = Duration.ofSeconds(30);

    /** é (two bytes in UTF-8), 中 (three), an emoji (four: a surrogate pair in Java). */
    private static final String TEXT = "caf\u00e9 \u4e2d \uD83D\uDE00";

    @TempDir
    Path dir;

    private RillServer server;
    private String url;

    @BeforeEach
    void start() {
        server = RillServer.bindNow(ServerOptions.defaults().port(0), T);
        url = "rill://127.0.0.1:" + server.port();
    }

    @AfterEach
    void stop() {
        server.disposeNow(T);
    }

    private ReactiveQueue<byte[]> queue(String name) {
        return server.broker().queue(QueueSpec.named(name), Codec.bytes()).block(T);
    }

    @Test
    void consumeAndPeekWriteThePayloadsUtf8BytesUnderTheCLocale() throws Exception {
        byte[] payload = TEXT.getBytes(StandardCharsets.UTF_8);
        ReactiveQueue<byte[]> q = queue("texts");
        q.send(OutboundMessage.of(payload).key("cl\u00e9").headers(Map.of("lang", "\u4e2d"))).block(T);

        Run peek = rill(new byte[0], "peek", "texts", "--url", url);
        assertThat(peek.code).as(peek.toString()).isZero();
        assertThat(contains(peek.out, payload)).as(peek.toString()).isTrue();
        assertThat(peek.text()).contains("key=cl\u00e9").contains("lang=\u4e2d");

        Run json = rill(new byte[0], "peek", "texts", "--url", url, "--format", "json");
        assertThat(json.text()).contains("\"payload\":\"caf\\u00e9 \\u4e2d \\ud83d\\ude00\"");

        Run consume = rill(new byte[0], "consume", "texts", "--url", url, "--count", "1");
        assertThat(consume.code).as(consume.toString()).isZero();
        byte[] line = new byte[payload.length + 1];
        System.arraycopy(payload, 0, line, 0, payload.length);
        line[payload.length] = '\n';
        assertThat(consume.out).as(consume.toString()).isEqualTo(line);
        assertThat(server.broker().stats().block(T).get(0).size()).isZero(); // acked: the user has its text
    }

    @Test
    void sendTakesUtf8LinesUnderTheCLocale() throws Exception {
        ReactiveQueue<byte[]> q = queue("sent");
        byte[] input = (TEXT + "\n" + TEXT + " {n}\r\n").getBytes(StandardCharsets.UTF_8);
        Run send = rill(input, "send", "sent", "--url", url);
        assertThat(send.code).as(send.toString()).isZero();
        List<byte[]> got = q.peek(10).map(Message::payload).collectList().block(T);
        assertThat(got).hasSize(2);
        assertThat(got.get(0)).isEqualTo(TEXT.getBytes(StandardCharsets.UTF_8));
        assertThat(got.get(1)).isEqualTo((TEXT + " 2").getBytes(StandardCharsets.UTF_8));
    }

    private static boolean contains(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i <= haystack.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    private record Run(int code, byte[] out, String err) {
        String text() {
            return new String(out, StandardCharsets.UTF_8);
        }

        @Override
        public String toString() {
            return "exit " + code + "\n--- stdout\n" + text() + "--- stderr\n" + err;
        }
    }

    /** Runs the real {@code rill} main in a JVM of its own, its locale C. */
    private Run rill(byte[] stdin, String... args) throws Exception {
        Path out = Files.createTempFile(dir, "rill", ".out");
        Path err = Files.createTempFile(dir, "rill", ".err");
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Xmx64m", "-cp", System.getProperty("java.class.path"), RillCli.class.getName()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
        Map<String, String> env = pb.environment();
        env.keySet().removeIf(k -> k.startsWith("LC_"));
        env.put("LANG", "C");
        env.put("LC_ALL", "C");
        env.remove("JAVA_TOOL_OPTIONS"); // -Dfile.encoding there would hide the locale's charset
        env.remove("JDK_JAVA_OPTIONS");
        Process p = pb.start();
        CompletableFuture<Void> writing = CompletableFuture.runAsync(() -> {
            try (OutputStream in = p.getOutputStream()) {
                in.write(stdin);
            } catch (IOException e) {
                // the command does not read standard input
            }
        });
        try {
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("rill ended; stderr: %s", Files.readString(err)).isTrue();
            writing.get(30, TimeUnit.SECONDS);
            return new Run(p.exitValue(), Files.readAllBytes(out), Files.readString(err));
        } finally {
            p.destroyForcibly();
        }
    }
}
