package dev.rill.core.log;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.stream.Stream;

/**
 * A segmented, append-only write-ahead log of {@link LogRecord}s with group commit.
 *
 * <p>Appending: {@link #append(LogRecord)} hands the record to the writer thread through a lock-free
 * multi-producer queue and returns its sequence number at once; it never blocks and never does I/O, so it may be
 * called under a queue's lock. {@link #whenDurable(long)} completes when that record (and every earlier one) is
 * durable under the {@link FsyncPolicy}. One writer thread (a plain platform thread, never a Reactor thread)
 * takes whatever is pending and writes it with one write. A second thread, the syncer, does the fsyncs: under
 * {@link FsyncPolicy#always()} it fsyncs whatever was written since its last fsync (one fsync per group of batches)
 * and only then completes their waiters; under {@link FsyncPolicy#interval(java.time.Duration)} it fsyncs once per
 * interval while the writer goes on writing (waiters complete after the write). So the next batch is encoded and
 * written while the previous one is being fsynced, and neither a fsync nor completion callbacks hold up the writer.
 * Under every policy it also writes behind: once {@value #FLUSH_BEHIND_BYTES} bytes were written since the last
 * fsync, it fsyncs the active segment in the background (confirming nothing under {@code INTERVAL} and
 * {@code NEVER}), so that a segment roll, whose fsync of the outgoing segment holds up the writer, finds little left
 * to write.
 *
 * <p>Files: {@code <dir>/LOCK} (held with {@link FileChannel#tryLock()} while open: a second log on the same
 * directory fails at once) and segment files {@code <dir>/<first seq, 20 digits>.log}; see
 * {@code RecordFormat} for the format; after a recovery that cut a torn tail, {@code <segment>.cut-<UTC time>} with
 * the bytes cut (never read by the log); {@code <segment>.deleted}, a segment compaction dropped, until the log's
 * unlinker thread (or the next open) unlinks it. Each open starts a new segment, which begins with the declarations of
 * every live queue, so older segments can be deleted once every message whose SEND they hold is gone
 * (compaction runs on the writer thread between batches, and while no appends come until nothing is left to do,
 * coming back when a dedup window that holds the oldest segment ends; appends continue meanwhile). A few long-lived
 * messages must not pin the log: when the oldest segment is mostly dead (at most a tenth of its messages live, or
 * at most half, or the segment at most half full, once {@value #RELOCATE_BEHIND} or more closed segments are behind the
 * active one), or, with that many closed segments, the closed segments together hold at most half of their
 * messages live (a mostly-live oldest segment, a backlog nobody drains, must not keep every dead one behind it),
 * its live messages are
 * <em>relocated</em>: a copy of each (a SEND with the same queue and id, then its delivery count and ready time)
 * is written to the active segment (rolled, as by appends, when the copies fill it) and fsynced, after which the
 * old segment holds nothing live and is deleted
 * with every dead segment behind it. The copying is done in slices (at most {@value #BATCH_BYTES} bytes read or
 * copied) between batches of appends, so appends wait for one slice at most, not for the whole run. A crash between the copy and the delete replays both: the copy replaces the
 * original (same id), so nothing is duplicated or lost.
 *
 * <p>Errors: a failed write or fsync (disk full, I/O error) fails the log: every record not yet durable, and
 * every later one, completes exceptionally; nothing is confirmed that is not stored.
 */
