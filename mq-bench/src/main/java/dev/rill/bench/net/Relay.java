package dev.rill.bench.net;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.netty.resources.LoopResources;

/**
 * The transport floor: a relay on plain Netty that moves each message along Rill's path and nothing else. The
 * producer's connection sends a SEND frame per message and gets a SEND_OK back; the relay server (a JVM of its own,
 * {@link #main}) forwards each message to the consumer's connection on that connection's event loop, as Rill's server
 * hands a delivery to the consumer connection's loop; the consumer answers with one ACK frame per read pass and gets
 * a RESULT back. No queue, no lease, no codec: what is left of the latency is the JVMs, Netty, the loopback and the
 * machine. Same threads as Rill's path: the load generator, the client's producer and consumer loops (separate loops
 * of a group sized as reactor-netty's default), the server's loops of the two connections.
 *
 * <p>Frames: {@code u32} length, {@code u8} type, then HELLO {@code u8} role (0 producer, 1 consumer), SEND and
 * DELIVER {@code u64} id and the 100-byte payload, SEND_OK {@code u64} id, ACK {@code u32} n and n {@code u64} tags,
 * RESULT {@code u32} n, HELLO_OK nothing.
 */
final class Relay {

    static final byte HELLO = 1;
    static final byte HELLO_OK = 2;
    static final byte SEND = 3;
    static final byte SEND_OK = 4;
    static final byte DELIVER = 5;
    static final byte ACK = 6;
    static final byte RESULT = 7;

    private Relay() {
    }

    /** Event loops as Rill's client and server get them: reactor-netty's defaults (native transport, loop count). */
    static LoopResources loops(String prefix) {
        return LoopResources.create(prefix, LoopResources.DEFAULT_IO_WORKER_COUNT, true);
    }

    static LengthFieldBasedFrameDecoder frames() {
        return new LengthFieldBasedFrameDecoder(1 << 20, 0, 4, 0, 4);
    }

    /**
     * The relay server of a {@link NetBench} run, in a JVM of its own ({@link RillServerMain#start(Class, String,
     * String...)}): prints {@code READY <port>} once bound on 127.0.0.1 and stops when its standard input closes.
     *
     * @param args the port (0: any free port)
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        try (Server server = Server.bind(args.length > 0 ? Integer.parseInt(args[0]) : 0)) {
            RillServerMain.readyUntilInputEnds(server.port());
        }
    }

    /** A bound relay server on 127.0.0.1 with event loops of its own. */
    static final class Server implements AutoCloseable {

        private final LoopResources loops;
        private final Channel channel;

        private Server(LoopResources loops, Channel channel) {
            this.loops = loops;
            this.channel = channel;
        }

        /**
         * @param port the port, 0 for any free one
         * @return the bound server
         * @throws InterruptedException if interrupted while binding
         */
        static Server bind(int port) throws InterruptedException {
            LoopResources loops = loops("relay-server");
            EventLoopGroup group = loops.onServer(true);
            ServerState state = new ServerState();
            try {
                Channel ch = new ServerBootstrap().group(group)
                        .channel(loops.onChannelClass(ServerSocketChannel.class, group))
                        .childOption(ChannelOption.TCP_NODELAY, true)
                        .childHandler(new ChannelInitializer<Channel>() {
                            @Override
                            protected void initChannel(Channel c) {
                                c.pipeline().addLast(frames(), new ServerConnection(state));
                            }
                        }).bind("127.0.0.1", port).sync().channel();
                return new Server(loops, ch);
            } catch (RuntimeException | InterruptedException e) {
                loops.disposeLater(Duration.ZERO, Duration.ofSeconds(5)).block(Duration.ofSeconds(10));
                throw e;
            }
        }

        int port() {
            return ((InetSocketAddress) channel.localAddress()).getPort();
        }

        @Override
        public void close() {
            channel.close().syncUninterruptibly();
            loops.disposeLater(Duration.ZERO, Duration.ofSeconds(5)).block(Duration.ofSeconds(10));
        }
    }

    private static final class ServerState {
        volatile Channel consumer;
    }

    private static final class ServerConnection extends ChannelInboundHandlerAdapter {

        private final ServerState state;
        private List<ByteBuf> forward = new ArrayList<>();
        private long nextTag;

