package dev.rill.reactive;

import java.time.Duration;

/**
 * A {@link QueuePipeline} handler did not finish within the pipeline's
 * {@linkplain PipelineBuilder#handlingTimeout(Duration) handling timeout}; the handler was cancelled and the message
 * nacked (or rejected, once out of attempts) like any other failure.
 */
public final class HandlingTimeoutException extends RillException {

    private static final long serialVersionUID = 1L;

    private final Duration timeout;

    /**
     * Creates the exception.
     *
     * @param queue the queue's name
     * @param messageId the message whose handler timed out
     * @param timeout the handling timeout
     */
    public HandlingTimeoutException(String queue, long messageId, Duration timeout) {
        super("handler of message " + messageId + " in queue '" + queue + "' did not finish within " + timeout);
        this.timeout = timeout;
    }

    /** @return the handling timeout that ran out */
    public Duration timeout() {
        return timeout;
    }
}
