package dev.rill.server;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * Reads durations written as {@code 250ms}, {@code 10s}, {@code 2m}, {@code 1h}, a plain number of seconds, or
 * ISO-8601 ({@code PT1.5S}), from 0 to {@link #MAX} (no option means more; a larger value overflowed into a
 * {@code long overflow} error, exit code 3, or a wrong value in the message).
 */
final class DurationConverter implements CommandLine.ITypeConverter<Duration> {

    /** The longest duration any option takes: 365 days, the longest delay a message can have. */
    static final Duration MAX = Duration.ofDays(365);

    private static final Pattern SIMPLE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(ms|s|m|h)?");

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

    private static Duration parseUnbounded(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        Matcher m = SIMPLE.matcher(v);
        if (m.matches()) {
            double n = Double.parseDouble(m.group(1));
            String unit = m.group(2) == null ? "s" : m.group(2);
            double millis = switch (unit) {
                case "ms" -> n;
                case "m" -> n * 60_000;
                case "h" -> n * 3_600_000;
                default -> n * 1000;
            };
            double nanos = millis * 1_000_000;
            return nanos > MAX.toNanos() ? MAX.plusNanos(1) : Duration.ofNanos(Math.round(nanos));
        }
        try {
            return Duration.parse(value.trim().toUpperCase(Locale.ROOT));
        } catch (RuntimeException e) {
            throw new CommandLine.TypeConversionException("'" + value
                    + "' is not a duration (examples: 250ms, 10s, 2m, 1h, PT1.5S)");
        }
    }
}
