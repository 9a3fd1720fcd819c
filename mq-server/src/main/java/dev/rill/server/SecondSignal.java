package dev.rill.server;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Hears the SIGINT or SIGTERM that comes while the JVM runs its shutdown hooks. The JVM's own handler of those
 * signals starts the shutdown with the first one and then ignores the others (its next {@code exit} waits for the
 * hooks to finish), so an operator's second Ctrl-C did nothing; a shutdown hook installs this to act on it.
 */
final class SecondSignal {

    private SecondSignal() {
    }

    /**
     * Replaces the handlers of SIGINT and SIGTERM (from now on the JVM's do not run: call this from a shutdown hook,
     * once the shutdown has begun).
     *
     * @param onSignal told the exit status of each signal that comes (128 + its number: 130, 143), on a thread of
     *     its own
     * @return the names of the signals handled ({@code INT}, {@code TERM}): none where the JVM may not handle them
     *     ({@code -Xrs}), not {@code INT} where it was ignored when the JVM started (a background job)
     */
    static List<String> install(IntConsumer onSignal) {
        List<String> handled = new ArrayList<>(2);
        for (String name : List.of("INT", "TERM")) {
            try {
                SignalHandler was = Signal.handle(new Signal(name), s -> onSignal.accept(128 + s.getNumber()));
                if (was != SignalHandler.SIG_IGN) { // ignored at start: the JVM keeps it ignored, installs nothing
                    handled.add(name);
                }
            } catch (IllegalArgumentException | UnsupportedOperationException e) {
                // the signal is used by the JVM (-Xrs) or unknown here: the second signal stays unheard
            }
        }
        return handled;
    }
}
