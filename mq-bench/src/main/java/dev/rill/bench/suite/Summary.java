package dev.rill.bench.suite;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The median and range of repeated measurements of one figure (throughput of several runs, or a percentile).
 *
 * @param median the median (mean of the two middle values for an even count)
 * @param min the smallest value
 * @param max the largest value
 * @param runs how many values
 */
public record Summary(double median, double min, double max, int runs) {

    /**
     * Summarizes values.
     *
     * @param values at least one
     * @return their median, min and max
     * @throws IllegalArgumentException if there is no value
     */
    public static Summary of(List<Double> values) {
        if (values.isEmpty()) {
            throw new IllegalArgumentException("values must not be empty");
        }
        double[] v = values.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(v);
        int n = v.length;
        double median = (n % 2 == 1) ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
        return new Summary(median, v[0], v[n - 1], n);
    }

    /**
     * The ratio of this median to another's.
     *
     * @param other the reference
     * @return median / other.median (NaN when other's median is zero)
     */
    public double ratioTo(Summary other) {
        return other.median == 0 ? Double.NaN : median / other.median;
    }

    /** @return "median (min–max)" with thousands separators for throughput-sized numbers */
    public String format() {
        return String.format(Locale.ROOT, "%s (%s–%s)", num(median), num(min), num(max));
    }

    /**
     * Formats a number compactly: integers with thousands separators above 100, two decimals below.
     *
     * @param x the number
     * @return the text
     */
    public static String num(double x) {
        if (Double.isNaN(x)) {
            return "n/a";
        }
        return Math.abs(x) >= 100 ? String.format(Locale.ROOT, "%,.0f", x) : String.format(Locale.ROOT, "%.2f", x);
    }

    /**
     * Says how far {@code value} falls short of {@code target}: "MISSED by N%" in percent of the target, "MISSED by
     * &lt;1%" when that rounds to zero (a figure that shows as the target itself is still a miss).
     *
     * @param value the measured figure, below the target
     * @param target what it should reach
     * @return the text
     */
    public static String missedBy(double value, double target) {
        double pct = (1 - value / target) * 100;
        return pct < 0.5 ? "MISSED by <1%" : String.format(Locale.ROOT, "MISSED by %.0f%%", pct);
    }

    /** @return this summary as a JSON object */
    public String toJson() {
        return String.format(Locale.ROOT, "{\"median\":%.3f,\"min\":%.3f,\"max\":%.3f,\"runs\":%d}", median, min, max,
                runs);
    }
}
