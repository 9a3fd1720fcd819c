package dev.rill.spring;

import java.beans.PropertyDescriptor;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.springframework.beans.BeanUtils;
import org.springframework.boot.context.properties.bind.DataObjectPropertyName;
import org.springframework.boot.context.properties.source.ConfigurationPropertyName;
import org.springframework.boot.context.properties.source.ConfigurationPropertySource;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.boot.context.properties.source.IterableConfigurationPropertySource;
import org.springframework.boot.context.properties.source.UnboundElementsSourceFilter;
import org.springframework.core.env.Environment;

/**
 * Stops the start on a name under {@code rill.} that is none of {@link RillProperties}' properties: a misspelled
 * queue option ({@code rill.queues.orders.visibilty-timeout}) would otherwise leave the queue on its default without
 * a word. Environment variables and system properties are not checked (as Spring Boot's own check of unknown fields
 * does not), so unrelated {@code RILL_*} variables do no harm. An empty value ({@code rill.url=${RILL_URL:}}) is a
 * known name left unset, not an error.
 */
final class RillPropertyNames {

    private static final ConfigurationPropertyName ROOT = ConfigurationPropertyName.of("rill");

    /** Every property below {@code rill.}, dashed, e.g. {@code url}, {@code tls.enabled}; {@code queues} is a map. */
    static final Set<String> NAMES = names(RillProperties.class, "");

    /** The options of one queue, dashed, e.g. {@code visibility-timeout}. */
    static final Set<String> QUEUE_OPTIONS = names(RillProperties.Queue.class, "");

    private RillPropertyNames() {
    }

    /**
     * @throws RillConfigurationException naming the first unknown name found under {@code rill.}
     */
    static void check(Environment environment) {
        UnboundElementsSourceFilter checked = new UnboundElementsSourceFilter();
        for (ConfigurationPropertySource source : ConfigurationPropertySources.get(environment)) {
            if (!(source instanceof IterableConfigurationPropertySource names) || !checked.apply(source)) {
                continue;
            }
            names.stream().filter(ROOT::isAncestorOf).forEach(name -> {
                String problem = problem(name);
                if (problem != null) {
                    throw new RillConfigurationException(name.toString(), problem);
                }
            });
        }
    }

    /** @return what is wrong with a name under {@code rill.}, or null when it is a property */
    static String problem(ConfigurationPropertyName name) {
        int n = name.getNumberOfElements();
        if ("queues".equals(element(name, 1))) {
            if (n == 4 && QUEUE_OPTIONS.contains(element(name, 3))) {
                return null;
            }
            return n == 4 ? "no such queue option; a queue's options are " + QUEUE_OPTIONS
                    : "not a queue option: write rill.queues.<queue>.<option> (rill.queues[<queue.with.dots>]."
                            + "<option>), options " + QUEUE_OPTIONS;
        }
        String rest = IntStream.range(1, n).mapToObj(i -> element(name, i)).collect(Collectors.joining("."));
        if (NAMES.contains(rest)) {
            return null;
        }
        Set<String> all = new TreeSet<>(NAMES);
        all.remove("queues");
        all.add("queues.<queue>.<option>");
        return "no such property; the rill.* properties are " + all.stream().map(s -> "rill." + s).toList();
    }

    private static String element(ConfigurationPropertyName name, int i) {
        return name.getElement(i, ConfigurationPropertyName.Form.DASHED);
    }

    private static Set<String> names(Class<?> type, String prefix) {
        Set<String> names = new TreeSet<>();
        for (PropertyDescriptor p : BeanUtils.getPropertyDescriptors(type)) {
            if (p.getName().equals("class") || p.getReadMethod() == null) {
                continue;
            }
            String name = prefix + DataObjectPropertyName.toDashedForm(p.getName());
            Class<?> t = p.getPropertyType();
            if (t.getDeclaringClass() == RillProperties.class && !Map.class.isAssignableFrom(t)) {
                names.addAll(names(t, name + ".")); // nested group: tls, metrics, shutdown
            } else {
                names.add(name);
            }
        }
        return names;
    }
}
