package dev.rill.server;

import dev.rill.netty.Permission;
import dev.rill.netty.Permissions;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads a tokens file: one token per line, followed by its grants.
 *
 * <pre>
 * # token            grants: QUEUE-PATTERN=RIGHTS, separated by spaces
 * admin-3f9c2a       *=all
 * orders-producer    orders=send
 * orders-worker      orders*=receive  audit=send,receive
 * </pre>
 *
 * <p>A pattern is a queue name, {@code *} (every queue), or a prefix ending in {@code *}. Rights are
 * {@code send}, {@code receive}, {@code manage} (create, purge, delete, redrive), comma-separated, or {@code all}.
 * Blank lines and lines starting with {@code #} are ignored. A token may appear once.
 */
final class TokensFile {

    private TokensFile() {
    }

    /**
     * Reads and parses a tokens file.
     *
     * @param file the file
     * @return the tokens and their permissions, in file order
     * @throws CliException (exit code 2) naming the file and line when the file cannot be read or is invalid
     */
    static Map<String, Permissions> read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new CliException(ExitCodes.USAGE, "cannot read tokens file " + file + ": " + readProblem(file, e));
        }
        return parse(lines, file.toString());
    }

    /**
     * A warning when the tokens file can be read by users other than its owner: anyone who reads it has every
     * token's rights.
     *
     * @param file the tokens file
     * @return the warning, or null when only the owner can read it (or the file system has no POSIX permissions)
     */
    static String exposure(Path file) {
        Set<PosixFilePermission> perms;
        try {
            perms = Files.getPosixFilePermissions(file);
        } catch (IOException | UnsupportedOperationException e) {
            return null;
        }
        if (!perms.contains(PosixFilePermission.GROUP_READ) && !perms.contains(PosixFilePermission.OTHERS_READ)) {
            return null;
        }
        return "tokens file " + file + " can be read by other users (" + PosixFilePermissions.toString(perms)
                + "): anyone who reads it gets every token's rights; make it readable by the server's user only (chmod"
                + " 600 " + file + ")";
    }

    /**
     * Why a file could not be read, in words ({@code java.nio.file.NoSuchFileException: FILE} was shown as it was).
     *
     * @param file the file
     * @param e what reading it threw
     * @return e.g. {@code no such file or directory}
     */
    static String readProblem(Path file, IOException e) {
        if (Files.isDirectory(file)) {
            return "it is a directory";
        }
        if (e instanceof CharacterCodingException) {
            return "it is not UTF-8 text";
        }
        if (e instanceof java.nio.file.FileSystemException f) {
            return ServerProcess.fileProblem(f, false); // as serve says its data directory's: no such file or directory
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    /**
     * Parses the lines of a tokens file.
     *
     * @param lines the lines
     * @param source the file name for messages
     * @return the tokens and their permissions, in file order
     * @throws CliException (exit code 2) naming the line when a line is invalid or no token is defined
     */
    static Map<String, Permissions> parse(List<String> lines, String source) {
        Map<String, Permissions> tokens = new LinkedHashMap<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String where = source + " line " + (i + 1);
            String[] fields = line.split("\\s+");
            String token = fields[0];
            if (token.length() > 1024) {
                throw new CliException(ExitCodes.USAGE, where + ": the token is longer than 1024 characters");
            }
            if (fields.length < 2) {
                throw new CliException(ExitCodes.USAGE, where + ": token without grants (expected: TOKEN PATTERN=RIGHTS"
                        + " ..., e.g. 's3cret orders=send,receive')");
            }
            if (tokens.containsKey(token)) {
                throw new CliException(ExitCodes.USAGE, where + ": the token appears twice");
            }
            Permissions p = Permissions.none();
            for (int f = 1; f < fields.length; f++) {
                p = grant(p, fields[f], where);
            }
            tokens.put(token, p);
        }
        if (tokens.isEmpty()) {
            throw new CliException(ExitCodes.USAGE, source + ": no token defined (every client would be refused)");
        }
        return tokens;
    }

    private static Permissions grant(Permissions p, String field, String where) {
        int eq = field.indexOf('=');
        if (eq <= 0 || eq == field.length() - 1) {
            throw new CliException(ExitCodes.USAGE, where + ": '" + field
                    + "' is not a grant (expected PATTERN=RIGHTS, e.g. 'orders*=send,receive')");
        }
        String pattern = field.substring(0, eq);
        List<Permission> rights = new ArrayList<>();
        for (String r : field.substring(eq + 1).split(",")) {
            switch (r.toLowerCase(Locale.ROOT)) {
                case "send" -> rights.add(Permission.SEND);
                case "receive" -> rights.add(Permission.RECEIVE);
                case "manage" -> rights.add(Permission.MANAGE);
                case "all" -> rights.addAll(EnumSet.allOf(Permission.class));
                default -> throw new CliException(ExitCodes.USAGE, where + ": unknown right '" + r
                        + "' (rights: send, receive, manage, all)");
            }
        }
        try {
            return p.allow(pattern, rights.toArray(Permission[]::new));
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, where + ": " + e.getMessage());
        }
    }
}
