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
                interval = d.matches("\\d+") ? Duration.ofMillis(Long.parseLong(d)) : DurationConverter.parse(d);
            } catch (NumberFormatException | CommandLine.TypeConversionException e) {
                throw new CommandLine.TypeConversionException("'" + value + "': the interval is not a duration"
                        + " (examples: interval=100, interval=250ms, interval=1s)");
            }
            try {
                return FsyncPolicy.interval(interval);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException("'" + value + "': " + e.getMessage());
            }
        }
        throw new CommandLine.TypeConversionException("'" + value
                + "' is not an fsync policy (always, interval=<ms>, never)");
    }
}
