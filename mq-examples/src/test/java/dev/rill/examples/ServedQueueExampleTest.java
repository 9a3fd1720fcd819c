package dev.rill.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.examples.ServedQueueExample.Order;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ServedQueueExampleTest {

    @Test
    void typedInProcessAndTextOverTheNetworkShareOneQueue() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        ServedQueueExample.Summary s = ServedQueueExample.run(new PrintStream(buf, true, StandardCharsets.UTF_8));

        assertThat(s.receivedRemotely()).isEqualTo("local-1,2");
        assertThat(s.handledInProcess()).containsExactly(new Order("remote-1", 5), new Order("remote-2", 1));
        assertThat(s.refused()).contains("queue 'orders' refused the message (INVALID_ARGUMENT)");
        assertThat(buf.toString(StandardCharsets.UTF_8)).containsSubsequence(
                "in process  -> sent Order[id=local-1, quantity=2]", "remote      <- \"local-1,2\"",
                "remote      -> \"five apples\" refused", "in process  <- Order[id=remote-1, quantity=5]",
                "in process  <- Order[id=remote-2, quantity=1]");
    }
}
