package dev.rill.netty;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A listener for tests on 127.0.0.1 that closes every connection at once and counts them: bound where a server was,
 * each reconnect attempt of a client fails fast, and the count says how many were made. On its own event loop.
 */
final class ClosingListener implements AutoCloseable {

    private final EventLoopGroup group = new NioEventLoopGroup(1);
    private final AtomicInteger accepted = new AtomicInteger();
    private final Channel channel;

    /** @param port the port to listen on (where a server was: bound with SO_REUSEADDR) */
    ClosingListener(int port) {
        channel = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        accepted.incrementAndGet();
                        ch.close();
                    }
                }).bind("127.0.0.1", port).syncUninterruptibly().channel();
    }

    /** @return how many connections were accepted (and closed) so far */
    int accepted() {
        return accepted.get();
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
