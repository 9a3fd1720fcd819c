package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.rill.core.Codec;
import dev.rill.core.QueueSpec;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The input limits of {@code rill send}: a line is at most a sixteenth of the heap (256 MiB whatever the heap before:
 * {@code -Xmx256m} ran out of memory on a 48 MiB line), and the lines read ahead of their answers hold at most that
 * much together (ten lines of 30 MiB ran out of memory under {@code -Xmx256m}, where one passed).
 */
@org.junit.jupiter.api.Timeout(180)
class SendInputLimitTest {

    private static final Duration T = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void theLongestLineIsASixteenthOfTheHeapAtMost256MiB() {
        assertThat(InputLines.maxLineBytes(256L << 20)).isEqualTo(16 << 20);
        assertThat(InputLines.maxLineBytes(64L << 20)).isEqualTo(4 << 20);
        assertThat(InputLines.maxLineBytes(2L << 30)).isEqualTo(128 << 20);
        assertThat(InputLines.maxLineBytes(4L << 30)).isEqualTo(256 << 20);
        assertThat(InputLines.maxLineBytes(24L << 30)).isEqualTo(InputLines.MAX_LINE_BYTES);
        assertThat(InputLines.maxLineBytes(Long.MAX_VALUE)).isEqualTo(InputLines.MAX_LINE_BYTES);
        assertThat(InputLines.maxLineBytes(4)).isEqualTo(1);
        assertThat(InputLines.size(32 << 20)).isEqualTo("32 MiB");
        assertThat(InputLines.size(3 << 19)).isEqualTo("1.5 MiB");
        assertThat(InputLines.size(8 << 10)).isEqualTo("8 KiB");
    }

    @Test
    void aLineLongerThanTheLimitIsAUsageErrorNamingTheLineAndTheHeap() {
        byte[] input = ("ok\n" + "x".repeat(8 * 1024 + 1) + "\n").getBytes(StandardCharsets.US_ASCII);
        InputLines lines = new InputLines(new ByteArrayInputStream(input), 128 * 1024);
        assertThat(lines.maxLineBytes()).isEqualTo(8 * 1024);
        assertThat(text(lines)).isEqualTo("ok");
        assertThatThrownBy(lines::next).isInstanceOfSatisfying(CliException.class, e -> {
            assertThat(e.exitCode()).isEqualTo(ExitCodes.USAGE);
            assertThat(e.getMessage()).isEqualTo("line 2 of standard input is longer than 8192 bytes (8 KiB), the"
                    + " longest message this JVM's heap (128 KiB, -Xmx) holds safely: a larger heap takes longer lines"
                    + " (JAVA_OPTS=-Xmx4g: up to 256 MiB) (binary input? rill send sends text, one message per line)");
        });
        // exactly the limit, and the limit with a CR before its LF, are read
        byte[] atLimit = ("y".repeat(8 * 1024) + "\r\n" + "z".repeat(8 * 1024)).getBytes(StandardCharsets.US_ASCII);
        InputLines exact = new InputLines(new ByteArrayInputStream(atLimit), 128 * 1024);
        assertThat(text(exact)).hasSize(8 * 1024).doesNotContain("\r");
        exact.answered();
        assertThat(text(exact)).hasSize(8 * 1024);
    }

    /** A line is handed on as its own bytes (checked UTF-8, without its CR or LF), whatever the --format. */
    @Test
    void linesAreHandedOnAsTheirBytes() {
        String text = "caf\u00e9 \u4e2d \uD83D\uDE00";
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        byte[] input = (text + "\r\n" + text + "\n\n" + text).getBytes(StandardCharsets.UTF_8);
        InputLines lines = new InputLines(new ByteArrayInputStream(input), 1 << 20);
        assertThat(lines.next()).isEqualTo(utf8);
        assertThat(lines.next()).isEqualTo(utf8);
        assertThat(lines.next()).isEmpty();
        assertThat(lines.next()).isEqualTo(utf8);
        assertThat(lines.next()).isNull();
        // a line filling the buffer is handed on, and the next line does not write into it
        byte[] two = ("x".repeat(8 * 1024) + "\nyy\n").getBytes(StandardCharsets.US_ASCII);
        InputLines exact = new InputLines(new ByteArrayInputStream(two), 1 << 20);
        byte[] first = exact.next();
        exact.answered();
        assertThat(exact.next()).isEqualTo("yy".getBytes(StandardCharsets.US_ASCII));
        assertThat(new String(first, StandardCharsets.US_ASCII)).isEqualTo("x".repeat(8 * 1024));
        // not UTF-8: an error naming the line
        byte[] bad = {'o', 'k', '\n', (byte) 0xc3, '(', '\n'};
        InputLines l = new InputLines(new ByteArrayInputStream(bad), 1 << 20);
        assertThat(text(l)).isEqualTo("ok");
        assertThatThrownBy(l::next).isInstanceOfSatisfying(CliException.class, e -> {
            assertThat(e.exitCode()).isEqualTo(ExitCodes.USAGE);
            assertThat(e.getMessage()).startsWith("line 2 of standard input is not UTF-8 text");
        });
    }

