package dev.rill.bench.suite;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * One scaling curve: throughput (messages per second) of several series (Rill core, Rill reactive, a peer) at each
 * value of one variable (number of queues, consumers, payload size, depth, pending delayed messages). Renders
 * itself as a Markdown table (median with min–max, and each point's ratio to the series' first point, or to a
 * reference series) and as JSON.
 */
public final class Curve {

    private final String id;
    private final String title;
    private final String xLabel;
    private final String note;
    private final Map<String, TreeMap<Long, Summary>> series = new LinkedHashMap<>();
    private String reference;

    /**
     * @param id short name, used for the chart's file name ({@code scaling-<id>.png}) and in JSON
     * @param title chart and table title
     * @param xLabel what the variable is, with its unit
     * @param note one paragraph on the setup, printed above the table
     */
    public Curve(String id, String title, String xLabel, String note) {
        this.id = id;
        this.title = title;
        this.xLabel = xLabel;
        this.note = note;
    }

    /** @return the short name */
    public String id() {
        return id;
    }

    /** @return the title */
    public String title() {
        return title;
    }

    /** @return the variable's label */
    public String xLabel() {
        return xLabel;
    }

    /**
     * Names the series the others are compared with at the same x (a peer); without one, each series is compared
     * with its own first point (how much it loses as x grows).
     *
     * @param seriesName a series added to this curve
     * @return this
     */
    public Curve reference(String seriesName) {
        this.reference = seriesName;
        return this;
    }

    /**
     * Records one point.
     *
     * @param seriesName the series
     * @param x the variable's value
     * @param msgPerSec the throughput of the repeated runs at x
     * @return this
     */
    public Curve add(String seriesName, long x, Summary msgPerSec) {
        series.computeIfAbsent(seriesName, k -> new TreeMap<>()).put(x, msgPerSec);
        return this;
    }

    /** @return series name → (x → throughput), series in the order first added, x ascending */
    public Map<String, TreeMap<Long, Summary>> series() {
        return series;
    }

    /** @return every x of every series, ascending */
    public List<Long> xs() {
        TreeMap<Long, Boolean> all = new TreeMap<>();
        series.values().forEach(m -> m.keySet().forEach(x -> all.put(x, true)));
        return new ArrayList<>(all.keySet());
    }

    /**
     * The ratio of a series at x to the series' first (smallest x) point.
     *
     * @param seriesName the series
     * @param x a measured x
     * @return the median at x divided by the median at the smallest x (NaN if either is missing)
     */
    public double ratioToFirst(String seriesName, long x) {
        TreeMap<Long, Summary> s = series.get(seriesName);
        if (s == null || s.isEmpty() || !s.containsKey(x)) {
            return Double.NaN;
        }
        return s.get(x).ratioTo(s.firstEntry().getValue());
    }

    /**
     * The ratio of a series at x to the reference series at the same x.
     *
     * @param seriesName the series
     * @param x a measured x
     * @return NaN if there is no reference or either point is missing
     */
    public double ratioToReference(String seriesName, long x) {
        if (reference == null || !series.containsKey(reference) || !series.containsKey(seriesName)) {
            return Double.NaN;
        }
        Summary ref = series.get(reference).get(x);
        Summary s = series.get(seriesName).get(x);
        return ref == null || s == null ? Double.NaN : s.ratioTo(ref);
    }

    /**
     * Formats an x value compactly: 1024 multiples as K/M for bytes, 1000 multiples as k/M otherwise.
     *
     * @param x the value
     * @param bytes whether x is a size in bytes
     * @return e.g. "64 KiB", "1M", "100k", "16 B"
     */
    public static String formatX(long x, boolean bytes) {
        if (bytes) {
            if (x >= 1024 * 1024 && x % (1024 * 1024) == 0) {
                return x / (1024 * 1024) + " MiB";
            }
            if (x >= 1024 && x % 1024 == 0) {
                return x / 1024 + " KiB";
            }
            return x + " B";
        }
        if (x >= 1_000_000 && x % 1_000_000 == 0) {
            return x / 1_000_000 + "M";
        }
        if (x >= 1_000 && x % 1_000 == 0) {
            return x / 1_000 + "k";
        }
        return Long.toString(x);
    }

    private boolean bytesAxis() {
        return xLabel.contains("bytes");
    }

    /** @return the Markdown section: title, note, table, chart link */
    public String markdown() {
        StringBuilder b = new StringBuilder();
        b.append("#### ").append(title).append("\n\n").append(note).append("\n\n");
        b.append("| series | ").append(xLabel).append(" | msg/s median (min–max) | vs first point |");
        boolean refCol = reference != null && series.containsKey(reference);
        if (refCol) {
            b.append(" vs ").append(reference).append(" |");
        }
        b.append("\n|---|---|---|---|").append(refCol ? "---|" : "").append('\n');
        for (Map.Entry<String, TreeMap<Long, Summary>> e : series.entrySet()) {
            for (Map.Entry<Long, Summary> p : e.getValue().entrySet()) {
                b.append(String.format(Locale.ROOT, "| %s | %s | %s | %.2f× |", e.getKey(),
                        formatX(p.getKey(), bytesAxis()), p.getValue().format(), ratioToFirst(e.getKey(), p.getKey())));
                if (refCol) {
                    b.append(e.getKey().equals(reference) ? "  |" : String.format(Locale.ROOT, " %.2f× |",
                            ratioToReference(e.getKey(), p.getKey())));
                }
                b.append('\n');
            }
        }
        b.append("\n![").append(title).append("](benchmarks/scaling-").append(id).append(".png)\n\n");
        return b.toString();
    }

    /** @return this curve as a JSON object */
    public String toJson() {
        StringBuilder b = new StringBuilder();
        b.append("{\"id\":\"").append(Results.escape(id)).append("\",\"title\":\"").append(Results.escape(title))
                .append("\",\"x\":\"").append(Results.escape(xLabel)).append("\",\"series\":{");
        boolean firstSeries = true;
        for (Map.Entry<String, TreeMap<Long, Summary>> e : series.entrySet()) {
            if (!firstSeries) {
                b.append(',');
            }
            firstSeries = false;
            b.append('"').append(Results.escape(e.getKey())).append("\":[");
            boolean first = true;
            for (Map.Entry<Long, Summary> p : e.getValue().entrySet()) {
                if (!first) {
                    b.append(',');
                }
                first = false;
                b.append(String.format(Locale.ROOT, "{\"x\":%d,\"msgPerSec\":%s,\"vsFirst\":%.4f}", p.getKey(),
                        p.getValue().toJson(), ratioToFirst(e.getKey(), p.getKey())));
            }
            b.append(']');
        }
        return b.append("}}").toString();
    }
}
