package dev.rill.spring;

import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.NoSuchBeanDefinitionException;

/** Which {@link dev.rill.reactive.QueuePipeline} beans the starter watches (health) and measures (meters). */
final class PipelineBeans {

    private PipelineBeans() {
    }

    /**
     * Prototypes are left out, as the drain on shutdown leaves them out: one name, many pipelines (one health entry
     * and one set of meters per name could not tell them apart).
     *
     * @param beans the bean factory, null before it is known (then every bean counts)
     * @param name the bean's name
     * @return whether the bean named {@code name} is a singleton
     */
    static boolean singleton(BeanFactory beans, String name) {
        try {
            return beans == null || beans.isSingleton(name);
        } catch (NoSuchBeanDefinitionException e) { // an inner bean
            return false;
        }
    }
}
