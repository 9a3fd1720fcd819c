package dev.rill.examples;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Holds the documentation's Java snippets to the tests that run them: every statement of a snippet must occur, in
 * the snippet's order, in the test's source (whitespace and comments aside; the test may have statements of its own
 * in between, such as assertions).
 */
final class DocSnippets {

    private static final Pattern LINE_COMMENT = Pattern.compile("(^|\\s)//.*$");
    private static final Pattern BLOCK_COMMENT = Pattern.compile("/\\*.*?\\*/", Pattern.DOTALL);
    private static final Pattern WHITESPACE = Pattern.compile("\\s+");

    private DocSnippets() {
    }

    /**
     * Reads a file of the repository, from the module's directory (as surefire runs) or the repository's root.
     *
     * @param relative the path from the repository's root
     * @return the file's text
     */
    static String repoFile(String relative) {
        Path fromModule = Path.of("..", relative);
        Path path = Files.exists(fromModule) ? fromModule : Path.of(relative);
        try {
            return Files.readString(path);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The {@code ```java} blocks of a Markdown text (fences may be indented, as in a list item).
     *
     * @param markdown the text
     * @return each block's lines joined by newlines
     */
    static List<String> javaBlocks(String markdown) {
        List<String> blocks = new ArrayList<>();
        StringBuilder current = null;
        for (String line : markdown.split("\n", -1)) {
            String fence = line.strip();
            if (current == null && fence.equals("```java")) {
                current = new StringBuilder();
            } else if (current != null && fence.equals("```")) {
                blocks.add(current.toString());
                current = null;
            } else if (current != null) {
                current.append(line).append('\n');
            }
        }
        return blocks;
    }

    /**
     * The first statement of {@code snippet} that {@code source} lacks, looking for each after the previous one.
     *
     * @param snippet code from the documentation
     * @param source the source of the test that runs it
     * @return the missing statement (without whitespace), or {@code null} when every statement is there in order
     */
    static String firstMissingStatement(String snippet, String source) {
        String code = squeeze(source);
        int from = 0;
        for (String statement : squeeze(snippet).split(";")) {
            if (statement.isEmpty()) {
                continue;
            }
            int at = code.indexOf(statement, from);
            if (at < 0) {
                return statement;
            }
            from = at + statement.length();
        }
        return null;
    }

    /** The code without comments and without any whitespace. */
    private static String squeeze(String code) {
        StringBuilder out = new StringBuilder();
        for (String line : BLOCK_COMMENT.matcher(code).replaceAll(" ").split("\n")) {
            out.append(LINE_COMMENT.matcher(line).replaceAll("")).append('\n');
        }
        return WHITESPACE.matcher(out).replaceAll("");
    }
}
