package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.QueueStats;
import dev.rill.netty.Permission;
import dev.rill.netty.Permissions;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The small parts: tokens file, Prometheus text, durations, progress line. */
class UnitsTest {

    @Test
    void standardInputWithoutLineBreaksEndsAtTheLongestLineInsteadOfFillingTheHeap() {
        // /dev/zero, or a binary file: read whole into memory, to an OutOfMemoryError (the limit: a sixteenth of the
        // heap given)
        java.io.InputStream endless = new java.io.InputStream() {
            @Override
            public int read() {
                return 'a';
            }

            @Override
            public int read(byte[] b, int off, int len) {
                java.util.Arrays.fill(b, off, off + len, (byte) 'a');
                return len;
            }
        };
        InputLines lines = new InputLines(new java.io.ByteArrayInputStream(
                ("x".repeat(1000) + "\r\n" + "y".repeat(1002) + "\n").getBytes(StandardCharsets.UTF_8)), 16 * 1000);
        assertThat(lines.next()).hasSize(1000);
        assertThatThrownBy(lines::next).isInstanceOf(CliException.class)
                .hasMessageStartingWith("line 2 of standard input is longer than 1000 bytes");
        assertThatThrownBy(() -> new InputLines(endless, 16 * 100_000).next()).isInstanceOf(CliException.class)
                .hasMessageContaining("line 1 of standard input is longer than 100000 bytes")
                .extracting(e -> ((CliException) e).exitCode()).isEqualTo(ExitCodes.USAGE);
        assertThat(InputLines.MAX_LINE_BYTES).isEqualTo(256 << 20); // the largest --max-frame-size
    }

    @Test
    void sizesAreReadInBytesOrBinaryUnits() {
        assertThat(SizeConverter.parse("1048576")).isEqualTo(1 << 20);
        assertThat(SizeConverter.parse("1MiB")).isEqualTo(dev.rill.netty.ServerOptions.DEFAULT_MAX_FRAME_SIZE);
        assertThat(SizeConverter.parse("256MiB")).isEqualTo(256 << 20);
        assertThat(SizeConverter.parse(" 512 kib ")).isEqualTo(512 << 10);
        assertThat(SizeConverter.parse("100b")).isEqualTo(100);
        assertThat(SizeConverter.parse("1GiB")).isEqualTo(1 << 30);
        assertThat(SizeConverter.parse("2147483647")).isEqualTo(Integer.MAX_VALUE);
        for (String tooLarge : List.of("2GiB", "2097152KiB", "2147483648", "99999999999999999999")) {
            assertThatThrownBy(() -> SizeConverter.parse(tooLarge)).isInstanceOf(CommandLine.TypeConversionException.class)
                    .hasMessage("'" + tooLarge + "' is too large: at most 2147483647 bytes");
        }
        for (String bad : List.of("", "1MB", "1.5MiB", "-1", "MiB", "1 M")) {
            assertThatThrownBy(() -> SizeConverter.parse(bad)).isInstanceOf(CommandLine.TypeConversionException.class)
                    .hasMessageStartingWith("'" + bad + "' is not a size");
        }
    }

    @Test
    void tokensFileGrantsPerQueuePattern() {
        Map<String, Permissions> t = TokensFile.parse(List.of("# comment", "", "admin *=all",
                "  worker   orders*=receive,send  audit=send  "), "tokens");
        assertThat(t).containsOnlyKeys("admin", "worker");
        for (Permission right : Permission.values()) {
            assertThat(t.get("admin").allows("any.queue", right)).isTrue();
        }
        Permissions w = t.get("worker");
        assertThat(w.allows("orders.eu", Permission.RECEIVE)).isTrue();
        assertThat(w.allows("orders", Permission.SEND)).isTrue();
        assertThat(w.allows("orders", Permission.MANAGE)).isFalse();
        assertThat(w.allows("audit", Permission.SEND)).isTrue();
        assertThat(w.allows("audit", Permission.RECEIVE)).isFalse();
        assertThat(w.allows("payments", Permission.SEND)).isFalse();
    }

    @Test
    void tokensFileErrorsNameTheLine() {
        record Case(List<String> lines, String message) { }
        for (Case c : List.of(
                new Case(List.of("admin"), "line 1: token without grants"),
                new Case(List.of("a *=all", "a x=send"), "line 2: the token appears twice"),
                new Case(List.of("a orders"), "is not a grant"),
                new Case(List.of("a or*ders=send"), "pattern must be"),
                new Case(List.of("a q=read"), "unknown right 'read'"),
                new Case(List.of("# nothing"), "no token defined"))) {
            assertThatThrownBy(() -> TokensFile.parse(c.lines(), "tokens"))
                    .isInstanceOf(CliException.class).hasMessageContaining(c.message())
                    .extracting(e -> ((CliException) e).exitCode()).isEqualTo(ExitCodes.USAGE);
        }
    }

