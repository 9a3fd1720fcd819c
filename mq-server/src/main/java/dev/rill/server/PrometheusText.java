package dev.rill.server;

import dev.rill.core.BrokerOptions;
import dev.rill.core.MemoryStats;
import dev.rill.core.QueueStats;
import java.util.List;
import java.util.Map;
import java.util.function.ToLongFunction;

/**
 * Renders queue stats in the Prometheus text exposition format (version 0.0.4): one gauge or counter family per
 * field of {@link QueueStats}, labelled by queue, plus the server's connection count and its count of connections
 * refused or closed because of their peer, labelled by reason.
 */
final class PrometheusText {

    /** The content type of the rendered text. */
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private PrometheusText() {
    }

    /**
     * Renders the metrics.
     *
     * @param stats every queue's stats
     * @param connections open client connections
     * @param connectionErrors connections refused or closed because of their peer (or a server bug), by reason
     *     ({@code RillServer.connectionErrors()})
     * @return the exposition text
     */
    static String render(List<QueueStats> stats, int connections, Map<String, Long> connectionErrors) {
        return render(stats, null, connections, connectionErrors);
    }

    /**
     * {@link #render(List, int, Map)} with the broker's memory: {@code rill_memory_used_bytes} and, when it has one,
     * {@code rill_memory_budget_bytes}.
     *
     * @param memory the broker's memory, or null to leave it out
     */
    static String render(List<QueueStats> stats, MemoryStats memory, int connections,
            Map<String, Long> connectionErrors) {
        StringBuilder b = new StringBuilder(1024 + stats.size() * 1024);
        if (memory != null) {
            family(b, "rill_memory_used_bytes", "gauge", "Bytes the queues hold as the memory budget counts them"
                    + " (payloads + " + BrokerOptions.MESSAGE_OVERHEAD_BYTES + " per message).");
            b.append("rill_memory_used_bytes ").append(memory.used()).append('\n');
            if (memory.budget().isPresent()) {
                family(b, "rill_memory_budget_bytes", "gauge", "The memory budget (--max-memory): sends beyond it"
                        + " wait as on a full queue.");
                b.append("rill_memory_budget_bytes ").append(memory.budget().getAsLong()).append('\n');
            }
        }
        family(b, "rill_connections", "gauge", "Open client connections.");
        b.append("rill_connections ").append(connections).append('\n');
        family(b, "rill_connection_errors_total", "counter", "Connections the server refused or closed because of"
                + " their peer (failed TLS handshake, bad token, connection limit, timeouts, protocol errors, a client"
                + " that does not read) or of a server bug, by reason.");
        for (Map.Entry<String, Long> e : connectionErrors.entrySet()) {
            b.append("rill_connection_errors_total{reason=\"").append(escape(e.getKey())).append("\"} ")
                    .append(e.getValue()).append('\n');
        }
        family(b, "rill_queues", "gauge", "Queues on the server.");
        b.append("rill_queues ").append(stats.size()).append('\n');
        metric(b, stats, "rill_queue_ready_messages", "gauge", "Messages deliverable now.", QueueStats::ready);
        metric(b, stats, "rill_queue_in_flight_messages", "gauge", "Messages leased and not yet settled.",
                QueueStats::inFlight);
        metric(b, stats, "rill_queue_delayed_messages", "gauge", "Messages waiting for their delay or retry backoff.",
                QueueStats::delayed);
        metric(b, stats, "rill_queue_bytes", "gauge", "Payload bytes held.", QueueStats::bytes);
        metric(b, stats, "rill_queue_capacity_messages", "gauge", "The queue's message limit.", QueueStats::capacity);
        metric(b, stats, "rill_queue_sent_total", "counter", "Messages enqueued.", QueueStats::sent);
        metric(b, stats, "rill_queue_duplicates_total", "counter", "Sends dropped as duplicates.",
                QueueStats::duplicates);
        metric(b, stats, "rill_queue_delivered_total", "counter", "Leases granted (deliveries).",
                QueueStats::delivered);
        metric(b, stats, "rill_queue_acked_total", "counter", "Messages acknowledged (deleted).", QueueStats::acked);
        metric(b, stats, "rill_queue_nacked_total", "counter", "Negative acknowledgments.", QueueStats::nacked);
        metric(b, stats, "rill_queue_expired_leases_total", "counter", "Leases that ran out without an ack.",
                QueueStats::expiredLeases);
        metric(b, stats, "rill_queue_dead_lettered_total", "counter", "Messages moved to the dead-letter queue or"
                + " discarded as dead letters.", QueueStats::deadLettered);
        metric(b, stats, "rill_queue_expired_total", "counter", "Messages whose time to live ran out.",
                QueueStats::expired);
        metric(b, stats, "rill_queue_purged_total", "counter", "Messages removed by purge.", QueueStats::purged);
        return b.toString();
    }

    private static void family(StringBuilder b, String name, String type, String help) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static void metric(StringBuilder b, List<QueueStats> stats, String name, String type, String help,
            ToLongFunction<QueueStats> value) {
        family(b, name, type, help);
        for (QueueStats s : stats) {
            b.append(name).append("{queue=\"").append(escape(s.name())).append("\"} ")
                    .append(value.applyAsLong(s)).append('\n');
        }
    }

    /**
     * Escapes a label value: backslash, double quote and line feed.
     *
     * @param v the value
     * @return the escaped value
     */
    static String escape(String v) {
        return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
