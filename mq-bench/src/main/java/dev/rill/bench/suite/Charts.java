package dev.rill.bench.suite;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Draws a {@link Curve} as a PNG line chart with XChart: x on a log scale (the variables span decades), msg/s on a
 * log scale when the series differ by more than 10× (so a slower series is not flattened against the axis), linear
 * from zero otherwise; each point's whisker is its min–max over the repeated runs.
 */
public final class Charts {

    private static final Color[] COLORS = {
        new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0x9467bd), new Color(0xff7f0e)};

    private Charts() {
    }

    /**
     * Whether the chart of these series needs a log y axis.
     *
     * @param curve the curve
     * @return true when the largest median is more than 10× the smallest
     */
    public static boolean logY(Curve curve) {
        double[] r = range(curve);
        return r[0] > 0 && r[1] / r[0] > 10;
    }

    /** @return the smallest and the largest median of the curve */
    static double[] range(Curve curve) {
        double min = Double.MAX_VALUE;
        double max = 0;
        for (TreeMap<Long, Summary> s : curve.series().values()) {
            for (Summary p : s.values()) {
                min = Math.min(min, p.median());
                max = Math.max(max, p.median());
            }
        }
        return new double[] {min, max};
    }

    /**
     * Builds the chart of a curve.
     *
     * @param curve the curve, with at least one point
     * @return the chart
     */
    public static XYChart chart(Curve curve) {
        XYChart chart = new XYChartBuilder().width(900).height(540).title(curve.title())
                .xAxisTitle(curve.xLabel() + " (log scale)").yAxisTitle("messages / s").build();
        var st = chart.getStyler();
        chart.getStyler().setXAxisLogarithmic(true);
        boolean logY = logY(curve);
        chart.getStyler().setYAxisLogarithmic(logY);
        if (!logY) {
            chart.getStyler().setYAxisMin(0.0);
        } else {
            // Whole decades, so the axis shows at least two labelled powers of ten.
            double[] range = range(curve);
            chart.getStyler().setYAxisMin(Math.pow(10, Math.floor(Math.log10(range[0]))));
            chart.getStyler().setYAxisMax(Math.pow(10, Math.ceil(Math.log10(range[1]))));
        }
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        chart.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
        st.setChartBackgroundColor(Color.WHITE);
        st.setPlotBackgroundColor(Color.WHITE);
        st.setPlotGridLinesColor(new Color(0xdddddd));
        st.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        st.setAxisTitleFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        st.setAxisTickLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        st.setLegendFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        chart.getStyler().setErrorBarsColorSeriesColor(true);
        chart.getStyler().setDecimalPattern("#,###");
        int i = 0;
        for (Map.Entry<String, TreeMap<Long, Summary>> e : curve.series().entrySet()) {
            List<Double> xs = new ArrayList<>();
            List<Double> ys = new ArrayList<>();
            List<Double> err = new ArrayList<>();
            for (Map.Entry<Long, Summary> p : e.getValue().entrySet()) {
                // A log axis cannot show 0: depth/delayed 0 is drawn at 1 (the table keeps the true value).
                xs.add((double) Math.max(1, p.getKey()));
                ys.add(p.getValue().median());
                // XChart draws symmetric bars: the larger side of the min–max range.
                err.add(Math.max(p.getValue().max() - p.getValue().median(),
                        p.getValue().median() - p.getValue().min()));
            }
            XYSeries s = logY ? chart.addSeries(e.getKey(), xs, ys) : chart.addSeries(e.getKey(), xs, ys, err);
            Color c = COLORS[i++ % COLORS.length];
            s.setLineColor(c);
            s.setMarkerColor(c);
            s.setMarker(SeriesMarkers.CIRCLE);
            s.setLineStyle(new BasicStroke(2.2f));
        }
        return chart;
    }

    /**
     * Writes {@code scaling-<id>.png} into {@code dir}.
     *
     * @param curve the curve
     * @param dir the directory (created if missing)
     * @return the file written
     */
    public static Path writePng(Curve curve, Path dir) {
        try {
            Files.createDirectories(dir);
            Path file = dir.resolve("scaling-" + curve.id() + ".png");
            BitmapEncoder.saveBitmap(chart(curve), file.toString(), BitmapEncoder.BitmapFormat.PNG);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
