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
import java.nio.charset.Charset;
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

    /**
     * Arguments are read as UTF-8 too: the JVM decoded them as US-ASCII under the C locale, and {@code rill send}
     * sent U+FFFD for each byte beyond ASCII of a MESSAGE or {@code --key}. The arguments are made by the shell from
     * their bytes, whatever the charset of this JVM.
     */
    @Test
    void sendTakesUtf8ArgumentsUnderTheCLocale() throws Exception {
        ReactiveQueue<byte[]> q = queue("args");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // caf\303\251: café; \344\270\255: 中; \360\237\230\200: the emoji
        String script = "exec \"$0\" -Xmx64m -XX:TieredStopAtLevel=1 -cp \"$1\" " + RillCli.class.getName() + " send args --url \"$2\""
                + " --key \"$(printf 'k\\303\\251')\""
                + " \"$(printf 'caf\\303\\251 \\344\\270\\255 \\360\\237\\230\\200')\"";
        Run send = run(new byte[0], List.of("/bin/sh", "-c", script, java, System.getProperty("java.class.path"),
                url));
        assertThat(send.code).as(send.toString()).isZero();
        List<Message<byte[]>> got = q.peek(10).collectList().block(T);
        assertThat(got).hasSize(1);
        assertThat(got.get(0).payload()).isEqualTo(TEXT.getBytes(StandardCharsets.UTF_8));
        assertThat(got.get(0).key()).isEqualTo("k\u00e9");
    }

    /** Arguments the JVM read in another charset than UTF-8 are read back from their bytes when those are UTF-8. */
    @Test
    void argumentsAreReadAsUtf8WhenTheirBytesAre() throws Exception {
        Path cmdline = dir.resolve("cmdline");
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        for (String a : List.of("java", "-cp", "x", "Main", "send", "q", "caf\u00e9")) {
            bytes.write(a.getBytes(StandardCharsets.UTF_8));
            bytes.write(0);
        }
        bytes.write(new byte[] {(byte) 0xe9, 0}); // é in Latin-1: not UTF-8
        Files.write(cmdline, bytes.toByteArray());
        Charset jvm = StandardCharsets.US_ASCII; // LANG=C
        String[] args = {"send", "q", new String("caf\u00e9".getBytes(StandardCharsets.UTF_8), jvm),
                new String(new byte[] {(byte) 0xe9}, jvm)};
        assertThat(args[2]).isEqualTo("caf\ufffd\ufffd");
        assertThat(RillCli.utf8Arguments(args, cmdline, jvm)).containsExactly("send", "q", "caf\u00e9", "\ufffd");
        assertThat(RillCli.utf8Arguments(args, cmdline, StandardCharsets.UTF_8)).isSameAs(args); // read right
        // ASCII arguments, arguments that are not the command line's, no command line: kept as they are
        String[] ascii = {"send", "q", "cafe"};
        assertThat(RillCli.utf8Arguments(ascii, cmdline, jvm)).isSameAs(ascii);
        String[] other = {"send", "q", "caf\ufffd"};
        assertThat(RillCli.utf8Arguments(other, cmdline, jvm)).containsExactly(other);
        assertThat(RillCli.utf8Arguments(args, dir.resolve("none"), jvm)).containsExactly(args);
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
        return run(stdin, ChildJvm.command("64m", RillCli.class, args));
    }

    /** Runs a command, its locale C. */
    private Run run(byte[] stdin, List<String> command) throws Exception {
        Path out = Files.createTempFile(dir, "rill", ".out");
        Path err = Files.createTempFile(dir, "rill", ".err");
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
