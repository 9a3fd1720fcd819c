package dev.rill.core;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/** A {@link QueueSpec} as bytes in DECLARE records: UTF-8 {@code key=value} lines; unknown keys are ignored. */
final class SpecFormat {

    private SpecFormat() {
    }

    static byte[] encode(QueueSpec s) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("name", s.name());
        m.put("visibilityMs", Long.toString(s.visibilityTimeout().toMillis()));
        m.put("dedupMs", Long.toString(s.dedupWindow().toMillis()));
        m.put("capacity", Integer.toString(s.capacity()));
        s.maxBytes().ifPresent(b -> m.put("maxBytes", Long.toString(b)));
        s.maxDeliveries().ifPresent(d -> m.put("maxDeliveries", Integer.toString(d)));
        s.deadLetterQueue().ifPresent(d -> m.put("deadLetterQueue", d));
        if (s.discardsDeadLetters()) {
            m.put("discardDeadLetters", "true");
        }
        s.messageTtl().ifPresent(t -> m.put("ttlMs", Long.toString(t.toMillis())));
        m.put("expiry", s.expiryAction().name());
        m.put("ordering", s.ordering().name());
        m.put("overflow", s.overflow().name());
        StringBuilder sb = new StringBuilder();
        m.forEach((k, v) -> sb.append(k).append('=').append(v.replace("\n", " ")).append('\n'));
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    static QueueSpec decode(byte[] bytes) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : new String(bytes, StandardCharsets.UTF_8).split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                m.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        QueueSpec s = QueueSpec.named(m.get("name"));
        if (m.containsKey("visibilityMs")) {
            s = s.visibilityTimeout(Duration.ofMillis(Long.parseLong(m.get("visibilityMs"))));
        }
        if (m.containsKey("dedupMs")) {
            s = s.dedupWindow(Duration.ofMillis(Long.parseLong(m.get("dedupMs"))));
        }
        if (m.containsKey("capacity")) {
            s = s.capacity(Integer.parseInt(m.get("capacity")));
        }
        if (m.containsKey("maxBytes")) {
            s = s.maxBytes(Long.parseLong(m.get("maxBytes")));
        }
        if (m.containsKey("maxDeliveries")) {
            s = s.maxDeliveries(Integer.parseInt(m.get("maxDeliveries")));
        }
        if (m.containsKey("deadLetterQueue")) {
            s = s.deadLetterQueue(m.get("deadLetterQueue"));
        }
        if ("true".equals(m.get("discardDeadLetters"))) {
            s = s.discardDeadLetters();
        }
        if (m.containsKey("ttlMs")) {
            s = s.messageTtl(Duration.ofMillis(Long.parseLong(m.get("ttlMs"))));
        }
        if (m.containsKey("expiry")) {
            s = s.onExpiry(ExpiryAction.valueOf(m.get("expiry")));
        }
        if (m.containsKey("ordering")) {
            s = s.ordering(Ordering.valueOf(m.get("ordering")));
        }
        if (m.containsKey("overflow")) {
            s = s.overflow(Overflow.valueOf(m.get("overflow")));
        }
        return s;
    }
}
