package dev.rill.core.log;

import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.Locale;

/** The lines of {@link RecoveryListener#lines} and the listeners {@link RecoveryListener} offers. */
final class RecoveryText {

    static final RecoveryListener NONE = new RecoveryListener() {
    };

    private static final System.Logger LOG = System.getLogger(SegmentedLog.class.getName());

    static final RecoveryListener LOGGING = new RecoveryListener() {
        @Override
        public void started(Path dir, int segments, long bytes) {
            if (segments > 0) {
                LOG.log(level(bytes), () -> "log: " + RecoveryText.started(dir, segments, bytes));
            }
        }

        @Override
        public void progress(RecoveryProgress p) {
            LOG.log(level(p.bytes()), () -> "log: " + RecoveryText.progress(p));
        }

        @Override
        public void finished(RecoveryReport r) {
            if (r.segments() > 0) {
                LOG.log(level(r.bytes()), () -> "log: " + RecoveryText.finished(r));
            }
        }

        @Override
        public void rebuildProgress(RebuildProgress p) {
            LOG.log(rebuildLevel(p), () -> "log: " + RecoveryText.rebuildProgress(p));
        }

        @Override
        public void rebuilt(RebuildProgress p) {
            LOG.log(rebuildLevel(p), () -> "log: " + RecoveryText.rebuilt(p));
        }

        private Level rebuildLevel(RebuildProgress p) {
            return p.messages() >= REBUILD_INFO_MESSAGES ? Level.INFO : Level.DEBUG;
        }

        private Level level(long bytes) {
            return bytes >= LogOptions.DEFAULT_SEGMENT_BYTES ? Level.INFO : Level.DEBUG;
        }
    };

    /** A rebuild of at least this many messages is logged at INFO (it may take noticeable time), else at DEBUG. */
    static final long REBUILD_INFO_MESSAGES = 100_000;

    private RecoveryText() {
    }

    static String rebuildProgress(RebuildProgress p) {
        if (p.queuesDone() == 0 && p.messagesDone() == 0) { // the start (a call within the first queue has some)
            return "rebuilding " + count(p.queues(), "queue") + ", " + count(p.messages(), "message");
        }
        return String.format(Locale.ROOT, "rebuilt %d/%d queues, %,d/%,d messages", p.queuesDone(), p.queues(),
                p.messagesDone(), p.messages());
    }

    static String rebuilt(RebuildProgress p) {
        return "rebuilt " + count(p.queuesDone(), "queue") + ", " + count(p.messagesDone(), "message") + " in "
                + String.format(Locale.ROOT, "%.1f s", p.millis() / 1000.0);
    }

    static String started(Path dir, int segments, long bytes) {
        return "recovering " + count(segments, "segment") + ", " + mib(bytes) + " MiB in " + dir;
    }

    static String progress(RecoveryProgress p) {
        return String.format(Locale.ROOT, "recovered %d/%d segments, %s/%s MiB, %s%s", p.segmentsDone(),
                p.segments(), mib(p.bytesDone()), mib(p.bytes()), count(p.records(), "record"),
                rate(p.bytesDone(), p.millis()));
    }

    static String finished(RecoveryReport r) {
        StringBuilder b = new StringBuilder("recovered ").append(count(r.records(), "record")).append(" from ")
                .append(count(r.segments(), "segment")).append(" (").append(mib(r.bytes())).append(" MiB) in ")
                .append(String.format(Locale.ROOT, "%.1f s", r.millis() / 1000.0)).append(rate(r.bytes(), r.millis()))
                .append(": ").append(count(r.queues(), "queue")).append(", ")
                .append(count(r.liveMessages(), "live message"));
        r.tornTail().ifPresent(t -> b.append("; cut ").append(t.droppedBytes()).append(" bytes of an unsynced tail off ")
                .append(t.file()).append(t.savedTo() == null ? "" : " (saved to " + t.savedTo() + ")"));
        return b.toString();
    }

    private static String count(long n, String what) {
        return String.format(Locale.ROOT, "%,d %s%s", n, what, n == 1 ? "" : "s");
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f", bytes / 1048576.0);
    }

    /** " (X MB/s)", or nothing when no time has passed. */
    private static String rate(long bytes, long millis) {
        return millis <= 0 ? "" : String.format(Locale.ROOT, " (%.1f MB/s)", bytes / 1000.0 / millis);
    }
}