    /** {n} is replaced on a line's bytes, and a line without it is sent as it is, not copied. */
    @Test
    void theNumberIsReplacedInTheBytes() {
        byte[] plain = "\u4e2d no number {m} {n".getBytes(StandardCharsets.UTF_8);
        assertThat(SendCommand.numbered(plain, 7)).isSameAs(plain);
        assertThat(SendCommand.numbered("{n}\u00e9{n}{n}x{n}".getBytes(StandardCharsets.UTF_8), 1234))
                .isEqualTo("1234\u00e912341234x1234".getBytes(StandardCharsets.UTF_8));
        assertThat(SendCommand.numbered("{{n}}".getBytes(StandardCharsets.UTF_8), 5))
                .isEqualTo("{5}".getBytes(StandardCharsets.UTF_8));
        assertThat(SendCommand.numbered(new byte[0], 1)).isEmpty();
        // a line of base64 read as bytes: one beyond ASCII is named so, not as the decoder's negative number
        assertThat(PayloadFormat.base64("aGk=".getBytes(StandardCharsets.US_ASCII), "line 1")).isEqualTo(
                "hi".getBytes(StandardCharsets.US_ASCII));
        assertThatThrownBy(() -> PayloadFormat.base64("aGk\u00e9".getBytes(StandardCharsets.UTF_8), "line 2"))
                .hasMessage("line 2 is not base64 (--format base64): it holds a character beyond ASCII");
        assertThatThrownBy(() -> PayloadFormat.base64("aG%=".getBytes(StandardCharsets.UTF_8), "line 3"))
                .hasMessage("line 3 is not base64 (--format base64): Illegal base64 character 25");
    }

    /** The reader hands on the next line only once the answers to the lines before it make room for it. */
    @Test
    void linesReadAheadOfTheirAnswersHoldAtMostTheLimitTogether() throws Exception {
        // limit 10 bytes: "aaaa" and "bbbb" go on at once, "cccc" waits for an answer, "dddddddddd" for both
        byte[] input = "aaaa\nbbbb\ncccc\ndddddddddd\neeee\n".getBytes(StandardCharsets.US_ASCII);
        InputLines lines = new InputLines(new ByteArrayInputStream(input), 160);
        assertThat(text(lines)).isEqualTo("aaaa");
        assertThat(text(lines)).isEqualTo("bbbb");
        AtomicReference<Thread> reader = new AtomicReference<>();
        CompletableFuture<String> third = CompletableFuture.supplyAsync(() -> {
            reader.set(Thread.currentThread());
            return text(lines);
        });
        await().atMost(T).until(() -> reader.get() != null && reader.get().getState() == Thread.State.WAITING);
        assertThat(third).isNotDone();
        lines.answered(); // aaaa
        assertThat(third.get(30, TimeUnit.SECONDS)).isEqualTo("cccc");

        reader.set(null);
        CompletableFuture<String> fourth = CompletableFuture.supplyAsync(() -> {
            reader.set(Thread.currentThread());
            return text(lines);
        });
        await().atMost(T).until(() -> reader.get() != null && reader.get().getState() == Thread.State.WAITING);
        lines.answered(); // bbbb: cccc still holds 4 of the 10 bytes
        await().atMost(T).until(() -> reader.get().getState() == Thread.State.WAITING);
        assertThat(fourth).isNotDone();
        lines.answered(); // cccc: nothing unanswered, a line of the whole limit goes
        assertThat(fourth.get(30, TimeUnit.SECONDS)).isEqualTo("dddddddddd");

        // a command that ends (an error, Ctrl-C) releases a reader waiting for room: the stream ends
        CompletableFuture<String> fifth = CompletableFuture.supplyAsync(() -> text(lines));
        lines.close();
        assertThat(fifth.get(30, TimeUnit.SECONDS)).isNull();
    }

