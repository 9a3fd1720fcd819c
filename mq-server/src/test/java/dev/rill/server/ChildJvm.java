package dev.rill.server;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line of a JVM of its own on the tests' class path, for tests of the {@code rill} process (signals,
 * exit codes, the locale, SIGKILL): such a JVM runs a second or two, and starts and runs on about a third less CPU
 * with the client compiler only ({@code -XX:TieredStopAtLevel=1}; measured on {@code rill peek}: 1.25 s of CPU
 * against 1.9 s), which on a shared two-core machine is most of the wait. Not for tests about heap behaviour (a small
 * {@code -Xmx}, what runs out of memory): what the compilers make of the code changes what it allocates, so those
 * start their JVM as the user's runs.
 */
final class ChildJvm {

    private ChildJvm() {
    }

    /**
     * @param heap the {@code -Xmx} value, e.g. {@code 256m}
     * @param mainClass the class to run
     * @param args its arguments
     * @return {@code java -Xmx<heap> -XX:TieredStopAtLevel=1 -cp <the tests' class path> mainClass args...}
     */
    static List<String> command(String heap, Class<?> mainClass, String... args) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Xmx" + heap, "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                mainClass.getName()));
        command.addAll(List.of(args));
        return command;
    }
}
