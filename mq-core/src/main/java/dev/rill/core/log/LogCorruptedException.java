package dev.rill.core.log;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The log cannot be read: damage before the tail, a file that is not a segment, or a format version this build
 * does not read. The broker refuses to start rather than open with a silent gap in confirmed data.
 */
public final class LogCorruptedException extends IOException {

    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final long offset;

    /**
     * @param file the segment file
     * @param offset the byte offset in the file where the problem starts
     * @param problem what is wrong
     */
    public LogCorruptedException(Path file, long offset, String problem) {
        super("log segment " + file + " at offset " + offset + ": " + problem);
        this.file = file;
        this.offset = offset;
    }

    /** @return the segment file */
    public Path file() {
        return file;
    }

    /** @return the byte offset where the problem starts */
    public long offset() {
        return offset;
    }
}