    /**
     * {@code rill send} in a JVM of 64 MiB (limit 4 MiB): twelve lines at the limit, 48 MiB in all, are sent, and a
     * line of 20 MiB without a line break ends the command with exit code 2 and the limit (it was read towards
     * 256 MiB, to an OutOfMemoryError and its stack trace, exit code 1).
     */
    @Test
    void underASmallHeapLongLinesAreSentOneAfterAnotherAndALongerOneIsRefusedBeforeTheHeapRunsOut()
            throws Exception {
        RillServer server = RillServer.bindNow(ServerOptions.defaults().port(0).maxFrameSize(16 << 20), T);
        try {
            String url = "rill://127.0.0.1:" + server.port();
            server.broker().queue(QueueSpec.named("big"), Codec.bytes()).block(T);
            byte[] line = new byte[(4 << 20) + 1]; // with its LF
            Arrays.fill(line, (byte) 'a');
            line[line.length - 1] = '\n';
            Run many = send(url, out -> {
                for (int i = 0; i < 12; i++) {
                    out.write(line);
                }
            });
            assertThat(many.code).as(many.toString()).isZero();
            assertThat(many.out).contains("sent 12 message(s) to big");
            assertThat(server.broker().stats().block(T).get(0).ready()).isEqualTo(12);
            assertThat(server.broker().purge("big").block(T)).isEqualTo(12);

            byte[] chunk = new byte[1 << 20];
            Arrays.fill(chunk, (byte) 'z');
            Run tooLong = send(url, out -> {
                out.write("first\n".getBytes(StandardCharsets.US_ASCII));
                for (int i = 0; i < 20; i++) {
                    out.write(chunk);
                }
            });
            assertThat(tooLong.code).as(tooLong.toString()).isEqualTo(ExitCodes.USAGE);
            assertThat(tooLong.err).contains("rill send: line 2 of standard input is longer than 4194304 bytes (4 MiB),"
                    + " the longest message this JVM's heap (64 MiB, -Xmx) holds safely")
                    .contains("the 1 message(s) before it were sent to big, none after it")
                    .doesNotContain("OutOfMemoryError");
            assertThat(server.broker().stats().block(T).get(0).ready()).isEqualTo(1);
        } finally {
            server.disposeNow(T);
        }
    }

    /**
     * {@code rill send} takes lines at the limit whatever their characters: under {@code -Xmx32m} (limit 2 MiB) and
     * {@code -Xmx64m} (4 MiB), lines of U+4E2D (three bytes each) and ASCII lines with one such char (the JVM held
     * them as a {@code String} of two bytes a char, 8 MiB for a 4 MiB line, beside the line's bytes and the message's
     * encoded copy: out of memory, exit code 1) are sent, and arrive as their exact bytes.
     */
    @Test
    void underASmallHeapLinesAtTheLimitBeyondU00ffAreSentIntact() throws Exception {
        RillServer server = RillServer.bindNow(ServerOptions.defaults().port(0).maxFrameSize(16 << 20), T);
        try {
            String url = "rill://127.0.0.1:" + server.port();
            dev.rill.reactive.ReactiveQueue<byte[]> big = server.broker().queue(QueueSpec.named("big"), Codec.bytes())
                    .block(T);
            for (int heapMiB : new int[] {32, 64}) {
                int limit = (heapMiB << 20) / 16;
                String cjk = "\u4e2d".repeat(limit / 3) + "a".repeat(limit % 3);
                String mostlyAscii = "b".repeat(limit / 2) + "\u4e2d" + "c".repeat(limit - limit / 2 - 3);
                List<byte[]> lines = List.of(cjk.getBytes(StandardCharsets.UTF_8),
                        mostlyAscii.getBytes(StandardCharsets.UTF_8));
                for (byte[] l : lines) {
                    assertThat(l).hasSize(limit);
                }
                Run run = send(url, heapMiB, out -> {
                    for (int i = 0; i < 3; i++) {
                        for (byte[] l : lines) {
                            out.write(l);
                            out.write('\n');
                        }
                    }
                });
                assertThat(run.code).as("-Xmx%dm: %s", heapMiB, run).isZero();
                assertThat(run.out).contains("sent 6 message(s) to big");
                List<byte[]> got = big.peek(10).map(dev.rill.core.Message::payload).collectList().block(T);
                assertThat(got).hasSize(6);
                for (int i = 0; i < 6; i++) {
                    assertThat(Arrays.equals(got.get(i), lines.get(i % 2))).as("-Xmx%dm: message %d", heapMiB, i + 1)
                            .isTrue();
                }
                assertThat(server.broker().purge("big").block(T)).isEqualTo(6);
            }
        } finally {
            server.disposeNow(T);
        }
    }

