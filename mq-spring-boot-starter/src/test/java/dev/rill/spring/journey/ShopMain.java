package dev.rill.spring.journey;

import java.time.Duration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * {@link ShopApplication} as its own process, for {@link SigtermJourneyTest}: {@code slow-*} orders take 300 ms.
 * Prints {@code PORT <n>} once started and {@code DONE <order>} when an order's handler completed.
 */
public final class ShopMain {

    private ShopMain() {
    }

    /**
     * Runs the application until SIGTERM.
     *
     * @param args Spring Boot arguments, e.g. {@code --rill.data-dir=DIR}
     */
    public static void main(String[] args) {
        ShopApplication.Fulfilment fulfilment = new ShopApplication.Fulfilment(0, Duration.ofMillis(300),
                order -> System.out.println("DONE " + order));
        ConfigurableApplicationContext app = new SpringApplicationBuilder(ShopApplication.class)
                .properties("spring.config.location=classpath:journey/application.properties",
                        "spring.main.banner-mode=off", "logging.level.root=warn")
                .initializers(c -> c.getBeanFactory().registerSingleton("fulfilment", fulfilment))
                .run(args);
        System.out.println("PORT " + app.getEnvironment().getProperty("local.server.port"));
    }
}
