package dev.rill.bench.durable;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.params.XAddParams;

/**
 * Redis Streams with AOF persistence, through Jedis: one connection per producer pipelining {@code XADD} (the
 * driver's window: the pipeline is synced when the window is full or the run ends, and each reply confirms its
 * send). The server must run with {@code appendonly yes}; this target sets {@code appendfsync} ({@code everysec}:
 * the reply follows the write to the AOF, fsync'd once a second in the background; {@code always}: the reply
 * follows the fsync) with {@code CONFIG SET} before its runs.
 */
final class RedisAofTarget implements DurableTarget {

    static final byte[] KEY = "bench-durable".getBytes(StandardCharsets.US_ASCII);
    static final byte[] FIELD = "p".getBytes(StandardCharsets.US_ASCII);

    private final int port;
    private final String appendfsync;
    private final List<Jedis> connections = new ArrayList<>();
    private Jedis admin;

    /**
     * @param port the server's port
     * @param appendfsync {@code everysec} or {@code always}
     */
    RedisAofTarget(int port, String appendfsync) {
        if (!appendfsync.equals("everysec") && !appendfsync.equals("always")) {
            throw new IllegalArgumentException("appendfsync must be everysec or always, was " + appendfsync);
        }
        this.port = port;
        this.appendfsync = appendfsync;
    }

    @Override
    public String system() {
        return "Redis Streams";
    }

    @Override
    public String config() {
        return "AOF " + appendfsync;
    }

    @Override
    public String durability() {
        return appendfsync.equals("always") ? "always" : "interval";
    }

    @Override
    public String setup() {
        return "appendonly yes, appendfsync " + appendfsync + "; one Jedis connection per producer, XADD pipelined "
                + "(synced when the window is full), each reply confirms its send";
    }

    @Override
    public List<Sender> open(int payloadBytes, int producers) {
        admin = new Jedis("127.0.0.1", port);
        String aof = admin.configGet("appendonly").get("appendonly");
        if (!"yes".equals(aof)) {
            throw new IllegalStateException("redis on port " + port + " runs with appendonly " + aof
                    + ", the durable bench needs appendonly yes");
        }
        admin.configSet("appendfsync", appendfsync);
        admin.del(KEY);
        List<Sender> senders = new ArrayList<>();
        for (int i = 0; i < producers; i++) {
            Jedis j = new Jedis("127.0.0.1", port);
            connections.add(j);
            senders.add(new PipelinedSender(j.pipelined()));
        }
        return senders;
    }

    /** XADDs queued on one pipeline until the next flush; their replies confirm them in order. */
    static final class PipelinedSender implements Sender {
        private final Pipeline pipeline;
        private final List<Confirm> pending = new ArrayList<>();
        private final XAddParams params = XAddParams.xAddParams();

        PipelinedSender(Pipeline pipeline) {
            this.pipeline = pipeline;
        }

        @Override
        public void send(byte[] payload, Confirm confirm) {
            pipeline.xadd(KEY, params, Map.of(FIELD, payload));
            pending.add(confirm);
        }

        @Override
        public void flush() {
            if (pending.isEmpty()) {
                return;
            }
            List<Object> replies = pipeline.syncAndReturnAll();
            for (int i = 0; i < pending.size(); i++) {
                Object r = i < replies.size() ? replies.get(i) : null;
                pending.get(i).done(r != null && !(r instanceof Throwable));
            }
            pending.clear();
        }
    }

    @Override
    public void reset() {
        admin.del(KEY);
    }

    @Override
    public void closeRun() {
        for (Jedis j : connections) {
            try {
                j.close();
            } catch (RuntimeException ignored) {
                // best effort
            }
        }
        connections.clear();
        if (admin != null) {
            try {
                admin.del(KEY);
                admin.close();
            } catch (RuntimeException ignored) {
                // best effort
            }
            admin = null;
        }
    }

    @Override
    public void close() {
        closeRun();
    }
}
