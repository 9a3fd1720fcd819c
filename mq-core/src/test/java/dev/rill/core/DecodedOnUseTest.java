package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** {@link Message#decodedOnUse}: the payload is decoded at the first {@code payload()} call, once. */
class DecodedOnUseTest {

    private final AtomicInteger decodes = new AtomicInteger();
    private final Codec<Integer> ints = Codec.of(i -> i.toString().getBytes(StandardCharsets.UTF_8), b -> {
        decodes.incrementAndGet();
        return Integer.valueOf(new String(b, StandardCharsets.UTF_8)); // NumberFormatException: not a codec's IAE
    });

    private Message<Integer> message(String payload) {
        return Message.decodedOnUse(7, payload.getBytes(StandardCharsets.UTF_8), ints, "k", 3, Map.of("h", "v"), 99);
    }

    @Test
    void decodesOnceAtTheFirstCallAndKeepsTheOtherFields() {
        Message<Integer> m = message("42");
        assertThat(decodes).hasValue(0);
        assertThat(m.toString()).contains("id=7").contains("<2 bytes, not decoded yet>").contains("key=k");
        assertThat(decodes).hasValue(0); // toString never decodes
        assertThat(m.payload()).isEqualTo(42);
        assertThat(m.payload()).isSameAs(m.payload());
        assertThat(decodes).hasValue(1);
        assertThat(m.toString()).contains("payload=42");
        assertThat(m.id()).isEqualTo(7);
        assertThat(m.key()).isEqualTo("k");
        assertThat(m.priority()).isEqualTo(3);
        assertThat(m.headers()).containsEntry("h", "v");
        assertThat(m.timestamp()).isEqualTo(99);
    }

    @Test
    void aFailedDecodeThrowsAnIllegalArgumentExceptionNamingTheMessageEachTime() {
        Message<Integer> m = message("forty-two");
        for (int i = 0; i < 2; i++) {
            assertThatThrownBy(m::payload).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("message 7: its codec cannot decode its payload of 9 bytes")
                    .hasCauseInstanceOf(NumberFormatException.class);
        }
        assertThat(decodes).hasValue(2);
        assertThat(m.id()).isEqualTo(7); // the rest stays readable
    }

    @Test
    void aCodecThatDecodesToNullIsRefused() {
        Message<String> m = Message.decodedOnUse(1, new byte[0], Codec.of(s -> new byte[0], b -> null), null, 0,
                Map.of(), 0);
        assertThatThrownBy(m::payload).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("message 1: its codec decoded its payload of 0 bytes to null");
    }
}
