package dev.rill.bench.suite;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Collects a scenario's figures and writes them twice: as a small JSON document (raw data) and as a Markdown
 * fragment that {@code mq-bench/scripts/bench.sh} assembles into {@code docs/benchmarks.md}.
 */
public final class Results {

    private final String scenario;
    private final StringBuilder md = new StringBuilder();
    private final List<String> json = new ArrayList<>();

    /**
     * @param scenario short name, used in the file names
     */
    public Results(String scenario) {
        this.scenario = scenario;
    }

    /**
     * Appends Markdown text to the fragment.
     *
     * @param text Markdown
     * @return this
     */
    public Results md(String text) {
        md.append(text);
        return this;
    }

    /**
     * Adds one raw record to the JSON output.
     *
     * @param name the measurement's name
     * @param fieldsJson a JSON object (already encoded)
     * @return this
     */
    public Results record(String name, String fieldsJson) {
        json.add(String.format(Locale.ROOT, "{\"name\":\"%s\",\"data\":%s}", escape(name), fieldsJson));
        return this;
    }

    /** @return the JSON document: scenario and records */
    public String json() {
        return "{\"scenario\":\"" + escape(scenario) + "\",\"records\":[\n  " + String.join(",\n  ", json) + "\n]}\n";
    }

    /** @return the Markdown fragment */
    public String markdown() {
        return md.toString();
    }

    /**
     * Writes {@code <scenario>.json} and {@code <scenario>.md} into {@code dir} (created if missing).
     *
     * @param dir the output directory
     */
    public void write(Path dir) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(scenario + ".json"), json(), StandardCharsets.UTF_8);
            Files.writeString(dir.resolve(scenario + ".md"), markdown(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String escape(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.toString();
    }
}
