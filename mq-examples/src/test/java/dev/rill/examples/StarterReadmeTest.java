package dev.rill.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The README's Spring Boot starter section shows what the starter's {@code StarterJourneyTest} runs: its Java block is
 * {@code ShopApplication}'s code, its properties are in that application's {@code application.properties}.
 */
class StarterReadmeTest {

    private static final String APP = "mq-spring-boot-starter/src/test/java/dev/rill/spring/journey/";

    private final String section = section(DocSnippets.repoFile("README.md"));

    @Test
    void theJavaBlockIsTheJourneysApplication() {
        String code = DocSnippets.javaBlocks(section).get(0);
        assertThat(DocSnippets.firstMissingStatement(code, DocSnippets.repoFile(APP + "ShopApplication.java")))
                .as("a statement of the README's starter section that ShopApplication does not have").isNull();
    }

    @Test
    void thePropertiesAreTheJourneysApplicationProperties() {
        String block = section.substring(section.indexOf("```properties\n") + "```properties\n".length());
        List<String> shown = Arrays.asList(block.substring(0, block.indexOf("```")).strip().split("\n"));
        List<String> used = Arrays.asList(DocSnippets.repoFile(
                "mq-spring-boot-starter/src/test/resources/journey/application.properties").split("\n"));
        assertThat(shown).isNotEmpty();
        assertThat(used).containsAll(shown);
    }

    private static String section(String readme) {
        int start = readme.indexOf("### Spring Boot starter\n");
        return readme.substring(start, readme.indexOf("\n### ", start + 1));
    }
}
