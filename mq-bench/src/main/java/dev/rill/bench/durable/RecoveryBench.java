package dev.rill.bench.durable;

import dev.rill.core.Codec;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.DurableBroker;
import dev.rill.core.Lease;
import dev.rill.core.MessageQueue;
import dev.rill.core.OutboundMessage;
import dev.rill.core.QueueSpec;
import dev.rill.core.log.FsyncPolicy;
import dev.rill.core.log.RecoveryReport;
import java.io.IOException;
import com.sun.management.GarbageCollectionNotificationInfo;
import com.sun.management.GcInfo;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.MemoryUsage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import javax.management.NotificationEmitter;
import javax.management.NotificationListener;
import javax.management.openmbean.CompositeData;

/**
 * How fast a durable broker starts on a log it has to replay: fills a data directory, closes the broker, then times
 * {@code opens} opens of it in this JVM (the first one cold, as a start is).
 *
 * <p>Fill: one {@link DurableBroker} ({@code FsyncPolicy.never()}: the fill is not what is measured; close syncs it),
 * two unbounded queues of {@code byte[]}: every {@code ackEvery}-th message goes to {@code work}, which a consumer
 * drains (receive and ack, so the log holds DELIVERED and ACK records and segments become partly dead), the others
 * to {@code backlog}, which nobody reads (the live messages the start brings back). Compaction and relocation run
 * during the fill as in production, so the log is what a broker with a backlog leaves.
 *
 * <p>Each open reports: {@code open} (DurableBroker.open: the log's replay, with the broker's own replay of each
 * record), {@code declare} (declaring both queues again: rebuilding them from what was replayed), replay MB/s (log
 * bytes over open time) and records/s, the CPU time they took ({@code cpu}: the opening thread's, for open and
 * declare; {@code jvm cpu}: the whole JVM's meanwhile, with the garbage collector and the JIT compiler: on a shared
 * machine these say more than wall time), and the heap: what the opening thread allocated while opening and declaring,
 * the most heap in use after any garbage collection meanwhile (what the start needed at once, garbage excluded; above
 * a full GC's baseline before the open), and what stays after a GC once the queues are declared.
 *
 * <p>Usage: {@code RecoveryBench <dataDirParent> [messages=1000000] [payloadBytes=100] [ackEvery=2] [opens=3]}.
 * The parent must be on the disk to measure (a tmpfs makes reads free); the page cache is not dropped, so the opens
 * after the fill read from memory, as a restart of a broker whose log fits in RAM does.
 */
public final class RecoveryBench {

    private RecoveryBench() {
    }

