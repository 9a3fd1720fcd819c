package dev.rill.netty.internal.transport;

import dev.rill.core.LeaseOutcome;
import dev.rill.core.Overflow;
import dev.rill.core.QueueSpec;
import dev.rill.netty.AuthenticationException;
import dev.rill.netty.ClientOptions;
import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.FrameDecoder;
import dev.rill.netty.internal.protocol.FrameEncoder;
import dev.rill.netty.internal.protocol.FrameRefusedException;
import dev.rill.netty.internal.protocol.Limits;
import dev.rill.netty.internal.protocol.ProtocolException;
import dev.rill.netty.internal.protocol.SendReceipt;
import dev.rill.netty.internal.protocol.WireMessage;
import dev.rill.reactive.RillException;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.IntFunction;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;
import reactor.core.publisher.Sinks;

/**
 * The client side of one connection: a netty handler placed after the frame decoder. Every field is confined to the
 * channel's event loop; API calls hop onto it. Writes are coalesced: frames produced during one event-loop task
 * (several sends of a queue, several acks) go out as one SEND / ACK frame and one flush at the end of the tick.
 */
public final class ClientConnection extends ChannelInboundHandlerAdapter {

    /** DRAINING: the server sent GOAWAY; only settlements of deliveries already received go out. */
    private enum State { CONNECTING, HELLO, AUTH, OPEN, DRAINING, CLOSED }

    private final RemoteBroker broker;
    private final ClientOptions options;
    private final FrameEncoder encoder;

    private ChannelHandlerContext ctx;
    private Channel channel;
    private EventLoop loop;
    private State state = State.CONNECTING;
    private MonoSink<ClientConnection> handshake;
    private Throwable closeCause;
    private int serverMaxFrameSize = Limits.DEFAULT_MAX_FRAME_SIZE;
    /** The protocol version the server chose in HELLO_OK (read by callers on other threads once open). */
    private volatile int version;
    private int nextId = 1;
    private int pingNonce = 1;
    private ScheduledFuture<?> pinger;
    private boolean flushScheduled;
    /** Settlements not written yet. */
    private int settlesPending;
    /** Pending settlements flushed without waiting for the answer to those in flight. */
    static final int SETTLE_BATCH = 32;
    /** Sends handed over by any thread, drained in order on the event loop. */
    private final java.util.Queue<PendingMessage> submitted = io.netty.util.internal.PlatformDependent.newMpscQueue();
    private volatile int submitScheduled;
    private static final java.util.concurrent.atomic.AtomicIntegerFieldUpdater<ClientConnection> SUBMIT_SCHEDULED =
            java.util.concurrent.atomic.AtomicIntegerFieldUpdater.newUpdater(ClientConnection.class, "submitScheduled");

    /** How many of the first bytes received are kept to say what answered when it was not a Rill server. */
    static final int HEARD_BYTES = 80;
    /** The first bytes received, until the handshake ends (see {@link #listener()}). */
    private final byte[] heard = new byte[HEARD_BYTES];
    private int heardLength;

    private final Map<Integer, Pending<?>> requests = new HashMap<>();
    private final Map<Integer, RemoteSubscription<?>.Attachment> subscriptions = new HashMap<>();
    private final Map<String, Lane> lanes = new HashMap<>();
    /** In the order they went out: after a lost connection they are retried in that order. */
    private final Map<Integer, List<PendingMessage>> sendsInFlight = new LinkedHashMap<>();
    /** Whether the server closed this connection (a CLOSE came), on the event loop. */
    private boolean serverClosed;
    /** Whether the client closed this connection ({@link #close}), on the event loop. */
    private boolean clientClosed;
    private final Map<Integer, List<SettleWaiter>> settlesInFlight = new HashMap<>();
    private final Map<SettleKey, SettleBatch> settleBatches = new LinkedHashMap<>();
    /**
     * The queues this connection declares (or describes) again after a reconnect whose answer has not come yet, each
     * with what its waiting operations subscribe to (see {@link #whenReady}). Filled before the connection is handed
     * out, so an operation never finds its queue missing from it while the DECLARE is on its way; emptied as the
     * answers come (or the set-up is given up). Read from any thread.
     */
    private final Map<String, Sinks.Empty<Void>> declaring = new java.util.concurrent.ConcurrentHashMap<>();

    ClientConnection(RemoteBroker broker, ClientOptions options, FrameEncoder encoder) {
        this.broker = broker;
        this.options = options;
        this.encoder = encoder;
    }

