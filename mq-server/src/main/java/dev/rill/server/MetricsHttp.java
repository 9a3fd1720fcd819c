package dev.rill.server;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Mono;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;

/**
 * The answers of {@code rill serve --metrics-port}: {@code /metrics} (Prometheus text 0.0.4) and {@code /} (a
 * pointer to it) answer GET, and HEAD as GET without the body (a probe checking the endpoint); another method on
 * them is 405 with {@code Allow: GET, HEAD}, any other path 404. HEAD and other methods were 404, as if the
 * resource did not exist.
 */
final class MetricsHttp {

    /** The methods the endpoint's resources allow. */
    static final String ALLOW = "GET, HEAD";

    private MetricsHttp() {
    }

    /**
     * @param req the request
     * @param res its response
     * @param metrics renders the metrics (subscribed to for GET and HEAD of {@code /metrics} only)
     * @return the answer
     */
    static Publisher<Void> answer(HttpServerRequest req, HttpServerResponse res, Supplier<Mono<String>> metrics) {
        Supplier<Mono<String>> body;
        String type;
        switch (req.path()) { // without the query and the slashes around it
            case "metrics" -> {
                body = metrics;
                type = PrometheusText.CONTENT_TYPE;
            }
            case "" -> {
                body = () -> Mono.just("rill: metrics at /metrics\n");
                type = "text/plain; charset=utf-8";
            }
            default -> {
                return res.status(HttpResponseStatus.NOT_FOUND).send();
            }
        }
        HttpMethod method = req.method();
        if (method.equals(HttpMethod.GET)) {
            return res.header(HttpHeaderNames.CONTENT_TYPE, type).sendString(body.get(), StandardCharsets.UTF_8);
        }
        if (method.equals(HttpMethod.HEAD)) {
            // the length the GET's body would have: rendered, then dropped
            return body.get().flatMap(text -> res.header(HttpHeaderNames.CONTENT_TYPE, type)
                    .header(HttpHeaderNames.CONTENT_LENGTH,
                            String.valueOf(text.getBytes(StandardCharsets.UTF_8).length))
                    .send().then());
        }
        return res.status(HttpResponseStatus.METHOD_NOT_ALLOWED).header(HttpHeaderNames.ALLOW, ALLOW).send();
    }
}
