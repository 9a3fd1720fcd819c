package dev.rill.netty.internal.protocol;

import io.netty.handler.codec.EncoderException;

/**
 * The {@link FrameEncoder} refused to write a frame: a field beyond its limit ({@link IllegalArgumentException}) or a
 * frame above the peer's maximum size ({@link ProtocolException}, the cause). Nothing of the frame was written, so the
 * connection's byte stream is intact: the connection handler fails the one operation the frame belongs to (its stream
 * id) rather than the connection.
 */
public final class FrameRefusedException extends EncoderException {

    private static final long serialVersionUID = 1L;

    /** The frame refused; not serialized (frames are not). */
    private final transient Frame frame;

    /**
     * Creates the exception.
     *
     * @param frame the frame refused
     * @param cause why
     */
    public FrameRefusedException(Frame frame, Throwable cause) {
        super(frame.type() + " frame (id " + frame.streamId() + ") not sent: " + cause.getMessage(), cause);
        this.frame = frame;
    }

    /** @return the frame refused (null after deserialization) */
    public Frame frame() {
        return frame;
    }
}
