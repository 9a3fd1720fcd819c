package dev.rill.netty;

import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.FrameDecoder;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A listener for tests on 127.0.0.1, bound where a server was (SO_REUSEADDR), that does with each connection it
 * accepts what the test says (close it, keep it without a word, answer its HELLO) and keeps the connections accepted.
 * On its own event loop.
 */
public final class ListeningPeer implements AutoCloseable {

    private final EventLoopGroup group = new NioEventLoopGroup(1);
    private final List<Channel> accepted = new CopyOnWriteArrayList<>();
    private final Channel channel;

    /**
     * @param port the port to listen on
     * @param onAccept what to do with each connection accepted (on the peer's event loop)
     */
    public ListeningPeer(int port, Consumer<SocketChannel> onAccept) {
        channel = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        accepted.add(ch);
                        onAccept.accept(ch);
                    }
                }).bind("127.0.0.1", port).syncUninterruptibly().channel();
    }

    /** @return a peer that keeps every connection and never answers: a client's handshake waits on it */
    public static ListeningPeer silent(int port) {
        return new ListeningPeer(port, ch -> { });
    }

    /** @return a peer that answers every HELLO with {@code answer} and keeps the connection */
    public static ListeningPeer answeringHello(int port, Frame answer) {
        return new ListeningPeer(port, ch -> ch.pipeline().addLast(new FrameDecoder(1 << 20),
                new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        if (msg instanceof Frame.Hello) {
                            ctx.writeAndFlush(Unpooled.wrappedBuffer(RawClient.encode(answer)));
                        }
                    }
                }));
    }

    /** @return the port it listens on (the one asked for, or the one chosen for port 0) */
    public int port() {
        return ((java.net.InetSocketAddress) channel.localAddress()).getPort();
    }

    /** @return the connections accepted so far, open or closed */
    public List<Channel> accepted() {
        return accepted;
    }

    /** Stops listening and frees the port; idempotent. */
    @Override
    public void close() {
        if (group.isShuttingDown()) {
            return;
        }
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
