package dev.rill.server;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * Reads byte sizes written as a plain number of bytes ({@code 1048576}) or with a binary unit ({@code 512KiB},
 * {@code 64MiB}, {@code 1GiB}; case-insensitive, {@code B} allowed), up to {@link Integer#MAX_VALUE}. The options
 * that take one check their own range. {@code KB}/{@code MB} are refused rather than guessed at (1000 or 1024?).
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
        long n = digits.length() > 12 ? Long.MAX_VALUE : Long.parseLong(digits);
        if (n > (Integer.MAX_VALUE >> shift)) {
            throw new CommandLine.TypeConversionException("'" + value + "' is too large: at most 2147483647 bytes");
        }
        return (int) (n << shift);
    }
}
