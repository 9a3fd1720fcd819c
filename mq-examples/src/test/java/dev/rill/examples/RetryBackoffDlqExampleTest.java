package dev.rill.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.Rill;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class RetryBackoffDlqExampleTest {

    private final ReactiveBroker broker = Rill.inMemory();

    @AfterEach
    void close() {
        broker.close().block(Duration.ofSeconds(5));
    }

    @Test
    void transientFailuresRetryPoisonGoesToTheDlqWithItsReasonAndRedriveRecoversIt() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        RetryBackoffDlqExample.Summary s = RetryBackoffDlqExample.run(broker, 12,
                new PrintStream(buf, true, StandardCharsets.UTF_8));

        // 12 payments: 3, 7, 11 are poison; 1, 5, 9 fail once; the other 6 succeed at once
        assertThat(s.succeededFirstTime()).isEqualTo(6);
        assertThat(s.succeededAfterRetry()).isEqualTo(3);
        assertThat(s.handlerErrors()).isEqualTo(3 * RetryBackoffDlqExample.MAX_DELIVERIES + 3);
        assertThat(s.deadLetters()).extracting(RetryBackoffDlqExample.DeadLetter::payload)
                .containsExactlyInAnyOrder("payment-3", "payment-7", "payment-11");
        assertThat(s.deadLetters()).allSatisfy(dl -> {
            assertThat(dl.sourceQueue()).isEqualTo("payments");
            assertThat(dl.deliveries()).isEqualTo(RetryBackoffDlqExample.MAX_DELIVERIES);
            assertThat(dl.reason()).contains("gave up after 4 deliveries")
                    .contains("IllegalArgumentException: invalid account in " + dl.payload());
        });

        // backoff: each gap at least the jittered lower bound of 100 ms * 2^(n-1) (2 ms for clock rounding)
        assertThat(s.attemptTimes()).hasSize(3).allSatisfy((payment, times) -> {
            assertThat(times).hasSize(RetryBackoffDlqExample.MAX_DELIVERIES);
            List<Long> gaps = RetryBackoffDlqExample.gaps(times);
            for (int i = 0; i < gaps.size(); i++) {
                long base = 100L << i;
                assertThat(gaps.get(i)).as("%s gap %d", payment, i + 1).isGreaterThanOrEqualTo((long) (base * 0.8) - 2);
            }
        });

        // redrive moved the 3 back and, with the bug fixed, every payment is acked; nothing left anywhere
        assertThat(s.redriven()).isEqualTo(3);
        assertThat(s.queueAfter().acked()).isEqualTo(12);
        assertThat(s.queueAfter().deadLettered()).isEqualTo(3);
        assertThat(s.queueAfter().size()).isZero();
        assertThat(s.deadLetterQueueAfter().size()).isZero();
        assertThat(buf.toString(StandardCharsets.UTF_8)).contains("payment-3 from payments after 4 deliveries")
                .contains("redrove 3 message(s) back to payments");
    }
}
