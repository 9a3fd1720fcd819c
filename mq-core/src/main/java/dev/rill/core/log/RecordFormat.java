package dev.rill.core.log;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The on-disk format, version 1.
 *
 * <pre>
 * segment file  = header frame*
 * header        = magic:int32 ("RILL" = 0x52494C4C) version:int16 (1) flags:int16 (0) firstSeq:int64   (16 bytes)
 * frame         = length:int32 lengthCheck:int32 (length XOR 0x5A5A5A5A) crc:int32 (CRC32C of body) body
 * body          = seq:int64 type:int8 fields
 * string        = length:int32 (-1 for null) utf8 bytes;  bytes = length:int32 bytes;  map = count:int32 (string string)*
 * </pre>
 *
 * All integers are big-endian. The length check lets recovery tell a damaged length from a torn tail.
 *
 * <p>A segment starts with records of sequence number 0: a DECLARE of every live queue, then, for the next id of
 * each deleted name kept ({@link dev.rill.core.internal.RetiredIds}), a DECLARE of the name with an empty spec and
 * that next id followed by its DELETE, and the same for the floor of the names let go under the empty name. A queue's
 * spec is never empty: a DECLARE with an empty spec is read as such a next id alone (its DELETE may be cut off by a
 * crash); the DELETE is there for builds that read it as a queue declared and deleted.
 */
final class RecordFormat {

    static final int MAGIC = 0x52494C4C;
    static final short VERSION = 1;
    static final int HEADER_BYTES = 16;
    static final int FRAME_HEADER_BYTES = 12;
    static final int LENGTH_MASK = 0x5A5A5A5A;
    /**
     * Largest body accepted when reading (a bigger length is damage), and written: 256 MiB + 64 KiB. A record is read
     * whole, so this (with the read window) is what recovery holds in memory at most, whatever the segment's size.
     * It was 256 MiB, the largest frame a server accepts, which a SEND of such a frame exceeds by its fields the
     * log stores besides the wire's (sequence number, times, longer length prefixes): logged and confirmed, it was
     * then refused as damage, and the log could not be opened again.
     */
    static final int MAX_BODY = (256 << 20) + (64 << 10);
    /**
     * Largest SEND body a durable broker accepts (bigger ones are refused before anything is stored): 256 MiB +
     * 32 KiB, a frame of the largest size a server accepts with room to spare; the rest up to {@link #MAX_BODY}
     * leaves room for what a relocated copy of a dead letter adds (its arrival headers).
     */
    static final int MAX_SEND_BODY = (256 << 20) + (32 << 10);

    static final byte DECLARE = 1;
    static final byte DELETE = 2;
    static final byte SEND = 3;
    static final byte ACK = 4;
    static final byte NACK = 5;
    static final byte DELIVERED = 6;
    static final byte DEAD_LETTER = 7;
    static final byte ACCEPT = 8;
    static final byte DROP = 9;
    static final byte PURGE = 10;

    private RecordFormat() {
    }

