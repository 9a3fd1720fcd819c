package dev.rill.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.Rill;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class KeyOrderedPipelineExampleTest {

    private final ReactiveBroker broker = Rill.inMemory();

    @AfterEach
    void close() {
        broker.close().block(Duration.ofSeconds(5));
    }

    @Test
    void eachKeyIsHandledInOrderOneAtATimeWhileKeysRunInParallel() {
        KeyOrderedPipelineExample.Summary s = KeyOrderedPipelineExample.run(broker, 5, 20,
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));

        List<Integer> inOrder = IntStream.rangeClosed(1, 20).boxed().toList();
        assertThat(s.handledOrder()).hasSize(5).allSatisfy((key, seqs) -> assertThat(seqs).isEqualTo(inOrder));
        assertThat(s.maxConcurrentPerKey()).isEqualTo(1);
        assertThat(s.maxConcurrentOverall()).isBetween(2, 5); // parallel across keys, at most one per key
        assertThat(s.failures()).isEqualTo(1);
        assertThat(s.stats().acked()).isEqualTo(100);
        assertThat(s.stats().nacked()).isEqualTo(1);
        assertThat(s.stats().size()).isZero();
    }
}
