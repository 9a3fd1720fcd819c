package dev.rill.server;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * The {@code rill} command line: {@code serve}, {@code send}, {@code consume}, {@code peek}, {@code stats},
 * {@code purge}, {@code redrive}, {@code bench} and {@code demo}. {@code rill help COMMAND} or
 * {@code rill COMMAND --help} describes each; the exit codes are listed in every help page and in
 * {@code docs/operations.md}.
 */
@Command(name = "rill", mixinStandardHelpOptions = true, versionProvider = RillCli.Version.class,
        description = "Rill, a reactive message queue: run a server, send, consume and inspect queues, benchmark,"
                + " or watch a demo.",
        synopsisSubcommandLabel = "COMMAND",
        subcommands = {ServeCommand.class, SendCommand.class, ConsumeCommand.class, PeekCommand.class,
                StatsCommand.class, PurgeCommand.class, RedriveCommand.class, BenchCommand.class, DemoCommand.class,
                CommandLine.HelpCommand.class})
public final class RillCli implements Runnable {

    final InputStream in;
    final boolean tty;
    final boolean installSignalHandlers;
    final Consumer<ServerProcess> onServerStarted;

    @Spec
    CommandSpec spec;

    /**
     * Creates the command line's root.
     *
     * @param in standard input (read by {@code send} when no message is given)
     * @param tty whether standard output is a terminal (progress lines are then rewritten in place)
     * @param installSignalHandlers whether {@code serve} installs its SIGTERM/SIGINT shutdown hook (the real
     *     process); tests pass false and stop the server through {@code onServerStarted}
     * @param onServerStarted called with the running server once {@code serve} is listening
     */
    RillCli(InputStream in, boolean tty, boolean installSignalHandlers, Consumer<ServerProcess> onServerStarted) {
        this.in = Objects.requireNonNull(in, "in");
        this.tty = tty;
        this.installSignalHandlers = installSignalHandlers;
        this.onServerStarted = Objects.requireNonNull(onServerStarted, "onServerStarted");
    }

    /**
     * The charset of standard output and standard error: UTF-8 whatever the locale, as payloads are UTF-8 text. The
     * JVM's default (Java 17: the locale's) is US-ASCII under {@code LANG=C}, common in containers and CI, and
     * {@code rill consume} printed {@code ?} for every other character of a payload, then acked the message.
     */
    static final Charset OUTPUT_CHARSET = StandardCharsets.UTF_8;

    /**
     * Runs the command line and exits the JVM with the command's exit code.
     *
     * @param args the arguments
     */
    public static void main(String[] args) {
        configureLogging();
        // standard output straight to its file descriptor: System.out swallows write errors where the PrintWriter
        // above it could not see them, and rill consume must see a closed pipe before it acks what it printed
        PrintWriter out = new PrintWriter(new java.io.OutputStreamWriter(new FileOutputStream(FileDescriptor.out),
                OUTPUT_CHARSET), true);
        PrintWriter err = new PrintWriter(new java.io.OutputStreamWriter(System.err, OUTPUT_CHARSET), true);
        RillCli root = new RillCli(System.in, System.console() != null, true, p -> { });
        int code = root.commandLine(out, err).execute(utf8Arguments(args, Path.of("/proc/self/cmdline"),
                jvmArgumentCharset()));
        out.flush();
        err.flush();
        System.exit(code);
    }

    /**
     * The arguments as UTF-8 text whatever the locale, as rill reads and writes all text: the JVM decodes its
     * command line in the locale's charset, which under {@code LANG=C} is US-ASCII, and {@code rill send q 'café'}
     * then sent {@code caf}, U+FFFD twice, in place of the bytes given. Where the JVM decoded in another charset than
     * UTF-8 and an argument holds a character beyond ASCII, each argument whose bytes (read back from
     * {@code /proc/self/cmdline}, Linux) are UTF-8 is taken as that text; an argument that is not UTF-8 (typed in a
     * Latin-1 terminal, say) keeps the JVM's reading. Elsewhere, or when the bytes read back do not match the
     * arguments, they are kept as the JVM read them.
     *
     * @param args the arguments as the JVM decoded them
     * @param cmdline the process's command line, NUL-separated bytes ({@code /proc/self/cmdline})
     * @param jvm the charset the JVM decoded them with ({@code sun.jnu.encoding})
     * @return the arguments, read as UTF-8 where they are
     */
    static String[] utf8Arguments(String[] args, Path cmdline, Charset jvm) {
        boolean ascii = Arrays.stream(args).allMatch(a -> a.chars().allMatch(c -> c < 0x80));
        if (ascii || jvm.equals(StandardCharsets.UTF_8)) {
            return args;
        }
        List<byte[]> raw = new ArrayList<>();
        try {
            byte[] all = Files.readAllBytes(cmdline);
            int from = 0;
            for (int i = 0; i < all.length; i++) {
                if (all[i] == 0) {
                    raw.add(Arrays.copyOfRange(all, from, i));
                    from = i + 1;
                }
            }
        } catch (IOException | RuntimeException e) {
            return args; // not Linux
        }
        if (raw.size() < args.length) {
            return args;
        }
        List<byte[]> tail = raw.subList(raw.size() - args.length, raw.size()); // the main class's arguments end it
        String[] read = args.clone();
        for (int i = 0; i < args.length; i++) {
            if (!new String(tail.get(i), jvm).equals(args[i])) {
                return args; // not the arguments: keep the JVM's reading
            }
            String text = PayloadFormat.utf8(tail.get(i));
            if (text != null) {
                read[i] = text;
            }
        }
        return read;
    }

