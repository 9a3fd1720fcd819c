package dev.rill.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class HelloWorldTest {

    @Test
    void seedExampleRunsAndPrintsEachStep() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        boolean ok = HelloWorld.run(new PrintStream(buf, true, StandardCharsets.UTF_8));
        String printed = buf.toString(StandardCharsets.UTF_8);

        assertThat(ok).isTrue();
        assertThat(printed).containsSubsequence("send    -> ENQUEUED", "receive -> \"Hello, World!\" (delivery 1)",
                "delete  -> OK", "receive -> nothing");
    }
}
