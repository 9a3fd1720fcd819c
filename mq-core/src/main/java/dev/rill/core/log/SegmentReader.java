package dev.rill.core.log;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Reads a segment file through a window of a fixed size instead of holding it whole: recovery and relocation read
 * frame by frame, so neither the size of a segment (a long, unbounded by array limits) nor its memory depends on
 * the segment, only on the window and the largest record. Reads at any position; sequential reads refill the window
 * from the position asked for. Not thread-safe.
 */
final class SegmentReader implements AutoCloseable {

    /** The default window: 1 MiB. */
    static final int WINDOW = 1 << 20;

    private final Path file;
    private final FileChannel channel;
    private final long size;
    private final ByteBuffer window;
    /** {@link #view}'s buffer: the window's array, with a position and limit of its own. */
    private final ByteBuffer view;
    /** The file position of the window's byte 0; the window holds {@code [start, start + window.limit())}. */
    private long start;

    SegmentReader(Path file, int windowBytes) throws IOException {
        this.file = file;
        this.channel = FileChannel.open(file, StandardOpenOption.READ);
        try {
            this.size = channel.size();
        } catch (IOException e) {
            channel.close();
            throw e;
        }
        this.window = ByteBuffer.allocate(windowBytes);
        this.window.limit(0);
        this.view = ByteBuffer.wrap(window.array());
    }

    /** @return the file's size when it was opened */
    long size() {
        return size;
    }

    /** @return the file */
    Path file() {
        return file;
    }

    /**
     * The bytes {@code [pos, pos + n)} of the file as a buffer of its own position and limit (0 and {@code n}),
     * backed by an array (the window's, valid until the next read, or a new one for more than a window). The caller
     * checked that they lie within the file.
     */
    ByteBuffer slice(long pos, int n) throws IOException {
        if (n > window.capacity()) {
            ByteBuffer b = ByteBuffer.allocate(n);
            readFully(b, pos);
            b.flip();
            return b;
        }
        cover(pos, n);
        return window.slice((int) (pos - start), n);
    }

    /**
     * {@link #slice} without a new buffer per call: the bytes {@code [pos, pos + n)} as the position and limit of one
     * buffer over the window's array, the same on every call (valid until the next call or read; a new one for more
     * than a window). For recovery, which reads millions of records one after another.
     */
    ByteBuffer view(long pos, int n) throws IOException {
        if (n > window.capacity()) {
            return slice(pos, n);
        }
        cover(pos, n);
        int off = (int) (pos - start);
        view.limit(off + n).position(off);
        return view;
    }

    /** The byte at {@code pos}, within the file. */
    byte get(long pos) throws IOException {
        cover(pos, 1);
        return window.get((int) (pos - start));
    }

    /** The big-endian int at {@code pos}, within the file. */
    int getInt(long pos) throws IOException {
        cover(pos, 4);
        return window.getInt((int) (pos - start));
    }

    /** The big-endian long at {@code pos}, within the file. */
    long getLong(long pos) throws IOException {
        cover(pos, 8);
        return window.getLong((int) (pos - start));
    }

    /** Whether every byte of {@code [from, to)} is zero. */
    boolean zeros(long from, long to) throws IOException {
        long p = from;
        while (p < to) {
            int n = (int) Math.min(window.capacity(), to - p);
            cover(p, n);
            int off = (int) (p - start);
            for (int i = off; i < off + n; i++) {
                if (window.get(i) != 0) {
                    return false;
                }
            }
            p += n;
        }
        return true;
    }

    /** Makes the window hold {@code [pos, pos + n)} ({@code n} at most its capacity), reading from {@code pos}. */
    private void cover(long pos, int n) throws IOException {
        if (pos >= start && pos + n <= start + window.limit()) {
            return;
        }
        window.clear();
        window.limit((int) Math.min(window.capacity(), size - pos));
        readFully(window, pos);
        window.flip();
        start = pos;
        if (window.limit() < n) {
            throw new EOFException(file + ": " + n + " bytes at offset " + pos + " are past its end (" + size + ")");
        }
    }

    private void readFully(ByteBuffer b, long pos) throws IOException {
        long p = pos;
        while (b.hasRemaining()) {
            int r = channel.read(b, p);
            if (r < 0) {
                throw new EOFException(file + " ended at offset " + p + ", before the " + size + " bytes it had when "
                        + "opened");
            }
            p += r;
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
