package dev.rill.netty.internal.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * {@link FuzzCorpusWriter} writes the same bytes on every run, and they are the seeds committed. The frame records
 * keep headers as {@code Map.copyOf}, whose iteration order is seeded per JVM: the seeds of the samples with two or
 * more headers (a SEND's, a PEEK_RESULT's) came out in another order on most runs, so a run after a layout change
 * rewrote them although they had not changed, and this comparison with the committed files failed on most JVMs.
 */
class FuzzCorpusWriterTest {

    @Test
    void theCommittedSeedsAreWhatTheWriterWrites() throws IOException {
        Map<String, byte[]> seeds = FuzzCorpusWriter.seeds();
        assertThat(seeds).containsKeys("valid-24-PEEK_RESULT", "valid-26-SEND"); // the ones with two headers
        for (Map.Entry<String, byte[]> seed : seeds.entrySet()) {
            try (InputStream in = getClass().getResourceAsStream("FrameDecoderFuzzTestInputs/decode/"
                    + seed.getKey())) {
                assertThat(in).as("committed seed %s", seed.getKey()).isNotNull();
                assertThat(in.readAllBytes()).as(seed.getKey()).isEqualTo(seed.getValue());
            }
        }
    }

    @Test
    void theHeaderEntriesOfASeedAreInKeyOrderWhateverOrderTheMapIteratesIn() {
        int checked = 0;
        for (Frame f : SampleFrames.all()) {
            List<Map<String, String>> maps = new ArrayList<>();
            if (f instanceof Frame.Send s) {
                s.messages().forEach(m -> maps.add(m.headers()));
            } else if (f instanceof Frame.PeekResult p) {
                p.messages().forEach(m -> maps.add(m.headers()));
            }
            byte[] bytes = FuzzCorpusWriter.encodeSorted(f);
            assertThat(SampleFrames.decode(bytes)).isEqualTo(f);
            for (Map<String, String> h : maps) {
                if (h.size() < 2) {
                    continue;
                }
                int last = -1;
                for (Map.Entry<String, String> e : new TreeMap<>(h).entrySet()) {
                    int at = indexOf(bytes, entry(e.getKey(), e.getValue()));
                    assertThat(at).as("%s: header '%s' after the one before it in key order", f.type(), e.getKey())
                            .isGreaterThan(last);
                    last = at;
                }
                checked++;
            }
        }
        assertThat(checked).as("header maps with two or more entries among the samples").isGreaterThanOrEqualTo(2);
    }

    /** @return a header entry as the wire carries it: name and value, each a u16 length and UTF-8 */
    private static byte[] entry(String name, String value) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        byte[] v = value.getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[4 + n.length + v.length];
        out[0] = (byte) (n.length >> 8);
        out[1] = (byte) n.length;
        System.arraycopy(n, 0, out, 2, n.length);
        out[2 + n.length] = (byte) (v.length >> 8);
        out[3 + n.length] = (byte) v.length;
        System.arraycopy(v, 0, out, 4 + n.length, v.length);
        return out;
    }

    private static int indexOf(byte[] bytes, byte[] what) {
        for (int at = 0; at + what.length <= bytes.length; at++) {
            if (java.util.Arrays.equals(bytes, at, at + what.length, what, 0, what.length)) {
                return at;
            }
        }
        return -1;
    }
}
