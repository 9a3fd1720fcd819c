package dev.rill.server;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Lets a command clean up on Ctrl-C or SIGTERM. The JVM runs its shutdown hooks and ends, skipping the command's
 * {@code finally}; this hook marks the run interrupted, wakes the command and holds the exit (bounded) until the
 * command says it has cleaned up. The exit status stays the signal's.
 */
final class InterruptHook {

    private final CountDownLatch cleanedUp = new CountDownLatch(1);
    private final Thread thread;
    private volatile boolean interrupted;

    private InterruptHook(String name, Duration wait, Runnable wake) {
        this.thread = name == null ? null : new Thread(() -> {
            interrupted = true;
            wake.run();
            try {
                cleanedUp.await(wait.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, name);
    }

    /**
     * @param enabled whether to install it (not in tests that run commands inside their own JVM)
     * @param name the hook thread's name
     * @param wait how long the hook holds the exit for the cleanup at most
     * @param wake wakes the command's run (a latch it waits on), called on the hook's thread
     * @return the hook; {@link #done()} must follow, in a {@code finally}
     */
    static InterruptHook install(boolean enabled, String name, Duration wait, Runnable wake) {
        InterruptHook h = new InterruptHook(enabled ? name : null, wait, wake);
        if (h.thread != null) {
            Runtime.getRuntime().addShutdownHook(h.thread);
        }
        return h;
    }

    /** @return whether a signal stopped the run */
    boolean interrupted() {
        return interrupted;
    }

    /** The command has cleaned up: lets an interrupted JVM end, or removes the hook of a run that ended by itself. */
    void done() {
        cleanedUp.countDown();
        if (thread != null && !interrupted) {
            try {
                Runtime.getRuntime().removeShutdownHook(thread);
            } catch (IllegalStateException e) {
                // the JVM is shutting down already
            }
        }
    }
}
