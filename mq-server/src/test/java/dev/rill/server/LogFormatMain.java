package dev.rill.server;

import io.netty.util.internal.logging.InternalLoggerFactory;
import java.lang.System.Logger.Level;
import reactor.util.Loggers;

/**
 * Sets up logging as {@link RillCli#main} does, then logs one warning through each logging front-end of the
 * {@code rill} process (Rill's {@code System.Logger}, Netty's, Reactor's), for {@link UnitsTest}: a process of its
 * own, since logging reads its settings once per JVM.
 */
public final class LogFormatMain {

    private LogFormatMain() {
    }

    /**
     * Logs the three warnings.
     *
     * @param args ignored
     */
    public static void main(String[] args) {
        RillCli.configureLogging();
        System.getLogger("dev.rill.test").log(Level.WARNING, "from System.Logger: caf\u00e9 \u4e2d");
        InternalLoggerFactory.getInstance("io.netty.test").warn("from Netty");
        Loggers.getLogger("reactor.test").warn("from Reactor");
    }
}
