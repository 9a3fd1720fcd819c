package dev.rill.reactive;

/**
 * An operation reached a queue (or broker) that was closed or deleted.
 */
public final class QueueClosedException extends RillException {

    private static final long serialVersionUID = 1L;

    private final String queue;

    /**
     * Creates the exception.
     *
     * @param queue the closed queue's name
     */
    public QueueClosedException(String queue) {
        super("queue '" + queue + "' is closed or was deleted");
        this.queue = queue;
    }

    /** @return the closed queue's name */
    public String queue() {
        return queue;
    }
}