        ServerConnection(ServerState state) {
            this.state = state;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf f = (ByteBuf) msg;
            try {
                byte type = f.readByte();
                switch (type) {
                    case HELLO -> {
                        if (f.readByte() == 1) {
                            state.consumer = ctx.channel();
                        }
                        ctx.write(ctx.alloc().buffer(5).writeInt(1).writeByte(HELLO_OK));
                    }
                    case SEND -> {
                        long id = f.readLong();
                        int n = f.readableBytes();
                        ByteBuf d = ctx.alloc().buffer(13 + n).writeInt(9 + n).writeByte(DELIVER).writeLong(nextTag++);
                        forward.add(d.writeBytes(f, n));
                        ctx.write(ctx.alloc().buffer(13).writeInt(9).writeByte(SEND_OK).writeLong(id));
                    }
                    case ACK -> {
                        int n = f.readInt();
                        ctx.write(ctx.alloc().buffer(9).writeInt(5).writeByte(RESULT).writeInt(n));
                    }
                    default -> throw new IllegalStateException("unknown frame type " + type);
                }
            } finally {
                f.release();
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
            if (forward.isEmpty()) {
                return;
            }
            List<ByteBuf> batch = forward;
            forward = new ArrayList<>();
            Channel c = state.consumer;
            if (c == null) {
                batch.forEach(ByteBuf::release);
                return;
            }
            Runnable write = () -> {
                for (ByteBuf b : batch) {
                    c.write(b, c.voidPromise());
                }
                c.flush();
            };
            if (c.eventLoop().inEventLoop()) {
                write.run();
            } else {
                c.eventLoop().execute(write);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /**
     * The relay as a {@link Peer}: a producer window of {@link RillPeer#WINDOW} unconfirmed sends freed
     * {@link RillPeer#RELEASE_BATCH} at a time, as for Rill.
     */
    static final class RelayPeer implements Peer {

        private final int port;
        private final Semaphore window = new Semaphore(RillPeer.WINDOW);
        private LoopResources loops;
        private EventLoopGroup group;
        private Channel producer;
        private long nextId;
        /** Frames the generator wrote, drained on the producer's loop: one flush per pass, as Rill's client. */
        private final Queue<ByteBuf> outbox = new ConcurrentLinkedQueue<>();
        private final AtomicInteger wip = new AtomicInteger();

        RelayPeer(int port) {
            this.port = port;
        }

        @Override
        public String name() {
            return "Netty relay (transport floor)";
        }

        @Override
        public boolean calibration() {
            return true;
        }

        @Override
        public String setup() {
            return "not a message system: plain Netty moving each message along Rill's path (SEND → SEND_OK, "
                    + "DELIVER handed to the consumer connection's loop → one ACK per read pass → RESULT), server in "
                    + "its own JVM";
        }

        @Override
        public void open(Listener listener) throws Exception {
            loops = loops("relay-client");
            group = loops.onClient(true);
            CountDownLatch ready = new CountDownLatch(2);
            Channel consumer = connect(new ConsumerHandler(listener, ready));
            hello(consumer, 1);
            producer = connect(new ProducerHandler(ready));
            hello(producer, 0);
            if (!ready.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the relay did not answer HELLO");
            }
        }

        private Channel connect(ChannelInboundHandlerAdapter handler) throws InterruptedException {
            return new Bootstrap().group(group).channel(loops.onChannelClass(SocketChannel.class, group))
                    .option(ChannelOption.TCP_NODELAY, true)
                    .handler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(frames(), handler);
                        }
                    }).connect("127.0.0.1", port).sync().channel();
        }

        private static void hello(Channel ch, int role) {
            ch.writeAndFlush(ch.alloc().buffer(6).writeInt(2).writeByte(HELLO).writeByte(role));
        }

        @Override
        public void send(long intendedNanos) throws Exception {
            window.acquire();
            byte[] p = Peer.payload(intendedNanos);
            ByteBuf b = producer.alloc().buffer(13 + p.length).writeInt(9 + p.length).writeByte(SEND)
                    .writeLong(nextId++).writeBytes(p);
            outbox.offer(b);
            if (wip.getAndIncrement() == 0) {
                producer.eventLoop().execute(this::drain);
            }
        }

        private void drain() {
            int missed = 1;
            for (;;) {
                for (ByteBuf b; (b = outbox.poll()) != null;) {
                    producer.write(b, producer.voidPromise());
                }
                producer.flush();
                missed = wip.addAndGet(-missed);
                if (missed == 0) {
                    return;
                }
            }
        }

        @Override
        public void close() {
            if (loops != null) {
                loops.disposeLater(Duration.ZERO, Duration.ofSeconds(5)).block(Duration.ofSeconds(10));
            }
        }

        private final class ProducerHandler extends ChannelInboundHandlerAdapter {

            private final CountDownLatch ready;
            private int confirmed;

            ProducerHandler(CountDownLatch ready) {
                this.ready = ready;
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ByteBuf f = (ByteBuf) msg;
                try {
                    byte type = f.readByte();
                    if (type == HELLO_OK) {
                        ready.countDown();
                    } else if (type == SEND_OK && ++confirmed == RillPeer.RELEASE_BATCH) {
                        confirmed = 0;
                        window.release(RillPeer.RELEASE_BATCH);
                    }
                } finally {
                    f.release();
                }
            }
        }

        private static final class ConsumerHandler extends ChannelInboundHandlerAdapter {

            private final Listener listener;
            private final CountDownLatch ready;
            private long[] tags = new long[64];
            private int acks;

            ConsumerHandler(Listener listener, CountDownLatch ready) {
                this.listener = listener;
                this.ready = ready;
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ByteBuf f = (ByteBuf) msg;
                try {
                    byte type = f.readByte();
                    if (type == HELLO_OK) {
                        ready.countDown();
                    } else if (type == DELIVER) {
                        long tag = f.readLong();
                        byte[] p = new byte[f.readableBytes()];
                        f.readBytes(p);
                        listener.consumed(Peer.stamp(p));
                        if (acks == tags.length) {
                            tags = Arrays.copyOf(tags, acks * 2);
                        }
                        tags[acks++] = tag;
                    }
                } finally {
                    f.release();
                }
            }

            @Override
            public void channelReadComplete(ChannelHandlerContext ctx) {
                if (acks > 0) {
                    ByteBuf a = ctx.alloc().buffer(9 + 8 * acks).writeInt(5 + 8 * acks).writeByte(ACK).writeInt(acks);
                    for (int i = 0; i < acks; i++) {
                        a.writeLong(tags[i]);
                    }
                    acks = 0;
                    ctx.writeAndFlush(a, ctx.voidPromise());
                }
            }
        }
    }
}