    /**
     * {@code rill send --format json} takes lines at the limit whatever their characters, under {@code -Xmx32m}
     * (limit 2 MiB; the tightest heap, where the JVM's own needs weigh most): an ASCII payload, one of escapes (six
     * bytes of the line per char, three of UTF-8), one of raw two-byte chars, one of raw U+4E2D (three bytes each), an
     * ASCII one with one such char, and a base64 payload, three times each, arrive as their exact bytes. The line was
     * read as a {@code String}, two bytes a char as soon as one was beyond U+00FF: the lines with U+4E2D ran out of
     * memory (exit code 1; in 5 runs of 5 with three rounds, about half with two); a line is now read as its bytes,
     * and its payload made from them.
     */
    @Test
    void underASmallHeapJsonLinesAtTheLimitAreSentIntactWhateverTheirCharacters() throws Exception {
        RillServer server = RillServer.bindNow(ServerOptions.defaults().port(0).maxFrameSize(16 << 20), T);
        try {
            String url = "rill://127.0.0.1:" + server.port();
            dev.rill.reactive.ReactiveQueue<byte[]> big = server.broker().queue(QueueSpec.named("big"), Codec.bytes())
                    .block(T);
            int heapMiB = 32;
            int limit = (heapMiB << 20) / 16;
            String open = "{\"payload\":\"";
            String close = "\"}";
            int room = limit - open.length() - close.length(); // the payload's bytes in the line
            String ascii = "a".repeat(room);
            String escaped = "\\u4e00".repeat(room / 6) + "a".repeat(room % 6);
            String twoByte = "\u00e9".repeat(room / 2) + "a".repeat(room % 2);
            String cjk = "\u4e2d".repeat(room / 3) + "a".repeat(room % 3);
            String mostlyAscii = "b".repeat(room / 2) + "\u4e2d" + "c".repeat(room - room / 2 - 3);
            List<byte[]> lines = new java.util.ArrayList<>();
            List<byte[]> payloads = new java.util.ArrayList<>();
            for (String text : List.of(ascii, twoByte, cjk, mostlyAscii)) {
                lines.add((open + text + close).getBytes(StandardCharsets.UTF_8));
                payloads.add(text.getBytes(StandardCharsets.UTF_8));
            }
            lines.add((open + escaped + close).getBytes(StandardCharsets.UTF_8));
            payloads.add("\u4e00".repeat(room / 6).concat("a".repeat(room % 6)).getBytes(StandardCharsets.UTF_8));
            String base64Open = "{\"encoding\":\"base64\",\"payload\":\"";
            byte[] bytes = new byte[(limit - base64Open.length() - close.length()) / 4 * 3];
            new java.util.Random(7).nextBytes(bytes);
            lines.add((base64Open + java.util.Base64.getEncoder().encodeToString(bytes) + close)
                    .getBytes(StandardCharsets.UTF_8));
            payloads.add(bytes);
            for (byte[] l : lines) {
                assertThat(l.length).isBetween(limit - 3, limit);
            }
            Run run = send(url, heapMiB, out -> {
                for (int i = 0; i < 3; i++) {
                    for (byte[] l : lines) {
                        out.write(l);
                        out.write('\n');
                    }
                }
            }, "--format", "json");
            int n = 3 * lines.size();
            assertThat(run.code).as("-Xmx%dm: %s", heapMiB, run).isZero();
            assertThat(run.out).contains("sent " + n + " message(s) to big");
            List<byte[]> got = big.peek(n + 1).map(dev.rill.core.Message::payload).collectList().block(T);
            assertThat(got).hasSize(n);
            for (int i = 0; i < n; i++) {
                assertThat(Arrays.equals(got.get(i), payloads.get(i % lines.size())))
                        .as("-Xmx%dm: message %d", heapMiB, i + 1).isTrue();
            }
            assertThat(server.broker().purge("big").block(T)).isEqualTo(n);
        } finally {
            server.disposeNow(T);
        }
    }

