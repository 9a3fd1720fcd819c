package dev.rill.server;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The lines of {@code rill send}'s standard input, one message each: UTF-8 text, lines ended by LF or CRLF.
 *
 * <p>Input that is not UTF-8 text is an error naming the line, not text with U+FFFD where the bytes were (a binary
 * file was sent as messages that no longer held its bytes). Each line is decoded on its own, so the lines before a bad
 * one are all read (and sent) and none after it.
 */
final class InputLines {

    private final InputStream in;
    private final byte[] buffer = new byte[64 * 1024];
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
    private int position;
    private int limit;
    private long number;

    /**
     * The longest line read: no server accepts a larger message ({@code --max-frame-size} is at most 256 MiB). A file
     * without line breaks ({@code rill send q < image.bin}, {@code < /dev/zero}) was read whole into memory, to an
     * OutOfMemoryError and its stack trace.
     */
    static final int MAX_LINE_BYTES = 256 << 20;

    private final int maxLineBytes;

    /**
     * @param in the input; not closed here
     */
    InputLines(InputStream in) {
        this(in, MAX_LINE_BYTES);
    }

    /**
     * @param in the input; not closed here
     * @param maxLineBytes the longest line accepted (a longer one is a usage error)
     */
    InputLines(InputStream in, int maxLineBytes) {
        this.in = in;
        this.maxLineBytes = maxLineBytes;
    }

    /**
     * Reads the next line.
     *
     * @return the line without its terminator, or null at the end of the input
     * @throws CliException (exit code 2) when the line is not UTF-8 text, (exit code 1) when the input cannot be read
     */
    String next() {
        line.reset();
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
                        return null;
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
            if (line.size() + (end - position) > maxLineBytes + 1L) { // + 1: a CR before the LF
                throw new CliException(ExitCodes.USAGE, "line " + (number + 1) + " of standard input is longer than "
                        + maxLineBytes + " bytes, more than any server accepts in a message (binary input? rill send"
                        + " sends text, one message per line)");
            }
            line.write(buffer, position, end - position);
            if (end < limit) {
                position = end + 1;
                break;
            }
            position = limit;
        }
        number++;
        byte[] bytes = line.toByteArray();
        int length = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
        try {
            return utf8.decode(ByteBuffer.wrap(bytes, 0, length)).toString();
        } catch (CharacterCodingException e) {
            throw new CliException(ExitCodes.USAGE, "line " + number + " of standard input is not UTF-8 text (rill"
                    + " send sends text, one message per line)");
        }
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
