package dev.rill.server;

import dev.rill.core.log.FsyncPolicy;
import java.time.Duration;
import java.util.Locale;
import picocli.CommandLine;

/**
 * Reads an fsync policy: {@code always}, {@code never}, or {@code interval=<duration>} where a plain number is
 * milliseconds ({@code interval=100}, {@code interval=250ms}, {@code interval=1s}).
 */
final class FsyncConverter implements CommandLine.ITypeConverter<FsyncPolicy> {

    /** The longest interval FsyncPolicy takes. */
    private static final Duration MAX_INTERVAL = Duration.ofHours(1);

    @Override
    public FsyncPolicy convert(String value) {
        return parse(value);
    }

    /**
     * Parses a policy.
     *
     * @param value the text
     * @return the policy
     * @throws CommandLine.TypeConversionException when the text is not a policy
     */
    static FsyncPolicy parse(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        if (v.equals("always")) {
            return FsyncPolicy.always();
        }
        if (v.equals("never")) {
            return FsyncPolicy.never();
        }
        if (v.startsWith("interval=")) {
            String d = v.substring("interval=".length()).trim();
            Duration interval;
            try {
                // a number of ms beyond a long's was "not a duration", as was one beyond 365 days with a unit
                interval = !d.matches("\\d+") ? DurationConverter.parseUnbounded(d)
                        : d.length() > 12 ? DurationConverter.MAX.plusNanos(1) : Duration.ofMillis(Long.parseLong(d));
            } catch (CommandLine.TypeConversionException e) {
                throw new CommandLine.TypeConversionException("'" + value + "': the interval is not a duration"
                        + " (examples: interval=100, interval=250ms, interval=1s)");
            }
            if (interval.isNegative() || interval.isZero() || interval.compareTo(MAX_INTERVAL) > 0) {
                // checked here: FsyncPolicy's own message shows the interval in ISO-8601 (PT2H)
                throw new CommandLine.TypeConversionException("'" + value + "': the interval must be positive and at"
                        + " most 1h" + (interval.compareTo(DurationConverter.MAX) > 0 ? ""
                                : ", was " + DurationConverter.format(interval)));
            }
            return FsyncPolicy.interval(interval);
        }
        throw new CommandLine.TypeConversionException("'" + value
                + "' is not an fsync policy (always, interval=<ms>, never)");
    }

    /**
     * Writes a policy as the option takes it: {@code always}, {@code interval=50ms}, {@code never} (not
     * {@link FsyncPolicy#toString()}'s {@code ALWAYS}, {@code INTERVAL(50ms)}).
     *
     * @param policy the policy
     * @return its text
     */
    static String format(FsyncPolicy policy) {
        return switch (policy.kind()) {
            case INTERVAL -> "interval=" + DurationConverter.format(policy.interval());
            default -> policy.kind().name().toLowerCase(Locale.ROOT);
        };
    }
}
