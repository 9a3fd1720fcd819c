package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class RetryPolicyTest {

    @Test
    void exponentialDelaysDoubleUntilTheCap() {
        RetryPolicy p = RetryPolicy.exponential(Duration.ofMillis(100), 2.0, Duration.ofSeconds(1));
        List<Long> delays = new ArrayList<>();
        for (int n = 1; n <= 7; n++) {
            delays.add(p.delay(n).toMillis());
        }
        assertThat(delays).containsExactly(100L, 200L, 400L, 800L, 1000L, 1000L, 1000L);
    }

    @Test
    void hugeDeliveryCountsStayAtTheCapInsteadOfOverflowing() {
        RetryPolicy p = RetryPolicy.exponential(Duration.ofSeconds(1), 10.0, Duration.ofHours(1));
        assertThat(p.delay(Integer.MAX_VALUE)).isEqualTo(Duration.ofHours(1));
    }

    @Test
    void delaysTooLongForMillisecondsSaturateInsteadOfThrowing() {
        Duration forever = Duration.ofSeconds(Long.MAX_VALUE);
        Duration longest = Duration.ofMillis(Long.MAX_VALUE);
        assertThat(RetryPolicy.fixed(forever).delay(1)).isEqualTo(longest);
        assertThat(RetryPolicy.exponential(Duration.ofSeconds(1), 2.0, forever).delay(3)).isEqualTo(Duration.ofSeconds(4));
        assertThat(RetryPolicy.exponential(Duration.ofSeconds(1), 2.0, forever).delay(Integer.MAX_VALUE))
                .isEqualTo(longest);
    }

    @Test
    void jitterSpreadsAroundTheBaseAndNeverPassesTheCap() {
        RetryPolicy p = RetryPolicy.exponential(Duration.ofSeconds(1), 2.0, Duration.ofSeconds(10)).jitter(0.5);
        assertThat(p.delay(2, 0.0)).isEqualTo(Duration.ofSeconds(1)); // 2 s * (1 - 0.5)
        assertThat(p.delay(2, 0.5)).isEqualTo(Duration.ofSeconds(2));
        assertThat(p.delay(2, 0.999_999).toMillis()).isBetween(2999L, 3000L); // 2 s * (1 + 0.5)
        assertThat(p.delay(8, 0.999_999)).isEqualTo(Duration.ofSeconds(10)); // capped after jitter too
        for (int i = 0; i < 1000; i++) {
            assertThat(p.delay(3).toMillis()).isBetween(2000L, 6000L);
        }
    }

    @Test
    void fixedImmediateAndNone() {
        assertThat(RetryPolicy.fixed(Duration.ofSeconds(3)).delay(1)).isEqualTo(Duration.ofSeconds(3));
        assertThat(RetryPolicy.fixed(Duration.ofSeconds(3)).delay(9)).isEqualTo(Duration.ofSeconds(3));
        assertThat(RetryPolicy.immediate().delay(4)).isZero();
        assertThat(RetryPolicy.immediate().exhausted(100, 0)).isFalse();
        assertThat(RetryPolicy.none().exhausted(1, 0)).isTrue();
    }

    @Test
    void exhaustedAtTheLowerOfOwnAndQueueLimit() {
        RetryPolicy p = RetryPolicy.fixed(Duration.ZERO).maxAttempts(3);
        assertThat(p.exhausted(2, 0)).isFalse();
        assertThat(p.exhausted(3, 0)).isTrue();
        assertThat(p.exhausted(2, 2)).isTrue(); // the queue's maxDeliveries is lower
        assertThat(RetryPolicy.fixed(Duration.ZERO).exhausted(4, 5)).isFalse();
        assertThat(RetryPolicy.fixed(Duration.ZERO).exhausted(5, 5)).isTrue();
    }

    @Test
    void optionsReturnNewInstancesAndLeaveTheOriginalUnchanged() {
        RetryPolicy base = RetryPolicy.exponential(Duration.ofSeconds(1), 2.0, Duration.ofSeconds(30));
        RetryPolicy jittered = base.jitter(0.3);
        RetryPolicy limited = base.maxAttempts(4);
        assertThat(base.jitterFactor()).isZero();
        assertThat(base.maxAttempts()).isZero();
        assertThat(jittered.jitterFactor()).isEqualTo(0.3);
        assertThat(limited.maxAttempts()).isEqualTo(4);
        assertThat(limited).isNotEqualTo(base).isEqualTo(base.maxAttempts(4));
        assertThat(RetryPolicy.defaults().jitterFactor()).isEqualTo(0.2);
    }

    @Test
    void invalidValuesAreRejectedWithTheirNames() {
        assertThatThrownBy(() -> RetryPolicy.exponential(Duration.ofSeconds(1), 0.5, Duration.ofSeconds(2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiplier");
        assertThatThrownBy(() -> RetryPolicy.exponential(Duration.ofSeconds(5), 2, Duration.ofSeconds(2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxDelay");
        assertThatThrownBy(() -> RetryPolicy.fixed(Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("delay");
        assertThatThrownBy(() -> RetryPolicy.immediate().jitter(1.5))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("jitter");
        assertThatThrownBy(() -> RetryPolicy.immediate().maxAttempts(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxAttempts");
        assertThatThrownBy(() -> RetryPolicy.immediate().delay(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("deliveryCount");
    }
}
