package dev.rill.reactive;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Records, until closed, what a java.util.logging logger writes at INFO or above (what an operator sees by
 * default), keeping it off the console meanwhile. Use with try-with-resources.
 */
final class JulCapture implements AutoCloseable {

    /** Held here: java.util.logging keeps its loggers only weakly, and with them their handlers. */
    private final Logger logger;
    private final boolean parentsBefore;
    private final List<LogRecord> records = new CopyOnWriteArrayList<>();
    private final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord r) {
            if (r.getLevel().intValue() >= Level.INFO.intValue()) {
                records.add(r);
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    /** @param loggerName the logger to record */
    JulCapture(String loggerName) {
        logger = Logger.getLogger(loggerName);
        parentsBefore = logger.getUseParentHandlers();
        logger.addHandler(handler);
        logger.setUseParentHandlers(false);
    }

    /** @return the records so far */
    List<LogRecord> records() {
        return records;
    }

    /** @return the messages of the records so far */
    List<String> messages() {
        return records.stream().map(LogRecord::getMessage).toList();
    }

    @Override
    public void close() {
        logger.removeHandler(handler);
        logger.setUseParentHandlers(parentsBefore);
    }
}
