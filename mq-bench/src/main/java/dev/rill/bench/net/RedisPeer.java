package dev.rill.bench.net;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XAddParams;
import redis.clients.jedis.params.XReadGroupParams;
import redis.clients.jedis.resps.StreamEntry;

/**
 * Redis Streams with Jedis: the producer pipelines {@code XADD} (synced every {@value #PIPELINE} commands, or when
 * it waits for the next send time); the consumer reads with {@code XREADGROUP COUNT 1024 BLOCK 100} and acks every
 * entry by id with one pipelined {@code XACK} + {@code XDEL} per batch read.
 */
final class RedisPeer implements Peer {

    static final int PIPELINE = 256;
    static final String KEY = "bench";
    static final String GROUP = "g";

    private final int port;
    private Jedis producer;
    private Pipeline pipeline;
    private int pending;
    private Thread consumerThread;
    private volatile boolean running;

    RedisPeer(int port) {
        this.port = port;
    }

    @Override
    public String name() {
        return "Redis Streams";
    }

    @Override
    public String setup() {
        return "no persistence; XADD pipelined (" + PIPELINE + "); XREADGROUP COUNT 1024 BLOCK 100; "
                + "XACK+XDEL of every id, one pipeline per batch read";
    }

    @Override
    public void open(Listener listener) {
        producer = new Jedis("127.0.0.1", port);
        producer.del(KEY);
        producer.xgroupCreate(KEY, GROUP, new StreamEntryID(0, 0), true);
        pipeline = producer.pipelined();
        Jedis consumer = new Jedis("127.0.0.1", port);
        running = true;
        consumerThread = new Thread(() -> consume(consumer, listener), "redis-consumer");
        consumerThread.setDaemon(true);
        consumerThread.start();
    }

    private void consume(Jedis jedis, Listener listener) {
        XReadGroupParams params = XReadGroupParams.xReadGroupParams().count(1024).block(100);
        Map<String, StreamEntryID> from = Map.of(KEY, StreamEntryID.XREADGROUP_UNDELIVERED_ENTRY);
        List<StreamEntryID> ids = new ArrayList<>(1024);
        try (jedis) {
            while (running) {
                List<Map.Entry<String, List<StreamEntry>>> read = jedis.xreadGroup(GROUP, "c1", params, from);
                if (read == null) {
                    continue;
                }
                for (Map.Entry<String, List<StreamEntry>> stream : read) {
                    for (StreamEntry e : stream.getValue()) {
                        listener.consumed(stamp(e.getFields().get("p")));
                        ids.add(e.getID());
                    }
                }
                if (!ids.isEmpty()) {
                    StreamEntryID[] a = ids.toArray(new StreamEntryID[0]);
                    Pipeline p = jedis.pipelined();
                    p.xack(KEY, GROUP, a);
                    p.xdel(KEY, a);
                    p.sync();
                    ids.clear();
                }
            }
        } catch (RuntimeException e) {
            if (running) {
                System.err.println("redis consumer failed: " + e);
            }
        }
    }

    static String payload(long nanos) {
        StringBuilder b = new StringBuilder(PAYLOAD);
        b.append(nanos).append(':');
        while (b.length() < PAYLOAD) {
            b.append((char) ('a' + b.length() % 26));
        }
        return b.toString();
    }

    static long stamp(String p) {
        return Long.parseLong(p, 0, p.indexOf(':'), 10);
    }

    @Override
    public void send(long intendedNanos) {
        pipeline.xadd(KEY, XAddParams.xAddParams(), Map.of("p", payload(intendedNanos)));
        if (++pending >= PIPELINE) {
            flush();
        }
    }

    @Override
    public void flush() {
        if (pending > 0) {
            pipeline.sync();
            pending = 0;
        }
    }

    @Override
    public void close() {
        running = false;
        try {
            if (consumerThread != null) {
                consumerThread.join(5000);
            }
            if (producer != null) {
                producer.del(KEY);
                producer.close();
            }
        } catch (Exception ignored) {
            // best effort
        }
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
