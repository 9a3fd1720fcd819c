package dev.rill.reactive;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.test.scheduler.VirtualTimeScheduler;

/** The queue timer keeps exactly one task, at the earliest deadline asked for, and never polls. */
class QueueTimerTest {

    private final VirtualTimeScheduler vts = VirtualTimeScheduler.create();
    private final List<Long> fires = new ArrayList<>();
    private final ArrayDeque<Long> nextDeadlines = new ArrayDeque<>();
    private final QueueTimer timer = new QueueTimer(vts, now -> {
        fires.add(now);
        Long next = nextDeadlines.poll();
        return next == null ? Long.MAX_VALUE : next;
    });

    @AfterEach
    void dispose() {
        vts.dispose();
    }

    private void advanceTo(long millis) {
        vts.advanceTimeTo(java.time.Instant.ofEpochMilli(millis));
    }

    @Test
    void firesOnceAtTheEarliestDeadline() {
        timer.ensure(100);
        timer.ensure(50);
        timer.ensure(200); // later than the scheduled one: nothing to do
        assertThat(timer.scheduledAt()).isEqualTo(50);
        advanceTo(1_000);
        assertThat(fires).containsExactly(50L); // the task for 100 was replaced, not kept
        assertThat(timer.scheduledAt()).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void schedulesTheDeadlineReturnedByTheFire() {
        nextDeadlines.add(300L);
        nextDeadlines.add(700L);
        timer.ensure(100);
        advanceTo(299);
        assertThat(fires).containsExactly(100L);
        assertThat(timer.scheduledAt()).isEqualTo(300);
        advanceTo(10_000);
        assertThat(fires).containsExactly(100L, 300L, 700L);
    }

    @Test
    void nothingPendingMeansNothingScheduled() {
        advanceTo(10_000);
        assertThat(fires).isEmpty();
        timer.ensure(Long.MAX_VALUE);
        assertThat(timer.scheduledAt()).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void aPastDeadlineFiresAtOnce() {
        advanceTo(500);
        timer.ensure(10);
        assertThat(fires).containsExactly(500L);
    }

    @Test
    void disposeCancelsTheTask() {
        timer.ensure(100);
        timer.dispose();
        timer.ensure(50);
        advanceTo(1_000);
        assertThat(fires).isEmpty();
    }
}
