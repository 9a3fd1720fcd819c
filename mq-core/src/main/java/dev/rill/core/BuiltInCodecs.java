package dev.rill.core;

import java.nio.charset.StandardCharsets;

/** The codecs {@link Codec#utf8()} and {@link Codec#bytes()} return: one instance each, so views can compare them. */
final class BuiltInCodecs {

    static final Codec<String> UTF8 = Codec.of(s -> s.getBytes(StandardCharsets.UTF_8),
            b -> new String(b, StandardCharsets.UTF_8));

    static final Codec<byte[]> BYTES = Codec.of(b -> b, b -> b);

    private BuiltInCodecs() {
    }
}
