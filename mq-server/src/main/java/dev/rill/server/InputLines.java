package dev.rill.server;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;

/**
 * The lines of {@code rill send}'s standard input, one message each: UTF-8 text, lines ended by LF or CRLF.
 *
 * <p>Input that is not UTF-8 text is an error naming the line, not text with U+FFFD where the bytes were (a binary
 * file was sent as messages that no longer held its bytes). Each line is decoded on its own, so the lines before a bad
 * one are all read (and sent) and none after it.
 *
 * <p>A line is handed on as its bytes ({@link #next()}), checked to be UTF-8 without decoding them into a copy: a
 * {@code String} of it took two bytes a character as soon as one was beyond U+00FF, and the message made of it
 * encoded the line back into a third copy. {@code --format json} reads the bytes too ({@link JsonReader}): a line at
 * the limit holding one such character ran {@code -Xmx32m} out of memory as a {@code String}.
 *
 * <p>Memory: a line is at most {@link #maxLineBytes(long)} bytes, a sixteenth of the heap (at most 256 MiB), and the
 * lines read but not answered yet ({@link #answered()}) hold at most that many bytes together: the next line is handed
 * on only once the answers made room for it (the client sends up to 256 messages ahead). With the limit at 256 MiB
 * whatever the heap, {@code -Xmx256m} ran out of memory on a 48 MiB line, and on ten lines of 30 MiB read ahead.
 */
final class InputLines {

    /** The longest line whatever the heap: no server accepts a larger message ({@code --max-frame-size}). */
    static final int MAX_LINE_BYTES = 256 << 20;

    /** A line buffer grown above this is dropped once its line is read, not kept for the lines after it. */
    private static final int KEPT_BUFFER_BYTES = 1 << 20;

    private final InputStream in;
    private final byte[] buffer = new byte[64 * 1024];
    private byte[] line = new byte[8 * 1024];
    private int length;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
    private final CharBuffer discard = CharBuffer.allocate(8 * 1024);
    private int position;
    private int limit;
    private long number;

    private final int maxLineBytes;
    private final long heapBytes;
    /** Bytes of the lines handed on and not answered yet, oldest first; guarded by {@code this}. */
    private final ArrayDeque<Integer> unanswered = new ArrayDeque<>();
    private long unansweredBytes;
    private boolean closed;

    /**
     * Reads with the limit of this JVM's heap ({@link #maxLineBytes(long)} of {@link Runtime#maxMemory()}).
     *
     * @param in the input; not closed here
     */
    InputLines(InputStream in) {
        this(in, Runtime.getRuntime().maxMemory());
    }

    /**
     * @param in the input; not closed here
     * @param heapBytes the heap the limit is derived from ({@link #maxLineBytes(long)})
     */
    InputLines(InputStream in, long heapBytes) {
        this.in = in;
        this.heapBytes = heapBytes;
        this.maxLineBytes = maxLineBytes(heapBytes);
    }

    /**
     * The longest line a JVM with this heap reads: a sixteenth of it, at most {@link #MAX_LINE_BYTES}. A line is held
     * in the read buffer (up to one and a half times its length as the buffer grows) and as the bytes handed on, which
     * are the message's payload ({@code {n}} replaced makes one more copy, of a line that holds it), and the lines
     * waiting for their answers hold as much again; the heap's regions fragment under objects this large. An eighth
     * ran out of memory under {@code -Xmx32m} on lines at the limit when a line was also held as a {@code String}; a
     * sixteenth sends them, whatever their characters, from {@code -Xmx32m} on. {@code -Xmx256m}: 16 MiB; from
     * {@code -Xmx4g} on: 256 MiB.
     *
     * @param heapBytes the heap, {@link Runtime#maxMemory()} ({@code Long.MAX_VALUE} when unbounded)
     * @return the limit in bytes, at least 1
     */
    static int maxLineBytes(long heapBytes) {
        return (int) Math.max(1, Math.min(MAX_LINE_BYTES, heapBytes / 16));
    }

    /** @return the longest line read, in bytes */
    int maxLineBytes() {
        return maxLineBytes;
    }

    /**
     * Reads the next line, once the lines before it that are not answered yet leave room for it.
     *
     * @return the line's bytes without its terminator (UTF-8 text), or null at the end of the input (or once
     *     {@link #close()}d)
     * @throws CliException (exit code 2) when the line is not UTF-8 text or longer than {@link #maxLineBytes()},
     *     (exit code 1) when the input cannot be read
     */
    byte[] next() {
        int bytes = read();
        if (bytes < 0 || !waitForRoom(bytes)) {
            return null;
        }
        byte[] text;
        if (bytes == line.length) {
            text = line; // handed on as it is: no copy
            line = new byte[8 * 1024];
        } else {
            text = Arrays.copyOf(line, bytes);
        }
        dropLargeBuffer();
        return text;
    }

