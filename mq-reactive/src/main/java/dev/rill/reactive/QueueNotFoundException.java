package dev.rill.reactive;

/**
 * An operation named a queue that does not exist.
 */
public final class QueueNotFoundException extends RillException {

    private static final long serialVersionUID = 1L;

    private final String queue;

    /**
     * Creates the exception.
     *
     * @param queue the missing queue's name
     */
    public QueueNotFoundException(String queue) {
        super("no queue named '" + queue + "'");
        this.queue = queue;
    }

    /** @return the missing queue's name */
    public String queue() {
        return queue;
    }
}
