package dev.rill.server;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * Reads durations written as {@code 250ms}, {@code 10s}, {@code 2m}, {@code 1h}, {@code 7d}, a plain number of
 * seconds, units together from the largest ({@code 1m30s}, {@code 1h30m}, {@code 1d12h}, {@code 1s500ms}), or
 * ISO-8601 ({@code PT1.5S}), from 0 to {@link #MAX} (no option means more; a larger value overflowed into a
 * {@code long overflow} error, exit code 3, or a wrong value in the message; one beyond what a {@code long} holds
 * was "not a duration"); and writes them for people ({@link #format}) in a form it reads back.
 */
final class DurationConverter implements CommandLine.ITypeConverter<Duration> {

    /** The longest duration any option takes: 365 days, the longest delay a message can have. */
    static final Duration MAX = Duration.ofDays(365);

    private static final Pattern SIMPLE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(ms|s|m|h|d)?");
    /** Units together, from the largest, each at most once: 1d12h, 1h30m, 1m30s, 2s500ms. */
    private static final Pattern COMPOUND = Pattern.compile(
            "(?:(\\d+)d)?(?:(\\d+)h)?(?:(\\d+)m(?!s))?(?:(\\d+(?:\\.\\d+)?)s)?(?:(\\d+(?:\\.\\d+)?)ms)?");

    @Override
    public Duration convert(String value) {
        return parse(value);
    }

    /**
     * Parses a duration.
     *
     * @param value the text
     * @return the duration
     * @throws CommandLine.TypeConversionException when the text is not a duration
     */
    static Duration parse(String value) {
        Duration d = parseUnbounded(value);
        if (d.isNegative()) {
            throw new CommandLine.TypeConversionException("'" + value + "' is negative: a duration is 0 or more");
        }
        if (d.compareTo(MAX) > 0) {
            throw new CommandLine.TypeConversionException("'" + value + "' is too long: at most 365 days");
        }
        return d;
    }

    /**
     * Parses a duration without the bounds of {@link #parse}.
     *
     * @param value the text
     * @return the duration, negative or beyond {@link #MAX}; one beyond what a {@link Duration} holds is given as
     *     just over {@link #MAX}
     * @throws CommandLine.TypeConversionException when the text is not a duration
     */
    static Duration parseUnbounded(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        Matcher m = SIMPLE.matcher(v);
        if (m.matches()) {
            double n = Double.parseDouble(m.group(1));
            String unit = m.group(2) == null ? "s" : m.group(2);
            double millis = switch (unit) {
                case "ms" -> n;
                case "m" -> n * 60_000;
                case "h" -> n * 3_600_000;
                case "d" -> n * 86_400_000;
                default -> n * 1000;
            };
            return ofMillis(millis);
        }
        Matcher c = COMPOUND.matcher(v);
        if (!v.isEmpty() && c.matches()) {
            double millis = 0;
            double[] unit = {86_400_000, 3_600_000, 60_000, 1000, 1};
            for (int i = 0; i < unit.length; i++) {
                if (c.group(i + 1) != null) {
                    millis += Double.parseDouble(c.group(i + 1)) * unit[i];
                }
            }
            return ofMillis(millis);
        }
        try {
            return Duration.parse(value.trim().toUpperCase(Locale.ROOT));
        } catch (DateTimeParseException e) {
            if (e.getCause() instanceof ArithmeticException || e.getCause() instanceof NumberFormatException) {
                return MAX.plusNanos(1); // ISO-8601, with a number beyond a long's (PT9999999999999999H)
            }
            throw new CommandLine.TypeConversionException("'" + value
                    + "' is not a duration (examples: 250ms, 10s, 2m, 1m30s, 1h, 7d, PT1.5S)");
        }
    }

    /**
     * Checks an option that goes on the wire in whole milliseconds, such as a lease length (a shorter one was
     * refused by the core in ISO-8601 words, PT0.0005S, or, below 1 ms, ended the connection when the client
     * could not encode it).
     *
     * @param option the option's name
     * @param d its value, or null when not given
     * @throws CliException (exit code 2) when {@code d} is under 1 ms
     */
    static void atLeastOneMilli(String option, Duration d) {
        if (d != null && d.compareTo(Duration.ofMillis(1)) < 0) {
            throw new CliException(ExitCodes.USAGE, option + " must be at least 1ms, was " + format(d));
        }
    }

    private static Duration ofMillis(double millis) {
        double nanos = millis * 1_000_000;
        return nanos > MAX.toNanos() ? MAX.plusNanos(1) : Duration.ofNanos(Math.round(nanos));
    }

    /**
     * Writes a duration for people, as the options take it: {@code 250ms}, {@code 30s}, {@code 1.5s},
     * {@code 1m30s}, {@code 2h}, {@code 1h5s}; {@code 0s}; a fraction of a millisecond as {@code 0.25ms}. Not
     * ISO-8601 ({@code PT30S}), which {@link Duration#toString()} gives.
     *
     * @param d the duration, 0 or more
     * @return its text
     */
    static String format(Duration d) {
        if (d.isNegative()) {
            return "-" + format(d.negated());
        }
        long hours = d.toHours();
        int minutes = d.toMinutesPart();
        long nanos = d.toSecondsPart() * 1_000_000_000L + d.toNanosPart(); // under a minute
        StringBuilder b = new StringBuilder();
        if (hours > 0) {
            b.append(hours).append('h');
        }
        if (minutes > 0) {
            b.append(minutes).append('m');
        }
        if (nanos > 0 || b.length() == 0) {
            if (b.length() == 0 && nanos > 0 && nanos < 1_000_000_000L) {
                b.append(decimal(nanos, 1_000_000)).append("ms");
            } else {
                b.append(decimal(nanos, 1_000_000_000)).append('s');
            }
        }
        return b.toString();
    }

    /** @return {@code nanos / unit} without trailing zeros: 1.5, 30, 0.25 */
    private static String decimal(long nanos, long unit) {
        return java.math.BigDecimal.valueOf(nanos).divide(java.math.BigDecimal.valueOf(unit)).stripTrailingZeros()
                .toPlainString();
    }
}
