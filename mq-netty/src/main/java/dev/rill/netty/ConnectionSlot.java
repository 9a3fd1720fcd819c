package dev.rill.netty;

import io.netty.util.AttributeKey;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One accepted connection's place in the server's count of connections ({@link ServerOptions#maxConnections()}),
 * taken at the accept and given back exactly once: by the connection's handler once it has released its leases
 * (so a count of zero means every lease is back), or by the channel's close when it never got one (closed during
 * the TLS handshake, or refused beyond the limit).
 */
final class ConnectionSlot {

    /** The channel attribute holding its slot. */
    static final AttributeKey<ConnectionSlot> KEY = AttributeKey.valueOf(ConnectionSlot.class, "slot");

    private final AtomicInteger connections;
    private final boolean beyondLimit;
    private final AtomicBoolean released = new AtomicBoolean();
    private volatile boolean handedOver;

    /** Takes a place in {@code connections}, the count of the server's connections bounded by {@code max}. */
    ConnectionSlot(AtomicInteger connections, int max) {
        this.connections = connections;
        this.beyondLimit = connections.incrementAndGet() > max;
    }

    /** @return whether the connection was accepted beyond the limit: it must be closed without being served */
    boolean beyondLimit() {
        return beyondLimit;
    }

    /** The connection's handler gives the place back from now on ({@link #release()}). */
    void handOver() {
        handedOver = true;
    }

    /** The channel closed: gives the place back unless a handler has it (that one gives it back after its cleanup). */
    void closedBeforeHandOver() {
        if (!handedOver) {
            release();
        }
    }

    /** Gives the place back; later calls do nothing. */
    void release() {
        if (released.compareAndSet(false, true)) {
            connections.decrementAndGet();
        }
    }
}
