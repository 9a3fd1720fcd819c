package dev.rill.netty.internal.protocol;

import io.netty.handler.codec.DecoderException;
import java.util.Objects;

/**
 * A violation of the wire protocol: a frame that cannot be decoded, or one not allowed in the current state. It
 * extends netty's {@link DecoderException} so that {@link FrameDecoder} hands it to {@code exceptionCaught}
 * unwrapped; the connection handler answers with an ERROR frame carrying {@link #code()} and closes the connection
 * when the byte stream can no longer be trusted.
 */
public final class ProtocolException extends DecoderException {

    private static final long serialVersionUID = 1L;

    private final ErrorCode code;

    /**
     * Creates an exception.
     *
     * @param code the error code sent to the peer
     * @param message what was wrong, naming the field and the value
     */
    public ProtocolException(ErrorCode code, String message) {
        super(message);
        this.code = Objects.requireNonNull(code, "code");
    }

    /** @return the error code to send to the peer */
    public ErrorCode code() {
        return code;
    }

    @Override
    public String toString() {
        return "ProtocolException[" + code + "]: " + getMessage();
    }
}
