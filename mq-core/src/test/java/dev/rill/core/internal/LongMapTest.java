package dev.rill.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link LongMap} against {@link HashMap} under random operations, with the key patterns recovery sees. */
class LongMapTest {

    /** Random puts, removes and gets over keys drawn by {@code next}; the map agrees with a HashMap at every step. */
    private static void agreesWithHashMap(long seed, java.util.function.LongUnaryOperator keyOf, int keySpace) {
        Random rnd = new Random(seed);
        LongMap<String> map = new LongMap<>();
        HashMap<Long, String> model = new HashMap<>();
        for (int step = 0; step < 40_000; step++) {
            long k = keyOf.applyAsLong(rnd.nextInt(keySpace));
            int op = rnd.nextInt(10);
            if (op < 5) {
                String v = "v" + step;
                assertThat(map.put(k, v)).isEqualTo(model.put(k, v));
            } else if (op < 8) {
                assertThat(map.remove(k)).isEqualTo(model.remove(k));
            } else {
                assertThat(map.get(k)).isEqualTo(model.get(k));
                assertThat(map.containsKey(k)).isEqualTo(model.containsKey(k));
            }
            assertThat(map.size()).isEqualTo(model.size());
            if (step % 4_000 == 0) {
                for (long key : model.keySet()) {
                    assertThat(map.get(key)).isEqualTo(model.get(key));
                }
                List<String> values = new ArrayList<>();
                map.forEachValue(values::add);
                assertThat(values).containsExactlyInAnyOrderElementsOf(model.values());
            }
        }
    }

    @Test
    void denseIds() {
        agreesWithHashMap(1, i -> i + 1, 5_000);
    }

    @Test
    void idsInStridesOfAPowerOfTwo() {
        agreesWithHashMap(2, i -> (long) i << 12, 3_000);
    }

    @Test
    void anyLongs() {
        agreesWithHashMap(3, i -> i * 0x5DEECE66DL ^ -1L, 100);
        agreesWithHashMap(4, i -> i == 0 ? Long.MIN_VALUE : i == 1 ? Long.MAX_VALUE : i == 2 ? 0 : -i, 50);
    }

    @Test
    void growsRemovesEverythingAndClears() {
        LongMap<Long> map = new LongMap<>();
        for (long i = 1; i <= 100_000; i++) {
            map.put(i, i);
        }
        assertThat(map.size()).isEqualTo(100_000);
        for (long i = 1; i <= 100_000; i += 2) {
            assertThat(map.remove(i)).isEqualTo(i);
        }
        for (long i = 1; i <= 100_000; i++) {
            assertThat(map.get(i)).isEqualTo(i % 2 == 0 ? i : null);
        }
        assertThat(map.capacity()).isEqualTo(1 << 18); // 100,000 needed 2^18 slots; 50,000 still more than 1/8
        for (long i = 2; i <= 99_990; i += 2) {
            map.remove(i);
        }
        assertThat(map.size()).isEqualTo(5);
        assertThat(map.capacity()).as("a drained map gives its table back").isEqualTo(LongMap.SHRINK_ABOVE);
        for (long i = 99_992; i <= 100_000; i += 2) {
            assertThat(map.get(i)).isEqualTo(i);
        }
        map.clear();
        assertThat(map.isEmpty()).isTrue();
        assertThat(map.get(2)).isNull();
        map.put(2, 7L);
        assertThat(map.get(2)).isEqualTo(7L);
        assertThatThrownBy(() -> map.put(3, null)).isInstanceOf(NullPointerException.class);
    }
}