    /**
     * Reads a line into {@link #line} and checks it.
     *
     * @return its length without its terminator, or -1 at the end of the input
     */
    private int read() {
        length = 0;
        boolean any = false;
        while (true) {
            if (position == limit) {
                int n;
                try {
                    n = in.read(buffer);
                } catch (IOException e) {
                    throw new CliException(ExitCodes.FAILED, "cannot read standard input after line " + number + ": "
                            + e.getMessage(), e);
                }
                if (n < 0) {
                    if (!any) {
                        return -1;
                    }
                    break; // a last line without a terminator
                }
                position = 0;
                limit = n;
                continue;
            }
            any = true;
            int end = position;
            while (end < limit && buffer[end] != '\n') {
                end++;
            }
            append(end - position);
            if (end < limit) {
                position = end + 1;
                break;
            }
            position = limit;
        }
        int bytes = length > 0 && line[length - 1] == '\r' ? length - 1 : length;
        if (bytes > maxLineBytes) {
            throw tooLong(); // the byte allowed for a CR was not one
        }
        number++;
        checkUtf8(bytes);
        return bytes;
    }

    /** A line buffer grown for a long line is not kept for the lines after it. */
    private void dropLargeBuffer() {
        if (line.length > KEPT_BUFFER_BYTES) {
            line = new byte[8 * 1024];
        }
    }

    /** Copies {@code n} bytes of the buffer at {@code position} to the line, growing it up to the limit. */
    private void append(int n) {
        if (length + (long) n > maxLineBytes + 1L) { // + 1: a CR before the LF
            throw tooLong();
        }
        if (length + n > line.length) {
            line = Arrays.copyOf(line, (int) Math.min(maxLineBytes + 1L,
                    Math.max(length + (long) n, 2L * line.length)));
        }
        System.arraycopy(buffer, position, line, length, n);
        length += n;
    }

    private CliException tooLong() {
        String limitText = maxLineBytes + " bytes (" + size(maxLineBytes) + ")";
        String why = maxLineBytes == MAX_LINE_BYTES ? ", more than any server accepts in a message"
                : ", the longest message this JVM's heap (" + size(heapBytes) + ", -Xmx) holds safely: a"
                        + " larger heap takes longer lines (JAVA_OPTS=-Xmx4g: up to 256 MiB)";
        return new CliException(ExitCodes.USAGE, "line " + (number + 1) + " of standard input is longer than "
                + limitText + why + " (binary input? rill send sends text, one message per line)");
    }

    /** Checks the line is UTF-8, decoding it through a small buffer: no second copy of it. */
    private void checkUtf8(int bytes) {
        ByteBuffer src = ByteBuffer.wrap(line, 0, bytes);
        utf8.reset();
        CoderResult r;
        do {
            discard.clear();
            r = utf8.decode(src, discard, true);
            if (r.isError()) {
                throw new CliException(ExitCodes.USAGE, "line " + number + " of standard input is not UTF-8 text"
                        + " (rill send sends text, one message per line)");
            }
        } while (r.isOverflow());
        do {
            discard.clear();
        } while (utf8.flush(discard).isOverflow());
    }

    /** @return a size as {@link SizeConverter#format} writes it, e.g. {@code 512 KiB}, {@code 32 MiB}, {@code 1.5 MiB} */
    static String size(long bytes) {
        return SizeConverter.format(bytes);
    }

    /**
     * Counts a line as handed on, waiting first while the lines not answered yet leave no room for it.
     *
     * @return false when {@link #close()}d while waiting
     */
    private synchronized boolean waitForRoom(int bytes) {
        boolean interrupted = false;
        try {
            while (!closed && unansweredBytes > 0 && unansweredBytes + bytes > maxLineBytes) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    interrupted = true; // a cancelled read (boundedElastic): end, as close() does
                    closed = true;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        if (closed) {
            return false;
        }
        unanswered.add(bytes);
        unansweredBytes += bytes;
        return true;
    }

    /**
     * Tells that the oldest line handed on and not answered yet was answered (answers come in order): the room it
     * held goes to the next lines. Never blocks (called on the connection's thread).
     */
    synchronized void answered() {
        Integer bytes = unanswered.poll();
        if (bytes != null) {
            unansweredBytes -= bytes;
            notifyAll();
        }
    }

    /** Ends a wait for room: {@link #next()} returns null. Never blocks. */
    synchronized void close() {
        closed = true;
        notifyAll();
    }

    /**
     * Whether this JVM's standard input was closed when it started ({@code rill send <&-}): file descriptor 0 is then
     * one of the JVM's own files, opened at start (on Linux its {@code lib/modules}), which {@code rill send} read and
     * sent as messages until the queue was full. Known on Linux only (through {@code /proc}); false elsewhere.
     *
     * @return whether standard input is one of the JVM's own files
     */
    static boolean closedAtStart() {
        Path fd0 = Path.of("/proc/self/fd/0");
        try {
            if (!Files.isSymbolicLink(fd0)) {
                return false;
            }
            Path target = Files.readSymbolicLink(fd0);
            if (!target.isAbsolute()) {
                return false; // pipe:[...], socket:[...]
            }
            if (target.startsWith(Path.of(System.getProperty("java.home")).toRealPath())) {
                return true;
            }
            for (String entry : System.getProperty("java.class.path", "").split(File.pathSeparator)) {
                Path p = Path.of(entry);
                if (!entry.isEmpty() && Files.exists(p) && target.equals(p.toRealPath())) {
                    return true;
                }
            }
            return false;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }
}