public final class SegmentedLog implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(SegmentedLog.class.getName());
    static final String LOCK_FILE = "LOCK";
    static final String SUFFIX = ".log";
    /**
     * A segment compaction has dropped is first renamed to {@code <segment>.deleted} (durable with a directory fsync
     * before the next segment is dropped), then unlinked by the log's unlinker thread; an open removes any left.
     */
    static final String DELETED_SUFFIX = ".deleted";
    /** Closed segments behind the active one from which relocation also takes a half-live oldest segment. */
    static final int RELOCATE_BEHIND = 8;
    /**
     * A relocation attempt that left something live in the oldest segment (a dead letter in transit, a segment that
     * could not be read) is made again after the next roll, or once this many milliseconds have passed on the log's
     * clock, whichever comes first (a quiet log has no roll).
     */
    static final long RELOCATE_RETRY_MILLIS = 60_000;
    /** Most segments relocated with one fsync. */
    static final int RELOCATE_RUN = 16;
    /** Bytes of records framed before they are written out: a batch of appends, or of relocated copies. */
    static final int BATCH_BYTES = 4 << 20;
    /**
     * Write-behind bound: once this many bytes were written since the last fsync of a segment began, the syncer
     * fsyncs the active segment in the background (under every policy; under {@code NEVER} and {@code INTERVAL}
     * that confirms nothing). A roll, which must fsync the outgoing segment on the writer thread before the next one
     * is created, then finds at most about this much of it not yet on disk instead of up to a whole segment.
     */
    static final long FLUSH_BEHIND_BYTES = 4 << 20;

    /** A pending record; {@code next} links the lock-free queue (Vyukov's intrusive MPSC queue). */
    private static final class Node {
        volatile Node next;
        long seq;
        final LogRecord item;

        Node(LogRecord item) {
            this.item = item;
        }
    }

    /**
     * Every fsync the log does, of a segment or a directory, goes through one of these: tests pass their own to see
     * which files and directories were forced, or to fail one. It cannot simulate a power loss.
     */
    @FunctionalInterface
    interface Forcer {
        /** The real one. */
        Forcer FSYNC = (path, channel, metadata) -> channel.force(metadata);

        /**
         * Forces {@code channel} (open on {@code path}) to stable storage.
         *
         * @param path the file or directory
         * @param channel a channel open on it
         * @param metadata whether metadata (a directory's entries, a file's size) must be forced too
         * @throws IOException if the fsync fails
         */
        void force(Path path, FileChannel channel, boolean metadata) throws IOException;
    }

    private final Path dir;
    private final Forcer forcer;
    private final LogOptions options;
    private final FsyncPolicy.Kind policy;
    private final long intervalNanos;
    private final FileChannel lockChannel;
    private final FileLock fileLock;
    private final LiveTracker tracker;
    private final ArrayDeque<LiveTracker.Segment> segments;
    private final RecoveryReport recovery;
    private final Thread writer;
    private final Thread syncer;

    private final AtomicReference<Node> tail;
    private Node head; // writer thread only
    private volatile boolean sleeping;
    private volatile boolean closing;
    private volatile Throwable failure;
    private volatile long durableSeq;
    /** Last sequence number whose record was written to the file (writer thread writes it). */
    private volatile long writtenSeq;
    /** Last sequence number covered by an fsync. */
    private volatile long syncedSeq;
    /** The syncer is parked until woken (the writer wakes it after each batch). */
    private volatile boolean syncerSleeping;
    /** The syncer is parked, until woken or for a while (the writer wakes it for a write-behind fsync). */
    private volatile boolean syncerParked;
    private volatile boolean writerDone;
    /**
     * Guards {@link #channel} and {@link #active} as the syncer sees them, the fsync counters,
     * {@link #syncerForcing} and {@link #handedOver}; held by the writer around a segment roll. The syncer does not
     * hold it while its fsync runs (that may take long): it notes the channel it forces, and a channel is never closed
     * under an fsync: a roll hands such a channel over to the syncer, which closes it when its fsync ends; the writer,
     * when it stops, waits for the fsync to end.
     */
    private final Object syncLock = new Object();
    /** The channel the syncer is forcing outside {@link #syncLock}, or null (guarded by syncLock). */
    private FileChannel syncerForcing;
    /** A rolled-over channel the syncer closes once its fsync of it ends, or null (guarded by syncLock). */
    private FileChannel handedOver;
    /** {@link #bytes} when the last fsync of a segment began: everything written before is on disk. */
    private volatile long syncedBytes;
    /** Compaction waits until the records that emptied a segment are synced (ALWAYS, INTERVAL): writer only. */
    private volatile long compactAfterSeq = -1;
    private final ConcurrentSkipListMap<Long, CompletableFuture<Void>> waiters = new ConcurrentSkipListMap<>();

    // writer thread only, except channel: read by the syncer under syncLock
    private FileChannel channel;
    private LiveTracker.Segment active;
    private final RecordFormat.Out out = new RecordFormat.Out(1 << 16);
    private volatile long lastSyncNanos = System.nanoTime();
    private volatile long records;
    private volatile long batches;
    private volatile long fsyncs;
    private volatile long bytes;
    private volatile long segmentsDeleted;
    private volatile long messagesRelocated;
    private long rolls; // writer thread only
    private volatile int segmentCount;

    private SegmentedLog(Path dir, LogOptions options, Forcer forcer, FileChannel lockChannel, FileLock fileLock,
            LiveTracker tracker, ArrayDeque<LiveTracker.Segment> segments, RecoveryReport recovery, long baseSeq) {
        this.dir = dir;
        this.forcer = forcer;
        this.options = options;
        this.policy = options.fsync().kind();
        this.intervalNanos = options.fsync().interval().toNanos();
        this.lockChannel = lockChannel;
        this.fileLock = fileLock;
        this.tracker = tracker;
        this.segments = segments;
        this.recovery = recovery;
        Node stub = new Node(null);
        stub.seq = baseSeq;
        this.head = stub;
        this.tail = new AtomicReference<>(stub);
        this.durableSeq = baseSeq;
        this.writtenSeq = baseSeq;
        this.syncedSeq = baseSeq;
        this.segmentCount = segments.size();
        this.writer = new Thread(this::run, "rill-log-writer-" + dir.getFileName());
        this.writer.setDaemon(true);
        this.syncer = new Thread(this::runSyncer, "rill-log-syncer-" + dir.getFileName());
        this.syncer.setDaemon(true);
        this.unlinker = new Thread(this::runUnlinker, "rill-log-unlinker-" + dir.getFileName());
        this.unlinker.setDaemon(true);
    }

    /**
     * Opens (or creates) the log in {@code dir}: takes the directory lock, replays every record in order to
     * {@code replay} (on the calling thread, reading each segment a record at a time, telling the options'
     * {@link RecoveryListener} how it goes), cuts off a torn tail (its bytes kept next to the segment, see
     * {@link RecoveryReport.TornTail}), starts a new segment and the writer thread.
     *
     * @param dir the log directory; created if missing (with the directories above it), each created level made
     *     durable with an fsync of the directory holding it
     * @param options the options
     * @param replay receives every recovered record in order, before this method returns
     * @return the open log
     * @throws LogCorruptedException on damage before the tail, a foreign file, or an unknown format version
     * @throws IOException if the directory is locked by another log, is not writable, cannot be read, or an fsync
     *     (of a segment, or of a directory holding it or a level created for it) fails, or the bytes of a torn tail
     *     cannot be kept before it is cut (the segment is then left as it was)
     */
    public static SegmentedLog open(Path dir, LogOptions options, Consumer<? super LogRecord> replay)
            throws IOException {
        return open(dir, options, replay, Forcer.FSYNC);
    }

    /** {@link #open(Path, LogOptions, Consumer)} with every fsync done by {@code forcer}. */
    static SegmentedLog open(Path dir, LogOptions options, Consumer<? super LogRecord> replay, Forcer forcer)
            throws IOException {
        Objects.requireNonNull(dir, "dir");
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(replay, "replay");
        long started = options.nanoClock().getAsLong();
        createDurably(dir, forcer);
        if (!Files.isWritable(dir)) {
            throw new AccessDeniedException(dir.toString(), null, "log directory is not writable");
        }
        FileChannel lockChannel;
        try {
            lockChannel = FileChannel.open(dir.resolve(LOCK_FILE), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new IOException("cannot open lock file " + dir.resolve(LOCK_FILE) + ": " + e, e);
        }
        FileLock lock;
        try {
            lock = lockChannel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) {
            lockChannel.close();
            throw new IOException("log directory " + dir + " is in use by another broker (" + dir.resolve(LOCK_FILE)
                    + " is locked)");
        }
        try {
            removeDeleted(dir);
            LiveTracker tracker = new LiveTracker();
            ArrayDeque<LiveTracker.Segment> segments = new ArrayDeque<>();
            RecoveryReport report = recover(dir, tracker, segments, replay, started, forcer, options);
            // New sequence numbers (and so the new segment's name) go past every segment's name, not only past the
            // last record read: segments whose numbered records were all compacted away may leave only segments
            // that hold declarations and relocated copies (sequence number 0), under names above the last record.
            // Named after the last record, the new segment sorted before them (its records replayed before the
            // copies, so an ack there did not remove its message), or took a leftover's name.
            long base = report.lastSeq();
            LiveTracker.Segment newest = segments.peekLast();
            if (newest != null) {
                base = Math.max(base, Long.parseLong(newest.path.getFileName().toString().substring(0, 20)));
            }
            SegmentedLog log = new SegmentedLog(dir, options, forcer, lockChannel, lock, tracker, segments, report,
                    base);
            log.openSegment(base + 1);
            log.writer.start();
            log.syncer.start();
            log.unlinker.start();
            return log;
        } catch (IOException | RuntimeException e) {
            lock.release();
            lockChannel.close();
            throw e;
        }
    }

    /**
     * Creates {@code dir} and the missing directories above it, and fsyncs the directory that holds each one created,
     * and {@code dir}'s parent in any case (a directory made just before the first start, by hand or by a script,
     * is no more durable than one made here): without it a power loss could take the data directory, and the
     * segments in it with their confirmed records, away. A directory that cannot be opened for an fsync (Windows) is
     * skipped; one whose fsync fails is an I/O error like any other fsync's, and the open fails.
     */
    private static void createDurably(Path dir, Forcer forcer) throws IOException {
        Path parent = dir.toAbsolutePath().getParent();
        List<Path> toSync = new ArrayList<>(); // dir's parent, then the parent of each missing level above, upwards
        for (Path p = parent; p != null; p = Files.isDirectory(p) ? null : p.getParent()) {
            toSync.add(p);
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new IOException("cannot create log directory " + dir + ": " + e, e);
        }
        for (Path d : toSync) {
            try {
                syncDirectory(d, forcer);
            } catch (IOException e) {
                throw new IOException("cannot make log directory " + dir + " durable: " + e.getMessage(), e);
            }
        }
    }

    // =====================================================================================================
    // Recovery
    // =====================================================================================================

    static List<Path> segmentFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> {
                String n = p.getFileName().toString();
                return n.length() == 20 + SUFFIX.length() && n.endsWith(SUFFIX) && n.substring(0, 20).chars()
                        .allMatch(Character::isDigit);
            }).sorted().toList();
        }
    }

    /** Unlinks what a previous run renamed for deletion and did not get to unlink (open, before recovery). */
    private static void removeDeleted(Path dir) throws IOException {
        List<Path> left;
        try (Stream<Path> s = Files.list(dir)) {
            left = s.filter(p -> p.getFileName().toString().endsWith(SUFFIX + DELETED_SUFFIX)).toList();
        }
        for (Path p : left) {
            Files.deleteIfExists(p);
        }
    }

    static String fileName(long firstSeq) {
        return String.format("%020d%s", firstSeq, SUFFIX);
    }

    /** How often recovery reports progress at most: 5 s. */
    static final long PROGRESS_EVERY_NANOS = TimeUnit.SECONDS.toNanos(5);
    /** Within a segment, recovery checks whether to report progress every this many bytes. */
    static final long PROGRESS_STEP_BYTES = 16L << 20;

    /** Recovery's progress calls, paced by the options' clock. */
    private static final class Progress {
        final RecoveryListener listener;
        final LongSupplier nanos;
        final long started;
        final int segments;
        final long bytes;
        long next;

        Progress(RecoveryListener listener, LongSupplier nanos, long started, int segments, long bytes) {
            this.listener = listener;
            this.nanos = nanos;
            this.started = started;
            this.segments = segments;
            this.bytes = bytes;
            this.next = started + PROGRESS_EVERY_NANOS;
        }

        void maybeReport(int segmentsDone, long bytesDone, long records) {
            long now = nanos.getAsLong();
            if (now - next >= 0) {
                next = now + PROGRESS_EVERY_NANOS;
                listener.progress(new RecoveryProgress(segmentsDone, segments, bytesDone, bytes, records,
                        TimeUnit.NANOSECONDS.toMillis(now - started)));
            }
        }
    }

    private static RecoveryReport recover(Path dir, LiveTracker tracker, ArrayDeque<LiveTracker.Segment> segments,
            Consumer<? super LogRecord> replay, long started, Forcer forcer, LogOptions options) throws IOException {
        List<Path> files = segmentFiles(dir);
        long[] sizes = new long[files.size()];
        long total = 0;
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = Files.size(files.get(i));
            total += sizes[i];
        }
        RecoveryListener listener = options.recoveryListener();
        listener.started(dir, files.size(), total);
        Progress progress = new Progress(listener, options.nanoClock(), started, files.size(), total);
        long lastSeq = 0;
        long count = 0;
        long done = 0;
        RecoveryReport.TornTail torn = null;
        RecordFormat.Reader reader = new RecordFormat.Reader();
        for (int i = 0; i < files.size(); i++) {
            Path file = files.get(i);
            boolean last = i == files.size() - 1;
            // Read through a window, a record at a time: a segment is not held whole (it was, with
            // Files.readAllBytes, so one over 2 GiB could not be read back at all: an OutOfMemoryError)
            try (SegmentReader in = new SegmentReader(file, options.readWindow())) {
                long size = in.size();
                if (size < RecordFormat.HEADER_BYTES) {
                    if (!last) {
                        throw new LogCorruptedException(file, 0, "segment header cut short (" + size + " bytes)");
                    }
                    torn = cutUnsynced(in, 0, true, forcer);
                    break;
                }
                ByteBuffer header = in.slice(0, RecordFormat.HEADER_BYTES);
                int magic = header.getInt(0);
                if (magic != RecordFormat.MAGIC && last && neverWritten(in, 0, RecordFormat.HEADER_BYTES)) {
                    // the newest segment's header never reached the disk: nothing in it was ever fsynced (its header
                    // and declarations are fsynced before anything else is written to it)
                    torn = cutUnsynced(in, 0, true, forcer);
                    break;
                }
                if (magic != RecordFormat.MAGIC) {
                    throw new LogCorruptedException(file, 0, "not a Rill log segment (magic 0x"
                            + Integer.toHexString(magic) + ", expected 0x" + Integer.toHexString(RecordFormat.MAGIC)
                            + ")");
                }
                short version = header.getShort(4);
                if (version != RecordFormat.VERSION) {
                    throw new LogCorruptedException(file, 4, "unsupported log format version " + version
                            + "; this build reads version " + RecordFormat.VERSION);
                }
                long firstSeq = header.getLong(8);
                LiveTracker.Segment seg = new LiveTracker.Segment(file, firstSeq);
                long pos = RecordFormat.HEADER_BYTES;
                long nextCheck = pos + PROGRESS_STEP_BYTES;
                while (pos < size) {
                    String problem = null;
                    boolean tornHere = false;
                    int len = 0;
                    if (size - pos < RecordFormat.FRAME_HEADER_BYTES) {
                        problem = "frame header cut short";
                        tornHere = last;
                    } else {
                        len = in.getInt(pos);
                        int check = in.getInt(pos + 4);
                        if ((len ^ RecordFormat.LENGTH_MASK) != check || len < 9 || len > RecordFormat.MAX_BODY) {
                            problem = "bad frame length";
                            tornHere = last && neverWritten(in, pos, pos + RecordFormat.FRAME_HEADER_BYTES);
                        } else if (pos + RecordFormat.FRAME_HEADER_BYTES + len > size) {
                            problem = "frame of " + len + " bytes runs past the end of the file";
                            tornHere = last;
                        }
                    }
                    ByteBuffer body = null;
                    if (problem == null) {
                        int crc = in.getInt(pos + 8);
                        body = in.view(pos + RecordFormat.FRAME_HEADER_BYTES, len);
                        if (!reader.crcOk(body, len, crc)) {
                            problem = "CRC32C mismatch";
                            long end = pos + RecordFormat.FRAME_HEADER_BYTES + len;
                            tornHere = last && (end == size || neverWritten(in, pos, end));
                        }
                    }
                    if (problem != null) {
                        if (!tornHere) {
                            throw new LogCorruptedException(file, pos, problem + " before the end of the log; "
                                    + "refusing to start with a gap in confirmed data");
                        }
                        torn = cutUnsynced(in, pos, false, forcer);
                        size = pos;
                        break;
                    }
                    long seq = body.getLong();
                    LogRecord r;
                    try {
                        r = reader.decode(body);
                    } catch (RuntimeException e) {
                        throw new LogCorruptedException(file, pos, "malformed record with a valid CRC: "
                                + e.getMessage());
                    }
                    if (seq != 0) {
                        if (seq <= lastSeq) {
                            throw new LogCorruptedException(file, pos, "sequence number " + seq + " after " + lastSeq);
                        }
                        lastSeq = seq;
                    }
                    replay.accept(r);
                    tracker.apply(r, seg);
                    count++;
                    pos += RecordFormat.FRAME_HEADER_BYTES + len;
                    if (pos >= nextCheck) {
                        nextCheck = pos + PROGRESS_STEP_BYTES;
                        progress.maybeReport(i, done + pos, count);
                    }
                }
                seg.size = size;
                segments.addLast(seg);
            } finally {
                done += sizes[i];
            }
            if (torn == null) {
                progress.maybeReport(i + 1, done, count);
            }
        }
        LiveTracker.Segment newest = segments.peekLast();
        if (newest != null) {
            // The crash may have left the newest segment's end in the page cache only (a process crash, not a power
            // loss): it was replayed as it is, and this open starts a new segment, so it must be on disk before
            // anything in that one is confirmed. Else a later power loss could leave a hole in what is then an older
            // segment (refused), or lose records this run's confirmed ones build on.
            try (FileChannel ch = FileChannel.open(newest.path, StandardOpenOption.WRITE)) {
                forcer.force(newest.path, ch, true);
            } catch (IOException e) {
                throw new IOException("log fsync of " + newest.path + " failed: " + e, e);
            }
        }
        RecoveryReport report = new RecoveryReport(files.size(), count, lastSeq, Optional.ofNullable(torn),
                TimeUnit.NANOSECONDS.toMillis(options.nanoClock().getAsLong() - started), total, tracker.queues(),
                tracker.liveMessages());
        listener.finished(report);
        return report;
    }

    /** Bytes a file system reads as zeros where a block of the file was allocated but never written. */
    static final int SECTOR = 512;

    /**
     * Whether the damaged bytes {@code [from, to)} of the newest segment show a region that never reached the disk:
     * they overlap an aligned {@value #SECTOR}-byte run of zeros, or the zeros that end the file. After a power loss
     * a file system with delayed allocation can leave blocks of the unsynced part of a file (allocated, never
     * written) reading as zeros, and the blocks after them written: a zero hole followed by records. Other damage (a
     * flipped bit, garbage) is not taken for one.
     */
    static boolean neverWritten(SegmentReader in, long from, long to) throws IOException {
        long size = in.size();
        if (in.zeros(to - 1, size)) {
            return true; // the file's trailing zeros begin inside the damaged bytes
        }
        for (long s = from - from % SECTOR; s < to && s + SECTOR <= size; s += SECTOR) {
            if (in.zeros(s, s + SECTOR)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Cuts the newest segment's unsynced tail off at {@code pos} (the whole file if {@code whole}), reporting how
     * many bytes and how many intact records (written after the damage, never covered by an fsync) went with it. The
     * bytes cut are saved first (see {@link #saveCut}); closes {@code in}.
     */
    private static RecoveryReport.TornTail cutUnsynced(SegmentReader in, long pos, boolean whole, Forcer forcer)
            throws IOException {
        Path file = in.file();
        long size = in.size();
        long[] after = intactFramesAfter(in, pos + 1);
        in.close(); // before the file is moved or truncated
        Path saved = size > pos ? saveCut(file, pos, size, whole, forcer) : null;
        if (whole) {
            if (saved == null) {
                Files.delete(file); // empty: nothing to keep
            }
        } else {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                ch.truncate(pos);
                forcer.force(file, ch, true);
            }
        }
        String what = after[0] == 0 ? "a torn tail" : "an unsynced tail";
        String records = after[0] == 0 ? "" : "; it held " + after[0] + " intact record(s) (sequence numbers up to "
                + after[1] + ") written after a region that never reached the disk (a power loss before their fsync)"
                + ", dropped: no fsync covered them, so none had been confirmed under FsyncPolicy.always()";
        LOG.log(Level.WARNING, "log: cut " + what + " of " + (size - pos) + " bytes off " + file + " at offset " + pos
                + (whole ? " (the whole segment)" : "") + records + (saved == null ? "" : "; the bytes cut are kept in "
                + saved + " (never read by the log; delete it once no longer needed)"));
        return new RecoveryReport.TornTail(file, pos, size - pos, after[0], saved);
    }

    /**
     * Keeps the bytes {@code [pos, size)} of the newest segment, about to be cut, in {@code <segment>.cut-<UTC time>}
     * next to it: moved there whole if {@code whole}, else copied. The copy (or the moved file) and the directory are
     * fsynced before the segment is cut, so the bytes outlive it even after a power loss. The log never reads such a
     * file (its name is not a segment's). If they cannot be kept (disk full), the start is refused with the segment
     * as it was: cutting them anyway would destroy the only copy of what may be fsynced data a disk lost track of.
     */
    static Path saveCut(Path file, long pos, long size, boolean whole, Forcer forcer) throws IOException {
        String stamp = CUT_STAMP.format(java.time.Instant.now());
        Path target = file.resolveSibling(file.getFileName() + ".cut-" + stamp);
        for (int n = 2; Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS); n++) {
            target = file.resolveSibling(file.getFileName() + ".cut-" + stamp + "-" + n);
        }
        try {
            if (whole) {
                Files.move(file, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                try (FileChannel ch = FileChannel.open(target, StandardOpenOption.WRITE)) {
                    forcer.force(target, ch, true);
                }
            } else {
                try (FileChannel src = FileChannel.open(file, StandardOpenOption.READ);
                        FileChannel dst = FileChannel.open(target, StandardOpenOption.CREATE_NEW,
                                StandardOpenOption.WRITE)) {
                    for (long p = pos; p < size; ) {
                        long n = src.transferTo(p, size - p, dst);
                        if (n <= 0) {
                            throw new java.io.EOFException(file + " ended at offset " + p + ", before " + size);
                        }
                        p += n;
                    }
                    forcer.force(target, dst, true);
                } catch (IOException | RuntimeException e) {
                    try {
                        Files.deleteIfExists(target);
                    } catch (IOException suppressed) {
                        e.addSuppressed(suppressed);
                    }
                    throw e;
                }
            }
            syncDirectory(file.getParent(), forcer);
        } catch (IOException e) {
            throw new IOException("log: cannot keep the " + (size - pos) + " bytes about to be cut off " + file
                    + " at offset " + pos + " in " + target + " (" + e.getMessage() + "); the start is refused and "
                    + "the segment left as it was: free disk space (or move the segment away after a look) and start "
                    + "again", e);
        }
        return target;
    }

    private static final java.time.format.DateTimeFormatter CUT_STAMP = java.time.format.DateTimeFormatter
            .ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(java.time.ZoneOffset.UTC);

    /**
     * Counts the intact frames from {@code from} to the end of the file, found by trying every offset and then
     * following lengths: {count, highest sequence number}.
     */
    private static long[] intactFramesAfter(SegmentReader in, long from) throws IOException {
        long size = in.size();
        long count = 0;
        long maxSeq = 0;
        long pos = from;
        while (size - pos >= RecordFormat.FRAME_HEADER_BYTES) {
            int len = in.getInt(pos);
            long bodyAt = pos + RecordFormat.FRAME_HEADER_BYTES;
            if ((len ^ RecordFormat.LENGTH_MASK) == in.getInt(pos + 4) && len >= 9 && len <= RecordFormat.MAX_BODY
                    && len <= size - bodyAt) {
                int crc = in.getInt(pos + 8);
                ByteBuffer body = in.slice(bodyAt, len);
                if (RecordFormat.crcOk(body, 0, len, crc)) {
                    count++;
                    maxSeq = Math.max(maxSeq, body.getLong(0));
                    pos = bodyAt + len;
                    continue;
                }
            }
            pos++;
        }
        return new long[] {count, maxSeq};
    }

    /** @return what recovery found when the log was opened */
    public RecoveryReport recovery() {
        return recovery;
    }

    /** @return the log directory */
    public Path directory() {
        return dir;
    }

    /** @return the options the log was opened with */
    public LogOptions options() {
        return options;
    }

    // =====================================================================================================
    // Appending
    // =====================================================================================================

    /**
     * Hands a record to the writer. Never blocks, never does I/O; safe under a lock.
     *
     * @param record the record
     * @return its sequence number, for {@link #whenDurable(long)}; sequence numbers grow in append order
     */
    public long append(LogRecord record) {
        return enqueue(Objects.requireNonNull(record, "record"));
    }

    /**
     * Appends a record and tells when it is durable.
     *
     * @param record the record
     * @return completes when the record is durable under the policy, or exceptionally if the log failed or closed
     */
    public CompletableFuture<Void> appendAndWait(LogRecord record) {
        return whenDurable(append(record));
    }

    private long enqueue(LogRecord item) {
        Node n = new Node(item);
        Node prev;
        do {
            prev = tail.get();
            n.seq = prev.seq + 1;
        } while (!tail.compareAndSet(prev, n));
        prev.next = n;
        if (sleeping) {
            LockSupport.unpark(writer);
        }
        return n.seq;
    }

    /** @return the sequence number of the last record appended so far */
    public long lastSeq() {
        return tail.get().seq;
    }

    /** @return the highest sequence number durable under the policy */
    public long durableSeq() {
        return durableSeq;
    }

    /**
     * Tells when the record with sequence number {@code seq} and every earlier one are durable under the policy.
     * Never blocks.
     *
     * @param seq a number returned by an append
     * @return a future completed on the writer thread (or at once when already durable); exceptionally with the
     *     log's failure (an {@link IOException}) or with an {@link IllegalStateException} after close
     */
    public CompletableFuture<Void> whenDurable(long seq) {
        if (seq <= durableSeq) {
            return CompletableFuture.completedFuture(null);
        }
        Throwable f = failure;
        if (f != null) {
            return CompletableFuture.failedFuture(f);
        }
        CompletableFuture<Void> w = waiters.computeIfAbsent(seq, k -> new CompletableFuture<>());
        if (seq <= durableSeq || failure != null) {
            completeWaiters();
        }
        return w;
    }


    private void completeWaiters() {
        long d = durableSeq;
        Map.Entry<Long, CompletableFuture<Void>> e;
        while ((e = waiters.firstEntry()) != null && e.getKey() <= d) {
            if (waiters.remove(e.getKey(), e.getValue())) {
                e.getValue().complete(null);
            }
        }
        Throwable f = failure;
        if (f != null) {
            while ((e = waiters.pollFirstEntry()) != null) {
                e.getValue().completeExceptionally(f);
            }
        }
    }

    /** @return counters since open */
    public LogStats stats() {
        return new LogStats(records, batches, fsyncs, bytes, segmentCount, segmentsDeleted, messagesRelocated,
                durableSeq);
    }

    // =====================================================================================================
    // Writer thread
    // =====================================================================================================

    private void run() {
        try {
            while (true) {
                boolean stop = closing;
                Throwable f = failure;
                if (f != null) {
                    abandonRelocation();
                    discardPending();
                    if (stop) {
                        return;
                    }
                    park(0);
                    continue;
                }
                long last = encodePending();
                if (last < 0) {
                    if (stop) {
                        finish();
                        return;
                    }
                    if (!maybeCompact()) {
                        idle();
                    }
                    continue;
                }
                writeOut();
                writtenSeq = last;
                if (policy == FsyncPolicy.Kind.ALWAYS) {
                    if (syncerSleeping) {
                        LockSupport.unpark(syncer); // it fsyncs this batch (and whatever follows meanwhile)
                    }
                } else {
                    if (syncerSleeping) {
                        LockSupport.unpark(syncer); // INTERVAL: starts the interval's clock
                    }
                    raiseDurable(last);
                    completeWaiters();
                }
                maybeCompact();
            }
        } catch (Throwable t) {
            fail(t);
        } finally {
            abandonRelocation(); // closed, or failed: nothing of the run is deleted
            writerDone = true;
            LockSupport.unpark(syncer);
            synchronized (syncLock) {
                try {
                    if (channel != null) {
                        awaitSyncerForce();
                        channel.close();
                    }
                } catch (IOException e) {
                    LOG.log(Level.WARNING, "log: closing " + active.path + " failed", e);
                }
                channel = null;
            }
        }
    }

    /** On close: fsyncs whatever was written since the last fsync and confirms it. */
    private void finish() throws IOException {
        long target = writtenSeq;
        synchronized (syncLock) {
            if (target > syncedSeq || bytes > syncedBytes) { // bytes: relocated copies carry no sequence number
                forceLocked(target);
            }
        }
        raiseDurable(target);
        completeWaiters();
    }

    /**
     * The syncer thread. Under ALWAYS: while the writer writes the next batch, fsyncs everything written so far,
     * then confirms it. Under INTERVAL: fsyncs what was written, once per interval. Under every policy
     * (write-behind): fsyncs the active segment as soon as {@value #FLUSH_BEHIND_BYTES} bytes or more were written
     * since the last fsync began, so that a roll's fsync on the writer thread finds little left to write; under
     * NEVER and INTERVAL that confirms nothing (appends were confirmed after their write). The writer never waits
     * for it, except to close the channel it forces (a roll, or the writer stopping).
     */
    private void runSyncer() {
        try {
            while (failure == null) {
                boolean behind = bytes - syncedBytes >= FLUSH_BEHIND_BYTES;
                if (!behind && (policy == FsyncPolicy.Kind.NEVER || writtenSeq <= syncedSeq)) {
                    if (writerDone) {
                        return;
                    }
                    parkSyncer(0);
                    continue;
                }
                if (policy == FsyncPolicy.Kind.INTERVAL && !behind) {
                    long wait = lastSyncNanos + intervalNanos - System.nanoTime();
                    if (wait > 0) {
                        if (writerDone) {
                            return;
                        }
                        parkSyncer(wait);
                        continue;
                    }
                }
                long target = forceActive();
                if (target < 0) {
                    return; // the writer stopped (and did the last fsync)
                }
                if (policy == FsyncPolicy.Kind.ALWAYS) {
                    raiseDurable(target);
                    completeWaiters();
                }
                if (compactAfterSeq >= 0) {
                    LockSupport.unpark(writer); // a compaction waits for this fsync
                }
            }
        } catch (Throwable t) {
            fail(t);
        }
    }

    /**
     * Syncer: fsyncs the active segment without holding {@link #syncLock} while the fsync runs (the writer may need
     * it meanwhile for a roll, whose own fsync of the same channel may run alongside), and marks the channel as
     * being forced so that the writer does not close it under the fsync.
     *
     * @return the last sequence number the fsync covered, or -1 if the writer has closed the last channel
     */
    private long forceActive() throws IOException {
        FileChannel ch;
        Path path;
        long target;
        long from;
        synchronized (syncLock) {
            if (channel == null) {
                return -1;
            }
            ch = channel;
            path = active.path;
            target = writtenSeq; // everything up to it is in this channel or in a segment synced on roll
            from = bytes; // likewise every byte counted so far
            syncerForcing = ch;
        }
        try {
            forcer.force(path, ch, false);
        } catch (IOException e) {
            throw new IOException("log fsync of " + path + " failed: " + e, e);
        } finally {
            synchronized (syncLock) {
                syncerForcing = null;
                if (handedOver == ch) {
                    handedOver = null;
                    closeQuietly(ch, path); // rolled over during the fsync (and fsynced by the roll itself)
                }
                syncLock.notifyAll();
            }
        }
        synchronized (syncLock) {
            synced(target, from);
        }
        return target;
    }

    private static void closeQuietly(FileChannel ch, Path path) {
        try {
            ch.close();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "log: closing " + path + " failed", e);
        }
    }

    /** Writer, under {@link #syncLock}, before closing {@link #channel} when it stops: waits for the syncer's fsync. */
    private void awaitSyncerForce() {
        boolean interrupted = false;
        while (syncerForcing != null) {
            try {
                syncLock.wait();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Parks the syncer until the writer wakes it (or {@code nanos} pass, if positive), unless there is something to
     * do already.
     */
    private void parkSyncer(long nanos) {
        syncerParked = true;
        syncerSleeping = nanos <= 0; // the writer wakes it per batch only from an untimed park
        try {
            boolean idle = bytes - syncedBytes < FLUSH_BEHIND_BYTES
                    && (nanos > 0 || policy == FsyncPolicy.Kind.NEVER || writtenSeq <= syncedSeq);
            if (idle && !writerDone && failure == null) {
                if (nanos > 0) {
                    LockSupport.parkNanos(this, nanos);
                } else {
                    LockSupport.park(this);
                }
            }
        } finally {
            syncerSleeping = false;
            syncerParked = false;
        }
    }

    private void raiseDurable(long seq) {
        synchronized (syncedSeqLock) {
            if (seq > durableSeq) {
                durableSeq = seq;
            }
        }
    }

    private final Object syncedSeqLock = new Object();

    /**
     * The clock time (millis) at which what alone kept the last compaction pass from a step is over (the oldest
     * segment's dedup window, or the wait before a failed relocation is tried again: deletion and relocation go from
     * the oldest), or 0 (writer thread only).
     */
    private long heldUntil;

    /**
     * The writer, with nothing to write and no compaction step to take: parks until an append (or the syncer's
     * fsync a compaction waits for, or close) wakes it, and, when a dedup window kept the oldest segment, no longer
     * than until the window ends on the log's clock ({@link LogOptions.Timer}); likewise when a failed relocation
     * attempt waits for its retry time ({@link #retryLater}). Before, it waited for the next append (or roll): a log
     * that got none kept that segment, and every one behind it, for as long as it got none.
     */
    private void idle() {
        long until = heldUntil;
        if (until == 0) {
            park(0);
            return;
        }
        long now = options.clock().getAsLong();
        if (until <= now) {
            return; // over already: the next pass takes the step
        }
        if (until == wakeScheduled) {
            park(0); // the timer wakes the writer then: not asked again (each ask would be one more pending wake-up)
            return;
        }
        wakeScheduled = until; // before the ask: the wake-up may come at once, on another thread
        long nanos = options.timer().wakeAt(until, now, this::timerWake);
        if (nanos > 0) {
            wakeScheduled = 0; // a timed park: asked again after every wake-up
        }
        park(Math.max(0, nanos));
    }

    /**
     * The clock time for which the {@link LogOptions.Timer} took a wake-up (it returned 0) that has not come yet, or 0:
     * a timer on a scheduler is asked once per time, not after every append that wakes the writer meanwhile. Its
     * wake-up clears it, so that one that came early (a clock short of the time) is asked for again.
     */
    private volatile long wakeScheduled;

    private void timerWake() {
        wakeScheduled = 0;
        LockSupport.unpark(writer);
    }

    private void park(long nanos) {
        sleeping = true;
        try {
            if (head.next == null && !closing) {
                if (nanos > 0) {
                    LockSupport.parkNanos(this, nanos);
                } else {
                    LockSupport.park(this);
                }
            }
        } finally {
            sleeping = false;
        }
    }

    /** Takes the next pending node, or null when none is (fully) linked yet. */
    private Node poll() {
        Node n = head.next;
        if (n == null) {
            if (tail.get() == head) {
                return null;
            }
            while ((n = head.next) == null) {
                Thread.onSpinWait(); // a producer is between its CAS and its link: nanoseconds
            }
        }
        head = n;
        return n;
    }

    private void discardPending() {
        while (poll() != null) {
            // dropped: every waiter is failed by fail()
        }
        completeWaiters();
    }

    /** Encodes every pending record into the buffer (rolling segments as needed); returns the last seq or -1. */
    private long encodePending() throws IOException {
        long last = -1;
        Node n;
        int count = 0;
        // Bounded in bytes too: each batch is framed into one array, which 100,000 large records would take past
        // what an array holds (failing the log), and far beyond what one write needs
        while (count < 100_000 && out.pos < BATCH_BYTES && (n = poll()) != null) {
            LogRecord r = n.item;
            // What a segment starts with (the declarations and the next ids of deleted names) does not count towards
            // its size: where that alone outgrew a segment, every batch rolled, rewriting it each time.
            if (activeFull()) {
                rollBefore(n.seq);
            }
            int framed = out.frame(n.seq, r);
            if (framed - RecordFormat.FRAME_HEADER_BYTES > RecordFormat.MAX_BODY) {
                // never written: recovery would take it for damage and refuse to open the log
                throw new IOException("log record " + n.seq + " (" + r + ") takes " + (framed
                        - RecordFormat.FRAME_HEADER_BYTES) + " bytes, more than the " + RecordFormat.MAX_BODY
                        + " a record may hold; not written, and the log stops so that nothing after it is confirmed");
            }
            tracker.apply(r, active);
            count++;
            last = n.seq;
        }
        records += count;
        return last;
    }

    private long firstRecordOffset;

    /**
     * Rolls the active segment before the record {@code nextSeq} (an append's, or the next one to come when a
     * relocation's copies filled the segment): every earlier record is written. The next segment is named after that
     * record, or past the active one's name when that is not below it: a segment that holds no numbered record (only
     * declarations and relocated copies, which carry none: an open's, or one a relocation rolled to) may be named
     * after the record that came next, and the next segment cannot take its very name. So a name is past every
     * earlier segment's, and the records appended to a segment may be numbered below its name, which recovery allows
     * (it checks that numbers grow across the segments in name order; an open numbers past every name). Before, an
     * append did not roll such a segment at all, however large, as the next one would have taken its name.
     */
    private void rollBefore(long nextSeq) throws IOException {
        roll(Math.max(nextSeq, active.firstSeq + 1), nextSeq - 1);
    }

    /**
     * Writes out what is framed, fsyncs the active segment and starts the next one, named {@code name}, with every
     * record up to {@code written} written before it (and so confirmed under ALWAYS by the fsync).
     */
    private void roll(long name, long written) throws IOException {
        synchronized (syncLock) {
            writeOut();
            writtenSeq = written;
            // With the syncer's write-behind this has at most about FLUSH_BEHIND_BYTES left to write, not the
            // whole segment. It must be done before the next segment exists: only the newest segment may have a
            // part that no fsync covered (recovery cuts a torn tail there and nowhere else).
            forceLocked(written);
            if (syncerForcing == channel) {
                handedOver = channel; // the syncer closes it when its own fsync of it ends: no wait for it here
            } else {
                channel.close();
            }
            channel = null; // if the next one cannot be created, the syncer finds none
            openSegment(name);
        }
        if (policy == FsyncPolicy.Kind.ALWAYS) {
            raiseDurable(written);
            completeWaiters();
        }
    }

    /** Whether the active segment is full once what is framed is written, declarations not counted. */
    private boolean activeFull() {
        return active.size + out.pos - firstRecordOffset > options.segmentBytes();
    }

    /** Creates a segment starting at {@code firstSeq} and writes its header and the live declarations. */
    private void openSegment(long firstSeq) throws IOException {
        Path file = dir.resolve(fileName(firstSeq));
        // never an existing file: an earlier segment that holds no numbered record may still hold relocated copies
        try {
            channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new IOException("cannot create log segment " + file + ": " + e, e);
        }
        active = new LiveTracker.Segment(file, firstSeq);
        segments.addLast(active);
        rolls++;
        segmentCount = segments.size();
        ByteBuffer h = RecordFormat.header(firstSeq);
        writeFully(h);
        active.size = RecordFormat.HEADER_BYTES;
        for (LogRecord r : tracker.snapshot()) {
            out.frame(0, r);
            tracker.apply(r, active);
        }
        firstRecordOffset = RecordFormat.HEADER_BYTES + out.pos;
        writeOut();
        synchronized (syncLock) {
            forceLocked(syncedSeq);
        }
        syncDirectory();
    }

    private void writeOut() throws IOException {
        if (out.pos == 0) {
            return;
        }
        writeFully(ByteBuffer.wrap(out.buf, 0, out.pos));
        active.size += out.pos;
        bytes += out.pos;
        batches++;
        out.reset();
        if (out.buf.length > (8 << 20)) {
            out.buf = new byte[1 << 16]; // one huge batch must not pin its buffer forever
        }
        if (syncerParked && bytes - syncedBytes >= FLUSH_BEHIND_BYTES) {
            LockSupport.unpark(syncer); // write-behind: it fsyncs in the background; nothing here waits for it
        }
    }

    private void writeFully(ByteBuffer b) throws IOException {
        try {
            while (b.hasRemaining()) {
                channel.write(b);
            }
        } catch (IOException e) {
            throw new IOException("log write to " + active.path + " failed (disk full or I/O error?): " + e, e);
        }
    }

    /** fsyncs the active segment; the caller (writer) holds {@link #syncLock} and wrote every record up to target. */
    private void forceLocked(long target) throws IOException {
        long from = bytes;
        try {
            forcer.force(active.path, channel, false);
        } catch (IOException e) {
            throw new IOException("log fsync of " + active.path + " failed: " + e, e);
        }
        synced(target, from);
    }

    /** Counts an fsync that covered every record up to {@code target} and {@code from} bytes; under syncLock. */
    private void synced(long target, long from) {
        fsyncs++;
        lastSyncNanos = System.nanoTime();
        if (target > syncedSeq) {
            syncedSeq = target;
        }
        if (from > syncedBytes) {
            syncedBytes = from;
        }
    }

    /**
     * fsyncs the directory, so that segment files created and deleted so far stay so after a power loss. Where a
     * directory cannot be opened for it (Windows), a no-op after the first attempt. A directory that opens but
     * fails its fsync is an I/O error like any other fsync's: it is thrown, not hidden.
     */
    private void syncDirectory() throws IOException {
        if (!dirSyncSupported) {
            return;
        }
        if (syncDirectory(dir, forcer)) {
            dirSyncs++;
        } else {
            dirSyncSupported = false;
        }
    }

    /** fsyncs {@code d}; false (logged) if it cannot be opened for that; throws if the fsync fails. */
    private static boolean syncDirectory(Path d, Forcer forcer) throws IOException {
        FileChannel ch;
        try {
            ch = FileChannel.open(d, StandardOpenOption.READ);
        } catch (IOException | UnsupportedOperationException e) {
            LOG.log(Level.DEBUG, "log: directory fsync not supported for " + d + " (" + e + "); skipped");
            return false;
        }
        try (ch) {
            forcer.force(d, ch, true);
        } catch (IOException e) {
            throw new IOException("fsync of directory " + d + " failed: " + e, e);
        }
        return true;
    }

    private boolean dirSyncSupported = true; // writer thread (and open, before it starts)
    /** Directory fsyncs done, for tests. */
    volatile long dirSyncs;

    /**
     * Compacts once the records that emptied the oldest segment are durable: under ALWAYS and INTERVAL only after
     * they were fsynced (a machine crash must not leave the sends deleted but their acks lost), under NEVER after
     * the write; or starts a relocation, or advances the one in progress by a slice.
     *
     * @return whether it did a step (a slice, which may have ended the run, or a segment deleted): the writer must
     *     come back without waiting for appends, for the step may have left the next one to take (the rest of the
     *     run; a relocatable segment uncovered). When it parked after a compaction or a finished run, a log that got
     *     no more appends kept that segment, and every one behind it, until the next append, if any came.
     */
    private boolean maybeCompact() {
        heldUntil = 0;
        if (relocation != null) {
            relocateSlice();
            return true;
        }
        LiveTracker.Segment s = segments.peekFirst();
        if (s == null || s == active) {
            compactAfterSeq = -1;
            return false;
        }
        if (s.live != 0) {
            compactAfterSeq = -1;
            if (relocatable(s)) {
                relocateOldest();
                return true;
            }
            return false;
        }
        if (policy == FsyncPolicy.Kind.NEVER) {
            return compact();
        }
        if (compactAfterSeq < 0) {
            compactAfterSeq = writtenSeq;
        }
        if (syncedSeq >= compactAfterSeq) {
            compactAfterSeq = -1;
            return compact();
        }
        return false;
    }

    /**
     * Tests: {@link LiveTracker#recount} over the log's segments. Only where the writer is not running at the same
     * time: on the writer thread (a relocation hook), or once the log is closed.
     *
     * @return null when the kept counts are exact, else what differs
     */
    String recountLive() {
        return tracker.recount(segments);
    }

    /**
     * An attempt to relocate {@code s} left something live in it: the next one waits for a roll (the log growing), or
     * for {@value #RELOCATE_RETRY_MILLIS} ms on the log's clock, which a quiet log, without rolls, needs.
     */
    private void retryLater(LiveTracker.Segment s) {
        s.relocateAfterRoll = rolls + 1;
        s.relocateAfterMillis = options.clock().getAsLong() + RELOCATE_RETRY_MILLIS;
    }

    /** Whether the oldest segment {@code s} (live, not active) is worth relocating now. */
    private boolean relocatable(LiveTracker.Segment s) {
        if (s.relocateAfterRoll > rolls && s.relocateAfterMillis > options.clock().getAsLong()) {
            heldUntil = s.relocateAfterMillis; // an attempt left something live in it: the writer comes back then
            return false;
        }
        int behind = segments.size() - 1;
        boolean mostlyDead = s.live * 10 <= s.sends;
        boolean halfDeadFarBehind = behind >= RELOCATE_BEHIND && s.live * 2 <= s.sends;
        // A segment closed early (a restart; an open that relocated into its new segment and stopped) may hold
        // nothing but live copies: no ratio ever made it worth relocating, and it kept every segment behind it.
        // Copying it costs at most half a segment.
        boolean smallFarBehind = behind >= RELOCATE_BEHIND && s.size * 2 <= options.segmentBytes();
        // Segments go from the head only: a mostly-live oldest segment (a backlog nobody drains) kept every dead
        // segment behind it, disk growing with the traffic. So the head is also taken when the closed segments as a
        // whole are at least half dead: a pass copies at most as much as it frees, and each copy goes behind every
        // segment the head must pass before it meets the copy again (all deleted by then).
        boolean logMostlyDead = behind >= RELOCATE_BEHIND
                && (tracker.liveTotal() - active.live) * 2 <= tracker.sendsTotal() - active.sends;
        if (behind < 2 || !(mostlyDead || halfDeadFarBehind || smallFarBehind || logMostlyDead)) {
            return false;
        }
        // an open dedup window of one of its (dead or live) messages keeps the segment, and the copies carry none
        if (s.keepUntil <= 0 || s.keepUntil <= options.clock().getAsLong()) {
            return true;
        }
        heldUntil = s.keepUntil; // the writer comes back when it ends
        return false;
    }

    /**
     * A relocation in progress (writer thread only): the oldest segments it may take (up to {@value #RELOCATE_RUN},
     * the active one excluded, fixed when it starts), the one being read and where. Each writer pass, after the
     * pending appends, advances it by one slice ({@link #relocateSlice}); once every segment of the run is read, one
     * fsync makes the copies durable and the old segments are deleted ({@link #finishRelocation}).
     */
    private static final class Relocation {
        final List<LiveTracker.Segment> run;
        int next; // index in run of the next segment to start
        LiveTracker.Segment current; // being read, or null
        SegmentReader in; // open on current
        long pos;
        long size;
        int slices;

        Relocation(List<LiveTracker.Segment> run) {
            this.run = run;
        }

        void closeReader() {
            if (in != null) {
                try {
                    in.close();
                } catch (IOException | RuntimeException e) {
                    LOG.log(Level.DEBUG, "log: closing " + current.path + " after relocating from it failed", e);
                }
                in = null;
                current = null;
            }
        }
    }

    /** The relocation in progress, or null (writer thread only). */
    private Relocation relocation;
    /** Checks and decodes what relocation reads (writer thread only). */
    private final RecordFormat.Reader relocationReader = new RecordFormat.Reader();

    /**
     * Starts relocating the oldest segments (a run of up to {@value #RELOCATE_RUN} relocatable or dead ones) and
     * does its first slice. The copies are written into the active segment (rolled when they fill it) a slice at a
     * time between batches of
     * appends, so appends are never held up by more than one slice: it read the whole run (up to 16 segments of
     * 64 MiB with the default size, seconds of work) while every append waited.
     */
    private void relocateOldest() {
        List<LiveTracker.Segment> run = new ArrayList<>(RELOCATE_RUN);
        for (LiveTracker.Segment s : segments) {
            if (s == active || run.size() == RELOCATE_RUN) {
                break;
            }
            run.add(s);
        }
        relocation = new Relocation(run);
        relocateSlice();
    }

    /** Framing or writing relocated copies failed: the log fails, unlike a segment that cannot be read. */
    private static final class CopyWriteFailed extends RuntimeException {
        private static final long serialVersionUID = 1L;

        CopyWriteFailed(Exception cause) {
            super(cause);
        }
    }

    /**
     * Advances the relocation in progress by one slice: reads records of the run's segments until about
     * {@code sliceBytes} were read or framed as copies (at least one record), frames a copy of each message whose
     * SEND it reads and that is live in that segment at that moment (one acked since the relocation started is not
     * copied; one copied is from then on live in the copy's segment, where a later ack finds it), and writes the
     * copies out. When the copies fill the active segment, the slice ends after that message's copies, and the
     * segment is rolled in the next pass ({@link #rollBefore}), by the appends waiting or at the start of the next
     * slice, not back to back with this one: the roll fsyncs the full one, so every segment with copies of the run is
     * on disk, and the new one's entry in the directory, when the run's last fsync is done. Every record's frame and CRC
     * are checked; only those SENDs are decoded, every other record is passed over by its type (a SEND by its queue
     * and id). A segment left with nothing live is not read further. A segment that is not relocatable when its
     * turn comes, or whose file cannot be read (logged), ends the run before it; copies framed before such a failure
     * stay: each replaces its original, which no longer counts as live, and they are fsynced before anything is
     * deleted. Once the run is read, {@link #finishRelocation}. A failed write of copies fails the log.
     */
    private void relocateSlice() {
        Relocation r = relocation;
        int budget = options.relocation().sliceBytes();
        long read = 0;
        List<LogRecord> copies = new ArrayList<>();
        boolean done = false;
        long moved = 0;
        try {
            if (activeFull()) {
                // filled by the last slice's copies (or by appends, whose roll waits for their next batch): copies go
                // on in the next segment, as appends do; the roll fsyncs the outgoing one, so every segment with
                // copies of the run is on disk when the run is deleted
                rollBefore(writtenSeq + 1);
            }
            while (read < budget && out.pos < budget) {
                if (r.in == null) {
                    if (!startNext(r)) {
                        done = true;
                        break;
                    }
                    continue;
                }
                if (r.pos >= r.size || r.current.live == 0) {
                    r.closeReader(); // read, or nothing live left in the rest of it
                    continue;
                }
                LiveTracker.Segment s = r.current;
                long pos = r.pos;
                LogRecord.Send send;
                long end;
                try {
                    long bodyAt = pos + RecordFormat.FRAME_HEADER_BYTES;
                    int len = bodyAt > r.size ? 0 : r.in.getInt(pos);
                    if (len < 9 || len > RecordFormat.MAX_BODY
                            || (len ^ RecordFormat.LENGTH_MASK) != r.in.getInt(pos + 4) || bodyAt + len > r.size) {
                        throw new LogCorruptedException(s.path, pos, "damaged frame found while relocating");
                    }
                    int crc = r.in.getInt(pos + 8);
                    ByteBuffer body = r.in.view(bodyAt, len);
                    if (!relocationReader.crcOk(body, len, crc)) {
                        throw new LogCorruptedException(s.path, pos, "damaged frame found while relocating");
                    }
                    send = null;
                    byte type = RecordFormat.typeOf(body);
                    if (type == RecordFormat.SEND) {
                        // only the SEND of a message live here is decoded (a copy of its payload and headers):
                        // most of a segment worth relocating is dead
                        if (tracker.copiesAny(relocationReader.sendQueue(body), RecordFormat.sendId(body), s)) {
                            send = (LogRecord.Send) relocationReader.decode(body.position(body.position() + 8));
                        }
                    } else if (type < RecordFormat.DECLARE || type > RecordFormat.PURGE) {
                        throw new LogCorruptedException(s.path, pos, "unknown record type " + type
                                + " found while relocating");
                    }
                    end = bodyAt + len;
                } catch (IOException | RuntimeException e) {
                    LOG.log(Level.WARNING, "log: could not relocate the live messages of " + s.path + "; it stays",
                            e);
                    retryLater(s);
                    r.closeReader();
                    done = true; // the run ends before it
                    break;
                }
                read += end - pos;
                r.pos = end;
                if (send != null) {
                    tracker.copiesOf(send, s, copies);
                    try {
                        for (LogRecord c : copies) {
                            out.frame(0, c);
                            tracker.apply(c, active);
                            if (c instanceof LogRecord.Send) {
                                moved++;
                            }
                        }
                    } catch (RuntimeException e) {
                        throw new CopyWriteFailed(e); // the buffer may hold part of a copy
                    }
                    copies.clear();
                    if (activeFull()) {
                        // the copies filled the segment (a message's SEND, DELIVERED and NACK stay together): the
                        // slice ends, and the next pass rolls it after the appends waiting, instead of holding them
                        // for this slice and a roll back to back
                        break;
                    }
                }
            }
            writeOut();
        } catch (IOException | CopyWriteFailed e) {
            messagesRelocated += moved;
            Throwable c = e instanceof CopyWriteFailed ? e.getCause() : e;
            abandonRelocation();
            fail(c instanceof IOException ? c : new IOException("log: writing relocated copies failed: " + c, c));
            return;
        }
        messagesRelocated += moved;
        r.slices++;
        options.relocation().afterSlice().accept(r.slices);
        if (done) {
            finishRelocation();
        }
    }

    /**
     * Opens the next segment of the run for reading: false once the run is over (every segment taken, or the next
     * one live and not relocatable). A dead one is passed over (it is deleted with the run).
     */
    private boolean startNext(Relocation r) {
        while (r.next < r.run.size()) {
            LiveTracker.Segment s = r.run.get(r.next);
            if (s.live == 0) {
                r.next++;
                continue;
            }
            if (!relocatable(s)) {
                return false;
            }
            r.next++;
            SegmentReader in;
            try {
                in = new SegmentReader(s.path, options.readWindow());
                r.size = in.size();
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "log: could not relocate the live messages of " + s.path + "; it stays", e);
                retryLater(s);
                return false;
            }
            r.in = in;
            r.current = s;
            r.pos = RecordFormat.HEADER_BYTES;
            return true;
        }
        return false;
    }

    /**
     * Ends the relocation whose run is read: fsyncs the copies (under every policy, NEVER included: the originals
     * are deleted next, and they may have been on disk for long; under NEVER, copies left to the OS's write-back
     * with the delete made durable first lost long-confirmed messages on a machine crash), then deletes the old
     * segments, oldest first.
     */
    private void finishRelocation() {
        relocation.closeReader();
        relocation = null;
        try {
            synchronized (syncLock) {
                forceLocked(syncedSeq); // the copies (and everything written before them) are on disk
            }
        } catch (IOException e) {
            fail(e);
            return;
        }
        LiveTracker.Segment first = segments.peekFirst();
        if (first != null && first != active && first.live != 0) {
            LOG.log(Level.WARNING, "log: " + first.live + " live message(s) of " + first.path + " could not be "
                    + "relocated (a dead-letter move in progress?); trying again after the next segment or in "
                    + RELOCATE_RETRY_MILLIS / 1000 + " s");
            retryLater(first);
        }
        compact();
    }

    /**
     * Drops the relocation in progress (close, failure): its reader is closed and nothing is deleted. The copies
     * written so far stay where they are: each replaces its original on replay (same id), and the originals are
     * all still there.
     */
    private void abandonRelocation() {
        if (relocation != null) {
            relocation.closeReader();
            relocation = null;
        }
    }

    /**
     * Deletes the oldest segments while nothing live remains in them.
     *
     * @return whether it deleted one or more and stopped only at a segment that holds something live (or the active
     *     one): false when nothing was deleted, and after a failed directory fsync, after which no more may go in this
     *     pass
     */
    private boolean compact() {
        long now = -1;
        boolean deletedAny = false;
        LiveTracker.Segment s;
        while ((s = segments.peekFirst()) != null && s != active && s.live == 0) {
            if (s.keepUntil > 0) {
                if (now < 0) {
                    now = options.clock().getAsLong();
                }
                if (s.keepUntil > now) {
                    heldUntil = s.keepUntil; // dedup window still open for one of its messages: the writer comes back
                    return false;
                }
            }
            // A rename, not the unlink itself: unlinking a large segment took the writer (and every append waiting
            // for it) ~80 ms per 64 MiB segment, several hundred at worst (freeing its blocks and page cache). The
            // rename drops the segment from the log as durably (recovery reads no such name); the unlinker thread
            // frees it afterwards.
            Path deleted = s.path.resolveSibling(s.path.getFileName() + DELETED_SUFFIX);
            try {
                Files.move(s.path, deleted, StandardCopyOption.ATOMIC_MOVE);
            } catch (NoSuchFileException e) {
                deleted = null; // gone already
            } catch (IOException e) {
                LOG.log(Level.WARNING, "log: compaction could not delete " + s.path, e);
                return false;
            }
            // Each removal is made durable before the next, so a power loss leaves the oldest segments deleted and
            // the rest intact, never an older segment back without a later one (its SENDs replayed without the
            // ACKs that the later one held: acked messages back).
            try {
                syncDirectory();
            } catch (IOException e) {
                // not known to be durable: deleting more could leave an older segment back without this one
                LOG.log(Level.WARNING, "log: directory fsync failed after deleting " + s.path
                        + "; compaction stops until the next pass", e);
                segments.pollFirst();
                tracker.dropped(s);
                segmentsDeleted++;
                segmentCount = segments.size();
                if (deleted != null) {
                    toUnlink.add(deleted);
                }
                return false;
            }
            segments.pollFirst();
            tracker.dropped(s);
            segmentsDeleted++;
            segmentCount = segments.size();
            if (deleted != null) {
                toUnlink.add(deleted);
            }
            deletedAny = true;
        }
        return deletedAny;
    }

    /** Segments renamed for deletion, for the unlinker; {@link #NO_MORE} ends it. */
    private final LinkedBlockingQueue<Path> toUnlink = new LinkedBlockingQueue<>();
    private static final Path NO_MORE = Path.of("");
    private final Thread unlinker;

    /** The unlinker thread: unlinks each segment compaction renamed, until the log is closed. */
    private void runUnlinker() {
        while (true) {
            Path p;
            try {
                p = toUnlink.take();
            } catch (InterruptedException e) {
                return; // a leftover is removed by the next open
            }
            if (p == NO_MORE) {
                return;
            }
            try {
                Files.deleteIfExists(p);
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "log: could not remove " + p + " (compacted away; the next open tries again)", e);
            }
        }
    }

    private void fail(Throwable t) {
        if (failure == null) {
            failure = t instanceof IOException ? t : new IOException("log writer failed: " + t, t);
            LOG.log(Level.ERROR, "log " + dir + " failed; nothing more will be confirmed", t);
        }
        if (Thread.currentThread() == writer) {
            discardPendingQuietly();
        } else {
            LockSupport.unpark(writer); // it drops what is pending
        }
        completeWaiters();
    }

    private void discardPendingQuietly() {
        try {
            discardPending();
        } catch (RuntimeException e) {
            // nothing to add
        }
    }

    /** @return the failure that stopped the log, if any */
    public Optional<Throwable> failure() {
        return Optional.ofNullable(failure);
    }

    /**
     * Writes and syncs everything appended so far, stops the writer and releases the directory lock. Appends
     * made after close never become durable (their futures fail). Blocks until done: do not call from a Reactor
     * thread. A close() called while another one runs returns once that one has finished.
     */
    @Override
    public void close() throws IOException {
        // One close at a time: a second close() that returned at once (it found closing set) reported the log
        // closed while the first was still syncing it and holding the directory's lock.
        synchronized (closeLock) {
            closeLocked();
        }
    }

    private final Object closeLock = new Object();

    private void closeLocked() throws IOException {
        if (closing) {
            return;
        }
        closing = true;
        LockSupport.unpark(writer);
        try {
            writer.join();
            syncer.join();
            toUnlink.add(NO_MORE); // after the writer: it renames no more
            unlinker.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (failure == null) {
            failure = new IllegalStateException("log " + dir + " is closed");
        }
        completeWaiters();
        try {
            fileLock.release();
        } finally {
            lockChannel.close();
        }
    }

    @Override
    public String toString() {
        return "SegmentedLog{" + dir + ", " + options.fsync() + "}";
    }
}
