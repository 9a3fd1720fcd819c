package dev.rill.core;

import dev.rill.core.log.FsyncPolicy;
import dev.rill.core.log.RecoveryListener;
import java.lang.management.LockInfo;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/** What the tests of recovered queues share: quiet options, codecs that watch their decodes, the locks held. */
final class RecoveryTestSupport {

    /** No fsync, no recovery output, a clock at 0. */
    static final DurabilityOptions QUIET = DurabilityOptions.defaults().fsync(FsyncPolicy.never())
            .recoveryListener(RecoveryListener.none()).clock(() -> 0L);

    private RecoveryTestSupport() {
    }

    /** UTF-8, with {@code hook} run on each decode (given the text decoded). */
    static Codec<String> utf8(Consumer<String> hook) {
        return Codec.of(s -> s.getBytes(StandardCharsets.UTF_8), b -> {
            String s = new String(b, StandardCharsets.UTF_8);
            hook.accept(s);
            return s;
        });
    }

    /**
     * UTF-8, adding to {@code seen}, on each decode, the text decoded and whether each of {@code names} is live or
     * recovered in {@code broker}'s broker then ("d0: a.dlq recovered, a recovered").
     */
    static Codec<String> whereOnDecode(AtomicReference<DurableBroker> broker, List<String> seen, String... names) {
        return utf8(s -> {
            Broker core = broker.get().broker();
            List<String> where = new ArrayList<>();
            for (String n : names) {
                where.add(n + (core.get(n).isPresent() ? " live" : " recovered"));
            }
            seen.add(s + ": " + String.join(", ", where));
        });
    }

    /** The monitors (a map bin's, held by compute) and synchronizers (a queue's lock) this thread holds. */
    static List<String> locksHeld() {
        ThreadInfo t = ManagementFactory.getThreadMXBean()
                .getThreadInfo(new long[] {Thread.currentThread().getId()}, true, true)[0];
        List<String> held = new ArrayList<>();
        for (LockInfo l : t.getLockedMonitors()) {
            held.add("monitor " + l);
        }
        for (LockInfo l : t.getLockedSynchronizers()) {
            held.add("synchronizer " + l);
        }
        return held;
    }
}
