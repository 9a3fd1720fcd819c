package dev.rill.spring;

/**
 * Thrown while the application starts when a {@code rill.*} property is invalid or asks for something this version
 * of Rill cannot do. The message names the property and says what to change; Spring Boot prints it as the reason the
 * application failed to start.
 */
public class RillConfigurationException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    private final String property;

    /**
     * Creates the exception.
     *
     * @param property the property at fault, e.g. {@code rill.queues.orders.max-deliveries}
     * @param message what is wrong and what to change
     * @param cause the underlying error, or null
     */
    public RillConfigurationException(String property, String message, Throwable cause) {
        super(property + ": " + message, cause);
        this.property = property;
    }

    /**
     * Creates the exception.
     *
     * @param property the property at fault
     * @param message what is wrong and what to change
     */
    public RillConfigurationException(String property, String message) {
        this(property, message, null);
    }

    /** @return the property at fault, e.g. {@code rill.data-dir} */
    public String property() {
        return property;
    }
}