    /**
     * @param args see the class comment
     * @throws Exception on I/O errors
     */
    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            throw new IllegalArgumentException("usage: RecoveryBench <dataDirParent> [messages] [payloadBytes] "
                    + "[ackEvery] [opens]");
        }
        Path parent = Files.createDirectories(Path.of(args[0]));
        int messages = intArg(args, 1, 1_000_000);
        int payloadBytes = intArg(args, 2, 100);
        int ackEvery = intArg(args, 3, 2);
        int opens = intArg(args, 4, 3);
        Path dir = Files.createTempDirectory(parent, "rill-recovery-bench-");
        try {
            DurabilityOptions opts = DurabilityOptions.defaults().fsync(FsyncPolicy.never());
            long t0 = System.nanoTime();
            long live = fill(dir, opts, messages, payloadBytes, ackEvery);
            long fillMs = (System.nanoTime() - t0) / 1_000_000;
            long logBytes = 0;
            int files = 0;
            try (Stream<Path> s = Files.list(dir)) {
                for (Path p : s.filter(p -> p.getFileName().toString().endsWith(".log")).toList()) {
                    logBytes += Files.size(p);
                    files++;
                }
            }
            System.out.printf("setup: %,d messages x %d B, 1 in %d acked, %,d live; log %d segment(s), %.1f MiB "
                    + "(filled in %,d ms); Java %s, %d cpus, max heap %d MiB, dir %s%n", messages, payloadBytes,
                    ackEvery, live, files, logBytes / 1048576.0, fillMs, System.getProperty("java.version"),
                    Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() >> 20, dir);
            System.out.printf("%-5s %9s %9s %11s %12s %10s %9s %11s %12s %10s %8s %9s%n", "open", "records",
                    "open ms", "replay MB/s", "records/s", "declare ms", "start ms", "alloc MiB", "peak GC MiB",
                    "kept MiB", "cpu ms", "jvm cpu");
            for (int i = 1; i <= opens; i++) {
                open(i, dir, opts, logBytes, live);
            }
        } finally {
            delete(dir);
        }
    }

    private static int intArg(String[] args, int index, int otherwise) {
        return index < args.length ? Integer.parseInt(args[index]) : otherwise;
    }

    private static long fill(Path dir, DurabilityOptions opts, int messages, int payloadBytes, int ackEvery)
            throws IOException {
        byte[] payload = new byte[payloadBytes];
        long live = 0;
        try (DurableBroker b = DurableBroker.open(dir, opts)) {
            MessageQueue<byte[]> work = b.declare(QueueSpec.named("work").unbounded(), Codec.bytes());
            MessageQueue<byte[]> backlog = b.declare(QueueSpec.named("backlog").unbounded(), Codec.bytes());
            long now = System.currentTimeMillis();
            for (int i = 0; i < messages; i++) {
                if (ackEvery > 0 && i % ackEvery == 0) {
                    work.send(OutboundMessage.of(payload), now);
                } else {
                    backlog.send(OutboundMessage.of(payload), now);
                    live++;
                }
                if (i % 1000 == 999) {
                    drain(work, now);
                    // the writer keeps up: a fill far ahead of it only grows the heap
                    b.whenDurable(b.lastSeq()).join();
                }
            }
            drain(work, now);
            b.whenDurable(b.lastSeq()).join();
        }
        return live;
    }

    private static void drain(MessageQueue<byte[]> q, long now) {
        List<Lease<byte[]>> got;
        while (!(got = q.receive(1000, now)).isEmpty()) {
            List<dev.rill.core.ReceiptHandle> handles = new ArrayList<>(got.size());
            for (Lease<byte[]> l : got) {
                handles.add(l.handle());
            }
            q.ackAll(handles, now);
        }
    }

    private static void open(int n, Path dir, DurabilityOptions opts, long logBytes, long live) throws Exception {
        MemoryMXBean mem = ManagementFactory.getMemoryMXBean();
        System.gc();
        long base = mem.getHeapMemoryUsage().getUsed();
        AtomicLong peak = new AtomicLong(base);
        AtomicBoolean sampling = new AtomicBoolean(true);
        NotificationListener afterGc = (notification, handback) -> {
            if (sampling.get() && notification.getType().equals(
                    GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION)) {
                GcInfo info = GarbageCollectionNotificationInfo.from((CompositeData) notification.getUserData())
                        .getGcInfo();
                long used = 0;
                for (MemoryUsage u : info.getMemoryUsageAfterGc().values()) {
                    used += u.getUsed();
                }
                peak.accumulateAndGet(used, Math::max);
            }
        };
        List<NotificationEmitter> emitters = new ArrayList<>();
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            if (gc instanceof NotificationEmitter e) {
                e.addNotificationListener(afterGc, null, null);
                emitters.add(e);
            }
        }
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean)
                ManagementFactory.getOperatingSystemMXBean();
        long allocated0 = threads.getCurrentThreadAllocatedBytes();
        long cpu0 = threads.getCurrentThreadCpuTime();
        long jvmCpu0 = os.getProcessCpuTime();
        long t0 = System.nanoTime();
        DurableBroker b = DurableBroker.open(dir, opts);
        long t1 = System.nanoTime();
        try {
            MessageQueue<byte[]> work = b.declare(QueueSpec.named("work").unbounded(), Codec.bytes());
            MessageQueue<byte[]> backlog = b.declare(QueueSpec.named("backlog").unbounded(), Codec.bytes());
            long t2 = System.nanoTime();
            long cpu = threads.getCurrentThreadCpuTime() - cpu0;
            long jvmCpu = os.getProcessCpuTime() - jvmCpu0;
            long allocated = threads.getCurrentThreadAllocatedBytes() - allocated0;
            if (backlog.size() != live || work.size() != 0) {
                throw new IllegalStateException("recovered " + backlog.size() + " backlog and " + work.size()
                        + " work messages, expected " + live + " and 0");
            }
            RecoveryReport r = b.recovery();
            System.gc();
            long kept = mem.getHeapMemoryUsage().getUsed();
            sampling.set(false);
            for (NotificationEmitter e : emitters) {
                e.removeNotificationListener(afterGc);
            }
            double openS = (t1 - t0) / 1e9;
            System.out.printf("%-5d %,9d %,9d %11.1f %,12.0f %,10d %,9d %,11.0f %,12.1f %,10.1f %,8d %,9d%n", n,
                    r.records(), (t1 - t0) / 1_000_000, logBytes / 1e6 / openS, r.records() / openS,
                    (t2 - t1) / 1_000_000, (t2 - t0) / 1_000_000, allocated / 1048576.0,
                    (peak.get() - base) / 1048576.0, (kept - base) / 1048576.0, cpu / 1_000_000, jvmCpu / 1_000_000);
        } finally {
            b.close();
        }
    }

    private static void delete(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
