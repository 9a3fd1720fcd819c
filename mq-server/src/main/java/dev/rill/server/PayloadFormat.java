package dev.rill.server;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * How {@code send}, {@code consume} and {@code peek} write a payload's bytes as a line of text ({@code --format}).
 *
 * <p>A queue's payloads are bytes. {@link #TEXT} shows them as UTF-8 text, one payload per line: a payload that is
 * not UTF-8 cannot be shown without losing bytes (decoding it replaces them with U+FFFD), and one holding a line break
 * (CR or LF) would print as several lines, read back as several messages; neither is shown: {@code consume} stops
 * before settling it (an ack after printing deleted the only copy of what the printed lines no longer hold) and
 * {@code peek} prints a placeholder. {@link #BASE64} shows any payload exactly, one line each, and
 * {@code send --format base64} takes payloads written that way, so binary messages go through the command line
 * unchanged. {@link #JSON} writes each whole message, headers included, as one JSON object per line
 * ({@link JsonLines}), and {@code send --format json} reads such lines back ({@link JsonLines#read(byte[])}).
 */
enum PayloadFormat {
    /** UTF-8 text (the default). */
    TEXT,
    /** Standard base64 (RFC 4648, with padding). */
    BASE64,
    /** The whole message as a JSON object per line. */
    JSON;

    /**
     * Reads a format as {@code --format} takes it, in any case: {@code text}, {@code base64} or {@code json}.
     *
     * @param value the option's text
     * @return the format
     * @throws picocli.CommandLine.TypeConversionException when it is none of them; the message lists them in lower
     *     case, as the help and the docs write them (picocli's own said {@code [TEXT, BASE64, JSON]})
     */
    static PayloadFormat parse(String value) {
        for (PayloadFormat f : values()) {
            if (f.name().equalsIgnoreCase(value.trim())) {
                return f;
            }
        }
        throw new picocli.CommandLine.TypeConversionException("'" + value + "' is not a format: text, base64 or json");
    }

    /**
     * A payload as this format's line ({@link #TEXT} or {@link #BASE64}).
     *
     * @param payload the bytes
     * @return the line to print, or null when this format cannot show them exactly as one line (with {@link #TEXT}:
     *     not UTF-8 text, or text holding a line break; see {@link #whyNotALine(byte[])})
     */
    String show(byte[] payload) {
        if (this == BASE64) {
            return Base64.getEncoder().encodeToString(payload);
        }
        String text = utf8(payload);
        return text == null || text.indexOf('\n') >= 0 || text.indexOf('\r') >= 0 ? null : text;
    }

    /**
     * Why {@link #TEXT} cannot show a payload.
     *
     * @param payload the bytes {@link #show(byte[])} refused
     * @return {@code "not UTF-8 text"} or {@code "text with a line break"}
     */
    static String whyNotALine(byte[] payload) {
        return utf8(payload) == null ? "not UTF-8 text" : "text with a line break";
    }

    /**
     * Decodes UTF-8 strictly.
     *
     * @param payload the bytes
     * @return their text, or null when they are not UTF-8
     */
    static String utf8(byte[] payload) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(payload)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /**
     * The bytes of a payload given to {@code send --format base64}.
     *
     * @param payload the text given
     * @param where what it is, for the error ("line 3 of standard input", "MESSAGE 2")
     * @return the bytes it is the base64 of
     * @throws CliException exit code 2 when it is not base64
     */
    static byte[] base64(String payload, String where) {
        try {
            return Base64.getDecoder().decode(payload);
        } catch (IllegalArgumentException e) {
            throw notBase64(where, e);
        }
    }

    /**
     * The bytes of a line given to {@code send --format base64}, read as its bytes (UTF-8).
     *
     * @param line the line's bytes
     * @param where what it is, for the error ("line 3 of standard input")
     * @return the bytes it is the base64 of
     * @throws CliException exit code 2 when it is not base64
     */
    static byte[] base64(byte[] line, String where) {
        try {
            return Base64.getDecoder().decode(line);
        } catch (IllegalArgumentException e) {
            for (byte b : line) {
                if (b < 0) { // the decoder names a byte beyond ASCII as a negative number ("character -3d")
                    throw new CliException(ExitCodes.USAGE, where + " is not base64 (--format base64): it holds a"
                            + " character beyond ASCII");
                }
            }
            throw notBase64(where, e);
        }
    }

    private static CliException notBase64(String where, IllegalArgumentException e) {
        return new CliException(ExitCodes.USAGE, where + " is not base64 (--format base64): " + e.getMessage());
    }
}
