package dev.rill.spring;

import dev.rill.reactive.QueuePipeline;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.BeanFactoryAware;
import org.springframework.beans.factory.NoSuchBeanDefinitionException;
import org.springframework.beans.factory.config.BeanPostProcessor;

/**
 * Hands each singleton {@link QueuePipeline} bean to {@link #found} as Spring creates it (lazy ones included, once
 * made): what the health watches and the meters measure.
 *
 * <p>Prototypes are left out, as the drain on shutdown leaves them out: one name, many pipelines (one health entry
 * and one set of meters per name could not tell them apart).
 */
abstract class PipelineBeanPostProcessor implements BeanPostProcessor, BeanFactoryAware {

    private volatile BeanFactory beans;

    @Override
    public void setBeanFactory(BeanFactory beans) {
        this.beans = beans;
    }

    @Override
    public Object postProcessAfterInitialization(Object bean, String name) {
        if (bean instanceof QueuePipeline p && singleton(name)) {
            found(name, p);
        }
        return bean;
    }

    /**
     * A singleton pipeline bean was made.
     *
     * @param name its bean name
     * @param pipeline the pipeline
     */
    abstract void found(String name, QueuePipeline pipeline);

    private boolean singleton(String name) {
        BeanFactory b = beans;
        try {
            return b == null || b.isSingleton(name);
        } catch (NoSuchBeanDefinitionException e) { // an inner bean
            return false;
        }
    }
}
