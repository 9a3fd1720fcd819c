package dev.rill.core.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A relocation slice is bounded in bytes, not in messages: it ends once it has read or copied about
 * {@code sliceBytes} (at least one record), so a slice of large live messages copies few of them and holds the
 * appends waiting behind it about as long as a slice of small ones, which copies many.
 *
 * <p>Session 1 writes groups of one live message (of the size under test) and nineteen small ones sent and acked
 * (every segment at most a tenth live, so each is relocated), then small ones alone, over 16 KiB segments, every SEND
 * with a dedup window open until {@link #T1} so nothing is relocated yet. Session 2 opens
 * at {@code T1} with 16 KiB slices and segments large enough to take every copy (no roll): the idle writer relocates
 * the run, and a hook after each slice notes the bytes written and the messages copied so far.
 */
class RelocationSliceBytesTest {

    private static final long T0 = 2_000_000_000L;
    private static final long T1 = T0 + 60_000;
    private static final int SLICE = 16 * 1024;
    private static final int GROUPS = 40;

    @TempDir
    Path dir;

    private final AtomicLong clock = new AtomicLong(T0);

    private LogOptions opts(long segmentBytes) {
        return LogOptions.defaults().fsync(FsyncPolicy.never()).segmentBytes(segmentBytes).clock(clock::get)
                .recoveryListener(RecoveryListener.none());
    }

    private static LogRecord.Send send(long id, int payloadBytes) {
        return new LogRecord.Send("q", id, T0, null, 0, Map.of(), new byte[payloadBytes], 0, 0, "d" + id, T1);
    }

    /** Each slice as {bytes written by it, messages it copied}, the first slice left out (its start is not seen). */
    private List<long[]> relocateGroupsOf(int livePayloadBytes) throws Exception {
        try (SegmentedLog log = SegmentedLog.open(dir, opts(16 * 1024), r -> { })) {
            log.append(new LogRecord.Declare("q", new byte[] {1}, 1));
            long id = 0;
            long last = 0;
            for (int g = 0; g < GROUPS; g++) {
                last = log.append(send(++id, livePayloadBytes));
                for (int i = 0; i < 19; i++) {
                    log.append(send(++id, 16));
                    last = log.append(new LogRecord.Ack("q", id));
                }
            }
            for (int i = 0; i < 100; i++) { // the last segment, with the last live messages, mostly dead too
                log.append(send(++id, 16));
                last = log.append(new LogRecord.Ack("q", id));
            }
            log.whenDurable(last).get();
            assertThat(log.stats().messagesRelocated()).isZero();
            assertThat(log.stats().segments()).isBetween(4, SegmentedLog.RELOCATE_RUN);
        }
        clock.set(T1);
        AtomicReference<SegmentedLog> ref = new AtomicReference<>();
        List<long[]> atSlice = new CopyOnWriteArrayList<>(); // {bytes, messagesRelocated} after each slice
        LogOptions relocating = opts(16L << 20).relocation(SLICE, n -> {
            await().atMost(Duration.ofSeconds(30)).until(() -> ref.get() != null); // the writer may start first
            LogStats st = ref.get().stats();
            atSlice.add(new long[] {st.bytes(), st.messagesRelocated()});
        });
        try (SegmentedLog log = SegmentedLog.open(dir, relocating, r -> { })) {
            ref.set(log);
            await().atMost(Duration.ofSeconds(30)).until(() -> log.stats().messagesRelocated() == GROUPS
                    && log.stats().segmentsDeleted() > 0);
        }
        List<long[]> slices = new java.util.ArrayList<>();
        for (int i = 1; i < atSlice.size(); i++) {
            slices.add(new long[] {atSlice.get(i)[0] - atSlice.get(i - 1)[0],
                    atSlice.get(i)[1] - atSlice.get(i - 1)[1]});
        }
        return slices;
    }

    @Test
    void aSliceOfLargeMessagesEndsAtItsBytesWithFewOfThem() throws Exception {
        int payload = 4096;
        List<long[]> slices = relocateGroupsOf(payload);
        assertThat(slices).as("slices after the first").hasSizeGreaterThanOrEqualTo(5);
        // at most the bound, and one message's copy (its SEND: payload, names, times, frame) past it
        assertThat(slices).allSatisfy(s -> {
            assertThat(s[0]).as("bytes written by a slice").isLessThanOrEqualTo(SLICE + payload + 128);
            assertThat(s[1]).as("messages copied by a slice").isLessThanOrEqualTo(SLICE / payload + 1);
        });
    }

    @Test
    void aSliceOfSmallMessagesCopiesManyOfThem() throws Exception {
        List<long[]> slices = relocateGroupsOf(100);
        // what one slice reads (16 KiB, several groups of ~2 KiB) holds more small live messages than a slice of
        // large ones may copy
        assertThat(slices.stream().mapToLong(s -> s[1]).max().orElse(0)).isGreaterThan(SLICE / 4096 + 1);
        assertThat(slices).allSatisfy(s -> assertThat(s[0]).isLessThanOrEqualTo(SLICE));
    }
}
