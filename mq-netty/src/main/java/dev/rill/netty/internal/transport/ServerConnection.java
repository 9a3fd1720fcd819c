package dev.rill.netty.internal.transport;

import dev.rill.core.Codec;
import dev.rill.core.LeaseOutcome;
import dev.rill.core.Message;
import dev.rill.core.QueueEvent;
import dev.rill.core.QueueSpec;
import dev.rill.netty.Permission;
import dev.rill.netty.Permissions;
import dev.rill.netty.ServerOptions;
import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.FrameEncoder;
import dev.rill.netty.internal.protocol.FrameRefusedException;
import dev.rill.netty.internal.protocol.Limits;
import dev.rill.netty.internal.protocol.PeekedMessage;
import dev.rill.netty.internal.protocol.ProtocolException;
import dev.rill.netty.internal.protocol.SendReceipt;
import dev.rill.netty.internal.protocol.SendStatus;
import dev.rill.netty.internal.protocol.WireMessage;
import dev.rill.reactive.Delivery;
import dev.rill.reactive.LeaseExpiredException;
import dev.rill.reactive.QueueClosedException;
import dev.rill.reactive.QueueFullException;
import dev.rill.reactive.ReactiveBroker;
import dev.rill.reactive.ReactiveQueue;
import dev.rill.reactive.ReceiveOptions;
import dev.rill.reactive.SendOptions;
import dev.rill.reactive.SendResult;
import dev.rill.reactive.internal.AckEach;
import dev.rill.reactive.internal.StoreFirst;
import dev.rill.reactive.internal.Withdrawable;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.AttributeKey;
import io.netty.util.collection.LongObjectHashMap;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.reactivestreams.Subscription;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;

/**
 * The server side of one connection: a netty handler placed after the frame decoder. Every field is confined to
 * the channel's event loop; results of broker calls that complete on other threads hop back to it.
 *
 * <p>Flow control: deliveries per subscription never exceed the client's CREDIT (credit is turned into
 * {@code request(n)} on the local receive stream, and held back while the channel is not writable); sends per queue
 * never exceed the SEND_CREDIT granted, which is granted again only as sends are answered, and only as far as the
 * queue's lane keeps the bytes of its unanswered sends within {@link #sendAllowance} (see
 * {@code SendLane#grant}): from protocol version 6 the credit carries those bytes (SEND_CREDIT_BYTES), so the bound
 * holds whatever the order of the sizes, give or take the one message that may overdraw it; before, it is sized from
 * an estimate. The socket is always read.
 */
public final class ServerConnection extends ChannelInboundHandlerAdapter {

    /**
     * How many max frame sizes of messages a connection's sends to one queue may have on the server unanswered (held
     * as received while they wait for room): the lane grants SEND_CREDIT only as far as its estimate of the next
     * messages' sizes fits what is left of this allowance. Four frames keep large messages pipelined (a frame is
     * received while earlier ones are stored) and bound what one waiting producer holds per queue to 4 MiB with the
     * default 1 MiB frames; small messages still get the whole send window (4 MiB is 256 messages of 16 KiB).
     */
    public static final int SEND_ALLOWANCE_FRAMES = 4;

    /**
     * The least allowance, whatever the max frame size: with frames of 4 KiB or less the send window (256 frames at
     * most) already bounds the bytes, and the whole window is granted from the start, as before.
     */
    public static final long SEND_ALLOWANCE_FLOOR = 1 << 20;

    /**
     * @param maxFrameSize the server's max frame size
     * @return the bytes a connection's unanswered sends to one queue may hold on the server:
     *     {@link #SEND_ALLOWANCE_FRAMES} frames, at least {@link #SEND_ALLOWANCE_FLOOR}
     */
    public static long sendAllowance(int maxFrameSize) {
        return Math.max((long) SEND_ALLOWANCE_FRAMES * maxFrameSize, SEND_ALLOWANCE_FLOOR);
    }

    /**
     * For tests: the most bytes this connection ever held for its sends received and not yet answered (all queues
     * together), as the lanes count them against their allowance.
     *
     * @return the high-water mark, readable from any thread
     */
    public long peakSendBytesHeld() {
        return peakSendBytesHeld;
    }

    /** DRAINING: the server is shutting down (GOAWAY sent): settlements only, then CLOSE. */
    private enum State { HELLO, AUTH, OPEN, DRAINING, CLOSED }

    private final ServerOptions options;
    private final ReactiveBroker broker;
    private final Runnable authenticated;
    private final Runnable onClose;
    private final PeerLog peers;
    /** The peer's address, taken while the channel is open (for the log lines about it). */
    private java.net.SocketAddress remote;

    private ChannelHandlerContext ctx;
    private Channel channel;
    private EventLoop loop;
    private State state = State.HELLO;
    private int preAuthFrames;
    private Permissions permissions = Permissions.all();
    private ScheduledFuture<?> handshakeTimer;
    private final Runnable flushTask = () -> {
        flushScheduled = false;
        ctx.flush();
    };
    private boolean flushScheduled;

    private final Map<String, ReactiveQueue<byte[]>> queues = new HashMap<>();
    private final Map<String, SendLane> lanes = new HashMap<>();
    /**
     * Queues attached (declared or described) by a token without the send right: each is granted one SEND_CREDIT,
     * granted again whenever its SEND is refused with FORBIDDEN. A client waits for credit before it sends; without
     * it, a send to such a queue waited for ever instead of failing with the server's FORBIDDEN.
     */
    private final java.util.Set<String> refusingLanes = new java.util.HashSet<>();
    private final Map<Integer, ServerSubscription> subscriptions = new HashMap<>();
    private final Map<Integer, EventSubscription> eventSubscriptions = new HashMap<>();
    /** Delivery tag → what it leases; a primitive-keyed map: one entry per message, no boxing. */
    private final LongObjectHashMap<Held> held = new LongObjectHashMap<>();
    private long nextTag = 1;
    /** The protocol version negotiated in HELLO. */
    private int version = Limits.PROTOCOL_VERSION;
    /** Broker calls (admin answers, settlements) whose answer is not written yet. */
    private int answersPending;
    /** Bytes of the messages of all lanes' sends received and not answered yet, each lane in its measure. */
    private long sendBytesHeld;
    /** The most {@link #sendBytesHeld} ever was; written only when it grows (rarely once the lanes are steady). */
    private volatile long peakSendBytesHeld;
    private ScheduledFuture<?> drainTimer;
    /** Set by {@link #endDrain()} (on the event loop): a drain begun later is a drain of zero. */
    private boolean drainEnded;

    /**
     * Creates the handler for one connection.
     *
     * @param options the server options
     * @param broker the broker served
     * @param authenticated lifts the decoder's pre-authentication frame size cap
     * @param onClose called once when the connection closed and its leases were released
     * @param peers where the server says why it refuses or closes the connection
     */
    public ServerConnection(ServerOptions options, ReactiveBroker broker, Runnable authenticated,
            Runnable onClose, PeerLog peers) {
        this.options = options;
        this.broker = broker;
        this.authenticated = authenticated;
        this.onClose = onClose;
        this.peers = peers;
    }