    /**
     * A JVM out of memory while reading or parsing a line (a line near the limit under a small heap, shaped so that
     * the JVM holds it at two bytes a char): the send ends with exit code 1 saying so. Reactor throws such an error on
     * the reading thread instead of signalling it: the send waited for ever, with nothing said.
     */
    @Test
    void runningOutOfMemoryOnALineEndsTheSendSayingSoInsteadOfWaitingForEver() throws Exception {
        RillServer server = RillServer.bindNow(ServerOptions.defaults().port(0), T);
        try {
            String url = "rill://127.0.0.1:" + server.port();
            server.broker().queue(QueueSpec.named("big"), Codec.bytes()).block(T);
            for (String format : List.of("text", "json")) {
                java.io.InputStream exhausted = new java.io.InputStream() {
                    private int calls;

                    @Override
                    public int read() {
                        throw new UnsupportedOperationException();
                    }

                    @Override
                    public int read(byte[] b, int off, int len) {
                        if (calls++ == 0) {
                            byte[] first = (format.equals("json") ? "{\"payload\":\"one\"}\n" : "one\n")
                                    .getBytes(StandardCharsets.UTF_8);
                            System.arraycopy(first, 0, b, off, first.length);
                            return first.length;
                        }
                        throw new OutOfMemoryError("Java heap space");
                    }
                };
                Cli.Result r = CompletableFuture.supplyAsync(() -> Cli.run(exhausted, p -> { }, "send", "big",
                        "--url", url, "--format", format)).get(60, TimeUnit.SECONDS);
                assertThat(r.code()).as(r.toString()).isEqualTo(ExitCodes.FAILED);
                assertThat(r.err()).as(r.toString()).contains("rill send: out of memory reading line 2 of standard"
                        + " input (Java heap space; the JVM's heap limit, -Xmx, is ")
                        .contains("the 1 message(s) before it were sent to big, none after it");
            }
            assertThat(server.broker().stats().block(T).get(0).ready()).isEqualTo(2);
        } finally {
            server.disposeNow(T);
        }
    }

    private static String text(InputLines lines) {
        byte[] line = lines.next();
        return line == null ? null : new String(line, StandardCharsets.UTF_8);
    }

    private interface Input {
        void write(OutputStream out) throws IOException;
    }

    private record Run(int code, String out, String err) {
        @Override
        public String toString() {
            return "exit " + code + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    private Run send(String url, Input input, String... options) throws Exception {
        return send(url, 64, input, options);
    }

    private Run send(String url, int heapMiB, Input input, String... options) throws Exception {
        Path out = Files.createTempFile(dir, "send", ".out");
        Path err = Files.createTempFile(dir, "send", ".err");
        List<String> command = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin",
                "java").toString(), "-Xmx" + heapMiB + "m", "-cp",
                System.getProperty("java.class.path"), RillCli.class.getName(), "send", "big", "--url", url));
        command.addAll(List.of(options));
        Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        // written aside: a command that stops reading without ending would block the write, and the test, for ever
        CompletableFuture<Void> writing = CompletableFuture.runAsync(() -> {
            try (OutputStream stdin = p.getOutputStream()) {
                input.write(stdin);
            } catch (IOException e) {
                // the command stopped reading (the refused line): the rest of the input is not wanted
            }
        });
        try {
            boolean ended = p.waitFor(60, TimeUnit.SECONDS);
            assertThat(ended).as("rill send ended; stderr: %s", Files.readString(err)).isTrue();
            writing.get(30, TimeUnit.SECONDS);
            return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
        } finally {
            p.destroyForcibly();
        }
    }
}
