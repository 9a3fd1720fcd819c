package dev.rill.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.DurableBroker;
import dev.rill.core.MessageQueue;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.log.RecoveryListener;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code rill serve --data-dir} says what it replays before it listens, and what it found. */
class ServeRecoveryTest {

    @TempDir
    Path dir;

    @Test
    void aStartOnADataDirectorySaysWhatItRecoversBeforeItListens() throws Exception {
        Path data = dir.resolve("data");
        try (DurableBroker b = DurableBroker.open(data, DurabilityOptions.defaults().segmentBytes(4096)
                .recoveryListener(RecoveryListener.none()))) {
            MessageQueue<byte[]> q = b.declare(QueueSpec.named("jobs"), Codec.bytes());
            for (int i = 0; i < 100; i++) {
                q.send(OutboundMessage.of(new byte[200]), 1);
            }
            b.whenDurable(b.lastSeq()).get(30, TimeUnit.SECONDS);
        }
        CompletableFuture<ServerProcess> started = new CompletableFuture<>();
        CompletableFuture<Cli.Result> run = CompletableFuture.supplyAsync(() -> Cli.run(InputStream.nullInputStream(),
                started::complete, "serve", "--port", "0", "--data-dir", data.toString()));
        ServerProcess process = started.get(30, TimeUnit.SECONDS);
        assertThat(process.shutdown(Duration.ofSeconds(10))).isTrue();
        Cli.Result result = run.get(30, TimeUnit.SECONDS);
        assertThat(result.code()).as(result.toString()).isZero();
        String out = result.out();
        int recovering = out.indexOf("rill: recovering ");
        int recovered = out.indexOf("rill: recovered ");
        int listening = out.indexOf("rill: listening on ");
        assertThat(recovering).as(out).isNotNegative().isLessThan(recovered);
        assertThat(recovered).as(out).isLessThan(listening);
        assertThat(out).containsPattern("rill: recovering \\d+ segments, 0\\.\\d MiB in " + data.toString()
                .replace("\\", "\\\\"));
        assertThat(out).containsPattern("rill: recovered 10\\d records from \\d+ segments \\(0\\.\\d MiB\\) in "
                + "\\d+\\.\\d s.*: 1 queue, 100 live messages\n");
        assertThat(out).contains("1 queue(s) recovered");
    }
}
