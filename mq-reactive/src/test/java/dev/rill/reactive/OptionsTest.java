package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rill.core.Overflow;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class OptionsTest {

    @Test
    void receiveOptionsDefaults() {
        ReceiveOptions d = ReceiveOptions.defaults();
        assertThat(d.prefetch()).isZero();
        assertThat(d.maxUnacked()).isEmpty();
        assertThat(d.maxMessages()).isEmpty();
        assertThat(d.visibilityTimeout()).isEmpty();
    }

    @Test
    void receiveOptionsAreCopyOnWrite() {
        ReceiveOptions d = ReceiveOptions.defaults();
        ReceiveOptions o = d.prefetch(4).maxUnacked(8).maxMessages(100).visibilityTimeout(Duration.ofSeconds(3));
        assertThat(d).isEqualTo(ReceiveOptions.defaults());
        assertThat(d.prefetch()).isZero();
        assertThat(o.prefetch()).isEqualTo(4);
        assertThat(o.maxUnacked()).hasValue(8);
        assertThat(o.maxMessages()).hasValue(100);
        assertThat(o.visibilityTimeout()).contains(Duration.ofSeconds(3));
        assertThat(o).isNotEqualTo(d).hasSameHashCodeAs(
                ReceiveOptions.defaults().prefetch(4).maxUnacked(8).maxMessages(100).visibilityTimeout(Duration.ofSeconds(3)));
    }

    @Test
    void receiveOptionsValidateNamingFieldAndValue() {
        ReceiveOptions d = ReceiveOptions.defaults();
        assertThatThrownBy(() -> d.prefetch(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("prefetch").hasMessageContaining("-1");
        assertThatThrownBy(() -> d.maxUnacked(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("maxUnacked").hasMessageContaining("0");
        assertThatThrownBy(() -> d.maxMessages(-5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("maxMessages").hasMessageContaining("-5");
        assertThatThrownBy(() -> d.visibilityTimeout(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("visibilityTimeout").hasMessageContaining("PT0S");
        assertThat(d.maxMessages(0).maxMessages()).hasValue(0);
    }

    @Test
    void sendOptionsDefaultsCopyOnWriteAndValidation() {
        SendOptions d = SendOptions.defaults();
        assertThat(d.overflow()).isEmpty();
        assertThat(d.maxInFlight()).isEqualTo(SendOptions.DEFAULT_MAX_IN_FLIGHT).isEqualTo(256);
        SendOptions o = d.overflow(Overflow.FAIL).maxInFlight(3);
        assertThat(d.overflow()).isEmpty();
        assertThat(d.maxInFlight()).isEqualTo(256);
        assertThat(o.overflow()).contains(Overflow.FAIL);
        assertThat(o.maxInFlight()).isEqualTo(3);
        assertThat(o).isEqualTo(SendOptions.defaults().maxInFlight(3).overflow(Overflow.FAIL));
        assertThatThrownBy(() -> d.maxInFlight(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("maxInFlight").hasMessageContaining("0");
        assertThatThrownBy(() -> d.overflow(null)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("overflow");
    }
}
