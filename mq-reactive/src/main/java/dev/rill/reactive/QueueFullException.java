package dev.rill.reactive;

/**
 * A send was refused because the queue is at its capacity and the overflow policy is
 * {@link dev.rill.core.Overflow#FAIL FAIL}.
 */
public final class QueueFullException extends RillException {

    private static final long serialVersionUID = 1L;

    private final String queue;

    /**
     * Creates the exception.
     *
     * @param queue the full queue's name
     */
    public QueueFullException(String queue) {
        super("queue '" + queue + "' is full and its overflow policy is FAIL");
        this.queue = queue;
    }

    /** @return the full queue's name */
    public String queue() {
        return queue;
    }
}
