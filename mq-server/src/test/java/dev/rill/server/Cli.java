package dev.rill.server;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/** Runs the command line in process with captured output, as a user would from a shell that is not a terminal. */
final class Cli {

    /** What a run printed and returned. */
    record Result(int code, String out, String err) {
        @Override
        public String toString() {
            return "exit " + code + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    private Cli() {
    }

    static Result run(String... args) {
        return run(InputStream.nullInputStream(), p -> { }, args);
    }

    static Result runWithInput(String stdin, String... args) {
        return runWithInput(stdin.getBytes(StandardCharsets.UTF_8), args);
    }

    static Result runWithInput(byte[] stdin, String... args) {
        return run(new ByteArrayInputStream(stdin), p -> { }, args);
    }

    static Result run(InputStream in, Consumer<ServerProcess> onServerStarted, String... args) {
        return run(in, new StringWriter(), onServerStarted, args);
    }

    /**
     * Runs with standard output going to {@code out}; the result's {@code out} is its {@code toString()}.
     */
    static Result run(InputStream in, Writer out, Consumer<ServerProcess> onServerStarted, String... args) {
        StringWriter err = new StringWriter();
        RillCli root = new RillCli(in, false, false, onServerStarted);
        int code = root.commandLine(new PrintWriter(out, true), new PrintWriter(err, true)).execute(args);
        return new Result(code, out.toString(), err.toString());
    }

    /** Standard output that breaks after its first line, as a pipe into {@code head -1} does. */
    static final class BrokenAfterOneLine extends Writer {
        private final StringBuilder written = new StringBuilder();
        private boolean broken;

        @Override
        public void write(char[] chars, int offset, int length) throws IOException {
            if (broken) {
                throw new IOException("Broken pipe");
            }
            written.append(chars, offset, length);
            broken = written.indexOf("\n") >= 0;
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }

        @Override
        public String toString() {
            return written.toString();
        }
    }
}
