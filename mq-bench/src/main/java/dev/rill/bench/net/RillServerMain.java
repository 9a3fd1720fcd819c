package dev.rill.bench.net;

import dev.rill.core.BrokerOptions;
import dev.rill.core.DurabilityOptions;
import dev.rill.core.log.FsyncPolicy;
import dev.rill.netty.RillServer;
import dev.rill.netty.ServerOptions;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.Rill;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The Rill server of the networked benchmarks, run in its own JVM by {@link NetBench} and by the durable benchmark:
 * a broker on 127.0.0.1, in memory or (given a data directory) durable with an fsync policy. Prints
 * {@code READY <port>} once bound and stops when its standard input closes (a durable broker is synced and its
 * directory unlocked first).
 */
public final class RillServerMain {

    private RillServerMain() {
    }

    /**
     * Starts this class in a JVM of its own with this JVM's class path, {@code -Xms1g -Xmx<maxHeap>}, this JVM's
     * {@code -XX:+UseTransparentHugePages} if it has it ({@code bench.sh} gives it to every JVM where the kernel
     * offers transparent huge pages: see NOTES.md, "Huge pages"), then the options of
     * {@code -Drill.bench.serverJvmArgs} (for experiments; they come last, so they win).
     *
     * @param maxHeap the {@code -Xmx} value, e.g. {@code "1g"}
     * @param args the arguments of {@link #main}
     * @return the server process; {@link #readyPort} waits for it
     * @throws Exception when it cannot be started
     */
    public static Process start(String maxHeap, String... args) throws Exception {
        return start(RillServerMain.class, maxHeap, args);
    }

    /** As {@link #start(String, String...)}, for another main class (the relay of {@link Relay}). */
    static Process start(Class<?> mainClass, String maxHeap, String... args) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "-Xms1g", "-Xmx" + maxHeap));
        if (ManagementFactory.getRuntimeMXBean().getInputArguments().contains("-XX:+UseTransparentHugePages")) {
            command.add("-XX:+UseTransparentHugePages");
        }
        String extra = System.getProperty("rill.bench.serverJvmArgs", "").trim();
        if (!extra.isEmpty()) {
            command.addAll(List.of(extra.split("\\s+")));
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass.getName()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        return pb.start();
    }

    /**
     * Waits for a server of {@link #start} to print {@code READY <port>}.
     *
     * @param server the process
     * @return the port it listens on
     * @throws Exception when it exits first
     */
    public static int readyPort(Process server) throws Exception {
        BufferedReader r = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
        String line;
        while ((line = r.readLine()) != null) {
            if (line.startsWith("READY ")) {
                return Integer.parseInt(line.substring(6).trim());
            }
        }
        throw new IllegalStateException("the rill server exited before it was ready");
    }

    /**
     * Prints {@code READY <port>} for {@link #readyPort} and waits until standard input closes (the bench closes it
     * to stop the server).
     *
     * @param port the bound port
     * @throws java.io.IOException if standard input fails
     */
    static void readyUntilInputEnds(int port) throws java.io.IOException {
        System.out.println("READY " + port);
        System.out.flush();
        InputStream in = System.in;
        while (in.read() != -1) {
            // wait for EOF
        }
    }

    /**
     * @param args the port (0: any free port); optionally a data directory and an fsync policy ({@code always},
     *     {@code interval:<ms>} or {@code never}) for a durable broker
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 0;
        // what `rill serve` runs with by default: a memory budget of a quarter of the heap, so every stored message
        // pays the budget's reservation as a user's server does
        BrokerOptions budget = BrokerOptions.defaults().memoryBudget(Runtime.getRuntime().maxMemory() / 4);
        ReactiveBroker broker;
        if (args.length > 2) {
            FsyncPolicy policy = dev.rill.bench.durable.DurableBench.parsePolicy(args[2]);
            broker = Rill.embedded(Path.of(args[1]), DurabilityOptions.defaults().fsync(policy), budget);
        } else {
            broker = Rill.inMemory(budget);
        }
        RillServer server = RillServer.bindNow(
                ServerOptions.defaults().broker(broker).host("127.0.0.1").port(port), Duration.ofSeconds(30));
        readyUntilInputEnds(server.port());
        server.disposeNow(Duration.ofSeconds(10));
        if (args.length > 2) {
            broker.close().block(Duration.ofSeconds(30));
        }
    }
}