    static ByteBuffer header(long firstSeq) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES);
        b.putInt(MAGIC).putShort(VERSION).putShort((short) 0).putLong(firstSeq).flip();
        return b;
    }

    /** A growable big-endian byte buffer the writer thread reuses. */
    static final class Out {
        byte[] buf;
        int pos;
        private final CRC32C crc = new CRC32C();

        Out(int capacity) {
            buf = new byte[capacity];
        }

        void reset() {
            pos = 0;
        }

        private void ensure(int n) {
            if (pos + n > buf.length) {
                buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + n));
            }
        }

        void putByte(int v) {
            ensure(1);
            buf[pos++] = (byte) v;
        }

        void putInt(int v) {
            ensure(4);
            buf[pos++] = (byte) (v >>> 24);
            buf[pos++] = (byte) (v >>> 16);
            buf[pos++] = (byte) (v >>> 8);
            buf[pos++] = (byte) v;
        }

        void putIntAt(int at, int v) {
            buf[at] = (byte) (v >>> 24);
            buf[at + 1] = (byte) (v >>> 16);
            buf[at + 2] = (byte) (v >>> 8);
            buf[at + 3] = (byte) v;
        }

        void putLong(long v) {
            putInt((int) (v >>> 32));
            putInt((int) v);
        }

        void putBytes(byte[] b) {
            putInt(b.length);
            ensure(b.length);
            System.arraycopy(b, 0, buf, pos, b.length);
            pos += b.length;
        }

        void putString(String s) {
            if (s == null) {
                putInt(-1);
            } else {
                putBytes(s.getBytes(StandardCharsets.UTF_8));
            }
        }

        void putMap(Map<String, String> m) {
            putInt(m.size());
            for (Map.Entry<String, String> e : m.entrySet()) {
                putString(e.getKey());
                putString(e.getValue());
            }
        }

        /** Appends one framed record; returns its size in bytes. */
        int frame(long seq, LogRecord r) {
            int start = pos;
            ensure(FRAME_HEADER_BYTES);
            pos += FRAME_HEADER_BYTES;
            int body = pos;
            putLong(seq);
            encode(this, r);
            int len = pos - body;
            crc.reset();
            crc.update(buf, body, len);
            putIntAt(start, len);
            putIntAt(start + 4, len ^ LENGTH_MASK);
            putIntAt(start + 8, (int) crc.getValue());
            return pos - start;
        }
    }

    private static void encode(Out o, LogRecord r) {
        if (r instanceof LogRecord.Declare d) {
            o.putByte(DECLARE);
            o.putString(d.queue());
            o.putBytes(d.spec());
            o.putLong(d.nextId());
        } else if (r instanceof LogRecord.Delete d) {
            o.putByte(DELETE);
            o.putString(d.queue());
        } else if (r instanceof LogRecord.Send s) {
            o.putByte(SEND);
            o.putString(s.queue());
            o.putLong(s.id());
            o.putLong(s.timestamp());
            o.putString(s.key());
            o.putByte(s.priority());
            o.putMap(s.headers());
            o.putBytes(s.payload());
            o.putLong(s.deliverAt());
            o.putLong(s.expiresAt());
            o.putString(s.dedupId());
            o.putLong(s.dedupExpiresAt());
        } else if (r instanceof LogRecord.Ack a) {
            o.putByte(ACK);
            o.putString(a.queue());
            o.putLong(a.id());
        } else if (r instanceof LogRecord.Nack n) {
            o.putByte(NACK);
            o.putString(n.queue());
            o.putLong(n.id());
            o.putLong(n.readyAt());
        } else if (r instanceof LogRecord.Delivered d) {
            o.putByte(DELIVERED);
            o.putString(d.queue());
            o.putLong(d.id());
            o.putInt(d.deliveryCount());
        } else if (r instanceof LogRecord.DeadLetter d) {
            o.putByte(DEAD_LETTER);
            o.putString(d.queue());
            o.putLong(d.id());
            o.putInt(d.deliveryCount());
            o.putString(d.reason());
            o.putByte(d.routed() ? 1 : 0);
        } else if (r instanceof LogRecord.Accept a) {
            o.putByte(ACCEPT);
            o.putString(a.queue());
            o.putLong(a.id());
            o.putString(a.sourceQueue());
            o.putLong(a.sourceId());
            o.putLong(a.timestamp());
            o.putLong(a.expiresAt());
            o.putMap(a.headers());
        } else if (r instanceof LogRecord.Drop d) {
            o.putByte(DROP);
            o.putString(d.queue());
            o.putLong(d.id());
        } else if (r instanceof LogRecord.Purge p) {
            o.putByte(PURGE);
            o.putString(p.queue());
        } else {
            throw new IllegalArgumentException("unknown record " + r);
        }
    }

    /**
     * The size of a SEND record's body (sequence number included) for these fields; see {@link #encode}. Strings
     * count their UTF-8 bytes (an unpaired surrogate, encoded as one byte, counts three).
     */
    static long sendBodyBytes(String queue, String key, Map<String, String> headers, long payloadBytes,
            String dedupId) {
        long n = 8 + 1 + 8 + 8 + 1 + 4 + 4 + payloadBytes + 8 + 8 + 8 + stringBytes(queue) + stringBytes(key)
                + stringBytes(dedupId);
        for (Map.Entry<String, String> e : headers.entrySet()) {
            n += stringBytes(e.getKey()) + stringBytes(e.getValue());
        }
        return n;
    }

    private static long stringBytes(String s) {
        if (s == null) {
            return 4;
        }
        long n = 4;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n++;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < s.length()
                    && Character.isLowSurrogate(s.charAt(i + 1))) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        return n;
    }

    /** Checks a frame's body CRC. */
    static boolean crcOk(ByteBuffer file, int bodyAt, int len, int expected) {
        CRC32C c = new CRC32C();
        ByteBuffer body = file.duplicate();
        body.limit(bodyAt + len).position(bodyAt);
        c.update(body);
        return (int) c.getValue() == expected;
    }

    /** Decodes a body whose CRC matched; throws IllegalArgumentException on a malformed body. */
    static LogRecord decode(ByteBuffer b) {
        return decode(b, null);
    }

    /**
     * Checks and decodes the records of one recovery, which reads millions of them on one thread: one CRC32C for
     * all, and the names of queues decoded once each (a recovery's records name a few queues over and over, and a
     * new String per record, hashed again by every map it is looked up in, was a fifth of the replay's time).
     * Decodes exactly as {@link RecordFormat#decode(ByteBuffer)}. Not thread-safe.
     */
    static final class Reader {
        /** Slots of the name cache (direct-mapped by the bytes' hash: a name that collides is decoded again). */
        private static final int NAME_SLOTS = 256;

        private final CRC32C crc = new CRC32C();
        private final byte[][] nameBytes = new byte[NAME_SLOTS][];
        private final String[] names = new String[NAME_SLOTS];

        /** Whether the CRC32C of {@code body}'s bytes from its position, {@code len} of them, is {@code expected}. */
        boolean crcOk(ByteBuffer body, int len, int expected) {
            crc.reset();
            if (body.hasArray()) {
                crc.update(body.array(), body.arrayOffset() + body.position(), len);
            } else {
                ByteBuffer d = body.duplicate();
                d.limit(d.position() + len);
                crc.update(d);
            }
            return (int) crc.getValue() == expected;
        }

        /** {@link RecordFormat#decode(ByteBuffer)}, with queue names from the cache. */
        LogRecord decode(ByteBuffer b) {
            return RecordFormat.decode(b, this);
        }

        /**
         * The queue a SEND body names, from the cache, without decoding the rest: {@code body} as for
         * {@link RecordFormat#sendId}. Its position is left as it was.
         */
        String sendQueue(ByteBuffer body) {
            int at = body.position() + 9;
            int n = body.getInt(at);
            if (n < 0 || n > body.limit() - at - 12) {
                throw new IllegalArgumentException("bad queue name length " + n);
            }
            return name(body.array(), body.arrayOffset() + at + 4, n);
        }

        /** The String of the UTF-8 bytes {@code a[off, off + n)}: the one decoded before for the same bytes. */
        String name(byte[] a, int off, int n) {
            int h = 1;
            for (int i = off; i < off + n; i++) {
                h = 31 * h + a[i];
            }
            int slot = (h ^ (h >>> 16)) & (NAME_SLOTS - 1);
            byte[] k = nameBytes[slot];
            if (k != null && k.length == n) {
                int i = 0;
                while (i < n && k[i] == a[off + i]) { // names are short: a plain loop beats Arrays.equals' call
                    i++;
                }
                if (i == n) {
                    return names[slot];
                }
            }
            String s = new String(a, off, n, StandardCharsets.UTF_8);
            nameBytes[slot] = Arrays.copyOfRange(a, off, off + n);
            names[slot] = s;
            return s;
        }
    }

    /**
     * The type of a record from its body, without decoding it: {@code body}'s bytes from its position are the body
     * (sequence number first), whose CRC matched. Its position is left as it was.
     */
    static byte typeOf(ByteBuffer body) {
        return body.get(body.position() + 8);
    }

    /**
     * The message id of a SEND body, without decoding the rest (headers, payload): {@code body} as for
     * {@link #typeOf}, of type {@link #SEND}. Its position is left as it was.
     *
     * @throws IllegalArgumentException if the queue name's length runs past the body
     */
    static long sendId(ByteBuffer body) {
        int at = body.position() + 9;
        int n = body.getInt(at);
        if (n < 0 || n > body.limit() - at - 12) {
            throw new IllegalArgumentException("bad queue name length " + n);
        }
        return body.getLong(at + 4 + n);
    }

    /** Decodes a body; {@code names} (or null) gives the Strings of queue names. */
    private static LogRecord decode(ByteBuffer b, Reader names) {
        byte type = b.get();
        LogRecord r = switch (type) {
            case DECLARE -> new LogRecord.Declare(name(b, names), bytes(b), b.getLong());
            case DELETE -> new LogRecord.Delete(name(b, names));
            case SEND -> new LogRecord.Send(name(b, names), b.getLong(), b.getLong(), string(b), b.get(), map(b),
                    bytes(b), b.getLong(), b.getLong(), string(b), b.getLong());
            case ACK -> new LogRecord.Ack(name(b, names), b.getLong());
            case NACK -> new LogRecord.Nack(name(b, names), b.getLong(), b.getLong());
            case DELIVERED -> new LogRecord.Delivered(name(b, names), b.getLong(), b.getInt());
            case DEAD_LETTER -> new LogRecord.DeadLetter(name(b, names), b.getLong(), b.getInt(), string(b),
                    b.get() != 0);
            case ACCEPT -> new LogRecord.Accept(name(b, names), b.getLong(), name(b, names), b.getLong(), b.getLong(),
                    b.getLong(), map(b));
            case DROP -> new LogRecord.Drop(name(b, names), b.getLong());
            case PURGE -> new LogRecord.Purge(name(b, names));
            default -> throw new IllegalArgumentException("unknown record type " + type);
        };
        if (b.hasRemaining()) {
            throw new IllegalArgumentException(b.remaining() + " unexpected bytes after a record of type " + type);
        }
        return r;
    }

    private static byte[] bytes(ByteBuffer b) {
        int n = b.getInt();
        if (n < 0 || n > b.remaining()) {
            throw new IllegalArgumentException("bad length " + n);
        }
        byte[] out = new byte[n];
        b.get(out);
        return out;
    }

    private static String string(ByteBuffer b) {
        int n = b.getInt();
        if (n == -1) {
            return null;
        }
        if (n < 0 || n > b.remaining()) {
            throw new IllegalArgumentException("bad string length " + n);
        }
        String s = new String(b.array(), b.arrayOffset() + b.position(), n, StandardCharsets.UTF_8);
        b.position(b.position() + n);
        return s;
    }

    /** A string that names a queue: {@link #string}, through {@code names} when there is one. */
    private static String name(ByteBuffer b, Reader names) {
        if (names == null) {
            return string(b);
        }
        int n = b.getInt();
        if (n == -1) {
            return null;
        }
        if (n < 0 || n > b.remaining()) {
            throw new IllegalArgumentException("bad string length " + n);
        }
        String s = names.name(b.array(), b.arrayOffset() + b.position(), n);
        b.position(b.position() + n);
        return s;
    }

    private static Map<String, String> map(ByteBuffer b) {
        int n = b.getInt();
        if (n < 0 || n > b.remaining() / 8) {
            throw new IllegalArgumentException("bad map size " + n);
        }
        if (n == 0) {
            return Map.of(); // what the record keeps of an empty map anyway (Map.copyOf), without a HashMap first
        }
        Map<String, String> m = new HashMap<>(n * 2);
        for (int i = 0; i < n; i++) {
            m.put(string(b), string(b));
        }
        return m;
    }
}
