package dev.rill.server;

import java.io.PrintWriter;

/**
 * A live progress line: rewritten in place with a carriage return on a terminal; elsewhere (a pipe, a log file, a
 * test) printed as a new line at most every {@code lineEveryMillis}.
 */
final class ProgressLine {

    private final PrintWriter out;
    private final boolean tty;
    private final long lineEveryNanos;
    private long lastLine = Long.MIN_VALUE;
    private int lastWidth;
    private boolean pending;

    /**
     * Creates a progress line.
     *
     * @param out where to print
     * @param tty whether {@code out} is a terminal
     * @param lineEveryMillis the least time between two lines when not on a terminal
     */
    ProgressLine(PrintWriter out, boolean tty, long lineEveryMillis) {
        this.out = out;
        this.tty = tty;
        this.lineEveryNanos = lineEveryMillis * 1_000_000L;
    }

    /**
     * Shows {@code text} as the current progress.
     *
     * @param text one line, no line break
     */
    void update(String text) {
        if (tty) {
            int pad = Math.max(0, lastWidth - text.length());
            out.print("\r" + text + " ".repeat(pad));
            out.flush();
            lastWidth = text.length();
            pending = true;
            return;
        }
        long now = System.nanoTime();
        if (lastLine == Long.MIN_VALUE || now - lastLine >= lineEveryNanos) {
            lastLine = now;
            out.println(text);
            out.flush();
        }
    }

    /**
     * Shows the final progress (always printed, also off a terminal, where lines are otherwise rate-limited) and
     * ends the line.
     *
     * @param text one line, no line break
     */
    void finish(String text) {
        if (tty) {
            update(text);
        } else {
            out.println(text);
            out.flush();
        }
        finish();
    }

    /** Ends the progress line, so what follows starts on a line of its own. */
    void finish() {
        if (tty && pending) {
            out.println();
            out.flush();
            pending = false;
        }
    }
}
