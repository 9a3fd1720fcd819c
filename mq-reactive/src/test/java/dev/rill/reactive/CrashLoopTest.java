package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.DurableBroker;
import dev.rill.core.Message;
import dev.rill.core.MessageQueue;
import dev.rill.core.QueueSpec;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash loop: a child JVM ({@link CrashLoopChild}) runs a durable broker (fsync ALWAYS) under producer/consumer
 * load and is killed with SIGKILL ({@link ProcessHandle#destroyForcibly()}) after a random amount of progress; then
 * the log is recovered and checked. Every message whose send completed before the kill is there unless an ack may
 * have been issued for it (the child prints {@code D} before acking: an ack logged just before the kill deletes the
 * message although its completion was never printed); no message whose ack completed is there or delivered again
 * later; every recovered message is well-formed and appears once (no record from a torn write). The directory is kept across cycles, so every
 * cycle also recovers everything the earlier ones left.
 *
 * <p>The child writes 64 KiB log segments ({@code -Drill.crash.segmentBytes}) and sends one message in
 * {@value CrashLoopChild#PINNED_EVERY} with a one-day delay, so segments roll, are deleted and have their
 * long-lived messages relocated all the time, and kills land in the middle of that too. The parent recovers with a
 * clock two days ahead, so the delayed messages are ready and checked like the others.
 *
 * <p>Cycles: {@code -Drill.crash.cycles} (default 12, about 1 s each); {@code mq-bench/scripts/crash-loop.sh} runs 200.
 */
class CrashLoopTest {

    static final QueueSpec SPEC = QueueSpec.named("crash").capacity(1_000_000);
    private static final Pattern PAYLOAD = Pattern.compile("r\\d+-p[01]-\\d+");

    @TempDir
    Path dir;

    @Test
    void confirmedSendsAndAcksSurviveSigkill() throws Exception {
        int cycles = Integer.getInteger("rill.crash.cycles", 12);
        long seed = Long.getLong("rill.crash.seed", System.nanoTime());
        long segmentBytes = Long.getLong("rill.crash.segmentBytes", 64 << 10);
        long pinnedRecovered = 0;
        Random random = new Random(seed);
        Path data = dir.resolve("data");
        Set<String> sent = new HashSet<>();
        Set<String> acked = new HashSet<>();
        Set<String> delivered = new HashSet<>(); // an ack may have been issued (and logged) for these
        long tornTails = 0;
        long recoveredTotal = 0;
        List<String> violations = new ArrayList<>();
        for (int cycle = 0; cycle < cycles; cycle++) {
            int killAfter = 20 + random.nextInt(3000); // confirmations seen before the kill
            Path err = dir.resolve("child-" + cycle + ".err");
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx256m", "-cp", System.getProperty("java.class.path"), CrashLoopChild.class.getName(),
                    data.toString(), Integer.toString(cycle), Long.toString(segmentBytes))
                    .redirectError(err.toFile())
                    .start();
            int confirmations = 0;
            boolean killed = false;
            try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    if (line.startsWith("S ")) {
                        sent.add(line.substring(2));
                        confirmations++;
                    } else if (line.startsWith("A ")) {
                        acked.add(line.substring(2));
                        confirmations++;
                    } else if (line.startsWith("D ")) {
                        String payload = line.substring(2);
                        delivered.add(payload);
                        if (acked.contains(payload)) {
                            violations.add("cycle " + cycle + ": delivered again after its ack completed: " + payload);
                        }
                    } else if (line.startsWith("ERROR")) {
                        violations.add("cycle " + cycle + ": child " + line);
                    }
                    if (!killed && confirmations >= killAfter) {
                        // SIGKILL through the handle: Process.destroyForcibly would also close our end of the pipe,
                        // and the lines the child wrote before it died must still be read
                        p.toHandle().destroyForcibly();
                        killed = true;
                    }
                }
            } finally {
                p.destroyForcibly();
                assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            }
            assertThat(killed).as("cycle %d: child ended before the kill; stderr:%n%s", cycle,
                    Files.exists(err) ? Files.readString(err) : "").isTrue();

            DurabilityOptions later = DurabilityOptions.defaults()
                    .clock(() -> System.currentTimeMillis() + Duration.ofDays(2).toMillis());
            try (DurableBroker b = DurableBroker.open(data, later)) {
                if (b.recovery().tornTail().isPresent()) {
                    tornTails++;
                }
                MessageQueue<String> q = b.declare(SPEC, Codec.utf8());
                List<Message<String>> all = q.peek(Integer.MAX_VALUE);
                Set<String> present = new HashSet<>();
                for (Message<String> m : all) {
                    if (!PAYLOAD.matcher(m.payload()).matches()) {
                        violations.add("cycle " + cycle + ": malformed payload recovered: " + m.payload());
                    }
                    if (!present.add(m.payload())) {
                        violations.add("cycle " + cycle + ": recovered twice: " + m.payload());
                    }
                    if (acked.contains(m.payload())) {
                        violations.add("cycle " + cycle + ": ack completed but recovered: " + m.payload());
                    }
                }
                for (String s : sent) {
                    // gone is fine only if an ack may have been issued: the child prints D before it acks, and an
                    // ack logged just before the kill (its A line never printed) has deleted the message
                    if (!present.contains(s) && !delivered.contains(s)) {
                        violations.add("cycle " + cycle + ": send completed, never delivered, but lost: " + s);
                    }
                }
                recoveredTotal += present.size();
                pinnedRecovered = present.stream()
                        .filter(m -> Long.parseLong(m.substring(m.lastIndexOf('-') + 1))
                                % CrashLoopChild.PINNED_EVERY == 7).count();
                assertThat(q.size()).isEqualTo(all.size()); // nothing delayed or leased after recovery
            }
            if (violations.size() > 20) {
                break;
            }
        }
        long segmentFiles;
        try (var files = Files.list(data)) {
            segmentFiles = files.filter(f -> f.getFileName().toString().endsWith(".log")).count();
        }
        String tally = String.format("crash-loop: seed=%d cycles=%d confirmedSends=%d confirmedAcks=%d "
                        + "recoveredMessages(sum over cycles)=%d delayedRecoveredLastCycle=%d tornTailsCut=%d "
                        + "segmentFilesLeft=%d violations=%d", seed, cycles, sent.size(), acked.size(), recoveredTotal,
                pinnedRecovered, tornTails, segmentFiles, violations.size());
        System.out.println(tally);
        assertThat(violations).as(tally).isEmpty();
        assertThat(sent).isNotEmpty();
        assertThat(acked).isNotEmpty();
        assertThat(pinnedRecovered).isPositive();
    }
}
