package dev.rill.netty;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * What one token may do, queue by queue. Immutable: {@link #allow(String, Permission...)} returns a new instance
 * and leaves this one unchanged.
 *
 * <p>A grant names a queue pattern and rights. A pattern is either an exact queue name ({@code orders}), {@code *}
 * (every queue), or a prefix ending in {@code *} ({@code orders.*} matches {@code orders.eu} and
 * {@code orders.dlq}, {@code orders*} also matches {@code orders} itself). Grants add up; nothing is ever denied
 * explicitly.
 *
 * <pre>{@code
 * Permissions producer = Permissions.none().allow("orders", Permission.SEND);
 * Permissions worker = Permissions.none().allow("orders*", Permission.RECEIVE);
 * Permissions admin = Permissions.all();
 * }</pre>
 */
public final class Permissions {

    private static final Permissions NONE = new Permissions(List.of());
    private static final Permissions ALL = NONE.allow("*", Permission.values());

    private final List<Grant> grants;

    private Permissions(List<Grant> grants) {
        this.grants = grants;
    }

    /** @return permissions that allow nothing; add grants with {@link #allow(String, Permission...)} */
    public static Permissions none() {
        return NONE;
    }

    /** @return permissions that allow every right on every queue */
    public static Permissions all() {
        return ALL;
    }

    /**
     * Grants {@code rights} on the queues matching {@code pattern}.
     *
     * @param pattern an exact queue name, {@code *}, or a prefix ending in {@code *}
     * @param rights at least one right
     * @return a new permissions object with the grant added
     * @throws IllegalArgumentException if the pattern is empty, contains {@code *} other than at its end, or no
     *     right is given
     */
    public Permissions allow(String pattern, Permission... rights) {
        Objects.requireNonNull(pattern, "pattern");
        Objects.requireNonNull(rights, "rights");
        if (pattern.isEmpty() || pattern.indexOf('*') >= 0 && pattern.indexOf('*') != pattern.length() - 1) {
            throw new IllegalArgumentException("pattern must be a queue name, '*' or a prefix ending in '*', was '"
                    + pattern + "'");
        }
        if (rights.length == 0) {
            throw new IllegalArgumentException("rights must name at least one Permission for pattern '" + pattern + "'");
        }
        EnumSet<Permission> set = EnumSet.noneOf(Permission.class);
        for (Permission r : rights) {
            set.add(Objects.requireNonNull(r, "rights[]"));
        }
        List<Grant> copy = new ArrayList<>(grants);
        copy.add(new Grant(pattern, Collections.unmodifiableSet(set)));
        return new Permissions(List.copyOf(copy));
    }

    /**
     * Tells whether a right is granted on a queue.
     *
     * @param queue the queue's name
     * @param right the right
     * @return whether some grant matches the queue and holds the right
     */
    public boolean allows(String queue, Permission right) {
        for (Grant g : grants) {
            if (g.rights.contains(right) && g.matches(queue)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Tells whether any right is granted on a queue (used to filter queue listings).
     *
     * @param queue the queue's name
     * @return whether some grant matches the queue
     */
    public boolean allowsAny(String queue) {
        for (Grant g : grants) {
            if (g.matches(queue)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Permissions other && grants.equals(other.grants);
    }

    @Override
    public int hashCode() {
        return grants.hashCode();
    }

    @Override
    public String toString() {
        return "Permissions" + grants;
    }

    private record Grant(String pattern, Set<Permission> rights) {

        boolean matches(String queue) {
            if (pattern.endsWith("*")) {
                return queue.startsWith(pattern.substring(0, pattern.length() - 1));
            }
            return pattern.equals(queue);
        }

        @Override
        public String toString() {
            return pattern + "=" + rights;
        }
    }
}