    // ---- lifecycle ----------------------------------------------------------------------------------------------

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.channel = ctx.channel();
        this.loop = channel.eventLoop();
    }

    /**
     * @return a handler for the pipeline before the frame decoder: it keeps a copy of the first bytes the server
     *     sends, until the handshake ended, so a peer that is not a Rill server can be named by what it said
     */
    io.netty.channel.ChannelHandler listener() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext c, Object msg) {
                if (msg instanceof io.netty.buffer.ByteBuf b && heardLength < HEARD_BYTES) {
                    int n = Math.min(b.readableBytes(), HEARD_BYTES - heardLength);
                    b.getBytes(b.readerIndex(), heard, heardLength, n);
                    heardLength += n;
                }
                c.fireChannelRead(msg);
                boolean done = heardLength == HEARD_BYTES || state == State.OPEN || state == State.CLOSED;
                if (done && c.pipeline().context(this) != null) {
                    c.pipeline().remove(this); // the handshake is over: nothing more to keep
                }
            }
        };
    }

    /**
     * @return the error for a peer whose first bytes are no HELLO_OK or ERROR frame: not a Rill server (an HTTP
     *     proxy, another service on the port), quoting the start of its answer
     */
    private RillException notRill(Throwable cause) {
        return new NotRillServer(broker.where() + " is not a Rill server (it answered " + quoteHeard()
                + " to the client's HELLO)", cause);
    }

    /** The peer answered HELLO with something else than a Rill frame. */
    static final class NotRillServer extends RillException {
        private static final long serialVersionUID = 1L;

        NotRillServer(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** @return the first line of what the peer sent, its non-printable bytes as {@code \xNN}, at most 60 of them */
    private String quoteHeard() {
        StringBuilder b = new StringBuilder("\"");
        int shown = 0;
        int i = 0;
        for (; i < heardLength && shown < 60; i++, shown++) {
            int c = heard[i] & 0xff;
            if (c == '\r' || c == '\n') {
                break;
            }
            if (c >= 0x20 && c < 0x7f) {
                b.append((char) c);
            } else {
                b.append(String.format("\\x%02x", c));
            }
        }
        if (i < heardLength) {
            b.append(" …");
        }
        return b.append('"').toString();
    }

    /** @return a Mono that sends HELLO (and AUTH) and completes with this connection once it is open */
    Mono<ClientConnection> handshake() {
        return Mono.create(sink -> exec(() -> {
            if (state != State.CONNECTING) {
                sink.error(lost());
                return;
            }
            handshake = sink;
            state = State.HELLO;
            write(new Frame.Hello(Limits.CLIENT_VERSIONS, options.clientName()));
        }));
    }

    boolean isOpen() {
        return state == State.OPEN && channel.isActive();
    }

    /**
     * On the event loop: whether the connection closed, its subscriptions already handed to the broker as lost (an
     * attachment made from now on would never be told).
     */
    boolean isClosed() {
        return state == State.CLOSED;
    }

    EventLoop loop() {
        return loop;
    }

    /** @return the connection's channel (tests) */
    Channel channel() {
        return channel;
    }

    void exec(Runnable r) {
        if (loop.inEventLoop()) {
            r.run();
        } else {
            loop.execute(r);
        }
    }

    /**
     * How long a polite close waits for its CLOSE frame (and what was written before it) to go out before it closes
     * the channel all the same: a server that stopped reading must not hold {@code close()} for good.
     */
    static final long CLOSE_WRITE_MILLIS = 2_000;

    /**
     * Closes the connection politely: the CLOSE frame, then the channel once the frame is written (at the latest after
     * {@link #CLOSE_WRITE_MILLIS}). Starts at once, whether or not the caller waits.
     */
    void close() {
        exec(() -> {
            clientClosed = true;
            if (state == State.OPEN || state == State.DRAINING) {
                closeCause = new RillException("the client was closed");
                ScheduledFuture<?> bound = loop.schedule(() -> ctx.close(), CLOSE_WRITE_MILLIS, TimeUnit.MILLISECONDS);
                ctx.writeAndFlush(new Frame.Close(ErrorCode.NONE, "client closed")).addListener(f -> {
                    bound.cancel(false);
                    ctx.close();
                });
            } else {
                ctx.close();
            }
        });
    }

    /**
     * @return why a settlement on the wire when the connection closed got no answer, true to how it closed: only a
     *     connection the client or the server closed is known to have been closed by a server that releases its
     *     leases; a lost one (a server killed, a network cut) may have a server that has not noticed yet, or none
     */
    private String unconfirmed() {
        String maybe = " before the settlement was confirmed: it may have been applied; if not, ";
        if (clientClosed) {
            return "the client was closed" + maybe + "the server releases the lease as the connection closes, and the "
                    + "message may be delivered again";
        }
        if (serverClosed) {
            return "the server at " + broker.where() + " closed the connection (" + closeCause.getMessage() + ")"
                    + maybe + "it released the lease as it closed, and the message may be delivered again";
        }
        return "connection to " + broker.where() + " lost" + (closeCause != null ? " (" + closeCause.getMessage()
                + ")" : "") + maybe + "the message may be delivered again: a server still running releases the lease"
                + " once it sees the connection gone, and a server that stopped holds it no more (a durable server "
                + "has the message ready again when it restarts)";
    }

    /** Drops the connection abruptly (used when the server stays silent). */
    void abort(Throwable cause) {
        exec(() -> {
            if (closeCause == null) {
                closeCause = cause;
            }
            ctx.close();
        });
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        State was = state;
        state = State.CLOSED;
        if (pinger != null) {
            pinger.cancel(false);
        }
        RuntimeException cause = lost();
        if (handshake != null && was != State.OPEN) {
            // a peer that said something too short to be a frame and closed is not a Rill server either
            handshake.error(closeCause == null && was == State.HELLO && heardLength > 0 ? notRill(null)
                    : closeCause == null ? closedDuringHandshake() : cause);
            handshake = null;
        }
        for (Pending<?> p : new ArrayList<>(requests.values())) {
            p.sink.error(cause);
        }
        requests.clear();
        for (List<SettleWaiter> waiters : settlesInFlight.values()) {
            for (SettleWaiter w : waiters) {
                w.failed(new RillException(unconfirmed(), cause));
            }
        }
        settlesInFlight.clear();
        for (SettleBatch b : settleBatches.values()) {
            for (SettleWaiter w : b.waiters) {
                w.settled(LeaseOutcome.STALE); // never sent; the server released the lease
            }
        }
        settleBatches.clear();
        ackBatch = null;
        settlesPending = 0;
        // sends: those never written can always be retried; written ones only when they carry a dedup id
        List<PendingMessage> retry = new ArrayList<>();
        for (List<PendingMessage> batch : sendsInFlight.values()) {
            for (PendingMessage m : batch) {
                if (m.wire.dedupId() != null) {
                    retry.add(m);
                } else {
                    m.failed(new RillException("connection to " + broker.where() + " lost while sending to '"
                            + m.queue + "': the message may or may not have been stored (give it a dedupId to have "
                            + "it retried safely)", cause));
                }
            }
        }
        sendsInFlight.clear();
        for (Lane lane : lanes.values()) {
            retry.addAll(lane.batch);
            retry.addAll(lane.waiting);
        }
        lanes.clear();
        List<RemoteSubscription<?>.Attachment> subs = new ArrayList<>(subscriptions.values());
        subscriptions.clear();
        // without a cause of its own the peer closed the connection: say that, not "connection lost"
        broker.connectionLost(this, closeCause != null ? closeCause
                : new RillException("the server closed the connection"), retry, subs);
        ctx.fireChannelInactive();
    }

    /**
     * The server closed the connection before answering the handshake, without a word: a server that requires TLS
     * does that to a plaintext client (its TLS layer finds no TLS record), so say so.
     */
    private RillException closedDuringHandshake() {
        return new RillException("connection to " + broker.where() + " closed by the server during the handshake"
                + (options.tls().isPresent() ? "" : " (a server that requires TLS does this to a client without TLS:"
                        + " connect with TLS, rills://)"));
    }

    private RuntimeException lost() {
        if (closeCause instanceof NotRillServer n) {
            return n;
        }
        if (closeCause instanceof RuntimeException r && RemoteBroker.permanent(r)) {
            return r;
        }
        return new RillException("connection to " + broker.where() + " lost"
                + (closeCause != null ? ": " + closeCause.getMessage() : ""), closeCause);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent e && e.state() == IdleState.READER_IDLE) {
            abort(new RillException("nothing received from the server for " + options.idleTimeout().toMillis()
                    + " ms"));
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof FrameRefusedException r && r.frame() != null && refused(r)) {
            return;
        }
        if (closeCause == null) {
            // before HELLO_OK, bytes that are no frame mean the peer is something else (an HTTP proxy, say)
            closeCause = state == State.HELLO && cause instanceof ProtocolException && heardLength > 0
                    ? notRill(cause) : cause;
        }
        if (cause instanceof ProtocolException p) {
            ctx.writeAndFlush(new Frame.Error(0, p.code(), String.valueOf(p.getMessage())));
        }
        ctx.close();
    }

    /**
     * The last line of defence: the encoder refused a frame (a value the API let through that the wire cannot carry).
     * Nothing of it was written, so the connection is intact: the operation the frame belongs to fails with the
     * encoder's reason, and everything else goes on. A frame of the connection itself (HELLO, AUTH, PING, CLOSE) or
     * of nothing known still ends the connection, with that reason.
     *
     * @return whether the refusal was one operation's
     */
    private boolean refused(FrameRefusedException r) {
        Frame f = r.frame();
        int id = f.streamId();
        if (id == 0) {
            return false;
        }
        RuntimeException e = r.getCause() instanceof IllegalArgumentException iae
                ? new IllegalArgumentException(f.type() + " not sent: " + iae.getMessage(), iae)
                : new RillException(r.getMessage(), r.getCause());
        Pending<?> p = requests.remove(id);
        if (p != null) {
            p.sink.error(e);
            return true;
        }
        List<SettleWaiter> settles = settlesInFlight.remove(id);
        if (settles != null) {
            for (SettleWaiter w : settles) {
                w.failed(e);
            }
            if (settlesPending > 0 && settlesInFlight.isEmpty()) {
                scheduleFlush();
            }
            return true;
        }
        List<PendingMessage> sends = sendsInFlight.remove(id);
        if (sends != null) {
            for (PendingMessage m : sends) {
                m.failed(e);
            }
            return true;
        }
        if (f instanceof Frame.Subscribe || f instanceof Frame.SubscribeEvents) {
            RemoteSubscription<?>.Attachment a = subscriptions.remove(id); // the server never saw it
            if (a != null) {
                a.onEnd(ErrorCode.INVALID_ARGUMENT, e.getMessage());
            }
            return true;
        }
        return false; // CREDIT, UNSUBSCRIBE, CANCEL_SEND: the two sides would disagree on the stream's state
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (channel.isWritable()) {
            for (Lane lane : lanes.values()) {
                pump(lane);
            }
        }
        ctx.fireChannelWritabilityChanged();
    }

    // ---- inbound ------------------------------------------------------------------------------------------------

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof Frame f)) {
            io.netty.util.ReferenceCountUtil.release(msg);
            return;
        }
        try {
            onFrame(f);
        } catch (RuntimeException e) {
            exceptionCaught(ctx, e);
        }
    }

    private void onFrame(Frame f) {
        if (state == State.HELLO && !(f instanceof Frame.HelloOk) && !(f instanceof Frame.Error)) {
            // a valid frame, yet not the answer to HELLO: a peer that is not a Rill server, by chance
            closeCause = notRill(null);
            ctx.close();
            return;
        }
        if (f instanceof Frame.Deliver d) {
            RemoteSubscription<?>.Attachment a = subscriptions.get(d.subscriptionId());
            if (a == null || !a.onFrame(d)) {
                // nobody wants it (cancelled meanwhile): give it back at once, without counting the delivery
                settle(SettleKind.RELEASE, d.deliveryTag(), 0, null).subscribe(null, e -> { });
            }
            return;
        }
        if (f instanceof Frame.Event e) {
            RemoteSubscription<?>.Attachment a = subscriptions.get(e.subscriptionId());
            if (a != null) {
                a.onFrame(e);
            }
            return;
        }
        if (f instanceof Frame.SendResult r) {
            onSendResult(r.requestId(), r.receipts());
        } else if (f instanceof Frame.SendReceipts r) {
            onSendResult(r.requestId(), r.receipts()); // version 3: the same, with reasons
        } else if (f instanceof Frame.SendCredit c) {
            Lane lane = lane(c.queue());
            lane.credit += c.credit();
            if (c.bytes() > 0) { // SEND_CREDIT_BYTES (version 6)
                // saturating at Long.MAX_VALUE (a lane of an older version has no bound); a lane that overdrew its
                // credit is below 0 and may stay there: a grant smaller than the debt lets nothing go yet
                long b = lane.byteCredit + c.bytes();
                lane.byteCredit = b < lane.byteCredit ? Long.MAX_VALUE : b;
            }
            pump(lane);
        } else if (f instanceof Frame.SettleResult r) {
            List<SettleWaiter> waiters = settlesInFlight.remove(r.requestId());
            if (settlesPending > 0 && settlesInFlight.isEmpty()) {
                scheduleFlush(); // the settlements gathered while this answer was awaited
            }
            if (waiters != null) {
                List<LeaseOutcome> outcomes = r.outcomes();
                for (int i = 0; i < waiters.size(); i++) {
                    waiters.get(i).settled(i < outcomes.size() ? outcomes.get(i) : LeaseOutcome.STALE);
                }
            }
        } else if (f instanceof Frame.ExtendResult r) {
            List<SettleWaiter> waiters = settlesInFlight.remove(r.requestId());
            if (settlesPending > 0 && settlesInFlight.isEmpty()) {
                scheduleFlush();
            }
            if (waiters != null) {
                for (int i = 0; i < waiters.size(); i++) {
                    if (i < r.outcomes().size()) {
                        waiters.get(i).settled(r.outcomes().get(i), r.deadlines().get(i));
                    } else {
                        waiters.get(i).settled(LeaseOutcome.STALE);
                    }
                }
            }
        } else if (f instanceof Frame.GoAway g) {
            onGoAway(g);
        } else if (f instanceof Frame.SubscriptionEnd e) {
            RemoteSubscription<?>.Attachment a = subscriptions.remove(e.subscriptionId());
            if (a != null) {
                a.onEnd(e.code(), e.message());
            }
        } else if (f instanceof Frame.SubscribeOk) {
            // deliveries follow the credit already sent
        } else if (f instanceof Frame.Ping p) {
            write(new Frame.Pong(p.nonce()));
        } else if (f instanceof Frame.Pong) {
            // reading it reset the idle timer
        } else if (f instanceof Frame.HelloOk h) {
            onHelloOk(h);
        } else if (f instanceof Frame.AuthOk) {
            opened();
        } else if (f instanceof Frame.Error e) {
            onError(e);
        } else if (f instanceof Frame.Close c) {
            serverClosed = true;
            closeCause = c.code() == ErrorCode.NONE
                    ? new RillException("the server closed the connection")
                    : Wire.toException(c.code(), c.reason(), null);
            ctx.close();
        } else {
            Pending<?> p = requests.remove(f.streamId());
            if (p != null) {
                p.complete(f);
            }
        }
    }

    /**
     * GOAWAY: the server drains this connection. Deliveries already received can still be settled here; every new
     * send, request and subscription waits for the next connection (the broker reconnects once this one closes, as
     * its reconnect policy allows). Sends not written yet go there; subscriptions are ended by the server
     * (SUBSCRIPTION_END SHUTTING_DOWN).
     */
    private void onGoAway(Frame.GoAway g) {
        if (state != State.OPEN) {
            return;
        }
        state = State.DRAINING;
        closeCause = new RillException("the server is shutting down: " + g.message());
        broker.goingAway(this);
        List<PendingMessage> retry = new ArrayList<>();
        for (Lane lane : lanes.values()) {
            retry.addAll(lane.batch);
            retry.addAll(lane.waiting);
        }
        lanes.clear();
        for (PendingMessage m : retry) {
            broker.resend(m);
        }
    }

    private void onHelloOk(Frame.HelloOk h) {
        if (!Limits.CLIENT_VERSIONS.contains(h.version())) {
            // the server must choose one of the offered versions: frames of another are not this client's to read
            String m = "the server at " + broker.where() + " chose protocol version " + h.version()
                    + ", which this client did not offer (it speaks " + Limits.CLIENT_VERSIONS + ")";
            ctx.writeAndFlush(new Frame.Error(0, ErrorCode.UNSUPPORTED_VERSION, m)); // before the failed connect closes
            failHandshake(new VersionRefusedException(m));
            return;
        }
        int own = options.maxFrameSize().orElse(Limits.MAX_MAX_FRAME_SIZE);
        if (h.maxFrameSize() > own) {
            closeCause = new FrameBoundException(broker.address(), h.maxFrameSize(), own);
            ctx.close();
            return;
        }
        // the server sends frames up to the maximum it announced plus the delivery headroom: accept that
        ctx.pipeline().get(FrameDecoder.class).limit(Math.max(Limits.MIN_LENGTH, h.maxFrameSize())
                + Limits.DELIVERY_HEADROOM);
        serverMaxFrameSize = h.maxFrameSize();
        version = h.version();
        encoder.maxFrameSize(h.maxFrameSize());
        long interval = options.pingInterval().toMillis();
        if (h.heartbeatIntervalMillis() > 0) {
            interval = Math.min(interval, h.heartbeatIntervalMillis());
        }
        long every = Math.max(1, interval);
        pinger = loop.scheduleAtFixedRate(() -> {
            if (state == State.OPEN || state == State.AUTH || state == State.DRAINING) {
                write(new Frame.Ping(pingNonce++));
            }
        }, every, every, TimeUnit.MILLISECONDS);
        if (h.authRequired()) {
            state = State.AUTH;
            write(new Frame.Auth(options.token().orElse("")));
        } else {
            opened();
        }
    }

    private void opened() {
        state = State.OPEN;
        if (handshake != null) {
            MonoSink<ClientConnection> s = handshake;
            handshake = null;
            s.success(this);
        }
    }

    /** Ends the connection for {@code e}; a handshake under way fails with it, not as a lost connection. */
    private void failHandshake(RuntimeException e) {
        closeCause = e;
        if (handshake != null) {
            MonoSink<ClientConnection> s = handshake;
            handshake = null;
            s.error(e);
        }
        ctx.close();
    }

    private void onError(Frame.Error e) {
        if (e.id() == 0) {
            failHandshake(e.code() == ErrorCode.UNSUPPORTED_VERSION
                    ? new VersionRefusedException("server error " + e.code() + ": " + e.message())
                    : Wire.toException(e.code(), e.message(), null));
            return;
        }
        Pending<?> p = requests.remove(e.id());
        if (p != null) {
            if (e.code() == ErrorCode.SHUTTING_DOWN && broker.reconnects() && p.elsewhere) {
                p.retry(broker); // refused by a draining server: nothing was done, the next server gets it
            } else if (e.code() == ErrorCode.SHUTTING_DOWN && !p.elsewhere) {
                // setting up a connection to a server that is going away: give it up, the reconnect tries again
                ctx.close();
                p.sink.error(new RillException("the server at " + broker.where() + " is shutting down"));
            } else {
                p.sink.error(Wire.toException(e.code(), e.message(), p.queue));
            }
            return;
        }
        List<SettleWaiter> settles = settlesInFlight.remove(e.id());
        if (settles != null) {
            // the server's broker failed the settlement for another reason than a stale lease (the queue closed,
            // the broker closing): the reason goes to each waiter, named after its own queue
            for (SettleWaiter w : settles) {
                w.failed(Wire.toException(e.code(), e.message(), w.queue()));
            }
            if (settlesPending > 0 && settlesInFlight.isEmpty()) {
                scheduleFlush();
            }
            return;
        }
        List<PendingMessage> sends = sendsInFlight.remove(e.id());
        if (sends != null) {
            for (PendingMessage m : sends) {
                if (e.code() == ErrorCode.SHUTTING_DOWN) {
                    broker.resend(m); // refused whole by a draining server: nothing of it was stored
                } else {
                    m.failed(Wire.toException(e.code(), e.message(), m.queue));
                }
            }
            return;
        }
        RemoteSubscription<?>.Attachment a = subscriptions.get(e.id());
        if (a != null && e.code() != ErrorCode.UNKNOWN_SUBSCRIPTION) {
            subscriptions.remove(e.id());
            a.onEnd(e.code(), e.message());
        }
    }

    // ---- requests -----------------------------------------------------------------------------------------------

    private static final class Pending<R> {
        final MonoSink<R> sink;
        final Function<Frame, R> answer;
        final String queue;
        final IntFunction<Frame> build;
        /** Whether a draining server's refusal sends it again on the broker's next connection (else it fails). */
        final boolean elsewhere;

        Pending(MonoSink<R> sink, Function<Frame, R> answer, String queue, IntFunction<Frame> build,
                boolean elsewhere) {
            this.sink = sink;
            this.answer = answer;
            this.queue = queue;
            this.build = build;
            this.elsewhere = elsewhere;
        }

        /** Sends the request again on the broker's next connection (it was refused, not executed). */
        void retry(RemoteBroker broker) {
            retry(broker, queue, build, answer, sink);
        }

        static <R> void retry(RemoteBroker broker, String queue, IntFunction<Frame> build, Function<Frame, R> answer,
                MonoSink<R> sink) {
            broker.call(queue, build, answer).subscribe(sink::success, sink::error, sink::success);
        }

        void complete(Frame f) {
            R r;
            try {
                r = answer.apply(f);
            } catch (RuntimeException e) {
                sink.error(e);
                return;
            }
            if (r == null) {
                sink.success();
            } else {
                sink.success(r);
            }
        }
    }

    int newId() {
        int id;
        do {
            id = nextId++;
            if (nextId <= 0) {
                nextId = 1;
            }
        } while (id == 0 || requests.containsKey(id) || subscriptions.containsKey(id) || sendsInFlight.containsKey(id)
                || settlesInFlight.containsKey(id));
        return id;
    }

    /**
     * Sends a request and maps its answer.
     *
     * @param queue the queue concerned (for error messages), or null
     * @param build builds the frame from the request id
     * @param answer maps the answer frame (null for an empty result)
     * @param <R> the result type
     * @return a Mono of the result
     */
    <R> Mono<R> request(String queue, IntFunction<Frame> build, Function<Frame, R> answer) {
        return request(queue, build, answer, true);
    }

    /**
     * As {@link #request(String, IntFunction, Function)}; with {@code elsewhere} false a draining server's refusal
     * fails the request instead of sending it again on the broker's next connection: the requests that set up a
     * new connection must not wait for the connection they set up.
     */
    private <R> Mono<R> request(String queue, IntFunction<Frame> build, Function<Frame, R> answer,
            boolean elsewhere) {
        return Mono.create(sink -> exec(() -> {
            if (state == State.DRAINING && broker.reconnects() && elsewhere) {
                Pending.retry(broker, queue, build, answer, sink); // waits for the next connection
                return;
            }
            if (state != State.OPEN) {
                sink.error(lost());
                return;
            }
            int id = newId();
            requests.put(id, new Pending<>(sink, answer, queue, build, elsewhere));
            write(build.apply(id));
        }));
    }

    /** @return the protocol version negotiated with the server (0 before HELLO_OK) */
    int version() {
        return version;
    }

    Mono<Void> declare(QueueSpec spec) {
        return request(spec.name(), id -> Frame.Declare.of(id, spec), f -> null);
    }

    /**
     * Declares {@code spec} again, or describes it when {@code describe}, while this connection is set up after a
     * reconnect: on this connection only (a draining server's refusal fails it).
     */
    Mono<Void> setUp(QueueSpec spec, boolean describe) {
        return describe ? request(spec.name(), id -> new Frame.Describe(id, spec.name()), f -> null, false)
                : request(spec.name(), id -> Frame.Declare.of(id, spec), f -> null, false);
    }

    /**
     * Marks {@code queues} as being declared again on this connection: until {@link #declared} (or
     * {@link #setUpEnded}), {@link #whenReady} holds their operations back. Called before the connection is handed
     * out.
     */
    void declaring(java.util.Collection<String> queues) {
        for (String q : queues) {
            declaring.put(q, Sinks.empty());
        }
    }

    /**
     * @param queue a queue, or null for every queue
     * @return whether operations on {@code queue} (null: on the whole broker, LIST or STATS of all queues) may go
     *     out on this connection now: it is not being declared again on it
     */
    boolean ready(String queue) {
        return queue == null ? declaring.isEmpty() : !declaring.containsKey(queue);
    }

    /**
     * @param queue a queue, or null for every queue
     * @return a Mono that completes once {@code queue}'s declaration on this connection after a reconnect was answered
     *     (null: every queue's), at once when none is under way. It also completes when the set-up is given up (the
     *     connection lost or left): the caller then finds this connection closed or no longer the current one
     */
    Mono<Void> whenReady(String queue) {
        if (queue == null) {
            return Mono.when(declaring.values().stream().map(Sinks.Empty::asMono).toList());
        }
        Sinks.Empty<Void> s = declaring.get(queue);
        return s == null ? Mono.empty() : s.asMono(); // a sink completed meanwhile replays its completion
    }

    /** {@code queue}'s declaration was answered (declared, or refused and forgotten): its operations go. */
    void declared(String queue) {
        Sinks.Empty<Void> s = declaring.remove(queue);
        if (s != null) {
            s.tryEmitEmpty(); // by whoever removed it: one emitter
        }
    }

    /** The set-up of this connection was given up (lost, or left): the operations still waiting look again. */
    void setUpEnded() {
        for (String q : List.copyOf(declaring.keySet())) {
            declared(q);
        }
    }

    /** @return a Mono of the spec of an existing queue (DESCRIBE), which is attached to this connection */
    Mono<QueueSpec> describe(String queue) {
        return request(queue, id -> new Frame.Describe(id, queue), f -> ((Frame.DescribeOk) f).spec().toSpec());
    }

    // ---- sending ------------------------------------------------------------------------------------------------

    /**
     * A message waiting for credit, batched, or in flight, and what is told its outcome: exactly one of
     * {@link #sent} and {@link #failed}, on the event loop (or the thread that found no connection), unless the
     * message was resent (reconnect, draining server), which calls neither. Subclasses are the senders themselves
     * (a single send's subscriber, a slot of sendMany), so a send costs no completion object besides.
     */
    abstract static class PendingMessage {
        final String queue;
        final WireMessage wire;
        final Overflow overflow; // null: the queue's
        final int size;
        /** The subscriber cancelled: drop it if still waiting, ask the server to drop it if on the wire. */
        volatile boolean cancelled;
        /** The connection it was handed to, once handed. */
        volatile ClientConnection conn;
        /** The SEND it went out in (event loop only), 0 before. */
        int sentIn;

        PendingMessage(String queue, WireMessage wire, Overflow overflow) {
            this.queue = queue;
            this.wire = wire;
            this.overflow = overflow;
            this.size = FrameEncoder.encodedSize(wire);
        }

        /** @param receipt the server's answer for this message (stored, duplicate, full, closed, refused) */
        abstract void sent(SendReceipt receipt);

        /** @param e why the message got no answer: refused before the wire, or the connection lost */
        abstract void failed(Throwable e);
    }

    private static final class Lane {
        final String queue;
        final ArrayDeque<PendingMessage> waiting = new ArrayDeque<>();
        List<PendingMessage> batch = new ArrayList<>();
        Overflow batchOverflow;
        int batchBytes;
        int credit;
        /**
         * Bytes of SEND_CREDIT left (version 6, SEND_CREDIT_BYTES), as {@link PendingMessage#size} counts a message: a
         * message goes only while it is above 0, so the last one may overdraw it. On a connection of an earlier
         * version the server grants messages only: it starts at {@code Long.MAX_VALUE}, which no connection's sends
         * ever use up, so the same test lets every message with a credit go.
         */
        long byteCredit;
        /** The SEND frame's size without its messages. */
        final int overhead;

        Lane(String queue, boolean bytesCounted) {
            this.queue = queue;
            this.overhead = FrameEncoder.sendOverhead(queue);
            this.byteCredit = bytesCounted ? 0 : Long.MAX_VALUE;
        }
    }

    private Lane lane(String queue) {
        Lane lane = lanes.get(queue);
        if (lane == null) {
            lane = new Lane(queue, version >= Limits.BYTE_CREDIT_VERSION);
            lanes.put(queue, lane);
        }
        return lane;
    }

    /**
     * Queues a message for sending (on the event loop); it goes out as soon as the queue's SEND_CREDIT allows.
     *
     * <p>Every send goes through one multi-producer queue drained by one event-loop task, even a send made on the
     * loop (e.g. by sendMany after a result): it must not overtake earlier sends of the same producer still queued
     * from another thread. One task per burst rather than one per message keeps the loop's task queue short.
     */
    void send(PendingMessage m) {
        submitted.offer(m);
        if (SUBMIT_SCHEDULED.compareAndSet(this, 0, 1)) {
            loop.execute(this::drainSubmitted);
        }
    }

    private void drainSubmitted() {
        submitScheduled = 0; // before polling: a send offered from now on schedules another drain
        Lane last = null;
        PendingMessage m;
        while ((m = submitted.poll()) != null) {
            // Publish the connection before reading cancelled: RemoteBroker.cancel writes cancelled before it reads
            // conn, so either it finds this connection (and cancels here, after this task) or this read sees it.
            // Read the other way round, both could miss: the cancel found no connection and the message went out
            m.conn = this;
            m.sentIn = 0;
            if (m.cancelled) {
                continue;
            }
            if (state != State.OPEN) {
                broker.resend(m);
                continue;
            }
            RuntimeException refused = broker.refusal(m.queue);
            if (refused != null) {
                m.failed(refused); // the server refused the queue on this connection: it grants it no credit
                continue;
            }
            Lane lane;
            try {
                lane = lane(m.queue);
            } catch (IllegalArgumentException e) {
                m.failed(e);
                continue;
            }
            int max = serverMaxFrameSize - lane.overhead;
            if (m.size > max) {
                m.failed(new IllegalArgumentException("message of " + m.size + " encoded bytes exceeds the "
                        + "server's maximum frame size " + serverMaxFrameSize));
                continue;
            }
            lane.waiting.add(m);
            if (last != null && last != lane) {
                pump(last);
            }
            last = lane;
        }
        if (last != null) {
            pump(last);
        }
    }

    private void pump(Lane lane) {
        if (state != State.OPEN) {
            return;
        }
        int max = serverMaxFrameSize - lane.overhead;
        while (lane.credit > 0 && lane.byteCredit > 0 && !lane.waiting.isEmpty() && channel.isWritable()) {
            PendingMessage m = lane.waiting.peek();
            if (lane.batchBytes + m.size > max || (!lane.batch.isEmpty() && lane.batchOverflow != m.overflow)) {
                flushLane(lane);
            }
            lane.waiting.poll();
            lane.credit--;
            lane.byteCredit -= m.size;
            lane.batchOverflow = m.overflow;
            lane.batch.add(m);
            lane.batchBytes += m.size;
        }
        if (!lane.batch.isEmpty()) {
            scheduleFlush();
        }
    }

    private void flushLane(Lane lane) {
        if (lane.batch.isEmpty()) {
            return;
        }
        int id = newId();
        List<PendingMessage> batch = lane.batch;
        lane.batch = new ArrayList<>();
        lane.batchBytes = 0;
        List<WireMessage> wires = new ArrayList<>(batch.size());
        for (PendingMessage m : batch) {
            wires.add(m.wire);
            m.sentIn = id;
        }
        sendsInFlight.put(id, batch);
        ctx.write(new Frame.Send(id, lane.queue, lane.batchOverflow, wires), ctx.voidPromise());
    }

    /**
     * The server refused {@code queue} when this connection was set up (see {@link RemoteBroker#refusal}): it grants
     * it no SEND_CREDIT, so the sends waiting for some fail with the refusal, as later ones do at once.
     */
    void refuseSends(String queue) {
        exec(() -> {
            Lane lane = lanes.remove(queue);
            if (lane == null) {
                return;
            }
            List<PendingMessage> waiting = new ArrayList<>(lane.batch);
            waiting.addAll(lane.waiting);
            for (PendingMessage m : waiting) {
                if (m.cancelled) {
                    continue;
                }
                RuntimeException refused = broker.refusal(queue);
                m.failed(refused != null ? refused : new RillException("queue '" + queue + "' was refused by "
                        + broker.where() + " on the new connection"));
            }
        });
    }

    /**
     * Drops a cancelled send: still waiting for SEND_CREDIT or in an unsent batch, it never goes out; already on
     * the wire, a CANCEL_SEND asks the server to store none of its SEND once every message of it was cancelled.
     */
    void cancel(PendingMessage m) {
        exec(() -> {
            Lane lane = lanes.get(m.queue);
            if (lane != null && lane.waiting.remove(m)) {
                return;
            }
            if (lane != null && lane.batch.remove(m)) {
                lane.credit++;
                lane.byteCredit += m.size;
                lane.batchBytes -= m.size;
                return;
            }
            int id = m.sentIn;
            List<PendingMessage> batch = id == 0 ? null : sendsInFlight.get(id);
            if (batch != null && state == State.OPEN) {
                for (PendingMessage other : batch) {
                    if (!other.cancelled) {
                        return;
                    }
                }
                write(new Frame.CancelSend(id));
            }
        });
    }

    /** SEND_RESULT or SEND_RECEIPTS: the receipts of the next messages of a SEND not answered yet. */
    private void onSendResult(int requestId, List<SendReceipt> receipts) {
        List<PendingMessage> batch = sendsInFlight.get(requestId);
        if (batch == null) {
            return;
        }
        // a SEND may be answered in parts (the stored prefix, before a message that waits for room; receipts with
        // reasons split to fit the max frame size); the rest keeps its place in the order
        int answered = Math.min(batch.size(), receipts.size());
        if (answered < batch.size()) {
            sendsInFlight.put(requestId, new ArrayList<>(batch.subList(answered, batch.size())));
        } else {
            sendsInFlight.remove(requestId);
        }
        for (int i = 0; i < answered; i++) {
            PendingMessage m = batch.get(i);
            if (!m.cancelled) {
                m.sent(receipts.get(i));
            }
        }
    }

    // ---- subscriptions ------------------------------------------------------------------------------------------

    /** Registers an attachment and sends SUBSCRIBE; on the event loop. */
    int subscribe(RemoteSubscription<?>.Attachment a, IntFunction<Frame> subscribeFrame) {
        int id = newId();
        subscriptions.put(id, a);
        write(subscribeFrame.apply(id));
        return id;
    }

    /** Writes a frame of an attachment (CREDIT, UNSUBSCRIBE); on the event loop. */
    void writeFrame(Frame f) {
        if (state == State.OPEN) {
            write(f);
        }
    }

    /** Keeps an unsubscribed attachment registered until SUBSCRIPTION_END so late DELIVERs are released. */
    boolean isRegistered(int id, RemoteSubscription<?>.Attachment a) {
        return subscriptions.get(id) == a;
    }

    // ---- settling -----------------------------------------------------------------------------------------------

    enum SettleKind { ACK, NACK, EXTEND, REJECT, RELEASE }

    private record SettleKey(SettleKind kind, long arg, String reason) {
    }

    private static final SettleKey ACK_KEY = new SettleKey(SettleKind.ACK, 0, null);

    /** Told the server's outcome of one settlement (on the event loop). */
    interface SettleWaiter {
        /** @param outcome the server's answer (STALE when it was never sent because the connection closed) */
        void settled(LeaseOutcome outcome);

        /**
         * An EXTEND's answer.
         *
         * @param outcome the server's answer
         * @param deadline the lease's new deadline on the server's clock (0 when STALE)
         */
        default void settled(LeaseOutcome outcome, long deadline) {
            settled(outcome);
        }

        /**
         * @param e the connection closed after the settlement was sent, before its answer; or the server answered
         *     with an error (its broker failed the settlement for another reason than a stale lease)
         */
        void failed(Throwable e);

        /** @return the queue of the delivery settled, for the error the server may answer with; null if unknown */
        default String queue() {
            return null;
        }
    }

    private static final class SettleBatch {
        long[] tags = new long[16];
        int size;
        final List<SettleWaiter> waiters = new ArrayList<>();

        void add(long tag, SettleWaiter w) {
            if (size == tags.length) {
                tags = java.util.Arrays.copyOf(tags, size * 2);
            }
            tags[size++] = tag;
            waiters.add(w);
        }
    }

    /** The ACK entry of {@link #settleBatches} for this tick (the common case, looked up without hashing). */
    private SettleBatch ackBatch;

    /**
     * Settles one delivery; settlements of one event-loop tick share frames.
     *
     * @param kind what to do
     * @param tag the delivery tag
     * @param arg delay (NACK) or duration (EXTEND) in millis
     * @param reason REJECT's reason
     * @return a Mono of the server's outcome
     */
    Mono<LeaseOutcome> settle(SettleKind kind, long tag, long arg, String reason) {
        return Mono.create(sink -> settle(kind, tag, arg, reason, new SettleWaiter() {
            @Override
            public void settled(LeaseOutcome outcome) {
                sink.success(outcome);
            }

            @Override
            public void failed(Throwable e) {
                sink.error(e);
            }
        }));
    }

    /**
     * Settles one delivery and tells {@code w} the outcome (on the event loop); settlements of one event-loop tick
     * share frames.
     */
    void settle(SettleKind kind, long tag, long arg, String reason, SettleWaiter w) {
        if (loop.inEventLoop()) {
            settleNow(kind, tag, arg, reason, w);
        } else {
            loop.execute(() -> settleNow(kind, tag, arg, reason, w));
        }
    }

    private void settleNow(SettleKind kind, long tag, long arg, String reason, SettleWaiter w) {
        if (state != State.OPEN && state != State.DRAINING) {
            w.settled(LeaseOutcome.STALE);
            return;
        }
        SettleBatch b;
        if (kind == SettleKind.ACK) {
            b = ackBatch;
            if (b == null) {
                b = new SettleBatch();
                ackBatch = b;
                settleBatches.put(ACK_KEY, b);
            }
        } else {
            b = settleBatches.computeIfAbsent(new SettleKey(kind, arg, reason), k -> new SettleBatch());
        }
        b.add(tag, w);
        settlesPending++;
        // Nagle-like: with no settlement awaiting its answer, go at once (a consumer acking one message at a time
        // waits no longer than before); while one is in flight, gather the next ones until its answer arrives or
        // enough of them are pending, so they share a frame and the server's answer: at moderate rates that saves
        // both sides a wake-up per message. Anything else written meanwhile takes them along.
        if (settlesInFlight.isEmpty() || settlesPending >= SETTLE_BATCH) {
            scheduleFlush();
        }
    }

    private void flushSettles() {
        for (Map.Entry<SettleKey, SettleBatch> e : settleBatches.entrySet()) {
            SettleKey k = e.getKey();
            SettleBatch b = e.getValue();
            int id = newId();
            long[] tags = java.util.Arrays.copyOf(b.tags, b.size);
            settlesInFlight.put(id, b.waiters);
            Frame f = switch (k.kind) {
                case ACK -> new Frame.Ack(id, tags);
                case NACK -> new Frame.Nack(id, k.arg, tags);
                case EXTEND -> new Frame.Extend(id, k.arg, tags);
                case REJECT -> new Frame.Reject(id, k.reason, tags);
                case RELEASE -> new Frame.Release(id, tags);
            };
            ctx.write(f, ctx.voidPromise());
        }
        settleBatches.clear();
        ackBatch = null;
        settlesPending = 0;
    }

    // ---- writing ------------------------------------------------------------------------------------------------

    private void write(Frame f) {
        ctx.write(f, ctx.voidPromise());
        scheduleFlush();
    }

    private void scheduleFlush() {
        if (!flushScheduled) {
            flushScheduled = true;
            loop.execute(this::flushNow);
        }
    }

    private void flushNow() {
        flushScheduled = false;
        if (state == State.OPEN) {
            for (Lane lane : lanes.values()) {
                flushLane(lane);
            }
        }
        if (state == State.OPEN || state == State.DRAINING) {
            flushSettles();
        }
        ctx.flush();
    }
}
