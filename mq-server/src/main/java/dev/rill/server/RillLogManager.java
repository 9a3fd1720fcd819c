package dev.rill.server;

import java.util.logging.LogManager;

/**
 * The java.util.logging manager of the {@code rill} process ({@link RillCli#main}): the JDK's, except that it is not
 * reset when the JVM begins to shut down. The JDK's manager resets itself (removes and closes every handler) from a
 * shutdown hook of its own, which runs at the same time as {@code rill serve}'s graceful shutdown on SIGTERM; what
 * the shutdown logged after that (the server's summary of suppressed lines, a broker's warning while it closes) was
 * lost. The console handler flushes each record, so nothing waits for a close; the process ends with
 * {@code Runtime.halt} or {@code System.exit} after its shutdown. Its console writes UTF-8 ({@link #getProperty}).
 */
public final class RillLogManager extends LogManager {

    /** Created by java.util.logging (system property {@code java.util.logging.manager}). */
    public RillLogManager() {
        super();
    }

    /**
     * The logging configuration's properties, with the console's encoding UTF-8 unless the configuration gives one:
     * log lines go to standard error, which {@code rill} writes in UTF-8 whatever the locale
     * ({@link RillCli#OUTPUT_CHARSET}); the JDK's console handler wrote in the locale's charset, {@code ?} for every
     * character beyond ASCII under {@code LANG=C}.
     *
     * @param name the property's name
     * @return its value, or null
     */
    @Override
    public String getProperty(String name) {
        String value = super.getProperty(name);
        return value == null && CONSOLE_ENCODING.equals(name) ? RillCli.OUTPUT_CHARSET.name() : value;
    }

    private static final String CONSOLE_ENCODING = "java.util.logging.ConsoleHandler.encoding";

    /** Resets the configuration, unless the JVM is shutting down: see the class description. */
    @Override
    public void reset() {
        if (!shuttingDown()) {
            super.reset();
        }
    }

    /** @return whether the JVM has begun to shut down (it then refuses new shutdown hooks) */
    private static boolean shuttingDown() {
        Thread probe = new Thread(() -> { }, "rill-shutdown-probe");
        try {
            Runtime.getRuntime().addShutdownHook(probe);
            Runtime.getRuntime().removeShutdownHook(probe);
            return false;
        } catch (IllegalStateException e) {
            return true;
        }
    }
}
