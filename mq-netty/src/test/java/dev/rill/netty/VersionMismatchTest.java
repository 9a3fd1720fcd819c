package dev.rill.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rill.netty.internal.protocol.ErrorCode;
import dev.rill.netty.internal.protocol.Frame;
import dev.rill.netty.internal.protocol.FrameDecoder;
import dev.rill.reactive.RillException;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A server that speaks another protocol version than the client. One that shares none answers
 * ERROR(UNSUPPORTED_VERSION) naming its versions, and the client fails the connect with those words. One that answers
 * HELLO_OK with a version the client did not offer breaks the protocol (the server chooses among the offered ones):
 * the client refuses it at the handshake, naming both, and tells the server why, where it used to take the version and
 * go on (then read frames laid out for another version as its own, or send requests that server does not know).
 */
class VersionMismatchTest {

    private static final Duration TIMEOUT = ServingFixture.TIMEOUT;

    private final EventLoopGroup group = new NioEventLoopGroup(1);
    /** What the peer received after the HELLO, and its connections. */
    private final List<Frame> received = new CopyOnWriteArrayList<>();
    private final List<Channel> accepted = new CopyOnWriteArrayList<>();

    @AfterEach
    void tearDown() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** @return the port of a peer that answers the client's HELLO with {@code answer} and keeps the connection */
    private int peer(Frame answer) {
        Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        accepted.add(ch);
                        ch.pipeline().addLast(new FrameDecoder(1 << 20), new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                if (msg instanceof Frame.Hello) {
                                    ByteBuf b = Unpooled.wrappedBuffer(RawClient.encode(answer));
                                    ctx.writeAndFlush(b);
                                } else {
                                    received.add((Frame) msg);
                                }
                            }
                        });
                    }
                }).bind("127.0.0.1", 0).syncUninterruptibly().channel();
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    @Test
    void aServerOfAnOlderVersionIsNamedWithTheVersionsItSpeaks() {
        int port = peer(new Frame.Error(0, ErrorCode.UNSUPPORTED_VERSION,
                "none of the offered protocol versions [2, 3, 4, 5, 6] is supported; this server speaks [1]"));
        assertThat(NotARillServerTest.connect(port)).isInstanceOf(RillException.class).hasMessage("server error UNSUPPORTED_VERSION: "
                + "none of the offered protocol versions [2, 3, 4, 5, 6] is supported; this server speaks [1]");
    }

    @Test
    void aServerChoosingAVersionTheClientDidNotOfferIsRefusedAtTheHandshake() {
        for (int version : new int[] {1, 7}) {
            received.clear();
            accepted.clear();
            int port = peer(new Frame.HelloOk(version, 1 << 20, 15_000, false, 1024, "other"));
            assertThat(NotARillServerTest.connect(port)).as("version %d", version).isInstanceOf(RillException.class)
                    .hasMessage("the server at 127.0.0.1:" + port + " chose protocol version " + version
                            + ", which this client did not offer (it speaks [2, 3, 4, 5, 6])");
            await().atMost(TIMEOUT).until(() -> accepted.size() == 1 && !accepted.get(0).isActive());
            assertThat(received).singleElement().isInstanceOfSatisfying(Frame.Error.class, e -> {
                assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_VERSION);
                assertThat(e.message()).contains("chose protocol version " + version);
            });
        }
    }
}