    // ---- netty callbacks ----------------------------------------------------------------------------------------

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.channel = ctx.channel();
        this.loop = channel.eventLoop();
        this.remote = channel.remoteAddress();
        long ms = options.handshakeTimeout().toMillis();
        Long acceptedAt = channel.attr(ACCEPTED_AT).get();
        long left = acceptedAt == null ? ms
                : Math.max(0, ms - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - acceptedAt));
        handshakeTimer = loop.schedule(() -> {
            if (state == State.HELLO || state == State.AUTH) {
                fatal(ErrorCode.HANDSHAKE_TIMEOUT, "handshake not completed within " + ms + " ms");
            }
        }, left, TimeUnit.MILLISECONDS);
    }

    /** When the connection was accepted (System.nanoTime()): the handshake timeout runs from then, TLS included. */
    private static final AttributeKey<Long> ACCEPTED_AT = AttributeKey.valueOf(ServerConnection.class, "acceptedAt");

    /**
     * Records that {@code channel} was just accepted: the handshake timeout ({@link ServerOptions#handshakeTimeout()})
     * counts from now, so a TLS handshake's time is part of it.
     *
     * @param channel the accepted channel, before any handshake
     */
    public static void accepted(Channel channel) {
        channel.attr(ACCEPTED_AT).set(System.nanoTime());
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof Frame frame)) {
            io.netty.util.ReferenceCountUtil.release(msg);
            return;
        }
        try {
            onFrame(frame);
        } catch (ProtocolException e) {
            fatal(e.code(), e.getMessage());
        } catch (Throwable e) { // an Error too (a served broker out of memory): see contained
            contained(e);
        }
    }

    /*
     * containment: no Throwable leaves this handler (channelRead, exceptionCaught). One that did went back to netty,
     * whose fallback logs it; when that log failed as well (an OutOfMemoryError, a class that could not be loaded),
     * it left the pipeline, and the transport's read loop released the read buffer the frame decoder had already
     * released: "IllegalReferenceCountException: refCnt: 0, decrement: 1 at ...EpollStreamUnsafe.handleReadException"
     * in the selector loop, with the exceptionCaught and the input shutdown that come after that release skipped.
     * The connection stayed open and unanswered, its client waiting for ever (rill serve -Xmx512m fed messages of
     * tens of MiB). So the connection is closed whatever fails: fatal's ERROR frame if it can be sent, the bare close
     * otherwise, and what could not be logged is not logged.
     */

    /** Ends the connection because of {@code e}, a bug or an Error; never throws. */
    private void contained(Throwable e) {
        try {
            fatal(ErrorCode.INTERNAL_ERROR, describe(e), e);
        } catch (Throwable again) {
            state = State.CLOSED;
            ctx.close();
        }
    }

    /** @return {@code e} in words, or its class name when those cannot be made (no memory to build them) */
    private static String describe(Throwable e) {
        try {
            return String.valueOf(e);
        } catch (Throwable again) {
            return e.getClass().getName();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        // consumed here, as every frame is: write() already scheduled the flush of what the reads answered
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (channel.isWritable()) {
            for (ServerSubscription s : subscriptions.values()) {
                s.releaseHeldCredit();
            }
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent) {
            fatal(ErrorCode.IDLE_TIMEOUT, "nothing received for " + options.idleTimeout().toMillis() + " ms");
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        try {
            if (cause instanceof FrameRefusedException r && r.frame() != null && refused(r)) {
                return;
            }
            Throwable c = cause;
            while (!(c instanceof ProtocolException) && c.getCause() != null && c.getCause() != c) {
                c = c.getCause();
            }
            if (c instanceof ProtocolException p) {
                fatal(p.code(), p.getMessage());
            } else if (ConnectFailures.find(cause, java.io.IOException.class) != null
                    && ConnectFailures.find(cause, Error.class) == null) {
                // I/O errors (connection reset, TLS failures): nothing to tell the peer, nothing the operator must see.
                // Not an Error caused by one (a NoClassDefFoundError caused by a ZipException, say): that is a bug or
                // a broken installation, which was closed with a debug line only
                ctx.close();
                peers.debug(remote, "connection lost: " + describe(c));
            } else {
                fatal(ErrorCode.INTERNAL_ERROR, describe(cause), cause); // a bug: a decoder's, say
            }
        } catch (Throwable again) { // see containment
            contained(again);
        }
    }

    /**
     * The encoder refused a frame of one subscription (a served broker's value the wire cannot carry: a priority or
     * delivery count out of range). Nothing of it was written, so the connection's byte stream is intact: only that
     * subscription ends, with the reason, its delivery given back uncounted; the connection, its other subscriptions
     * and the operations in flight go on. The answer to one request, of whatever type (written by {@link #reply}),
     * becomes an ERROR to that request instead. Called within the write, on the event loop.
     *
     * @return whether the frame was one subscription's or one request's answer (else the refusal ends the
     *     connection, as any bug)
     */
    private boolean refused(FrameRefusedException r) {
        Frame f = r.frame();
        String why = r.getCause() != null ? String.valueOf(r.getCause().getMessage()) : String.valueOf(r.getMessage());
        if (f instanceof Frame.Deliver d) {
            Held h = held.remove(d.deliveryTag());
            if (h != null) {
                h.subscription.refused(h.delivery, d.messageId(), why);
            }
            return true;
        }
        if (f instanceof Frame.Event e) {
            EventSubscription s = eventSubscriptions.get(e.subscriptionId());
            if (s != null) {
                s.refused(e.messageId(), why);
            }
            return true;
        }
        if (f == replying) {
            // the answer to one request (what it carries came from the served broker): only that request fails,
            // as any request its broker fails. Whatever the answer's type: every answer goes out through reply()
            replying = null;
            peers.undeliverable(remote, "the answer to request " + f.streamId() + " (" + f.type() + ") cannot be sent"
                    + " over the network: " + why + "; the request was answered ERROR(INTERNAL_ERROR)");
            write(new Frame.Error(f.streamId(), ErrorCode.INTERNAL_ERROR, fit("the server cannot send its answer ("
                    + f.type() + ") over the network: " + why + "; the served broker gave a value the wire cannot"
                    + " carry (docs/protocol.md)")));
            return true;
        }
        return false;
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (state == State.HELLO || state == State.AUTH) { // not closed by the server: that sets CLOSED first
            peers.debug(remote, "closed by the peer during the handshake (HELLO/AUTH)");
        }
        releaseAll();
        ctx.fireChannelInactive();
    }

    // ---- dispatch -----------------------------------------------------------------------------------------------

    private void onFrame(Frame frame) {
        switch (state) {
            case CLOSED -> {
                return;
            }
            case HELLO, AUTH -> {
                if (++preAuthFrames > options.maxPreAuthFrames()) {
                    fatal(ErrorCode.LIMIT_EXCEEDED, "more than " + options.maxPreAuthFrames()
                            + " frames before authentication");
                    return;
                }
                if (state == State.HELLO) {
                    if (frame instanceof Frame.Hello h) {
                        onHello(h);
                    } else {
                        fatal(ErrorCode.PROTOCOL_ERROR, "expected HELLO, got " + frame.type());
                    }
                } else if (frame instanceof Frame.Auth a) {
                    onAuth(a);
                } else if (frame instanceof Frame.Ping p) {
                    write(new Frame.Pong(p.nonce()));
                } else {
                    fatal(ErrorCode.PROTOCOL_ERROR, "expected AUTH, got " + frame.type());
                }
                return;
            }
            case DRAINING -> {
                if (!allowedWhileDraining(frame)) {
                    return;
                }
            }
            default -> {
                // OPEN
            }
        }
        if (frame instanceof Frame.Send f) {
            onSend(f);
        } else if (frame instanceof Frame.CancelSend f) {
            for (SendLane lane : lanes.values()) {
                if (lane.cancel(f.requestId())) {
                    break;
                }
            }
        } else if (frame instanceof Frame.SubscribeEvents f) {
            onSubscribeEvents(f);
        } else if (frame instanceof Frame.Credit f && eventSubscriptions.containsKey(f.subscriptionId())) {
            if (f.credit() < 1) {
                fatal(ErrorCode.PROTOCOL_ERROR, "CREDIT must be >= 1, was " + f.credit());
                return;
            }
            eventSubscriptions.get(f.subscriptionId()).request(f.credit());
        } else if (frame instanceof Frame.Unsubscribe f && eventSubscriptions.containsKey(f.subscriptionId())) {
            EventSubscription s = eventSubscriptions.remove(f.subscriptionId());
            s.ended = true;
            s.cancel();
            write(new Frame.SubscriptionEnd(f.subscriptionId(), ErrorCode.NONE, ""));
        } else if (frame instanceof Frame.Credit f) {
            ServerSubscription s = subscriptions.get(f.subscriptionId());
            if (s == null) {
                // may cross the SUBSCRIPTION_END of a subscription that just ended: harmless, the client ignores it
                reply(new Frame.Error(f.subscriptionId(), ErrorCode.UNKNOWN_SUBSCRIPTION,
                        "no open subscription " + f.subscriptionId()));
                return;
            }
            if (f.credit() < 1) {
                fatal(ErrorCode.PROTOCOL_ERROR, "CREDIT must be >= 1, was " + f.credit());
                return;
            }
            s.credit(f.credit());
        } else if (frame instanceof Frame.Ack f) {
            settle(f.requestId(), f.tags(), "ack", Delivery::ack, true);
        } else if (frame instanceof Frame.Release f) {
            settle(f.requestId(), f.tags(), "release", Delivery::release, true);
        } else if (frame instanceof Frame.Nack f) {
            Duration d = Duration.ofMillis(f.delayMillis());
            settle(f.requestId(), f.tags(), "nack", dl -> d.isZero() ? dl.nack() : dl.nack(d), true);
        } else if (frame instanceof Frame.Extend f) {
            Duration d = Duration.ofMillis(f.durationMillis());
            settle(f.requestId(), f.tags(), "extend", dl -> dl.extend(d), false);
        } else if (frame instanceof Frame.Reject f) {
            settle(f.requestId(), f.tags(), "reject", dl -> dl.reject(f.reason()), true);
        } else if (frame instanceof Frame.Subscribe f) {
            onSubscribe(f);
        } else if (frame instanceof Frame.Unsubscribe f) {
            ServerSubscription s = subscriptions.remove(f.subscriptionId());
            if (s != null) {
                s.ended = true;
                s.cancel();
                write(new Frame.SubscriptionEnd(f.subscriptionId(), ErrorCode.NONE, ""));
            } else {
                reply(new Frame.Error(f.subscriptionId(), ErrorCode.UNKNOWN_SUBSCRIPTION,
                        "no open subscription " + f.subscriptionId()));
            }
        } else if (frame instanceof Frame.Declare f) {
            onDeclare(f);
        } else if (frame instanceof Frame.Describe f) {
            onDescribe(f);
        } else if (frame instanceof Frame.Ping p) {
            write(new Frame.Pong(p.nonce()));
        } else if (frame instanceof Frame.Pong) {
            // keep-alive answer: reading it was enough
        } else if (frame instanceof Frame.Peek f) {
            ReactiveQueue<byte[]> q = declared(f.requestId(), f.queue(), Permission.RECEIVE);
            if (q != null) {
                answer(f.requestId(), f.queue(), q.peek(f.max()).map(Wire::toPeeked).collectList()
                                .map(list -> fitting(f.queue(), list)),
                        list -> new Frame.PeekResult(f.requestId(), list));
            }
        } else if (frame instanceof Frame.Stats f) {
            if (f.queue() == null) {
                answer(f.requestId(), null, broker.stats().map(all -> all.stream()
                                .filter(s -> permissions.allowsAny(s.name())).toList()),
                        list -> oneFrame(new Frame.StatsResult(f.requestId(), list), "the stats of " + list.size()
                                + " queues", "ask for queues by name"));
            } else if (allowed(f.requestId(), f.queue(), null)) {
                answer(f.requestId(), f.queue(), broker.stats().map(all -> all.stream()
                                .filter(s -> s.name().equals(f.queue())).toList()),
                        list -> list.isEmpty()
                                ? new Frame.Error(f.requestId(), ErrorCode.QUEUE_NOT_FOUND,
                                        "no queue named '" + f.queue() + "'")
                                : new Frame.StatsResult(f.requestId(), list));
            }
        } else if (frame instanceof Frame.Memory f) {
            // broker-wide totals: any authenticated connection may ask, as for the stats of the queues it may see
            answer(f.requestId(), null, broker.memory(), m -> new Frame.MemoryResult(f.requestId(), m.used(),
                    m.budget().orElse(0)));
        } else if (frame instanceof Frame.ListQueues f) {
            answer(f.requestId(), null, broker.list().map(all -> all.stream()
                    .filter(permissions::allowsAny).toList()), list -> oneFrame(new Frame.ListResult(f.requestId(),
                    list), "the names of " + list.size() + " queues", "give this token rights on fewer queues"));
        } else if (frame instanceof Frame.Purge f) {
            if (allowed(f.requestId(), f.queue(), Permission.MANAGE)) {
                answer(f.requestId(), f.queue(), broker.purge(f.queue()), n -> new Frame.Result(f.requestId(), n));
            }
        } else if (frame instanceof Frame.Delete f) {
            if (allowed(f.requestId(), f.queue(), Permission.MANAGE)) {
                queues.remove(f.queue());
                answer(f.requestId(), f.queue(), broker.delete(f.queue()),
                        b -> new Frame.Result(f.requestId(), b ? 1 : 0));
            }
        } else if (frame instanceof Frame.Redrive f) {
            if (f.target() == null) {
                if (allowed(f.requestId(), f.deadLetterQueue(), Permission.MANAGE)) {
                    answer(f.requestId(), f.deadLetterQueue(), broker.redrive(f.deadLetterQueue(), f.max()),
                            n -> new Frame.Result(f.requestId(), n));
                }
            } else if (allowed(f.requestId(), f.deadLetterQueue(), Permission.MANAGE)
                    && allowed(f.requestId(), f.target(), Permission.SEND)) {
                // the target is the caller's choice: moving messages into it is sending to it
                answer(f.requestId(), f.deadLetterQueue(), broker.redrive(f.deadLetterQueue(), f.target(), f.max()),
                        n -> new Frame.Result(f.requestId(), n));
            }
        } else if (frame instanceof Frame.Close) {
            boolean freeFirst = state == State.OPEN;
            state = State.CLOSED;
            if (drainTimer != null) {
                drainTimer.cancel(false);
            }
            if (freeFirst) {
                releaseAll(); // see lastFrame
            }
            ctx.writeAndFlush(new Frame.Close(ErrorCode.NONE, "")).addListener(ChannelFutureListener.CLOSE);
        } else {
            fatal(ErrorCode.PROTOCOL_ERROR, frame.type() + " is not a client frame");
        }
    }

    // ---- handshake ----------------------------------------------------------------------------------------------

    private void onHello(Frame.Hello h) {
        int chosen = -1;
        for (int v : Limits.SUPPORTED_VERSIONS) {
            if (h.versions().contains(v)) {
                chosen = Math.max(chosen, v);
            }
        }
        if (chosen < 0) {
            fatal(ErrorCode.UNSUPPORTED_VERSION, "none of the offered protocol versions " + h.versions()
                    + " is supported; this server speaks " + Limits.SUPPORTED_VERSIONS);
            return;
        }
        version = chosen;
        boolean authRequired = !options.tokens().isEmpty();
        int heartbeat = (int) Math.max(1, Math.min(Integer.MAX_VALUE, options.idleTimeout().toMillis() / 3));
        write(new Frame.HelloOk(version, options.maxFrameSize(), heartbeat, authRequired,
                options.maxSubscriptionsPerConnection(), "rill"));
        if (authRequired) {
            state = State.AUTH;
        } else {
            open();
        }
    }

    private void onAuth(Frame.Auth a) {
        byte[] given = a.token().getBytes(StandardCharsets.UTF_8);
        Permissions found = null;
        for (Map.Entry<String, Permissions> e : options.tokens().entrySet()) {
            // compare every token in constant time so timing tells nothing about which prefix matched
            if (MessageDigest.isEqual(given, e.getKey().getBytes(StandardCharsets.UTF_8))) {
                found = e.getValue();
            }
        }
        if (found == null) {
            fatal(ErrorCode.AUTH_FAILED, a.token().isEmpty() ? "a token is required" : "unknown token");
            return;
        }
        permissions = found;
        write(new Frame.AuthOk("token"));
        open();
    }

    private void open() {
        state = State.OPEN;
        handshakeTimer.cancel(false);
        authenticated.run();
    }

    // ---- declare / admin ----------------------------------------------------------------------------------------

    private void onDeclare(Frame.Declare f) {
        QueueSpec spec;
        try {
            spec = f.toSpec().validate();
        } catch (IllegalArgumentException e) {
            reply(new Frame.Error(f.requestId(), ErrorCode.INVALID_ARGUMENT, text(e)));
            return;
        }
        String name = spec.name();
        if (!permissions.allowsAny(name)) {
            forbidden(f.requestId(), name, null);
            return;
        }
        Mono<Boolean> mayDeclare = permissions.allows(name, Permission.MANAGE)
                ? Mono.just(true)
                : broker.list().map(names -> names.contains(name));
        answer(f.requestId(), name, mayDeclare.flatMap(ok -> ok
                        ? broker.queue(spec, Codec.bytes()).map(q -> (Object) q)
                        : Mono.just((Object) Boolean.FALSE)),
                result -> {
                    if (result instanceof ReactiveQueue<?> q) {
                        @SuppressWarnings("unchecked")
                        ReactiveQueue<byte[]> bq = (ReactiveQueue<byte[]>) q;
                        attach(bq, new Frame.DeclareOk(f.requestId()));
                        return null;
                    }
                    return new Frame.Error(f.requestId(), ErrorCode.FORBIDDEN, denial(name, Permission.MANAGE)
                            + ", which creating it needs");
                });
    }

    /**
     * DESCRIBE (passive declare): answers the existing queue's spec and attaches it to the connection like DECLARE.
     * Needs any right on the queue (send, receive or manage), checked before existence so a token learns nothing
     * about queues it has no right on.
     */
    private void onDescribe(Frame.Describe f) {
        String name = f.queue();
        if (!permissions.allowsAny(name)) {
            forbidden(f.requestId(), name, null);
            return;
        }
        answer(f.requestId(), name, broker.lookup(name, Codec.bytes()), q -> {
            try {
                // a queue made in the server's JVM may have a duration under 1 ms, which DESCRIBE_OK's whole
                // milliseconds cannot carry (the encoder would refuse the answer and the connection would end)
                Frame.Declare.requireWholeMillis(q.spec());
            } catch (IllegalArgumentException e) {
                return new Frame.Error(f.requestId(), ErrorCode.INVALID_ARGUMENT, fit("queue '" + name
                        + "' cannot be described over the network: " + e.getMessage()));
            }
            attach(q, new Frame.DescribeOk(Frame.Declare.of(f.requestId(), q.spec())));
            return null;
        });
    }

    /**
     * Attaches a declared or described queue to this connection and answers; grants SEND_CREDIT on first use. A token
     * without the send right on the queue gets one credit all the same, so that its client's first send goes out and
     * is refused with FORBIDDEN (see {@link #refusingLanes}) rather than waiting for ever for credit: this works with
     * clients of every protocol version, which all wait for SEND_CREDIT and fail a send refused with an ERROR.
     */
    private void attach(ReactiveQueue<byte[]> q, Frame answer) {
        String name = q.name();
        queues.put(name, q);
        reply(answer);
        if (lanes.containsKey(name) || refusingLanes.contains(name)) {
            return;
        }
        if (permissions.allows(name, Permission.SEND)) {
            SendLane lane = new SendLane(name, q);
            lanes.put(name, lane);
            lane.grant();
        } else {
            refusingLanes.add(name);
            write(version >= Limits.BYTE_CREDIT_VERSION ? new Frame.SendCredit(name, 1, 1)
                    : new Frame.SendCredit(name, 1));
        }
    }

    /**
     * Refuses a SEND to a queue attached without the send right, and gives back the credit its messages took (one
     * message, and on version 6 their bytes), so that the client's next send to it is refused in turn.
     */
    private void refuseSend(Frame.Send f) {
        forbidden(f.requestId(), f.queue(), Permission.SEND);
        int n = f.messages().size();
        if (n == 0) {
            return;
        }
        if (version >= Limits.BYTE_CREDIT_VERSION) {
            long bytes = 0;
            for (WireMessage m : f.messages()) {
                bytes += FrameEncoder.encodedSize(m);
            }
            write(new Frame.SendCredit(f.queue(), n, bytes));
        } else {
            write(new Frame.SendCredit(f.queue(), n));
        }
    }

    private ReactiveQueue<byte[]> declared(int requestId, String queue, Permission right) {
        if (!allowed(requestId, queue, right)) {
            return null;
        }
        ReactiveQueue<byte[]> q = queues.get(queue);
        if (q == null) {
            reply(new Frame.Error(requestId, ErrorCode.QUEUE_NOT_FOUND,
                    "queue '" + queue + "' was not declared on this connection (send DECLARE first)"));
        }
        return q;
    }

    private boolean allowed(int requestId, String queue, Permission right) {
        if (right == null ? permissions.allowsAny(queue) : permissions.allows(queue, right)) {
            return true;
        }
        forbidden(requestId, queue, right);
        return false;
    }

    /** Refuses a request for the lack of {@code right} (null: of any right) on {@code queue}. */
    private void forbidden(int requestId, String queue, Permission right) {
        reply(new Frame.Error(requestId, ErrorCode.FORBIDDEN, denial(queue, right)));
    }

    /**
     * @param right the right lacking, or null when the token has none on the queue
     * @return the reason of a FORBIDDEN, in the words of the tokens file's rights (send, receive, manage)
     */
    private static String denial(String queue, Permission right) {
        return right == null
                ? "the token has no right on queue '" + queue + "' (send, receive or manage)"
                : "the token does not grant the " + right.name().toLowerCase(java.util.Locale.ROOT) + " right on queue '"
                        + queue + "'";
    }

    /** Runs a broker call and writes its answer (or an ERROR) back on the event loop. */
    private <R> void answer(int requestId, String queue, Mono<R> call, java.util.function.Function<R, Frame> reply) {
        answersPending++;
        boolean[] got = {false}; // signals of one subscriber are serial: no race between onNext and onComplete
        call.subscribe(r -> {
            got[0] = true;
            onLoop(() -> {
                answersPending--;
                Frame out = reply.apply(r);
                if (out != null) {
                    reply(out);
                }
                maybeDrained();
            });
        }, e -> onLoop(() -> {
            answersPending--;
            reply(new Frame.Error(requestId, Wire.codeOf(e), text(e)));
            maybeDrained();
        }), () -> {
            if (!got[0]) { // completed empty: nothing to answer, but nothing pending any more either
                onLoop(() -> {
                    answersPending--;
                    maybeDrained();
                });
            }
        });
    }

    // ---- sending ------------------------------------------------------------------------------------------------

    private void onSend(Frame.Send f) {
        SendLane lane = lanes.get(f.queue());
        if (lane == null) {
            if (refusingLanes.contains(f.queue())) {
                refuseSend(f);
                return;
            }
            if (!allowed(f.requestId(), f.queue(), Permission.SEND)) {
                return;
            }
            reply(new Frame.Error(f.requestId(), ErrorCode.QUEUE_NOT_FOUND,
                    "queue '" + f.queue() + "' was not declared on this connection (send DECLARE first)"));
            return;
        }
        if (f.messages().isEmpty()) {
            reply(new Frame.SendResult(f.requestId(), List.of()));
            return;
        }
        if (f.messages().size() > lane.credit) {
            reply(new Frame.Error(f.requestId(), ErrorCode.SEND_CREDIT_EXCEEDED, "SEND of " + f.messages().size()
                    + " messages to '" + f.queue() + "' with only " + lane.credit + " SEND_CREDIT"));
            return;
        }
        long wire = lane.bytesCounted ? lane.charge(f.messages()) : 0;
        if (wire < 0) {
            reply(new Frame.Error(f.requestId(), ErrorCode.SEND_CREDIT_EXCEEDED, "SEND of " + f.messages().size()
                    + " messages to '" + f.queue() + "' beyond its byte SEND_CREDIT: " + lane.byteCredit
                    + " bytes left, and a message may start only while some are"));
            return;
        }
        lane.received(f.messages(), wire);
        lane.pending.add(new PendingSend(f.requestId(), f.messages(),
                f.overflow() == null ? SendOptions.defaults() : SendOptions.defaults().overflow(f.overflow())));
        lane.drain();
    }

    private static final class PendingSend {
        final int requestId;
        final List<WireMessage> messages;
        final SendOptions options;
        final SendReceipt[] receipts;
        /** Receipts already sent in a partial SEND_RESULT. */
        int answered;
        /** Receipts filled so far (store-first lanes). */
        int filled;
        /** Receipts covered by a durability checkpoint so far (store-first lanes). */
        int marked;
        /**
         * Store-first: a CANCEL_SEND came while the head message's store was under way; that message is answered with
         * its result, the messages after it with CANCELLED.
         */
        boolean cancelled;

        PendingSend(int requestId, List<WireMessage> messages, SendOptions options) {
            this.requestId = requestId;
            this.messages = messages;
            this.options = options;
            this.receipts = new SendReceipt[messages.size()];
        }
    }

    /** Receipts stored by a run of a store-first lane, answered together once {@code durableSoFar} completes. */
    private static final class Checkpoint {
        final PendingSend[] sends;
        final int[] upTo;
        boolean done;

        Checkpoint(PendingSend[] sends, int[] upTo) {
            this.sends = sends;
            this.upTo = upTo;
        }
    }

    /**
     * The sends of one queue, stored one after the other so their order is kept.
     *
     * <p>On a queue that is {@link StoreFirst} (every queue of an in-memory or embedded broker) a message counts as
     * done once it is stored, so the lane stores the next one at once; the receipts of each run of stores are
     * answered together once {@link StoreFirst#durableSoFar()} (asked once per run) completes. On a durable broker
     * that is one group commit for a whole SEND frame instead of one fsync per message; on an in-memory broker it
     * completes at once. Other queues are driven with {@code send}, one message after the other, each answered when
     * its {@code Mono} completes.
     */
    private final class SendLane {
        final String name;
        final ReactiveQueue<byte[]> queue;
        final StoreFirst<byte[]> storeFirst;
        final ArrayDeque<PendingSend> pending = new ArrayDeque<>();
        /** Store-first: sends with receipts filled but not answered yet, in order. */
        final ArrayDeque<PendingSend> awaiting = new ArrayDeque<>();
        /** Store-first: durability checkpoints asked for and not confirmed yet, in order. */
        final ArrayDeque<Checkpoint> checkpoints = new ArrayDeque<>();
        /** SEND_CREDIT granted and not used yet. */
        int credit;
        /**
         * Version 6 and later: the credit counts bytes as well (SEND_CREDIT_BYTES), as {@link #wireSize} counts them,
         * and bounds {@link #held} whatever the messages' sizes; before, only {@link #estimate} does, for steady
         * sizes.
         */
        final boolean bytesCounted;
        /** Version 6: bytes of SEND_CREDIT granted and not used yet; below 0 when the last message overdrew it. */
        long byteCredit;
        /** Messages received (credit used) and not answered yet. */
        int unanswered;
        /**
         * Bytes of those messages, in the lane's one measure: {@link #wireSize}, which the byte credit counts, on
         * version 6; {@link #sizeOf} before.
         */
        long held;
        /** Bytes expected of each next message: the largest frame until the first message, then see received. */
        long estimate;
        boolean sized;
        int next; // index in the head batch
        boolean running;
        boolean inSubscribe;
        Disposable inFlight;
        /** The head message's send in flight: its result, written by the thread that completes it. */
        Attempt attempt;

        @SuppressWarnings("unchecked")
        SendLane(String name, ReactiveQueue<byte[]> queue) {
            this.name = name;
            this.queue = queue;
            this.storeFirst = queue instanceof StoreFirst<?> sf ? (StoreFirst<byte[]>) sf : null;
            this.estimate = Math.min(allowance(), options.maxFrameSize());
            this.bytesCounted = version >= Limits.BYTE_CREDIT_VERSION;
        }

        private long allowance() {
            return sendAllowance(options.maxFrameSize());
        }

        /**
         * What a received message holds on the server until it is answered: its payload, the 128 bytes the broker's
         * memory budget counts per message for its objects, and its strings at two bytes a char. O(1) for a message
         * without headers.
         */
        static long sizeOf(WireMessage m) {
            long size = m.payload().length + (long) dev.rill.core.BrokerOptions.MESSAGE_OVERHEAD_BYTES;
            if (m.key() != null) {
                size += 2L * m.key().length();
            }
            if (m.dedupId() != null) {
                size += 2L * m.dedupId().length();
            }
            if (!m.headers().isEmpty()) {
                for (Map.Entry<String, String> h : m.headers().entrySet()) {
                    size += 2L * (h.getKey().length() + h.getValue().length());
                }
            }
            return size;
        }

        /**
         * What a message takes of the byte credit (version 6): its bytes in the SEND frame, which the client counts the
         * same way ({@link FrameEncoder#encodedSize(WireMessage)}; protocol.md gives the sum). O(1) for a message
         * without strings.
         */
        static long wireSize(WireMessage m) {
            return FrameEncoder.encodedSize(m);
        }

        /**
         * Version 6: whether a SEND's messages keep to the byte credit, each sent while some was left (the last may
         * overdraw it, so a message larger than the whole allowance still goes, alone).
         *
         * @return the bytes they take of it, or -1 when one of them started with none left
         */
        long charge(List<WireMessage> messages) {
            long left = byteCredit;
            for (int i = 0, n = messages.size(); i < n; i++) {
                if (left <= 0) {
                    return -1;
                }
                left -= wireSize(messages.get(i));
            }
            return byteCredit - left;
        }

        /**
         * A SEND's messages took their credit: counts their bytes as held. Version 6: their wire bytes, already
         * counted by {@link #charge}. Before: their {@link #sizeOf}, and the size estimate moves toward them, at once
         * up to a larger message, a sixteenth of the way down to a smaller one (so one large message among small ones
         * narrows the window for a few dozen messages, not for good).
         */
        void received(List<WireMessage> messages, long wire) {
            int n = messages.size();
            credit -= n;
            unanswered += n;
            if (bytesCounted) {
                byteCredit -= wire;
                held(wire);
                return;
            }
            long bytes = 0;
            long est = estimate;
            boolean first = !sized;
            for (int i = 0; i < n; i++) {
                long s = sizeOf(messages.get(i));
                bytes += s;
                if (first || s >= est) {
                    est = s;
                    first = false;
                } else {
                    est -= (est - s) >> 4;
                }
            }
            sized = true;
            estimate = Math.max(1, Math.min(est, allowance()));
            held(bytes);
        }

        /** Counts {@code bytes} more (fewer, when negative) held by this lane and by the connection. */
        private void held(long bytes) {
            held += bytes;
            sendBytesHeld += bytes;
            if (sendBytesHeld > peakSendBytesHeld) {
                peakSendBytesHeld = sendBytesHeld;
            }
        }

        /**
         * Grants SEND_CREDIT up to the send window (credit outstanding plus messages unanswered), but only as many
         * messages as, at the estimated size, fit what the allowance leaves once the held bytes and the credit
         * already granted are counted: 4 at first with messages of a max frame size, the whole window as soon as
         * small messages are seen. With nothing held and no credit out it grants at least 1, so a lane never
         * stalls. Called once when the lane opens and once per answer (one SEND_CREDIT frame, as before).
         */
        void grant() {
            int room = options.sendWindow() - credit - unanswered;
            if (bytesCounted) {
                grantBytes(room);
                return;
            }
            if (room <= 0) {
                return;
            }
            long free = allowance() - held - (long) credit * estimate;
            int n = free < estimate ? 0 : (int) Math.min(room, free / estimate);
            if (n == 0 && credit == 0 && unanswered == 0) {
                n = 1;
            }
            if (n > 0) {
                credit += n;
                write(new Frame.SendCredit(name, n));
            }
        }

        /**
         * Version 6: grants the send window's room in messages and, in bytes, what the allowance leaves once the
         * bytes held and the byte credit out (a debt when the last message overdrew it) are counted, in one
         * SEND_CREDIT_BYTES. So the bytes held stay below the allowance plus one message, whatever the order of the
         * sizes, and small messages get the whole window at once. As many frames as before: one when the lane opens
         * and at most one per answer.
         */
        private void grantBytes(int room) {
            int n = Math.max(room, 0);
            long bytes = Math.max(allowance() - held - byteCredit, 0);
            if (n > 0 || bytes > 0) {
                credit += n;
                byteCredit += bytes;
                write(new Frame.SendCredit(name, n, bytes));
            }
        }

        boolean idle() {
            return pending.isEmpty() && awaiting.isEmpty();
        }

        void drain() {
            while (!running && !pending.isEmpty() && state != State.CLOSED) {
                PendingSend head = pending.peek();
                WireMessage w = head.messages.get(next);
                running = true;
                inSubscribe = true;
                try {
                    Attempt a = new Attempt();
                    Mono<SendResult<byte[]>> send = storeFirst != null
                            ? storeFirst.sendStored(Wire.fromWire(w), head.options, a)
                            : queue.send(Wire.fromWire(w), head.options);
                    attempt = a;
                    inFlight = send.subscribe(
                            r -> completed(head, a.result = receipt(r), true),
                            e -> completed(head, a.result = receipt(e), true));
                } catch (RuntimeException e) {
                    completed(head, receipt(e), true);
                }
                inSubscribe = false;
                if (running && next > head.answered) {
                    // this message waits for room: answer what is stored so far, so the client is not kept waiting
                    // for results it could have (its sendMany would otherwise never see the queue fill up)
                    if (storeFirst != null) {
                        checkpoint();
                    } else {
                        answer(head, next);
                    }
                }
            }
            checkpoint();
        }

        void completed(PendingSend p, SendReceipt r, boolean fromCallback) {
            if (!loop.inEventLoop() || (fromCallback && !inSubscribe)) {
                // asynchronous completion (e.g. a WAIT send released by an ack): resume on the event loop, later
                hop(() -> completed(p, r, false)); // refused: the connection closed with its loop
                return;
            }
            if (state == State.CLOSED || pending.peek() != p) {
                return;
            }
            p.receipts[next++] = r;
            inFlight = null;
            if (p.cancelled) {
                cancelFrom(p, next); // the CANCEL_SEND waited for this message's store
                next = p.messages.size();
            }
            if (storeFirst != null) {
                p.filled = next;
                if (awaiting.peekLast() != p) {
                    awaiting.add(p);
                }
            }
            if (next == p.messages.size()) {
                pending.poll();
                next = 0;
                if (storeFirst == null) {
                    answered(p);
                }
            }
            running = false;
            if (!inSubscribe) {
                drain();
            }
        }

        /** Store-first: asks once for the durability of every receipt filled since the last checkpoint. */
        private void checkpoint() {
            if (storeFirst == null || state == State.CLOSED) {
                return;
            }
            int n = 0;
            for (PendingSend p : awaiting) {
                if (p.filled > p.marked) {
                    n++;
                }
            }
            if (n == 0) {
                return;
            }
            PendingSend[] sends = new PendingSend[n];
            int[] upTo = new int[n];
            int i = 0;
            for (PendingSend p : awaiting) {
                if (p.filled > p.marked) {
                    sends[i] = p;
                    upTo[i++] = p.filled;
                    p.marked = p.filled;
                }
            }
            Checkpoint cp = new Checkpoint(sends, upTo);
            checkpoints.add(cp);
            storeFirst.durableSoFar().subscribe(null, e -> onLoop(() -> confirm(cp, e)),
                    () -> onLoop(() -> confirm(cp, null)));
        }

        /**
         * Answers a checkpoint and every earlier one (durability is monotonic: what was stored before is durable
         * too); if the log failed, the stored receipts become errors: nothing is confirmed that is not durable.
         */
        private void confirm(Checkpoint cp, Throwable failure) {
            if (state == State.CLOSED || cp.done) {
                return;
            }
            Checkpoint c;
            while ((c = checkpoints.poll()) != null) {
                c.done = true;
                for (int i = 0; i < c.sends.length; i++) {
                    PendingSend p = c.sends[i];
                    if (failure != null) {
                        SendReceipt err = receipt(failure);
                        for (int j = p.answered; j < c.upTo[i]; j++) {
                            SendStatus st = p.receipts[j].status();
                            if (st == SendStatus.ENQUEUED || st == SendStatus.DUPLICATE) {
                                p.receipts[j] = err;
                            }
                        }
                    }
                    answer(p, c.upTo[i]);
                    if (p.answered == p.messages.size()) {
                        awaiting.remove(p);
                    }
                }
                if (c == cp) {
                    break;
                }
            }
            maybeDrained();
        }

        private void answered(PendingSend p) {
            answer(p, p.messages.size());
            maybeDrained();
        }

        /**
         * Sends the receipts from the last answered one up to {@code upTo} and grants their credit again: version 3
         * with the reasons of refused messages (SEND_RECEIPTS), versions 1 and 2 without (SEND_RESULT).
         */
        private void answer(PendingSend p, int upTo) {
            int from = p.answered;
            if (upTo <= from) {
                return;
            }
            p.answered = upTo;
            List<SendReceipt> receipts = java.util.Arrays.asList(p.receipts).subList(from, upTo);
            if (version >= 3) {
                writeReceipts(p.requestId, receipts);
            } else {
                reply(new Frame.SendResult(p.requestId, receipts));
            }
            unanswered -= upTo - from;
            long bytes = 0;
            for (int i = from; i < upTo; i++) {
                WireMessage m = p.messages.get(i);
                bytes += bytesCounted ? wireSize(m) : sizeOf(m);
            }
            held(-bytes);
            grant();
        }

        /**
         * Writes receipts in as many SEND_RECEIPTS as it takes to keep each frame within the max frame size this
         * server announced; the client takes them as partial answers. A SEND_RESULT never needs this (11 bytes a
         * receipt, less than any message takes in the SEND it answers), but a reason makes a receipt up to ~1 KB.
         */
        private void writeReceipts(int requestId, List<SendReceipt> receipts) {
            int room = options.maxFrameSize() - FrameEncoder.RECEIPTS_BASE_LENGTH;
            int start = 0;
            int size = 0;
            for (int i = 0; i < receipts.size(); i++) {
                int n = FrameEncoder.encodedSize(receipts.get(i));
                if (i > start && size + n > room) {
                    reply(new Frame.SendReceipts(requestId, receipts.subList(start, i)));
                    start = i;
                    size = 0;
                }
                size += n;
            }
            reply(new Frame.SendReceipts(requestId, receipts.subList(start, receipts.size())));
        }

        /**
         * CANCEL_SEND: stores none of the SEND's messages not stored yet and answers it with CANCELLED for those
         * (store-first: once what it stored is durable). Store-first, the head message's send is withdrawn
         * ({@link dev.rill.reactive.internal.Withdrawable}): when its store is already under way (on the thread whose
         * ack freed room), the answer waits for that store's result, which is that message's receipt. A send of a
         * broker that is not store-first is disposed: one completed on another thread with its result on its way
         * here is answered as such, but one still storing at that instant is answered CANCELLED (protocol.md says so).
         *
         * @return false when no SEND of this lane has that id (already answered, or another queue's)
         */
        boolean cancel(int requestId) {
            PendingSend found = null;
            for (PendingSend p : pending) {
                if (p.requestId == requestId) {
                    found = p;
                    break;
                }
            }
            if (found == null) {
                return false;
            }
            int from = 0;
            if (found == pending.peek()) {
                if (storeFirst != null && running && attempt != null && !attempt.withdraw()) {
                    found.cancelled = true; // completed() answers it, once the store in progress has a result
                    return true;
                }
                Disposable d = inFlight;
                if (d != null) {
                    d.dispose();
                }
                inFlight = null;
                // its send may have completed already on another thread (a WAIT send stored by the ack that freed
                // room) with the result still on its way here: that message was stored, and is answered as such
                Attempt a = attempt;
                SendReceipt done = running && a != null ? a.result : null;
                if (done != null) {
                    found.receipts[next++] = done;
                }
                attempt = null;
                from = next;
                next = 0;
                running = false;
            }
            pending.remove(found);
            cancelFrom(found, from);
            if (storeFirst != null) {
                found.filled = found.messages.size();
                if (!awaiting.contains(found)) {
                    awaiting.add(found);
                }
            } else {
                answered(found);
            }
            drain();
            return true;
        }

        private void cancelFrom(PendingSend p, int from) {
            for (int i = from; i < p.messages.size(); i++) {
                p.receipts[i] = new SendReceipt(SendStatus.CANCELLED, ErrorCode.NONE, 0);
            }
        }

        void cancel() {
            Disposable d = inFlight;
            if (d != null) {
                d.dispose();
            }
            pending.clear();
            awaiting.clear();
            checkpoints.clear();
            sendBytesHeld -= held;
            held = 0;
        }
    }

    /**
     * One message's send of a lane; its result is written on the thread that completed it, before the hop. A
     * store-first lane withdraws it on CANCEL_SEND.
     */
    private static final class Attempt extends Withdrawable {
        volatile SendReceipt result;
    }

    private static SendReceipt receipt(SendResult<byte[]> r) {
        return new SendReceipt(r.duplicate() ? SendStatus.DUPLICATE : SendStatus.ENQUEUED, ErrorCode.NONE,
                r.messageId());
    }

    private static SendReceipt receipt(Throwable e) {
        if (e instanceof Withdrawable.WithdrawnException) {
            // CANCEL_SEND met its store, which then found no room: not stored
            return new SendReceipt(SendStatus.CANCELLED, ErrorCode.NONE, 0);
        }
        if (e instanceof QueueFullException) {
            return new SendReceipt(SendStatus.FULL, ErrorCode.QUEUE_FULL, 0);
        }
        if (e instanceof QueueClosedException) {
            return new SendReceipt(SendStatus.CLOSED, ErrorCode.QUEUE_CLOSED, 0);
        }
        // the exception's own words go to the client (version 3), as an in-JVM send would fail with them
        return SendReceipt.refused(Wire.codeOf(e), e.getMessage() != null ? e.getMessage() : e.toString());
    }

    // ---- subscriptions ------------------------------------------------------------------------------------------

    /**
     * Checks a SUBSCRIBE or SUBSCRIBE_EVENTS: an id not open as either kind (one id space), the queue declared here
     * with the receive right, and room under the connection's limit, which counts both kinds (a receive stream was
     * counted against receive streams only: with events streams open, a connection could hold twice the limit).
     *
     * @return the queue, or null when refused (the ERROR written)
     */
    private ReactiveQueue<byte[]> subscribable(int id, String queue) {
        if (subscriptions.containsKey(id) || eventSubscriptions.containsKey(id)) {
            reply(new Frame.Error(id, ErrorCode.DUPLICATE_ID, "subscription id " + id + " is already open"));
            return null;
        }
        ReactiveQueue<byte[]> q = declared(id, queue, Permission.RECEIVE);
        if (q == null) {
            return null;
        }
        if (subscriptions.size() + eventSubscriptions.size() >= options.maxSubscriptionsPerConnection()) {
            reply(new Frame.Error(id, ErrorCode.TOO_MANY_SUBSCRIPTIONS, "at most "
                    + options.maxSubscriptionsPerConnection() + " subscriptions (receive and events streams) per"
                    + " connection (ServerOptions.maxSubscriptionsPerConnection): end one, or use another client"));
            return null;
        }
        return q;
    }

    private void onSubscribe(Frame.Subscribe f) {
        ReactiveQueue<byte[]> q = subscribable(f.subscriptionId(), f.queue());
        if (q == null) {
            return;
        }
        ReceiveOptions ro = ReceiveOptions.defaults();
        try {
            if (f.prefetch() > 0) {
                ro = ro.prefetch(f.prefetch());
            }
            if (f.maxUnacked() > 0) {
                ro = ro.maxUnacked(f.maxUnacked());
            }
            if (f.visibilityTimeoutMillis() > 0) {
                ro = ro.visibilityTimeout(Duration.ofMillis(f.visibilityTimeoutMillis()));
            }
        } catch (IllegalArgumentException e) {
            reply(new Frame.Error(f.subscriptionId(), ErrorCode.INVALID_ARGUMENT, text(e)));
            return;
        }
        ServerSubscription s = new ServerSubscription(f.subscriptionId(), f.queue(), q);
        subscriptions.put(f.subscriptionId(), s);
        write(new Frame.SubscribeOk(f.subscriptionId()));
        q.receive(ro).subscribe(s);
    }

    private void onSubscribeEvents(Frame.SubscribeEvents f) {
        int id = f.subscriptionId();
        ReactiveQueue<byte[]> q = subscribable(id, f.queue());
        if (q == null) {
            return;
        }
        EventSubscription s = new EventSubscription(id, f.queue());
        eventSubscriptions.put(id, s);
        write(new Frame.SubscribeOk(id));
        q.events().subscribe(s);
    }

    /**
     * One events subscription: the queue's local {@code events()} stream, asked for exactly the credit the client
     * granted; what the client has not asked for waits in that stream's own bounded buffer, whose overflow ends the
     * subscription with EVENTS_OVERFLOW.
     */
    private final class EventSubscription extends CancellableSubscriber<QueueEvent> {
        final int id;
        final String queue;
        final AtomicInteger hops = new AtomicInteger();
        boolean ended;

        EventSubscription(int id, String queue) {
            this.id = id;
            this.queue = queue;
        }

        @Override
        protected void hookOnSubscribe(Subscription subscription) {
            // nothing until CREDIT
        }

        @Override
        protected void hookOnNext(QueueEvent e) {
            inOrder(() -> forward(e));
        }

        private void forward(QueueEvent e) {
            if (state == State.CLOSED || ended || eventSubscriptions.get(id) != this) {
                return;
            }
            // the detail is a reject reason from any consumer, in-JVM ones too: of any length (a stack trace), maybe
            // with an unpaired surrogate. Fitted like an error's text (itself when it fits), as the encoder would
            // refuse it and the connection would end
            String detail = e.detail() == null ? null : fit(e.detail());
            Frame.Event frame;
            try {
                frame = new Frame.Event(id, e.type(), e.messageId(), Math.max(0, e.deliveryCount()), detail,
                        e.timestamp());
            } catch (RuntimeException x) {
                // a served broker's event without a type: thrown here on a hop, it was dropped without a word
                refused(e.messageId(), x.toString());
                return;
            }
            write(frame); // an EVENT the encoder refuses comes back through exceptionCaught: refused below
        }

        /** On the event loop: an event cannot be sent; this stream ends saying so, the connection goes on. */
        void refused(long messageId, String why) {
            cancel();
            peers.undeliverable(remote, "events of queue '" + queue + "', subscription " + id + ": an event (message "
                    + messageId + ") cannot be sent over the network: " + why + "; the events stream ended");
            end(ErrorCode.INTERNAL_ERROR, fit("queue '" + queue + "' gave the server an event (message " + messageId
                    + ") that cannot be sent over the network: " + why + "; the served broker must give events the"
                    + " wire can carry (docs/protocol.md, EVENT)"));
        }

        @Override
        protected void hookOnError(Throwable e) {
            inOrder(() -> end(Wire.codeOf(e), text(e)));
        }

        @Override
        protected void hookOnComplete() {
            inOrder(() -> end(ErrorCode.NONE, "the queue was closed")); // completes, as in memory
        }

        /**
         * Runs {@code signal} (an event, or the end of the stream) on the loop after the signals still on their way
         * there: at once only on the loop with none pending. An end signalled on the loop itself (a DELETE of this
         * connection) while an event emitted on another thread waits in the loop's task queue would otherwise end the
         * subscription first and drop that event. A hop refused by a stopped loop is dropped: nobody is left to tell.
         */
        private void inOrder(Runnable signal) {
            if (loop.inEventLoop() && hops.get() == 0) {
                signal.run();
            } else {
                hops.incrementAndGet();
                if (!hop(() -> {
                    hops.decrementAndGet();
                    signal.run();
                })) {
                    hops.decrementAndGet();
                }
            }
        }

        private void end(ErrorCode code, String message) {
            // after the events already on their way to the loop
            if (!ended && eventSubscriptions.get(id) == this) {
                eventSubscriptions.remove(id);
                ended = true;
                if (state != State.CLOSED) {
                    write(new Frame.SubscriptionEnd(id, code, message));
                }
            }
            ended = true;
        }
    }

    private record Held(Delivery<byte[]> delivery, ServerSubscription subscription) {
    }

    /** One subscription: the local receive stream, asked for exactly the credit the client granted. */
    private final class ServerSubscription extends CancellableSubscriber<Delivery<byte[]>> {
        final int id;
        final String queue;
        /** The queue served: its spec says whether a message no frame can carry may be dead-lettered. */
        final ReactiveQueue<byte[]> served;
        final AtomicInteger hops = new AtomicInteger();
        long heldCredit; // granted by the client, not yet requested because the channel was not writable
        boolean ended;
        /** The queue, when it acks a batch in one call (see ackTogether); null otherwise. */
        final AckEach<byte[]> ackEach;

        @SuppressWarnings("unchecked")
        ServerSubscription(int id, String queue, ReactiveQueue<byte[]> q) {
            this.id = id;
            this.queue = queue;
            this.served = q;
            this.ackEach = q instanceof AckEach<?> a ? (AckEach<byte[]>) a : null;
        }

        @Override
        protected void hookOnSubscribe(Subscription subscription) {
            // nothing until CREDIT
        }

        void credit(long n) {
            if (channel.isWritable()) {
                request(n);
            } else {
                heldCredit += n;
            }
        }

        void releaseHeldCredit() {
            if (heldCredit > 0) {
                long n = heldCredit;
                heldCredit = 0;
                request(n);
            }
        }

        @Override
        protected void hookOnNext(Delivery<byte[]> d) {
            if (loop.inEventLoop() && hops.get() == 0) {
                deliver(d);
            } else {
                hops.incrementAndGet();
                if (!hop(() -> {
                    hops.decrementAndGet();
                    deliver(d);
                })) {
                    // the event loop stopped (a server with loops of its own, disposed): the connection is gone and
                    // nothing will ever run the hop; give the lease back now rather than at its visibility timeout
                    hops.decrementAndGet();
                    d.release().subscribe(null, e -> { });
                }
            }
        }

        private void deliver(Delivery<byte[]> d) {
            if (state == State.CLOSED || ended || subscriptions.get(id) != this) {
                // never sent (the client is gone or unsubscribed): give it back at once, without counting it
                d.release().subscribe(null, e -> { });
                return;
            }
            long messageId = 0;
            Object payload;
            Unframeable unframeable = null;
            Frame.Deliver frame = null;
            try {
                var m = d.message();
                messageId = m.id();
                payload = ((Message<?>) m).payload();
                if (payload instanceof byte[] bytes) {
                    unframeable = undeliverable(m.key(), m.headers(), bytes.length);
                    if (unframeable == null) {
                        frame = new Frame.Deliver(id, nextTag, messageId, d.deliveryCount(), d.deadline(),
                                m.timestamp(), m.key(), m.priority(), m.headers(), bytes);
                    }
                }
            } catch (RuntimeException e) {
                // a served broker's delivery no DELIVER can hold (headers with a null, say): as an encoder's refusal
                refused(d, messageId, e.toString());
                return;
            }
            if (!(payload instanceof byte[] bytes)) {
                // a served broker of another implementation that ignores the codec of the server's view (Rill's
                // brokers convert). Give it back, uncounted, and end this stream with an error that says so.
                giveBackAndEnd(d, ErrorCode.INTERNAL_ERROR, "queue '" + queue + "' gave the server a message (id "
                        + messageId + ") whose payload is a " + (payload == null ? "null" : payload.getClass()
                        .getName()) + ", not bytes, through a Codec.bytes() view: the served broker must convert "
                        + "payloads to the codec of each view", "its message " + messageId + " has a payload that is "
                        + "not bytes; the subscription ended");
                return;
            }
            if (unframeable != null) {
                unframeable(d, messageId, bytes.length, unframeable);
                return;
            }
            held.put(nextTag++, new Held(d, this));
            write(frame); // a DELIVER the encoder refuses comes back through exceptionCaught: refused below
        }

        /**
         * On the event loop: the served broker gave a delivery the wire cannot carry (a value out of range). Ends this
         * subscription saying so, the delivery given back uncounted; the connection goes on.
         */
        void refused(Delivery<byte[]> d, long messageId, String why) {
            giveBackAndEnd(d, ErrorCode.INTERNAL_ERROR, "queue '" + queue + "' gave the server a delivery (message "
                    + messageId + ") that cannot be sent over the network: " + why + "; the served broker must keep "
                    + "to the wire's ranges (docs/protocol.md, DELIVER)", "its delivery of message " + messageId
                    + " cannot be sent over the network: " + why + "; the subscription ended");
        }

        /**
         * A message stored in the server's JVM (it never passed a SEND) that no DELIVER a client accepts can carry.
         * With a dead-letter policy it is rejected (to the dead-letter queue, with why as the reason; dropped when
         * the queue discards dead letters) and the subscription goes on: the credit it took is asked for again once
         * the reject is done, so a consumer asking for one at a time still gets the next message. Without one it is
         * given back uncounted and the subscription ends naming it, its size, the limit and the remedies: losing it
         * silently would be worse, and the next subscription meets it again.
         */
        private void unframeable(Delivery<byte[]> d, long messageId, int payloadLength, Unframeable u) {
            String fact = "message " + messageId + " (a payload of " + payloadLength + " bytes) cannot be delivered over "
                    + "the network: " + u.why();
            QueueSpec spec = served.spec();
            java.util.Optional<String> dlq = spec.deadLetterQueue();
            if (dlq.isPresent() || spec.discardsDeadLetters()) {
                peers.undeliverable(remote, "queue '" + queue + "', subscription " + id + ": " + fact + "; "
                        + dlq.map(n -> "moved to its dead-letter queue '" + n + "'")
                                .orElse("dropped: the queue discards dead letters"));
                Mono<Void> reject;
                try {
                    reject = d.reject(fact);
                } catch (RuntimeException e) {
                    reject = Mono.error(e);
                }
                reject.subscribe(null, e -> afterReject(d, messageId, e), () -> afterReject(d, messageId, null));
                return;
            }
            giveBackAndEnd(d, ErrorCode.INVALID_ARGUMENT, "queue '" + queue + "' holds a message (id " + messageId
                    + ", a payload of " + payloadLength + " bytes) that cannot be delivered over the network: " + u.why()
                    + "; give queue '" + queue + "' a dead-letter queue (such a message is then moved there and the "
                    + "stream goes on)" + (u.tooLarge() ? ", raise the server's maxFrameSize (rill serve "
                    + "--max-frame-size)," : "") + " or consume it in the server's JVM",
                    fact + "; the subscription ended: the queue has no dead-letter queue");
        }

        /** The reject of an unframeable message completed ({@code failure} null) or failed; back on the event loop. */
        private void afterReject(Delivery<byte[]> d, long messageId, Throwable failure) {
            Runnable done = () -> rejected(d, messageId, failure);
            if (loop.inEventLoop()) {
                done.run();
            } else if (!hop(done) && failure != null) {
                d.release().subscribe(null, e -> { }); // the connection is gone: give it back if the reject left it
            }
        }

        private void rejected(Delivery<byte[]> d, long messageId, Throwable failure) {
            if (failure != null && !(failure instanceof LeaseExpiredException)) {
                // the queue closed, its log failed...: give it back (the stream usually ends on its own) and say so
                d.release().subscribe(null, e -> { });
                if (!ended && subscriptions.get(id) == this) {
                    cancel();
                    end(Wire.codeOf(failure), fit("queue '" + queue + "' holds a message (id " + messageId + ") that "
                            + "cannot be delivered over the network, and rejecting it to its dead-letter queue failed: "
                            + text(failure)));
                }
                return;
            }
            // rejected; or its lease ran out first, and it is back in the queue, met again at its next delivery.
            // Either way the credit it took was not used: ask for it again, no more, no less
            if (!ended && subscriptions.get(id) == this) {
                credit(1);
            }
        }

        /** Gives {@code d} back uncounted and ends this subscription with {@code message}; logs {@code line}. */
        private void giveBackAndEnd(Delivery<byte[]> d, ErrorCode code, String message, String line) {
            d.release().subscribe(null, e -> { });
            cancel();
            peers.undeliverable(remote, "queue '" + queue + "', subscription " + id + ": " + line);
            end(code, fit(message));
        }

        @Override
        protected void hookOnError(Throwable e) {
            onLoop(() -> end(Wire.codeOf(e), text(e)));
        }

        @Override
        protected void hookOnComplete() {
            onLoop(() -> end(ErrorCode.NONE, ""));
        }

        private void end(ErrorCode code, String message) {
            if (!ended && subscriptions.get(id) == this) {
                subscriptions.remove(id);
                ended = true;
                if (state != State.CLOSED) {
                    write(new Frame.SubscriptionEnd(id, code, message));
                }
            }
            ended = true;
        }
    }

    // ---- settling -----------------------------------------------------------------------------------------------

    private void settle(int requestId, long[] tags, String op,
            java.util.function.Function<Delivery<byte[]>, Mono<Void>> action, boolean ends) {
        int n = tags.length;
        if (n == 0) {
            reply(new Frame.SettleResult(requestId, List.of()));
            return;
        }
        // version 2 answers EXTEND with the new deadlines, so the client's Delivery knows the server's
        SettleAnswer answer = new SettleAnswer(requestId, op, n, ends, "extend".equals(op) && version >= 2);
        answersPending++;
        int[] at = new int[n];
        Held[] found = new Held[n];
        int k = 0;
        for (int i = 0; i < n; i++) {
            Held h = ends ? held.remove(tags[i]) : held.get(tags[i]);
            if (h == null) {
                answer.settled(i, LeaseOutcome.STALE, 0L);
            } else {
                at[k] = i;
                found[k++] = h;
            }
        }
        if (k > 1 && "ack".equals(op) && ackTogether(answer, at, tags, found, k)) {
            return;
        }
        for (int j = 0; j < k; j++) {
            int i = at[j];
            Held h = found[j];
            Mono<Void> m;
            try {
                m = action.apply(h.delivery);
            } catch (RuntimeException e) {
                failed(answer, i, tags[i], h, e);
                continue;
            }
            m.subscribe(new SettleOne(answer, i, tags[i], h));
        }
    }

    /**
     * Acks the deliveries of one ACK frame in one call to their queue when they all come from one that can
     * ({@link AckEach}): one lock acquisition, and the slots they free reach a producer waiting for room at once,
     * where one ack at a time woke it (and handed its next store across event loops) once per message.
     *
     * @return false when they cannot go together (the caller acks them one by one)
     */
    private boolean ackTogether(SettleAnswer answer, int[] at, long[] tags, Held[] found, int k) {
        AckEach<byte[]> queue = found[0].subscription.ackEach;
        if (queue == null) {
            return false;
        }
        List<Delivery<byte[]>> deliveries = new ArrayList<>(k);
        for (int j = 0; j < k; j++) {
            if (found[j].subscription.ackEach != queue) {
                return false;
            }
            deliveries.add(found[j].delivery);
        }
        SettleMany many = new SettleMany(answer, at, tags, found, k);
        Mono<List<LeaseOutcome>> acked;
        try {
            acked = queue.ackEach(deliveries);
        } catch (RuntimeException e) {
            // as a settle that throws on the one-by-one path: the ACK's answer, and the leases stay this
            // connection's. Thrown out of here it ended the connection (INTERNAL_ERROR) with the deliveries already
            // taken out of held, so its close did not release them: invisible until their visibility timeout.
            many.error = e;
            many.run();
            return true;
        }
        acked.subscribe(many);
        return true;
    }

    /**
     * Records a settlement the broker failed (on the event loop). A stale lease is answered STALE and forgotten. Any
     * other failure (the queue closed or deleted, the broker closing, its log failing) is the answer's error, told
     * to the client with its reason, and a delivery whose lease it left held stays this connection's: the client
     * may settle it again, and it is released the moment the connection closes (at once if it already has) instead
     * of staying invisible until its visibility timeout.
     */
    private void failed(SettleAnswer answer, int index, long tag, Held h, Throwable e) {
        if (e instanceof LeaseExpiredException) {
            if (!answer.ends) {
                held.remove(tag);
            }
            answer.settled(index, LeaseOutcome.STALE, 0L);
            return;
        }
        if (h.delivery.isSettled()) {
            if (!answer.ends) {
                held.remove(tag);
            }
        } else if (state == State.CLOSED) {
            h.delivery.nack().subscribe(null, x -> { }); // as releaseAll did with what it held
        } else if (answer.ends) {
            held.put(tag, h);
        }
        answer.failed(index, e);
    }

    /** The answer to one ACK/NACK/EXTEND/REJECT/RELEASE frame: written once every tag of it is settled. */
    private final class SettleAnswer {
        final int requestId;
        final String op;
        final boolean ends;
        final LeaseOutcome[] outcomes;
        final Long[] deadlines;
        int remaining;
        /** The first failure other than a stale lease: then the answer is ERROR (see {@link #failed}). */
        Throwable error;

        SettleAnswer(int requestId, String op, int n, boolean ends, boolean withDeadlines) {
            this.requestId = requestId;
            this.op = op;
            this.ends = ends;
            this.outcomes = new LeaseOutcome[n];
            this.deadlines = withDeadlines ? new Long[n] : null;
            this.remaining = n;
        }

        /** On the event loop. */
        void settled(int index, LeaseOutcome outcome, long deadline) {
            outcomes[index] = outcome;
            if (deadlines != null) {
                deadlines[index] = deadline;
            }
            if (--remaining == 0) {
                answersPending--;
                if (state != State.CLOSED) {
                    if (error != null) {
                        // one answer per frame: the reason is told for all of its tags (others may have settled)
                        reply(new Frame.Error(requestId, Wire.codeOf(error), fit(op + " failed on the server: "
                                + (error.getMessage() != null ? error.getMessage() : error.toString()))));
                    } else {
                        reply(deadlines != null
                                ? new Frame.ExtendResult(requestId, List.of(outcomes), List.of(deadlines))
                                : new Frame.SettleResult(requestId, List.of(outcomes)));
                    }
                }
                maybeDrained();
            }
        }

        /** On the event loop: a tag's settlement failed for another reason than a stale lease. */
        void failed(int index, Throwable e) {
            if (error == null) {
                error = e;
            }
            settled(index, LeaseOutcome.STALE, 0L);
        }
    }

    /** The outcomes of the acks {@link #ackTogether} sent in one call; recorded on the event loop. */
    private final class SettleMany implements reactor.core.CoreSubscriber<List<LeaseOutcome>>, Runnable {
        final SettleAnswer answer;
        final int[] at;
        final long[] tags;
        final Held[] found;
        final int k;
        List<LeaseOutcome> outcomes;
        Throwable error;

        SettleMany(SettleAnswer answer, int[] at, long[] tags, Held[] found, int k) {
            this.answer = answer;
            this.at = at;
            this.tags = tags;
            this.found = found;
            this.k = k;
        }

        @Override
        public void onSubscribe(Subscription s) {
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(List<LeaseOutcome> list) {
            outcomes = list;
        }

        @Override
        public void onError(Throwable e) {
            error = e;
            onLoop(this);
        }

        @Override
        public void onComplete() {
            onLoop(this);
        }

        @Override
        public void run() {
            for (int j = 0; j < k; j++) {
                if (error != null) {
                    failed(answer, at[j], tags[at[j]], found[j], error);
                } else {
                    answer.settled(at[j], outcomes == null ? LeaseOutcome.STALE : outcomes.get(j), 0L);
                }
            }
        }
    }

    /**
     * Waits for one tag's settlement (one object per tag, where lambdas and a LambdaMonoSubscriber took four) and
     * records its outcome on the event loop.
     */
    private final class SettleOne implements reactor.core.CoreSubscriber<Void>, Runnable {
        final SettleAnswer answer;
        final int index;
        final long tag;
        final Held h;
        Throwable failure;

        SettleOne(SettleAnswer answer, int index, long tag, Held h) {
            this.answer = answer;
            this.index = index;
            this.tag = tag;
            this.h = h;
        }

        @Override
        public void onSubscribe(Subscription s) {
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(Void v) {
            // a Mono<Void> has none
        }

        @Override
        public void onError(Throwable e) {
            failure = e;
            onComplete();
        }

        @Override
        public void onComplete() {
            onLoop(this); // itself the task: nothing allocated to get back on the loop
        }

        /** Records the outcome; on the event loop. */
        @Override
        public void run() {
            if (failure != null) {
                failed(answer, index, tag, h, failure);
            } else {
                answer.settled(index, LeaseOutcome.OK, answer.deadlines != null ? h.delivery.deadline() : 0L);
            }
        }
    }

    // ---- graceful shutdown ---------------------------------------------------------------------------------------

    /**
     * Starts draining this connection because the server shuts down (any thread). Before the handshake completed
     * the connection is closed with ERROR(SHUTTING_DOWN). Otherwise: GOAWAY (version 2), every subscription ends
     * with SUBSCRIPTION_END(SHUTTING_DOWN) (leases not sent yet go back uncounted), new requests are refused with
     * ERROR(SHUTTING_DOWN), and the deliveries already sent can still be settled; once none is held and every
     * answer is written (or after {@code drainMillis}) the server sends CLOSE(SHUTTING_DOWN) and closes. Deliveries
     * still held then are released (nacked, as for any closed connection). Idempotent.
     *
     * @param drainMillis how long the connection may stay open at most
     */
    public void goAway(long drainMillis) {
        onLoop(() -> {
            long ms = drainEnded ? 0 : drainMillis;
            if (state == State.HELLO || state == State.AUTH) {
                fatal(ErrorCode.SHUTTING_DOWN, "the server is shutting down");
                return;
            }
            if (state != State.OPEN) {
                return;
            }
            state = State.DRAINING;
            if (version >= 2) {
                write(new Frame.GoAway(ms, "the server is shutting down; settle the deliveries you hold"
                        + " within " + ms + " ms"));
            }
            for (EventSubscription s : new ArrayList<>(eventSubscriptions.values())) {
                s.ended = true;
                s.cancel();
                write(new Frame.SubscriptionEnd(s.id, ErrorCode.SHUTTING_DOWN, "the server is shutting down"));
            }
            eventSubscriptions.clear();
            for (ServerSubscription s : new ArrayList<>(subscriptions.values())) {
                s.ended = true;
                s.cancel(); // leases taken for it and not sent go back to the queue at once, uncounted
                write(new Frame.SubscriptionEnd(s.id, ErrorCode.SHUTTING_DOWN, "the server is shutting down"));
            }
            subscriptions.clear();
            drainTimer = loop.schedule(this::drainTimedOut, ms, TimeUnit.MILLISECONDS);
            maybeDrained();
        });
    }

    /**
     * Ends this connection's drain at once (any thread), as its timeout would: CLOSE(SHUTTING_DOWN) and close, the
     * deliveries still held released. Before {@link #goAway(long)} it makes that drain zero. Idempotent.
     */
    public void endDrain() {
        onLoop(() -> {
            drainEnded = true;
            if (state == State.DRAINING) {
                closeDraining("drain ended early by the server: " + held.size() + " unsettled deliveries released");
            }
        });
    }

    /** While draining: settlements and connection upkeep go on; anything new is refused. */
    private boolean allowedWhileDraining(Frame frame) {
        if (frame instanceof Frame.Ack || frame instanceof Frame.Nack || frame instanceof Frame.Extend
                || frame instanceof Frame.Reject || frame instanceof Frame.Release || frame instanceof Frame.Ping
                || frame instanceof Frame.Pong || frame instanceof Frame.Close || frame instanceof Frame.CancelSend) {
            return true;
        }
        if (frame instanceof Frame.Credit || frame instanceof Frame.Unsubscribe) {
            return false; // its subscription already ended with SUBSCRIPTION_END(SHUTTING_DOWN)
        }
        reply(new Frame.Error(frame.streamId(), ErrorCode.SHUTTING_DOWN, "the server is shutting down: "
                + frame.type() + " refused"));
        return false;
    }

    /** Closes a draining connection once nothing is held and every answer is out. */
    private void maybeDrained() {
        if (state != State.DRAINING || !held.isEmpty() || answersPending > 0) {
            return;
        }
        for (SendLane lane : lanes.values()) {
            if (!lane.idle()) {
                return;
            }
        }
        closeDraining("drained");
    }

    private void drainTimedOut() {
        if (state == State.DRAINING) {
            closeDraining("drain timeout: " + held.size() + " unsettled deliveries released");
        }
    }

    private void closeDraining(String reason) {
        state = State.CLOSED;
        if (drainTimer != null) {
            drainTimer.cancel(false);
        }
        ctx.writeAndFlush(new Frame.Close(ErrorCode.SHUTTING_DOWN, reason)).addListener(ChannelFutureListener.CLOSE);
        loop.schedule(() -> {
            ctx.close();
        }, 1, TimeUnit.SECONDS);
        releaseAll();
    }

    // ---- writing and closing ------------------------------------------------------------------------------------

    private void onLoop(Runnable r) {
        if (loop.inEventLoop()) {
            r.run();
        } else {
            hop(r);
        }
    }

    /**
     * Hands {@code r} to the event loop from another thread.
     *
     * @return false when the loop refused it because it stopped (a server with event loops of its own that was
     *     disposed): its channel closed before, so the connection released what it held and nothing is left to answer;
     *     the caller gives back what it carried. Never throws into the broker thread that completed the call.
     */
    private boolean hop(Runnable r) {
        try {
            loop.execute(r);
            return true;
        } catch (java.util.concurrent.RejectedExecutionException e) {
            return false;
        }
    }

    /**
     * The answer {@link #reply} is writing: the encoder refuses a frame within the write, so a refusal of this very
     * frame is its request's alone ({@link #refused}).
     */
    private Frame replying;

    /**
     * Writes the answer to one request (any frame whose id is a request's or a subscription request's: a result, an
     * ERROR). Should the encoder refuse it (a value from the served broker the wire cannot carry), that request is
     * answered ERROR(INTERNAL_ERROR) instead and the connection goes on, whatever the answer's type: the mark is on the
     * write, not a list of answer types a new one could be missing from.
     */
    private void reply(Frame answer) {
        replying = answer;
        try {
            write(answer);
        } finally {
            replying = null;
        }
    }

    private void write(Frame f) {
        if (state == State.CLOSED && !(f instanceof Frame.Error)) {
            return;
        }
        ctx.write(f, ctx.voidPromise());
        if (!channel.isWritable() && channel.bytesBeforeWritable() > options.maxPendingOutboundBytes()) {
            fatal(ErrorCode.SLOW_CONSUMER, "the client does not read; " + channel.bytesBeforeWritable()
                    + " bytes are waiting");
            return;
        }
        // Flush in the event loop's task phase, after this pass's reads (every channel's) and the tasks already
        // queued (deliveries handed over by other connections' loops): the answers to a burst of reads and the
        // deliveries that came in meanwhile leave in one write system call instead of one each.
        if (!flushScheduled) {
            flushScheduled = true;
            loop.execute(flushTask);
        }
    }

    /**
     * @return {@code answer} when it fits one frame a client accepts from this server, else an ERROR saying so: an
     *     answer whose size grows with the number of queues must not end the connection of the client that asked
     */
    private Frame oneFrame(Frame answer, String what, String instead) {
        int max = options.maxFrameSize() + Limits.DELIVERY_HEADROOM;
        io.netty.buffer.ByteBuf probe = ctx.alloc().buffer();
        try {
            FrameEncoder.encode(answer, probe, max);
            return answer;
        } catch (ProtocolException e) {
            return new Frame.Error(answer.streamId(), ErrorCode.INVALID_ARGUMENT, fit(what + " do not fit one frame of "
                    + max + " bytes: " + instead + ", or raise the server's maxFrameSize (rill serve "
                    + "--max-frame-size)"));
        } catch (IllegalArgumentException e) {
            // a served broker of another implementation may give a value the wire cannot carry (a name too long)
            return new Frame.Error(answer.streamId(), ErrorCode.INVALID_ARGUMENT, fit(what + " cannot be sent over the"
                    + " network: " + e.getMessage()));
        } finally {
            probe.release();
        }
    }

    /** Why a message cannot go out in a DELIVER, and whether a larger maximum frame size would let it. */
    private record Unframeable(String why, boolean tooLarge) {
    }

    /** @return why a message cannot go out in a DELIVER (too large, or text with no UTF-8 form), or null */
    private Unframeable undeliverable(String key, Map<String, String> headers, int payloadLength) {
        long length;
        try {
            length = FrameEncoder.deliverLength(key, headers, payloadLength);
        } catch (IllegalArgumentException e) {
            return new Unframeable(fit(String.valueOf(e.getMessage())), false);
        }
        long max = (long) options.maxFrameSize() + Limits.DELIVERY_HEADROOM;
        return length <= max ? null : new Unframeable("its DELIVER would be " + length + " bytes, more than the " + max
                + " bytes a client accepts from this server (maxFrameSize " + options.maxFrameSize() + " + "
                + Limits.DELIVERY_HEADROOM + " delivery headroom)", true);
    }

    /**
     * @return the first of {@code peeked} that fit one PEEK_RESULT within the maximum frame size and the delivery
     *     headroom, at least one (a peek asks for up to its max, and an answer above the client's limit would end the
     *     connection); stops before a message that cannot go out at all (stored in the server's JVM)
     * @throws IllegalArgumentException when the first message cannot go out: the PEEK is answered by ERROR
     */
    private List<PeekedMessage> fitting(String queue, List<PeekedMessage> peeked) {
        long room = (long) options.maxFrameSize() + Limits.DELIVERY_HEADROOM - FrameEncoder.PEEK_RESULT_BASE_LENGTH;
        long size = 0;
        for (int i = 0; i < peeked.size(); i++) {
            PeekedMessage m = peeked.get(i);
            Unframeable u = undeliverable(m.key(), m.headers(), m.payload().length);
            if (u != null) { // the first is reported; a later one waits until it is first
                if (i == 0) {
                    throw new IllegalArgumentException("queue '" + queue + "' holds a message (id " + m.messageId()
                            + ") that cannot be sent over the network: " + u.why() + (u.tooLarge() ? ": raise the "
                            + "server's maxFrameSize (rill serve --max-frame-size) or consume it in the server's JVM"
                            : ": consume it in the server's JVM"));
                }
                return peeked.subList(0, i);
            }
            size += FrameEncoder.encodedSize(m);
            if (i > 0 && size > room) {
                return peeked.subList(0, i);
            }
        }
        return peeked;
    }

    /**
     * @return an exception's message as a frame's text: cut to the protocol's limit after a whole character, unpaired
     *     surrogates replaced (text the encoder refused would close the connection instead of answering)
     */
    private static String text(Throwable e) {
        return fit(e.getMessage() != null ? e.getMessage() : e.toString());
    }

    /** @return {@code s} fitted to a frame's text field (see {@link #text(Throwable)}) */
    private static String fit(String s) {
        return FrameEncoder.fitUtf8(s, Limits.MAX_TEXT_BYTES);
    }

    /** Sends an ERROR about the whole connection and closes it (at once if the peer does not read). */
    private void fatal(ErrorCode code, String message) {
        fatal(code, message, null);
    }

    /**
     * As {@link #fatal(ErrorCode, String)}, and tells the operator why (a bug with its stack trace); a shutdown is
     * not reported.
     */
    private void fatal(ErrorCode code, String message, Throwable bug) {
        if (state == State.CLOSED) {
            return;
        }
        PeerLog.Reason reason = PeerLog.reasonOf(code);
        try {
            if (bug != null) {
                peers.failed(remote, bug);
            } else if (reason != null && (state == State.HELLO || state == State.AUTH)) {
                peers.refused(remote, reason, message);
            } else if (reason != null) {
                peers.closed(remote, reason, message);
            }
        } catch (Throwable e) {
            // the line could not even be made (no memory for it, see containment): the connection ends all the same
        }
        boolean freeFirst = state != State.DRAINING && code != ErrorCode.SHUTTING_DOWN; // see lastFrame
        state = State.CLOSED;
        if (freeFirst) {
            releaseAll();
        }
        ChannelFutureListener then = code == ErrorCode.FRAME_TOO_LARGE
                ? ServerConnection::stopWriting : ChannelFutureListener.CLOSE;
        ctx.writeAndFlush(new Frame.Error(0, code, fit(message))).addListener(then);
        loop.schedule(() -> {
            ctx.close();
        }, 1, TimeUnit.SECONDS);
        if (code == ErrorCode.SLOW_CONSUMER) {
            ctx.close();
        }
        releaseAll();
    }

    /**
     * After the ERROR of a frame too large (for the limit, or for the memory there is now), whose client is likely
     * still writing it: the server's side is shut for output only, and the decoder goes on reading and discarding until
     * the client closes (on reading the ERROR and the end of the stream) or fatal's timer closes the channel. Closed at
     * once, with the frame's bytes still arriving, the socket was reset, and the client's next write failed before it
     * read the ERROR: "connection lost", the reason gone.
     */
    private static void stopWriting(io.netty.channel.ChannelFuture written) {
        if (written.isSuccess() && written.channel() instanceof io.netty.channel.socket.DuplexChannel d) {
            d.shutdownOutput();
        } else {
            written.channel().close();
        }
    }

    /*
     * lastFrame: the order of the release (releaseAll) and of the connection's last frame (ERROR or CLOSE) and close.
     * While the server accepts connections, the release comes first: it gives the connection's place in
     * maxConnections back (RillServer's onClose), and a client that reads the last frame or the end of the stream
     * and reconnects at once must find it free. Released after the write, it was still taken for a moment after the
     * client saw the close (the socket's close, then Netty's and reactor-netty's close listeners ran first; up to
     * milliseconds on a loaded machine), and a reconnect loop against maxConnections(1) was refused with
     * TOO_MANY_CONNECTIONS. While the server shuts down (DRAINING, or a handshake cut short by SHUTTING_DOWN) it
     * accepts nothing, and the release comes last as before: the last connection's release lets the shutdown end
     * (and rill serve exit), which must not come before its last frame is written.
     */

    private boolean released;

    /** Releases every lease of this connection at once: unsettled deliveries are nacked, streams cancelled. */
    private void releaseAll() {
        if (released) {
            return;
        }
        released = true;
        state = State.CLOSED;
        if (handshakeTimer != null) {
            handshakeTimer.cancel(false);
        }
        if (drainTimer != null) {
            drainTimer.cancel(false);
        }
        for (EventSubscription s : new ArrayList<>(eventSubscriptions.values())) {
            s.ended = true;
            s.cancel();
        }
        eventSubscriptions.clear();
        List<ServerSubscription> subs = new ArrayList<>(subscriptions.values());
        subscriptions.clear();
        for (ServerSubscription s : subs) {
            s.ended = true;
            s.cancel();
        }
        List<Held> unsettled = new ArrayList<>(held.values());
        held.clear();
        for (Held h : unsettled) {
            h.delivery.nack().subscribe(null, e -> { });
        }
        for (SendLane lane : lanes.values()) {
            lane.cancel();
        }
        lanes.clear();
        onClose.run();
    }
}
