package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A peer that is not a Rill server (an HTTP proxy, another service on the port) answers the client's HELLO with
 * text: the client says so, quoting the start of the answer, where it used to report the text's first four bytes
 * as a frame length ("declared frame length 1213486160 exceeds the maximum", 1213486160 being "HTTP").
 */
class NotARillServerTest {

    private static final Duration TIMEOUT = ServingFixture.TIMEOUT;

    private final EventLoopGroup group = new NioEventLoopGroup(1);

    @AfterEach
    void tearDown() {
        group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** @return the port of a peer that writes {@code answer} when the client's first bytes arrive, then closes */
    private int peer(String answer) {
        Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                io.netty.util.ReferenceCountUtil.release(msg);
                                ctx.writeAndFlush(Unpooled.copiedBuffer(answer, StandardCharsets.ISO_8859_1))
                                        .addListener(ChannelFutureListener.CLOSE);
                            }
                        });
                    }
                }).bind("127.0.0.1", 0).syncUninterruptibly().channel();
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    /** @return why connecting to 127.0.0.1:{@code port} failed (a 5 s connect timeout), or null */
    static Throwable connect(int port) {
        return catchThrowable(() -> RillClient.connect(ServingFixture.uri(port),
                ClientOptions.defaults().connectTimeout(Duration.ofSeconds(5))).block(TIMEOUT));
    }

    @Test
    void anHttpAnswerIsNamedAsNotARillServer() {
        int port = peer("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
                + "this is an HTTP server\r\n");
        Throwable e = connect(port);
        assertThat(e).isInstanceOf(dev.rill.reactive.RillException.class);
        assertThat(e.getMessage()).isEqualTo("127.0.0.1:" + port + " is not a Rill server (it answered "
                + "\"HTTP/1.1 400 Bad Request …\" to the client's HELLO)").doesNotContain("frame length");
    }

    @Test
    void aLongBinaryAnswerIsQuotedBounded() {
        int port = peer("\u0001\u0002" + "x".repeat(500));
        String m = connect(port).getMessage();
        assertThat(m).contains("is not a Rill server (it answered \"\\x01\\x02xxx").contains("xxx …\"");
        assertThat(m.length()).isLessThan(200);
    }

    @Test
    void anAnswerTooShortForAFrameIsNamedToo() {
        int port = peer("NO");
        assertThat(connect(port).getMessage()).isEqualTo("127.0.0.1:" + port + " is not a Rill server (it answered "
                + "\"NO\" to the client's HELLO)");
    }
}
