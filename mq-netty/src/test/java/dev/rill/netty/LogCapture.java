package dev.rill.netty;

import dev.rill.netty.internal.transport.PeerLog;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Records what a server logs about its peers (the java.util.logging logger behind {@link PeerLog#LOGGER}, every
 * level), or what another logger says ({@link #LogCapture(String)}), during one test: a {@code @RegisterExtension} field, attached before each test and detached after it. The
 * records stay off the console meanwhile.
 */
final class LogCapture implements BeforeEachCallback, AfterEachCallback {

    /** Held here: java.util.logging keeps its loggers only weakly, and with them their level and handlers. */
    private final Logger logger;
    private final List<LogRecord> records = new CopyOnWriteArrayList<>();
    private final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord record) {
            records.add(record);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };
    /** Captures the server's peer log. */
    LogCapture() {
        this(PeerLog.LOGGER);
    }

    /** @param loggerName the java.util.logging logger to capture */
    LogCapture(String loggerName) {
        logger = Logger.getLogger(loggerName);
    }

    private Level levelBefore;
    private boolean parentsBefore;

    @Override
    public void beforeEach(ExtensionContext context) {
        levelBefore = logger.getLevel();
        parentsBefore = logger.getUseParentHandlers();
        handler.setLevel(Level.ALL);
        logger.setLevel(Level.ALL);
        logger.setUseParentHandlers(false);
        logger.addHandler(handler);
    }

    @Override
    public void afterEach(ExtensionContext context) {
        logger.removeHandler(handler);
        logger.setUseParentHandlers(parentsBefore);
        logger.setLevel(levelBefore);
    }

    /** @return every record so far */
    List<LogRecord> all() {
        return List.copyOf(records);
    }

    /** @return the records at INFO or above: what an operator sees by default */
    List<LogRecord> shown() {
        return records.stream().filter(r -> r.getLevel().intValue() >= Level.INFO.intValue()).toList();
    }

    /** @return the messages of the records at INFO or above */
    List<String> lines() {
        return shown().stream().map(LogRecord::getMessage).toList();
    }

    /** @return the messages of the records at INFO or above that contain {@code text} */
    List<String> linesWith(String text) {
        return lines().stream().filter(l -> l.contains(text)).toList();
    }
}
