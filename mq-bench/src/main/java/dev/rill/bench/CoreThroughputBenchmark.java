package dev.rill.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

/**
 * End-to-end throughput of one producer thread and one consumer thread passing small messages through
 * {@code dev.rill.core.MessageQueue} (send, receive, ack) and, in the same run, through {@code ArrayBlockingQueue}
 * and {@code LinkedBlockingQueue} ({@code put}/{@code take}) of the same capacity.
 *
 * <p>One benchmark invocation pushes {@value #MESSAGES} messages from a producer thread (owned by this state) to the
 * JMH thread, which consumes them; the invocation ends when the last message is consumed (for the core: acked with
 * outcome {@code OK}). With {@link OperationsPerInvocation} the score is therefore messages consumed per second,
 * end to end. Both sides park when they must wait (see {@link CorePipe}), so neither burns the other's core.
 *
 * <p>Run: {@code mq-bench/scripts/core-bench.sh}, or
 * {@code java -jar mq-bench/target/benchmarks.jar CoreThroughputBenchmark -f 1 -wi 3 -i 5 -w 2s -r 2s}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(1)
public class CoreThroughputBenchmark {

    /** Messages per benchmark invocation. */
    public static final int MESSAGES = 1 << 20;

    /** Distinct payloads cycled through (pre-boxed {@code Integer}s: a small message). */
    static final int PAYLOADS = 1024;

    /** The transport; see {@link Pipe.Kind}. */
    @Param({"ABQ", "LBQ", "ABQ_DRAIN", "CORE_SINGLE", "CORE_BATCH_RECV", "CORE_BATCH_ALL"})
    public String kind;

    /** Queue capacity in messages, the same for every transport. */
    @Param({"1024", "100000"})
    public int capacity;

    private Pipe pipe;
    private EndToEnd harness;
    private long expectedSum;

    /** Creates the transport and starts the producer thread. */
    @Setup(Level.Trial)
    public void setUp() {
        pipe = Pipe.create(Pipe.Kind.valueOf(kind), capacity, PAYLOADS);
        harness = new EndToEnd();
        expectedSum = Pipe.expectedSum(MESSAGES, PAYLOADS);
    }

    /** Stops the producer thread and checks that nothing was left behind. */
    @TearDown(Level.Trial)
    public void tearDown() {
        harness.close();
        if (pipe.size() != 0) {
            throw new IllegalStateException(kind + ": " + pipe.size() + " messages left in the queue");
        }
    }

    /**
     * Pushes {@value #MESSAGES} messages end to end.
     *
     * @return the payload sum (consumed by JMH)
     * @throws Exception if the run fails
     */
    @Benchmark
    @OperationsPerInvocation(MESSAGES)
    public long endToEnd() throws Exception {
        long sum = harness.run(pipe, MESSAGES, null);
        if (sum != expectedSum) {
            throw new IllegalStateException(kind + ": payload sum " + sum + ", expected " + expectedSum);
        }
        return sum;
    }
}
