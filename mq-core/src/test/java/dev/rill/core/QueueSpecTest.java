package dev.rill.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** {@link QueueSpec}: defaults, copy-on-write options, field checks and cross-field validation. */
class QueueSpecTest {

    @Test
    void defaults() {
        QueueSpec s = QueueSpec.named("q");
        assertThat(s.name()).isEqualTo("q");
        assertThat(s.visibilityTimeout()).isEqualTo(Duration.ofSeconds(30))
                .isEqualTo(QueueSpec.DEFAULT_VISIBILITY_TIMEOUT);
        assertThat(s.dedupWindow()).isEqualTo(Duration.ofMinutes(5)).isEqualTo(QueueSpec.DEFAULT_DEDUP_WINDOW);
        assertThat(s.capacity()).isEqualTo(100_000).isEqualTo(QueueSpec.DEFAULT_CAPACITY);
        assertThat(s.maxBytes()).isEmpty();
        assertThat(s.maxDeliveries()).isEmpty();
        assertThat(s.deadLetterQueue()).isEmpty();
        assertThat(s.discardsDeadLetters()).isFalse();
        assertThat(s.messageTtl()).isEmpty();
        assertThat(s.expiryAction()).isEqualTo(ExpiryAction.DROP);
        assertThat(s.ordering()).isEqualTo(Ordering.FIFO);
        assertThat(s.overflow()).isEqualTo(Overflow.WAIT);
        assertThat(s.validate()).isSameAs(s);
    }

    @Test
    void everyOptionReturnsANewSpecAndLeavesTheOriginalUnchanged() {
        QueueSpec base = QueueSpec.named("q");
        QueueSpec copy = QueueSpec.named("q");
        List<UnaryOperator<QueueSpec>> options = List.of(
                s -> s.visibilityTimeout(Duration.ofSeconds(5)),
                s -> s.dedupWindow(Duration.ofSeconds(7)),
                s -> s.capacity(10),
                QueueSpec::unbounded,
                s -> s.maxBytes(1_000),
                s -> s.maxDeliveries(3),
                s -> s.deadLetterQueue("q.dlq"),
                QueueSpec::discardDeadLetters,
                s -> s.messageTtl(Duration.ofMinutes(1)),
                s -> s.onExpiry(ExpiryAction.DEAD_LETTER),
                s -> s.ordering(Ordering.KEY_ORDERED),
                s -> s.overflow(Overflow.FAIL));
        for (UnaryOperator<QueueSpec> option : options) {
            QueueSpec changed = option.apply(base);
            assertThat(changed).isNotSameAs(base).isNotEqualTo(base);
            assertThat(base).isEqualTo(copy);
            assertThat(base.differences(copy)).isEmpty();
        }
    }

