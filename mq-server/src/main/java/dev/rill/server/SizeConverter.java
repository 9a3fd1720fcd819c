package dev.rill.server;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * Reads byte sizes written as a plain number of bytes ({@code 1048576}) or with a binary unit ({@code 512KiB},
 * {@code 64MiB}, {@code 1GiB}; case-insensitive, {@code B} allowed), up to {@link Integer#MAX_VALUE} ({@link LongSize}: up
 * to {@link Long#MAX_VALUE}). The options that take one check their own range. {@code KB}/{@code MB} are refused rather than guessed at (1000 or 1024?).
 */
final class SizeConverter implements CommandLine.ITypeConverter<Integer> {

    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(b|kib|mib|gib)?");

    @Override
    public Integer convert(String value) {
        return parse(value);
    }

    /**
     * Parses a size.
     *
     * @param value the text
     * @return the size in bytes
     * @throws CommandLine.TypeConversionException when the text is not a size or the size is above 2^31-1 bytes
     */
    static int parse(String value) {
        return (int) parse(value, Integer.MAX_VALUE);
    }

    /**
     * Parses a size up to {@code max} bytes.
     *
     * @param value the text
     * @param max the largest size taken
     * @return the size in bytes
     * @throws CommandLine.TypeConversionException when the text is not a size or the size is above {@code max}
     */
    static long parse(String value, long max) {
        Matcher m = SIZE.matcher(value.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new CommandLine.TypeConversionException("'" + value + "' is not a size: write bytes (1048576) or "
                    + "a number with KiB, MiB or GiB (1024KiB, 1MiB)");
        }
        int shift = m.group(2) == null ? 0 : switch (m.group(2)) {
            case "kib" -> 10;
            case "mib" -> 20;
            case "gib" -> 30;
            default -> 0;
        };
        String digits = m.group(1);
        long n = digits.length() > 18 ? Long.MAX_VALUE : Long.parseLong(digits);
        if (n > (max >> shift)) {
            throw new CommandLine.TypeConversionException("'" + value + "' is too large: at most " + max + " bytes");
        }
        return n << shift;
    }

    /** Sizes as {@code long}s, up to {@link Long#MAX_VALUE} bytes (a queue's byte limit). */
    static final class LongSize implements CommandLine.ITypeConverter<Long> {

        @Override
        public Long convert(String value) {
            return parse(value, Long.MAX_VALUE);
        }
    }

    /**
     * Writes a size for people, in the units {@link #parse} takes: bytes below 1 KiB ({@code 395 B}), else the
     * largest binary unit with at least 1 before the point, whole when it is ({@code 256 MiB}), else to one decimal
     * ({@code 1.4 MiB}). The one form every {@code rill} message that names a size uses.
     *
     * @param bytes a size, at least 0
     * @return the size as text
     */
    static String format(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = bytes / 1024.0;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return (v == Math.rint(v) ? Long.toString((long) v) : String.format(Locale.ROOT, "%.1f", v)) + " " + units[u];
    }
}