    @Test
    void prometheusTextHasTypesAndEscapedLabels() {
        QueueStats s = new QueueStats("a\"b", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
        String text = PrometheusText.render(List.of(s), 3, java.util.Map.of("auth_failed", 7L));
        assertThat(text).contains("rill_connections 3\n").contains("rill_queues 1\n")
                .contains("# TYPE rill_connection_errors_total counter\n")
                .contains("rill_connection_errors_total{reason=\"auth_failed\"} 7\n")
                .contains("rill_queue_ready_messages{queue=\"a\\\"b\"} 1\n")
                .contains("rill_queue_in_flight_messages{queue=\"a\\\"b\"} 2\n")
                .contains("rill_queue_acked_total{queue=\"a\\\"b\"} 9\n")
                .contains("rill_queue_purged_total{queue=\"a\\\"b\"} 14\n")
                .contains("# TYPE rill_queue_sent_total counter\n");
        for (String line : text.split("\n")) {
            assertThat(line).matches("# (HELP|TYPE) rill_[a-z_]+ .+|rill_[a-z_]+(\\{(queue|reason)=\".*\"\\})? \\d+");
        }
        assertThat(PrometheusText.escape("x\\y\nz")).isEqualTo("x\\\\y\\nz");
    }

    /** One line per record, in UTF-8 under the C locale too (it wrote {@code ?} there), as the rest of stderr. */
    @Test
    void theRillProcessLogsOneLinePerRecordInOneFormatWhateverTheLoggingFrontEnd() throws Exception {
        ProcessBuilder pb = new ProcessBuilder(ChildJvm.command("64m", LogFormatMain.class))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.environment().keySet().removeIf(k -> k.startsWith("LC_"));
        pb.environment().put("LANG", "C");
        pb.environment().put("LC_ALL", "C");
        Process p = pb.start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        String time = "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} ";
        assertThat(err.split("\n")).as(err).satisfiesExactly(
                l -> assertThat(l).matches(time + "WARNING dev\\.rill\\.test: from System\\.Logger: caf\u00e9 \u4e2d"),
                l -> assertThat(l).matches(time + "WARNING io\\.netty\\.test: from Netty"),
                l -> assertThat(l).matches(time + "WARNING reactor\\.test: from Reactor"));
    }

    @Test
    void durations() {
        assertThat(DurationConverter.parse("250ms")).isEqualTo(Duration.ofMillis(250));
        assertThat(DurationConverter.parse("10s")).isEqualTo(Duration.ofSeconds(10));
        assertThat(DurationConverter.parse("1.5s")).isEqualTo(Duration.ofMillis(1500));
        assertThat(DurationConverter.parse("2m")).isEqualTo(Duration.ofMinutes(2));
        assertThat(DurationConverter.parse("1h")).isEqualTo(Duration.ofHours(1));
        assertThat(DurationConverter.parse("3")).isEqualTo(Duration.ofSeconds(3));
        assertThat(DurationConverter.parse("PT0.5S")).isEqualTo(Duration.ofMillis(500));
        assertThatThrownBy(() -> DurationConverter.parse("soon"))
                .isInstanceOf(CommandLine.TypeConversionException.class).hasMessageContaining("not a duration");
        assertThat(DurationConverter.parse("P365D")).isEqualTo(Duration.ofDays(365));
        // beyond the bound: overflowed (long overflow, exit 3) or was clamped to another value than the one given
        assertThat(DurationConverter.parse("7d")).isEqualTo(Duration.ofDays(7));
        assertThat(DurationConverter.parse("365d")).isEqualTo(Duration.ofDays(365));
        assertThat(DurationConverter.parse("1d12h")).isEqualTo(Duration.ofHours(36));
        // the last three are beyond a long's (seconds, hours, days): they were "not a duration", as was a number of
        // days, which the bound is written in
        for (String tooLong : List.of("8761h", "P366D", "99999999999999h", "1" + "0".repeat(30) + "ms", "366d",
                "99999999999d", "PT99999999999999999999S", "PT9999999999999999H", "P9999999999999999999D")) {
            assertThatThrownBy(() -> DurationConverter.parse(tooLong)).as(tooLong)
                    .isInstanceOf(CommandLine.TypeConversionException.class)
                    .hasMessage("'" + tooLong + "' is too long: at most 365 days");
        }
        assertThatThrownBy(() -> DurationConverter.parse("PT-5S"))
                .isInstanceOf(CommandLine.TypeConversionException.class)
                .hasMessage("'PT-5S' is negative: a duration is 0 or more");
    }

    @Test
    void durationsAreWrittenForPeopleInTheFormsTheOptionsTake() {
        Map<Duration, String> cases = new java.util.LinkedHashMap<>();
        cases.put(Duration.ZERO, "0s");
        cases.put(Duration.ofMillis(250), "250ms");
        cases.put(Duration.ofMillis(1), "1ms");
        cases.put(Duration.ofNanos(250_000), "0.25ms");
        cases.put(Duration.ofSeconds(30), "30s");
        cases.put(Duration.ofMillis(1500), "1.5s");
        cases.put(Duration.ofSeconds(90), "1m30s");
        cases.put(Duration.ofMinutes(5), "5m");
        cases.put(Duration.ofMinutes(90), "1h30m");
        cases.put(Duration.ofHours(2), "2h");
        cases.put(Duration.ofHours(1).plusSeconds(5), "1h5s");
        cases.put(Duration.ofDays(365), "8760h");
        cases.forEach((d, text) -> {
            assertThat(DurationConverter.format(d)).as(d.toString()).isEqualTo(text);
            assertThat(DurationConverter.parse(text)).as(text).isEqualTo(d); // read back as written
        });
        assertThat(DurationConverter.parse("1m30.5s")).isEqualTo(Duration.ofMillis(90_500));
        assertThat(DurationConverter.parse("1s500ms")).isEqualTo(Duration.ofMillis(1500));
        assertThat(DurationConverter.parse("2h15m")).isEqualTo(Duration.ofMinutes(135));
        for (String bad : List.of("30s1m", "1m1m", "1.5m30s", "m", "")) {
            assertThatThrownBy(() -> DurationConverter.parse(bad)).as(bad)
                    .isInstanceOf(CommandLine.TypeConversionException.class).hasMessageContaining("not a duration");
        }
        assertThatThrownBy(() -> DurationConverter.parse("8760h1s")).hasMessageContaining("too long");
    }

    @Test
    void fsyncPoliciesAreWrittenAsTheOptionTakesThem() {
        for (String p : List.of("always", "never", "interval=50ms", "interval=1.5s", "interval=1h")) {
            assertThat(FsyncConverter.format(FsyncConverter.parse(p))).isEqualTo(p);
        }
        assertThat(FsyncConverter.format(FsyncConverter.parse("interval=100"))).isEqualTo("interval=100ms");
        assertThat(FsyncConverter.format(FsyncConverter.parse("ALWAYS"))).isEqualTo("always");
        assertThatThrownBy(() -> FsyncConverter.parse("interval=2h"))
                .isInstanceOf(CommandLine.TypeConversionException.class)
                .hasMessage("'interval=2h': the interval must be positive and at most 1h, was 2h");
        // beyond a long's milliseconds, or 365 days: it was "the interval is not a duration"
        for (String tooLong : List.of("interval=99999999999999999999", "interval=99999999999d")) {
            assertThatThrownBy(() -> FsyncConverter.parse(tooLong)).as(tooLong)
                    .isInstanceOf(CommandLine.TypeConversionException.class)
                    .hasMessage("'" + tooLong + "': the interval must be positive and at most 1h");
        }
        assertThatThrownBy(() -> FsyncConverter.parse("interval=PT-1S"))
                .hasMessage("'interval=PT-1S': the interval must be positive and at most 1h, was -1s");
        assertThatThrownBy(() -> FsyncConverter.parse("interval=0"))
                .isInstanceOf(CommandLine.TypeConversionException.class)
                .hasMessage("'interval=0': the interval must be positive and at most 1h, was 0s");
    }

    @Test
    void progressLineRewritesOnATerminalAndPrintsLinesElsewhere() {
        StringWriter tty = new StringWriter();
        ProgressLine t = new ProgressLine(new PrintWriter(tty), true, 1000);
        t.update("long text");
        t.update("short");
        t.finish();
        assertThat(tty.toString()).isEqualTo("\rlong text\rshort    \n");

        StringWriter log = new StringWriter();
        ProgressLine l = new ProgressLine(new PrintWriter(log), false, 60_000);
        l.update("first");
        l.update("too soon");
        l.finish();
        assertThat(log.toString()).isEqualTo("first" + System.lineSeparator());
    }

    @Test
    void theMemoryLineOfStats() {
        assertThat(StatsCommand.memoryLine(new dev.rill.core.MemoryStats(0, java.util.OptionalLong.of(256L << 20))))
                .isEqualTo("memory: 0 B of the 256 MiB budget (0%), held by all queues");
        assertThat(StatsCommand.memoryLine(new dev.rill.core.MemoryStats(3L << 30, java.util.OptionalLong.of(2L << 30))))
                .isEqualTo("memory: 3 GiB of the 2 GiB budget (150%), held by all queues"); // above: recovered
        assertThat(StatsCommand.memoryLine(new dev.rill.core.MemoryStats(1536, java.util.OptionalLong.empty())))
                .isEqualTo("memory: 1.5 KiB held by all queues (no budget)");
    }
}