    @Test
    void optionsSetTheirField() {
        QueueSpec s = QueueSpec.named("q").visibilityTimeout(Duration.ofSeconds(5)).dedupWindow(Duration.ofSeconds(7))
                .capacity(10).maxBytes(1_000).maxDeliveries(3).deadLetterQueue("q.dlq")
                .messageTtl(Duration.ofMinutes(1)).onExpiry(ExpiryAction.DEAD_LETTER).ordering(Ordering.KEY_ORDERED)
                .overflow(Overflow.FAIL);
        assertThat(s.visibilityTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(s.dedupWindow()).isEqualTo(Duration.ofSeconds(7));
        assertThat(s.capacity()).isEqualTo(10);
        assertThat(s.maxBytes()).hasValue(1_000);
        assertThat(s.maxDeliveries()).hasValue(3);
        assertThat(s.deadLetterQueue()).hasValue("q.dlq");
        assertThat(s.messageTtl()).hasValue(Duration.ofMinutes(1));
        assertThat(s.expiryAction()).isEqualTo(ExpiryAction.DEAD_LETTER);
        assertThat(s.ordering()).isEqualTo(Ordering.KEY_ORDERED);
        assertThat(s.overflow()).isEqualTo(Overflow.FAIL);
        assertThat(s.validate()).isSameAs(s);
        assertThat(QueueSpec.named("q").capacity(5).unbounded().capacity()).isEqualTo(Integer.MAX_VALUE);
    }

    @Test
    void deadLetterQueueAndDiscardReplaceEachOther() {
        QueueSpec withDlq = QueueSpec.named("q").discardDeadLetters().deadLetterQueue("dlq");
        assertThat(withDlq.deadLetterQueue()).hasValue("dlq");
        assertThat(withDlq.discardsDeadLetters()).isFalse();
        QueueSpec discarding = QueueSpec.named("q").deadLetterQueue("dlq").discardDeadLetters();
        assertThat(discarding.deadLetterQueue()).isEmpty();
        assertThat(discarding.discardsDeadLetters()).isTrue();
    }

    @Test
    void namesAreChecked() {
        assertThat(QueueSpec.named("a.b_c-d:E9").name()).isEqualTo("a.b_c-d:E9");
        assertThat(QueueSpec.named("x".repeat(200)).name()).hasSize(200);
        assertThatIllegalArgumentException().isThrownBy(() -> QueueSpec.named(""))
                .withMessageContaining("name").withMessageContaining("''");
        assertThatIllegalArgumentException().isThrownBy(() -> QueueSpec.named("x".repeat(201)))
                .withMessageStartingWith("name must be 1..200");
        assertThatIllegalArgumentException().isThrownBy(() -> QueueSpec.named("has space"))
                .withMessageContaining("name").withMessageContaining("'has space'");
        assertThatIllegalArgumentException().isThrownBy(() -> QueueSpec.named("slash/no"))
                .withMessageContaining("'slash/no'");
        assertThatNullPointerException().isThrownBy(() -> QueueSpec.named(null)).withMessage("name");
        assertThatIllegalArgumentException().isThrownBy(() -> QueueSpec.named("q").deadLetterQueue("bad name"))
                .withMessageStartingWith("deadLetterQueue").withMessageContaining("'bad name'");
        assertThatNullPointerException().isThrownBy(() -> QueueSpec.named("q").deadLetterQueue(null))
                .withMessage("deadLetterQueue");
    }

    @Test
    void durationsAreCheckedNamingFieldAndValue() {
        QueueSpec s = QueueSpec.named("q");
        assertThatIllegalArgumentException().isThrownBy(() -> s.visibilityTimeout(Duration.ZERO))
                .withMessage("visibilityTimeout must be positive, was PT0S");
        assertThatIllegalArgumentException().isThrownBy(() -> s.visibilityTimeout(Duration.ofSeconds(-1)))
                .withMessage("visibilityTimeout must be positive, was PT-1S");
        assertThatIllegalArgumentException().isThrownBy(() -> s.dedupWindow(Duration.ZERO))
                .withMessage("dedupWindow must be positive, was PT0S");
        assertThatIllegalArgumentException().isThrownBy(() -> s.messageTtl(Duration.ofMillis(-5)))
                .withMessageStartingWith("messageTtl must be positive");
        assertThatIllegalArgumentException().isThrownBy(() -> s.visibilityTimeout(Duration.ofDays(365 * 100 + 1)))
                .withMessageStartingWith("visibilityTimeout must be at most 100 years");
        assertThat(s.visibilityTimeout(Duration.ofDays(365 * 100)).visibilityTimeout())
                .isEqualTo(Duration.ofDays(365 * 100));
        assertThatNullPointerException().isThrownBy(() -> s.visibilityTimeout(null)).withMessage("visibilityTimeout");
        assertThatNullPointerException().isThrownBy(() -> s.dedupWindow(null)).withMessage("dedupWindow");
        assertThatNullPointerException().isThrownBy(() -> s.messageTtl(null)).withMessage("messageTtl");
    }

    @Test
    void numbersAreCheckedNamingFieldAndValue() {
        QueueSpec s = QueueSpec.named("q");
        assertThatIllegalArgumentException().isThrownBy(() -> s.capacity(0))
                .withMessage("capacity must be >= 1, was 0");
        assertThatIllegalArgumentException().isThrownBy(() -> s.capacity(-7))
                .withMessage("capacity must be >= 1, was -7");
        assertThatIllegalArgumentException().isThrownBy(() -> s.maxBytes(0))
                .withMessage("maxBytes must be >= 1, was 0");
        assertThatIllegalArgumentException().isThrownBy(() -> s.maxDeliveries(0))
                .withMessage("maxDeliveries must be >= 1, was 0");
        assertThat(s.capacity(1).capacity()).isEqualTo(1);
        assertThat(s.maxBytes(1).maxBytes()).hasValue(1);
        assertThat(s.maxDeliveries(1).maxDeliveries()).hasValue(1);
    }

    @Test
    void enumsAreRequired() {
        QueueSpec s = QueueSpec.named("q");
        assertThatNullPointerException().isThrownBy(() -> s.onExpiry(null)).withMessage("action");
        assertThatNullPointerException().isThrownBy(() -> s.ordering(null)).withMessage("ordering");
        assertThatNullPointerException().isThrownBy(() -> s.overflow(null)).withMessage("overflow");
    }

    @Test
    void maxDeliveriesNeedsADeadLetterQueueOrDiscard() {
        QueueSpec s = QueueSpec.named("orders").maxDeliveries(5);
        assertThatIllegalArgumentException().isThrownBy(s::validate)
                .withMessageContaining("'orders'").withMessageContaining("maxDeliveries=5")
                .withMessageContaining("deadLetterQueue").withMessageContaining("discardDeadLetters");
        assertThat(s.deadLetterQueue("orders.dlq").validate().maxDeliveries()).hasValue(5);
        assertThat(s.discardDeadLetters().validate().maxDeliveries()).hasValue(5);
    }

    @Test
    void aQueueCannotBeItsOwnDeadLetterQueue() {
        QueueSpec s = QueueSpec.named("orders").deadLetterQueue("orders");
        assertThatIllegalArgumentException().isThrownBy(s::validate)
                .withMessageContaining("'orders'").withMessageContaining("deadLetterQueue");
    }

    @Test
    void deadLetterExpiryNeedsADeadLetterQueue() {
        QueueSpec s = QueueSpec.named("orders").messageTtl(Duration.ofSeconds(1)).onExpiry(ExpiryAction.DEAD_LETTER);
        assertThatIllegalArgumentException().isThrownBy(s::validate)
                .withMessageContaining("'orders'").withMessageContaining("onExpiry=DEAD_LETTER")
                .withMessageContaining("deadLetterQueue");
        assertThatIllegalArgumentException().isThrownBy(() -> s.discardDeadLetters().validate())
                .withMessageContaining("onExpiry=DEAD_LETTER");
        assertThat(s.deadLetterQueue("orders.dlq").validate()).isNotNull();
    }

    @Test
    void differencesNameEachDifferingField() {
        QueueSpec a = QueueSpec.named("q").capacity(10);
        QueueSpec b = QueueSpec.named("q").capacity(20).ordering(Ordering.KEY_ORDERED);
        assertThat(a.differences(b)).containsExactly("capacity: 10 vs 20", "ordering: FIFO vs KEY_ORDERED");
        assertThat(a.differences(QueueSpec.named("q").capacity(10))).isEmpty();
        assertThat(QueueSpec.named("q").differences(QueueSpec.named("q").maxBytes(5)))
                .containsExactly("maxBytes: OptionalLong.empty vs OptionalLong[5]");
    }

    @Test
    void equalsHashCodeAndToString() {
        QueueSpec a = QueueSpec.named("q").visibilityTimeout(Duration.ofSeconds(3)).maxDeliveries(2)
                .deadLetterQueue("d");
        QueueSpec b = QueueSpec.named("q").deadLetterQueue("d").maxDeliveries(2)
                .visibilityTimeout(Duration.ofSeconds(3));
        assertThat(a).isEqualTo(b).hasSameHashCodeAs(b).isNotEqualTo(QueueSpec.named("q")).isNotEqualTo("q");
        assertThat(a.toString()).contains("name=q", "visibilityTimeout=PT3S", "deadLetterQueue=d");
    }
}