    /** @return the charset the JVM decoded its command line with ({@code sun.jnu.encoding}) */
    static Charset jvmArgumentCharset() {
        try {
            return Charset.forName(System.getProperty("sun.jnu.encoding", "UTF-8"));
        } catch (IllegalArgumentException e) {
            return StandardCharsets.UTF_8;
        }
    }

    /**
     * The format of the process's java.util.logging console lines (standard error): one line per record, e.g.
     * {@code 2026-01-31 12:00:00.123 WARNING dev.rill.netty.RillServer: connection from 10.0.0.7:51234 refused
     * [auth_failed]: unknown token}; a record with an exception (a bug) adds its stack trace on the lines after.
     */
    static final String LOG_FORMAT = "%1$tF %1$tT.%1$tL %4$s %3$s: %5$s%6$s%n";

    /**
     * Sets up java.util.logging for the process, before anything logs (it reads its settings once): one line per
     * record ({@link #LOG_FORMAT}) instead of its default two (date and calling method, then level and message),
     * unless the user configured it (a logging configuration file or class, or a format of their own:
     * {@code -Djava.util.logging.SimpleFormatter.format=...} in {@code JAVA_OPTS}); a manager that stays usable
     * while the JVM shuts down ({@link RillLogManager}), unless the user chose one; and Reactor's and reactor-netty's
     * loggers on java.util.logging too, unless the user chose ({@code reactor.logging.fallback}): without SLF4J they
     * otherwise print in a format of their own ({@code [ERROR] (thread) message}) that no logging setting reaches.
     * Rill's own lines ({@code System.Logger}) and Netty's go to java.util.logging anyway.
     */
    static void configureLogging() {
        if (System.getProperty("reactor.logging.fallback") == null) {
            System.setProperty("reactor.logging.fallback", "JDK");
        }
        if (System.getProperty("java.util.logging.config.file") == null
                && System.getProperty("java.util.logging.config.class") == null
                && System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", LOG_FORMAT);
        }
        if (System.getProperty("java.util.logging.manager") == null) {
            System.setProperty("java.util.logging.manager", RillLogManager.class.getName());
        }
    }

    /**
     * Builds the picocli command line with this root, the given output streams, the exit codes in every help page,
     * and the failure handling: a one-line message on {@code err} and the exit code of {@link ExitCodes}.
     *
     * @param out standard output
     * @param err standard error
     * @return the command line
     */
    CommandLine commandLine(PrintWriter out, PrintWriter err) {
        CommandLine cmd = new CommandLine(this);
        cmd.setOut(out);
        cmd.setErr(err);
        cmd.setCaseInsensitiveEnumValuesAllowed(true);
        cmd.registerConverter(PayloadFormat.class, PayloadFormat::parse);
        cmd.setUsageHelpWidth(100);
        addExitCodes(cmd);
        cmd.setParameterExceptionHandler((ex, args) -> {
            CommandLine c = ex.getCommandLine();
            PrintWriter e = c.getErr();
            e.println(c.getCommandSpec().qualifiedName() + ": " + ex.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, e);
            e.println("Try '" + c.getCommandSpec().qualifiedName() + " --help' for more information.");
            e.flush();
            return ExitCodes.USAGE;
        });
        cmd.setExecutionExceptionHandler((ex, c, parsed) -> {
            PrintWriter e = c.getErr();
            int code = ExitCodes.of(ex);
            e.println(c.getCommandSpec().qualifiedName() + ": " + ExitCodes.message(ex));
            if (code == ExitCodes.FAILED && System.getenv("RILL_DEBUG") != null) {
                ex.printStackTrace(e);
            }
            e.flush();
            return code;
        });
        return cmd;
    }

    private static void addExitCodes(CommandLine cmd) {
        cmd.getCommandSpec().usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(ExitCodes.descriptions());
        // every command has -V, --version (mixinStandardHelpOptions); without a provider of its own it printed nothing
        cmd.getCommandSpec().versionProvider(new Version());
        for (CommandLine sub : cmd.getSubcommands().values()) {
            addExitCodes(sub);
        }
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(),
                "a command is required (serve, send, consume, peek, stats, purge, redrive, bench, demo)");
    }

    /** Reports the version from the jar's manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = RillCli.class.getPackage().getImplementationVersion();
            return new String[] {"rill " + (v == null ? "0.1.0-SNAPSHOT" : v),
                    "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")"};
        }
    }
}
