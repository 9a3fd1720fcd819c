package dev.rill.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;

/**
 * docs/testing.md says every snippet of its virtual-time part comes from {@link VirtualTimeExamplesTest} and is to be
 * copied from there: each one must be code that test runs.
 */
class TestingGuideSnippetsTest {

    @Test
    void everyVirtualTimeSnippetIsCodeThatVirtualTimeExamplesTestRuns() {
        String guide = DocSnippets.repoFile("docs/testing.md");
        String virtualTimePart = guide.substring(0, guide.indexOf("## Testing your own broker"));
        String test = DocSnippets.repoFile("mq-examples/src/test/java/dev/rill/examples/VirtualTimeExamplesTest.java");

        List<String> snippets = DocSnippets.javaBlocks(virtualTimePart);

        assertThat(snippets).hasSize(8);
        SoftAssertions.assertSoftly(softly -> snippets.forEach(snippet ->
                softly.assertThat(DocSnippets.firstMissingStatement(snippet, test))
                        .as("a statement of this docs/testing.md snippet that VirtualTimeExamplesTest lacks:%n%s",
                                snippet)
                        .isNull()));
    }
}
